// The local Functions host runs a `cardinality: "many"` Service Bus trigger as Azure does:
// batches of up to host.json's extensions.serviceBus.maxMessageBatchSize, the bodies as an
// array, the metadata as arrays (`messageIdArray`, `deliveryCountArray`…), the whole batch
// completed when the invocation returns and abandoned when it throws.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFunctionsHost, type FunctionsHost } from "../../local/host/host.js";
import { parseHostConfig } from "../../local/host/hostConfig.js";
import { startServiceBusEmulator, type ServiceBusEmulator } from "../../local/servicebus/server.js";
import type { QueueDefinition } from "../../shared/queueDefinitions.js";
import { waitFor } from "../fixtures/hostApp/support.js";

type Fixture = typeof import("../fixtures/batchApp/index.js");

const queue: QueueDefinition = {
  name: "host-batch",
  lockDuration: "PT5S",
  maxDeliveryCount: 3,
  requiresDuplicateDetection: false,
  duplicateDetectionHistoryTimeWindow: "PT10M",
  defaultMessageTimeToLive: "P14D",
  deadLetteringOnMessageExpiration: false,
};
const appRoot = resolve(import.meta.dirname, "../..");
const batchSize = 5;
let emulator: ServiceBusEmulator;
let client: ServiceBusClient;
let host: FunctionsHost;
let fixture: Fixture;
let configDir: string;
const lines: string[] = [];
const previousConnection = process.env.ServiceBusConnection;

type Body = { action: string; id: string };
const bodiesOf = (input: unknown): Body[] => input as Body[];
const seen = (id: string) => fixture.batches.filter((b) => bodiesOf(b.input).some((m) => m.id === id));

async function peekIds(subQueueType?: "deadLetter"): Promise<string[]> {
  const receiver = client.createReceiver(queue.name, subQueueType ? { subQueueType } : {});
  try {
    return (await receiver.peekMessages(50)).map((m) => String(m.messageId));
  } finally {
    await receiver.close();
  }
}

beforeAll(async () => {
  // Prepare: a host.json with batches of five, our own emulator and queue, the batch fixture.
  configDir = mkdtempSync(join(tmpdir(), "host-batch-"));
  const hostJsonPath = join(configDir, "host.json");
  writeFileSync(hostJsonPath, JSON.stringify({ version: "2.0", extensions: { serviceBus: { maxMessageBatchSize: batchSize } } }));
  emulator = await startServiceBusEmulator({ port: 0, queues: [queue] });
  process.env.ServiceBusConnection = emulator.connectionString;
  client = new ServiceBusClient(emulator.connectionString);
  host = await startFunctionsHost({ appRoot, entry: "test/fixtures/batchApp/index.ts", hostJsonPath, port: 0, log: (line) => lines.push(line) });
  fixture = await import("../fixtures/batchApp/index.js");
});

afterAll(async () => {
  await host?.close();
  await client?.close();
  await emulator?.close();
  if (previousConnection === undefined) delete process.env.ServiceBusConnection;
  else process.env.ServiceBusConnection = previousConnection;
  rmSync(configDir, { recursive: true, force: true });
});

describe('cardinality "many"', () => {
  it("reads extensions.serviceBus.maxMessageBatchSize from host.json", () => {
    expect(parseHostConfig({ extensions: { serviceBus: { maxMessageBatchSize: 250 } } }).serviceBus.maxMessageBatchSize).toBe(250);
    expect(parseHostConfig({ version: "2.0" }).serviceBus.maxMessageBatchSize).toBeUndefined();
    expect(() => parseHostConfig({ extensions: { serviceBus: { maxMessageBatchSize: 0 } } })).toThrow("extensions.serviceBus.maxMessageBatchSize");
  });

  it("hands over batches of at most maxMessageBatchSize, with one metadata entry per message, and completes them", async () => {
    // Prepare
    const ids = Array.from({ length: 12 }, (_, i) => `ok-${Date.now()}-${i}`);

    // Act: one send, more messages than one batch holds
    const sender = client.createSender(queue.name);
    await sender.sendMessages(
      ids.map((id, i) => ({
        body: { action: "ok", id },
        messageId: id,
        correlationId: `corr-${i}`,
        subject: "device.upserted",
        applicationProperties: { TenantId: `t-${i}` },
      })),
    );
    await sender.close();
    await waitFor("every message in a batch", () => (ids.every((id) => seen(id).length > 0) ? true : undefined));

    // Assess: arrays of bodies, never more than the batch size, each message exactly once
    const ours = fixture.batches.filter((b) => bodiesOf(b.input).some((m) => ids.includes(m.id)));
    expect(ours.every((b) => Array.isArray(b.input) && bodiesOf(b.input).length <= batchSize)).toBe(true);
    expect(ours.some((b) => bodiesOf(b.input).length > 1)).toBe(true);
    expect(ours.flatMap((b) => bodiesOf(b.input).map((m) => m.id)).sort()).toEqual([...ids].sort());
    // Assess: the metadata keys are the single-message keys plus "Array", camel-cased, in body order
    for (const b of ours) {
      const meta = b.triggerMetadata!;
      const n = bodiesOf(b.input).length;
      expect(meta.messageIdArray).toEqual(bodiesOf(b.input).map((m) => m.id));
      expect(meta.deliveryCountArray).toEqual(Array(n).fill(1));
      expect(meta.subjectArray).toEqual(Array(n).fill("device.upserted"));
      const i = ids.indexOf(bodiesOf(b.input)[0].id);
      expect((meta.correlationIdArray as string[])[0]).toBe(`corr-${i}`);
      expect((meta.applicationPropertiesArray as Record<string, unknown>[])[0]).toEqual({ tenantId: `t-${i}` });
      expect((meta.enqueuedTimeUtcArray as string[]).every((t) => /Z$/.test(t))).toBe(true);
      expect(meta.messageId).toBeUndefined();
    }
    await expect.poll(() => peekIds(), { timeout: 10_000 }).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/Service Bus trigger 'batchWorker' listening on 'host-batch'.*in batches/));
  });

  it("abandons the whole batch when the invocation throws: every message of it comes again", async () => {
    // Prepare
    const stamp = Date.now();
    const ids = [`a-${stamp}`, `fail-${stamp}`, `b-${stamp}`];

    // Act: three messages in one transfer, one of which fails its batch the first time
    const sender = client.createSender(queue.name);
    await sender.sendMessages(ids.map((id) => ({ body: { action: id.startsWith("fail") ? "failOnce" : "ok", id }, messageId: id })));
    await sender.close();
    const failed = await waitFor("the failed batch", () => seen(ids[1]).find((b) => b.failed));
    await waitFor("the redelivered batch", () => (seen(ids[1]).some((b) => !b.failed) ? true : undefined), 30_000);

    // Assess: the messages that shared the failed invocation came again, with deliveryCount 2,
    // and the second run completed them all
    const inFailed = bodiesOf(failed.input).map((m) => m.id);
    expect(inFailed).toContain(ids[1]);
    expect(inFailed.length).toBeGreaterThan(1);
    for (const id of inFailed) {
      const runs = seen(id);
      expect(runs.length).toBe(2);
      const last = runs[1];
      const at = bodiesOf(last.input).findIndex((m) => m.id === id);
      expect((last.triggerMetadata!.deliveryCountArray as number[])[at]).toBe(2);
    }
    await expect.poll(() => peekIds(), { timeout: 10_000 }).toEqual([]);
    expect(await peekIds("deadLetter")).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`Executed 'Functions\\.batchWorker' \\(Failed, Id=${failed.invocationId}`)));
  });
});
