// Shutting the local Functions host down: close() stops taking HTTP requests and messages, waits for the
// invocations in flight and settles their messages; past its time limit it gives unfinished messages back.
import { resolve } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFunctionsHost, type FunctionsHost, type FunctionsHostOptions } from "../../local/host/host.js";
import { startServiceBusEmulator, type ServiceBusEmulator } from "../../local/servicebus/server.js";
import { hostTestQueue, waitFor } from "../fixtures/hostApp/support.js";

type Fixture = typeof import("../fixtures/hostApp/index.js");

const appRoot = resolve(import.meta.dirname, "../..");
let emulator: ServiceBusEmulator;
let client: ServiceBusClient;
let fixture: Fixture | undefined;
const previousConnection = process.env.ServiceBusConnection;

async function startHost(extra: Partial<FunctionsHostOptions> = {}): Promise<{ host: FunctionsHost; lines: string[]; fixture: Fixture }> {
  const lines: string[] = [];
  const host = await startFunctionsHost({
    appRoot,
    entry: "test/fixtures/hostApp/index.ts",
    port: 0,
    // Timers are not under test here.
    disabledFunctions: ["everySecond", "everyFiveMinutes"],
    log: (line) => lines.push(line),
    ...extra,
  });
  fixture ??= await import("../fixtures/hostApp/index.js");
  return { host, lines, fixture };
}

async function send(id: string, action: "ok" | "hold"): Promise<void> {
  const sender = client.createSender(hostTestQueue.name);
  await sender.sendMessages({ body: { action, id }, messageId: id });
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

const runOf = (f: Fixture, fn: string, id: string) => f.recorded.find((r) => r.fn === fn && (r.input === id || (r.input as { id?: string }).id === id));

beforeAll(async () => {
  emulator = await startServiceBusEmulator({ port: 0, queues: [hostTestQueue] });
  process.env.ServiceBusConnection = emulator.connectionString;
  client = new ServiceBusClient(emulator.connectionString);
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
  if (previousConnection === undefined) delete process.env.ServiceBusConnection;
  else process.env.ServiceBusConnection = previousConnection;
});

describe("close()", () => {
  it("stops taking work, waits for the HTTP and queue invocations in flight, and completes their message", async () => {
    // Prepare: one queue invocation and one HTTP invocation, both held open by the fixture.
    const startingAt = Date.now();
    const { host, lines, fixture: f } = await startHost();
    await send("held-message", "hold");
    const heldResponse = fetch(`${host.url}/api/held/held-request`).then(async (r) => ({ status: r.status, body: await r.text() }));
    const queueRun = await waitFor("the held queue run", () => runOf(f, "queueWorker", "held-message"));
    const httpRun = await waitFor("the held HTTP run", () => runOf(f, "held", "held-request"));

    // Act
    let closedAt: number | undefined;
    const closing = host.close().then(() => (closedAt = Date.now()));
    await new Promise((r) => setTimeout(r, 300));
    const lateRequest = await fetch(`${host.url}/api/held/late`).then(
      (r) => r.status,
      () => "refused" as const,
    );
    await send("after-close", "ok");
    await new Promise((r) => setTimeout(r, 300));
    const stillOpenBeforeRelease = closedAt === undefined;
    f.openGate("held-request");
    f.openGate("held-message");
    await closing;

    // Assess: nothing new was taken on, and close() returned only after both invocations finished.
    expect(stillOpenBeforeRelease).toBe(true);
    expect(["refused", 503]).toContain(lateRequest);
    expect(runOf(f, "held", "late")).toBeUndefined();
    expect(runOf(f, "queueWorker", "after-close")).toBeUndefined();
    expect(await heldResponse).toEqual({ status: 200, body: "released held-request" });
    expect(httpRun.finishedAt).toBeLessThanOrEqual(closedAt!);
    expect(queueRun.finishedAt).toBeLessThanOrEqual(closedAt!);
    // The held message was completed before the client closed; the late one waits in the queue.
    const queued = await peekIds();
    expect(queued).not.toContain("held-message");
    expect(queued).toContain("after-close");
    expect(await peekIds("deadLetter")).not.toContain("held-message");
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`Executed 'Functions\\.queueWorker' \\(Succeeded, Id=${queueRun.invocationId}, `)));
    expect(lines.at(-1)).toMatch(/Functions host stopped$/);
    expect(f.hookEvents.filter((e) => e.at >= startingAt).map((e) => e.event)).toEqual(["appStart", "appTerminate:startedAt=number"]);
  });

  it("after its time limit, abandons a message whose invocation has not finished, so it is not left locked", async () => {
    // Prepare: a message the fixture will hold past the shutdown limit (the queue's lock lasts 5 s).
    const { host, lines, fixture: f } = await startHost({ shutdownTimeoutMs: 500 });
    await send("stuck-message", "hold");
    await waitFor("the stuck queue run", () => runOf(f, "queueWorker", "stuck-message"));

    // Act
    const started = Date.now();
    await host.close();
    const closeTook = Date.now() - started;

    // Assess: close() gave up after its limit and the message is receivable at once, not after the lock runs out.
    expect(closeTook).toBeGreaterThanOrEqual(500);
    expect(closeTook).toBeLessThan(4_000);
    expect(lines).toContainEqual(expect.stringMatching(/1 invocation\(s\) still running after 500 ms/));
    expect(lines).toContainEqual(expect.stringMatching(/Abandoned 1 message\(s\)/));
    const receiver = client.createReceiver(hostTestQueue.name);
    const received = await receiver.receiveMessages(10, { maxWaitTimeInMs: 2_000 });
    const stuck = received.find((m) => m.messageId === "stuck-message");
    for (const m of received) await receiver.completeMessage(m);
    await receiver.close();
    expect(stuck).toBeDefined();
    // JS reports the raw AMQP count: one earlier delivery, abandoned.
    expect(stuck!.deliveryCount).toBe(1);
    f.openGate("stuck-message");
  });
});
