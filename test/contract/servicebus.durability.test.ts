// Contract: the emulator's journal — close and start again on the same data directory and nothing
// that matters is lost: messages, locks, dead letters, schedules, duplicate ids, sequence numbers.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, describe, expect, it } from "vitest";
import { startServiceBusEmulator, type ServiceBusEmulator } from "../../local/servicebus/server.js";
import type { QueueDefinition } from "../../shared/queueDefinitions.js";
import { queue, receiveUpTo, sleep } from "./servicebus.helpers.js";

const dirs: string[] = [];
const running = new Set<ServiceBusEmulator>();
const clients = new Set<ServiceBusClient>();

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sb-emulator-"));
  dirs.push(dir);
  return dir;
}

async function start(dir: string | undefined, queues: QueueDefinition[], port = 0): Promise<ServiceBusEmulator> {
  const emulator = await startServiceBusEmulator({ port, dataDir: dir, queues });
  running.add(emulator);
  return emulator;
}

async function stop(emulator: ServiceBusEmulator): Promise<void> {
  running.delete(emulator);
  await emulator.close();
}

function connect(emulator: ServiceBusEmulator): ServiceBusClient {
  const client = new ServiceBusClient(emulator.connectionString);
  clients.add(client);
  return client;
}

afterAll(async () => {
  await Promise.all([...clients].map((c) => c.close()));
  await Promise.all([...running].map((e) => e.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("Service Bus emulator: restart on the same data directory", () => {
  it("keeps messages, locks, dead letters, schedules, duplicate ids and sequence numbers across a restart", async () => {
    // Prepare
    const dir = dataDir();
    const queues = [queue("durable", { lockDuration: "PT2S", requiresDuplicateDetection: true })];
    const before = await start(dir, queues);
    const client = connect(before);
    const sender = client.createSender("durable");
    await sender.sendMessages(["locked", "dead", "done", "waiting"].map((body) => ({ body, messageId: body })));
    const scheduledFor = new Date(Date.now() + 2_500);
    await sender.scheduleMessages({ body: "scheduled", messageId: "scheduled" }, scheduledFor);
    const receiver = client.createReceiver("durable", { maxAutoLockRenewalDurationInMs: 0 });
    const [locked, dead, done] = await receiveUpTo(receiver, 3);
    await receiver.deadLetterMessage(dead, { deadLetterReason: "Broken", deadLetterErrorDescription: "before the restart" });
    await receiver.completeMessage(done);
    const lastSeqBefore = Math.max(...(await receiver.peekMessages(10)).map((m) => m.sequenceNumber?.toNumber() ?? 0));
    await client.close();
    clients.delete(client);

    // Act
    await stop(before);
    const after = await start(dir, queues, before.port);
    const again = connect(after);
    const peeked = await again.createReceiver("durable").peekMessages(10);
    await again.createSender("durable").sendMessages([
      { body: "waiting (duplicate)", messageId: "waiting" },
      { body: "new", messageId: "new" },
    ]);
    const rx = again.createReceiver("durable");
    const immediately = await receiveUpTo(rx, 2);
    const later = await receiveUpTo(rx, 2, 5_000);
    await Promise.all([...immediately, ...later].map((m) => rx.completeMessage(m)));
    const [deadLetter] = await receiveUpTo(again.createReceiver("durable", { subQueueType: "deadLetter" }), 1);

    // Assess
    expect(after.port).toBe(before.port);
    expect(peeked.map((m) => [m.body, m.state])).toEqual([
      ["locked", "active"],
      ["waiting", "active"],
      ["scheduled", "scheduled"],
    ]);
    expect(immediately.map((m) => [m.body, m.deliveryCount])).toEqual([
      ["waiting", 0],
      ["new", 0],
    ]);
    // The lock taken before the restart still held; it ran out and the message came back, counted.
    expect(later.map((m) => [m.body, m.deliveryCount]).sort()).toEqual([
      ["locked", 1],
      ["scheduled", 0],
    ]);
    expect(later.find((m) => m.body === "locked")?.sequenceNumber?.toNumber()).toBe(locked.sequenceNumber?.toNumber());
    expect(later.find((m) => m.body === "scheduled")?.enqueuedTimeUtc?.getTime()).toBe(scheduledFor.getTime());
    expect(immediately[1].sequenceNumber?.toNumber()).toBeGreaterThan(lastSeqBefore);
    expect(deadLetter).toMatchObject({ body: "dead", deadLetterReason: "Broken", deadLetterErrorDescription: "before the restart" });
  });

  it("lets a client that outlives the restart settle a message it locked before it", async () => {
    // Prepare
    const dir = dataDir();
    const queues = [queue("outlive")];
    const before = await start(dir, queues);
    const client = connect(before);
    await client.createSender("outlive").sendMessages({ body: "settle me later" });
    const receiver = client.createReceiver("outlive", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiveUpTo(receiver, 1);

    // Act
    await stop(before);
    const after = await start(dir, queues, before.port);
    // Give the client a moment to see its connection drop; a settlement sent on the dead link
    // before that would wait out the SDK's 60 s operation timeout (SDK behaviour, also against Azure).
    await sleep(500);
    await receiver.completeMessage(m);
    const left = await connect(after).createReceiver("outlive").peekMessages(5);

    // Assess
    expect(left).toEqual([]);
  });

  it("survives a torn last journal line (a crash mid-write) and compacts the journal on start", async () => {
    // Prepare
    const dir = dataDir();
    const queues = [queue("torn")];
    const before = await start(dir, queues);
    const client = connect(before);
    await client.createSender("torn").sendMessages(Array.from({ length: 20 }, (_, i) => ({ body: i })));
    const receiver = client.createReceiver("torn");
    for (const m of await receiveUpTo(receiver, 19)) await receiver.completeMessage(m);
    await stop(before);
    const journal = join(dir, "journal.jsonl");
    const linesBefore = readFileSync(journal, "utf8").trim().split("\n").length;
    appendFileSync(journal, '{"t":"put","e":"torn","s":99,"raw":"AAA');

    // Act
    const after = await start(dir, queues);
    const linesAfter = readFileSync(journal, "utf8").trim().split("\n").length;
    const peeked = await connect(after).createReceiver("torn").peekMessages(30);

    // Assess
    expect(peeked.map((m) => m.body)).toEqual([19]);
    expect(linesBefore).toBeGreaterThan(40);
    expect(linesAfter).toBeLessThan(5);
  });

  it("starts empty and stays empty without a data directory", async () => {
    // Prepare
    const queues = [queue("memory")];
    const first = await start(undefined, queues);
    await connect(first).createSender("memory").sendMessages({ body: "gone" });

    // Act
    await stop(first);
    const second = await start(undefined, queues);
    const peeked = await connect(second).createReceiver("memory").peekMessages(5);

    // Assess
    expect(peeked).toEqual([]);
  });
});
