// The local Functions host honours host.json: an empty route prefix, Service Bus maxConcurrentCalls, and lock
// renewal up to maxAutoLockRenewalDuration for invocations that outlast the queue's lock.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFunctionsHost, type FunctionsHost } from "../../local/host/host.js";
import { startServiceBusEmulator, type ServiceBusEmulator } from "../../local/servicebus/server.js";
import { hostTestQueue, waitFor } from "../fixtures/hostApp/support.js";

type Fixture = typeof import("../fixtures/hostApp/index.js");

const appRoot = resolve(import.meta.dirname, "../..");
let emulator: ServiceBusEmulator;
let client: ServiceBusClient;
let host: FunctionsHost;
let fixture: Fixture;
let configDir: string;
const lines: string[] = [];
const previousConnection = process.env.ServiceBusConnection;

const runsOf = (id: string) => fixture.recorded.filter((r) => r.fn === "queueWorker" && (r.input as { id?: string }).id === id);

async function sendHeld(...ids: string[]): Promise<void> {
  const sender = client.createSender(hostTestQueue.name);
  await sender.sendMessages(ids.map((id) => ({ body: { action: "hold", id }, messageId: id })));
  await sender.close();
}

async function peekIds(subQueueType?: "deadLetter"): Promise<string[]> {
  const receiver = client.createReceiver(hostTestQueue.name, subQueueType ? { subQueueType } : {});
  try {
    return (await receiver.peekMessages(50)).map((m) => String(m.messageId));
  } finally {
    await receiver.close();
  }
}

beforeAll(async () => {
  // Prepare: a host.json with no route prefix, two concurrent calls and 30 s of lock renewal.
  configDir = mkdtempSync(join(tmpdir(), "host-options-"));
  const hostJsonPath = join(configDir, "host.json");
  writeFileSync(
    hostJsonPath,
    JSON.stringify({
      version: "2.0",
      extensions: {
        http: { routePrefix: "" },
        serviceBus: { maxConcurrentCalls: 2, maxAutoLockRenewalDuration: "00:00:30", autoCompleteMessages: true },
      },
    }),
  );
  emulator = await startServiceBusEmulator({ port: 0, queues: [hostTestQueue] });
  process.env.ServiceBusConnection = emulator.connectionString;
  client = new ServiceBusClient(emulator.connectionString);
  host = await startFunctionsHost({
    appRoot,
    entry: "test/fixtures/hostApp/index.ts",
    hostJsonPath,
    port: 0,
    disabledFunctions: ["everySecond", "everyFiveMinutes"],
    log: (line) => lines.push(line),
  });
  fixture = await import("../fixtures/hostApp/index.js");
});

afterAll(async () => {
  await host?.close();
  await client?.close();
  await emulator?.close();
  if (previousConnection === undefined) delete process.env.ServiceBusConnection;
  else process.env.ServiceBusConnection = previousConnection;
  rmSync(configDir, { recursive: true, force: true });
});

describe("host.json", () => {
  it('serves routes without a prefix when routePrefix is ""', async () => {
    const bare = await fetch(`${host.url}/hooked`);
    const prefixed = await fetch(`${host.url}/api/hooked`);

    expect(bare.status).toBe(200);
    expect(prefixed.status).toBe(404);
    expect(host.functions.filter((f) => f.trigger === "timerTrigger")).toEqual([]);
  });

  it("runs no more than maxConcurrentCalls invocations of a queue function at once", async () => {
    // Act
    const ids = ["c1", "c2", "c3", "c4"];
    await sendHeld(...ids);
    await waitFor("two held runs", () => (ids.filter((id) => runsOf(id).length > 0).length >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 750));
    const firstWave = ids.filter((id) => runsOf(id).length > 0);
    for (const id of firstWave) fixture.openGate(id);
    const rest = ids.filter((id) => !firstWave.includes(id));
    await waitFor("the other two runs", () => (rest.every((id) => runsOf(id).length > 0) ? true : undefined));
    for (const id of rest) fixture.openGate(id);

    // Assess
    expect(firstWave).toHaveLength(2);
    await expect.poll(() => ids.every((id) => runsOf(id)[0]?.finishedAt !== undefined), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => peekIds(), { timeout: 10_000 }).toEqual([]);
  });

  it("keeps renewing the lock of a message whose invocation outlasts the queue's lock duration", async () => {
    // Act: hold one message for longer than the queue's 5 s lock.
    await sendHeld("long-run");
    const run = await waitFor("the long run", () => runsOf("long-run")[0]);
    await new Promise((r) => setTimeout(r, 7_000));
    const runsWhileHeld = runsOf("long-run").length;
    fixture.openGate("long-run");
    await waitFor("the long run to finish", () => run.finishedAt);

    // Assess: no second delivery, and the completion after 7 s still held a valid lock.
    expect(runsWhileHeld).toBe(1);
    await expect.poll(() => peekIds(), { timeout: 10_000 }).not.toContain("long-run");
    expect(await peekIds("deadLetter")).not.toContain("long-run");
    expect(lines.filter((l) => l.includes("could not complete"))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`Executed 'Functions\\.queueWorker' \\(Succeeded, Id=${run.invocationId}, `)));
  });
});
