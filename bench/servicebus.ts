// `npm run bench:servicebus`: throughput and latency of the local Service Bus emulator driven by the
// real SDK — batch sends, single sends, peek-lock receive + complete via subscribe, end-to-end latency.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ServiceBusClient, type ServiceBusMessage, type ServiceBusSender } from "@azure/service-bus";
import { startServiceBusEmulator } from "../local/servicebus/server.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "32" },
    "data-dir": { type: "string" },
    memory: { type: "boolean", default: false },
  },
  strict: true,
});
const count = Number(values.count);
const concurrency = Number(values.concurrency);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error("--count and --concurrency must be positive integers");
  process.exit(2);
}

const tempDir = values.memory || values["data-dir"] ? undefined : mkdtempSync(join(tmpdir(), "sb-bench-"));
const dataDir = values.memory ? undefined : (values["data-dir"] ?? tempDir);
const queueName = "bench";
const emulator = await startServiceBusEmulator({
  port: 0,
  dataDir,
  queues: [
    {
      name: queueName,
      lockDuration: "PT1M",
      maxDeliveryCount: 10,
      requiresDuplicateDetection: true,
      duplicateDetectionHistoryTimeWindow: "PT10M",
      defaultMessageTimeToLive: "P1D",
      deadLetteringOnMessageExpiration: true,
    },
  ],
});
const client = new ServiceBusClient(emulator.connectionString);
const sender = client.createSender(queueName);
const receiver = client.createReceiver(queueName);

const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString("en-US")} msg/s`;
const message = (i: number, phase: string): ServiceBusMessage => ({ body: { i, phase, pad: "x".repeat(64) }, messageId: `${phase}-${i}` });

async function sendInBatches(n: number): Promise<number> {
  let batches = 0;
  let batch = await sender.createMessageBatch();
  for (let i = 0; i < n; i++) {
    const m = message(i, "batch");
    if (!batch.tryAddMessage(m)) {
      await sender.sendMessages(batch);
      batches++;
      batch = await sender.createMessageBatch();
      batch.tryAddMessage(m);
    }
  }
  if (batch.count > 0) {
    await sender.sendMessages(batch);
    batches++;
  }
  return batches;
}

async function sendSingly(s: ServiceBusSender, n: number, phase: string, stamp = false): Promise<void> {
  for (let i = 0; i < n; i++) {
    const m = message(i, phase);
    if (stamp) m.applicationProperties = { sentAt: performance.now() };
    await s.sendMessages(m);
  }
}

/** Runs a subscriber until `n` messages were handled; returns the per-message latencies of stamped ones. */
async function receiveAll(n: number, during?: () => Promise<void>): Promise<{ ms: number; latencies: number[] }> {
  const latencies: number[] = [];
  let handled = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  const subscription = receiver.subscribe(
    {
      processMessage: async (m) => {
        const sentAt = m.applicationProperties?.sentAt;
        if (typeof sentAt === "number") latencies.push(performance.now() - sentAt);
        if (++handled === n) done();
      },
      processError: async (args) => console.error(`processError (${args.errorSource}):`, args.error.message),
    },
    { maxConcurrentCalls: concurrency, autoCompleteMessages: true },
  );
  await during?.();
  await finished;
  const ms = performance.now() - started;
  await subscription.close();
  return { ms, latencies };
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

try {
  console.log(`Service Bus emulator bench: ${count} messages per phase, ${dataDir ? `journal in ${dataDir}` : "in memory"}, port ${emulator.port}`);

  let t = performance.now();
  const batches = await sendInBatches(count);
  console.log(`send, batches (${batches} batches, ≤256 KiB each)      ${rate(count, performance.now() - t)}`);

  t = performance.now();
  await sendSingly(sender, count, "single");
  console.log(`send, one message per call                     ${rate(count, performance.now() - t)}`);

  const drained = await receiveAll(2 * count);
  console.log(`receive, subscribe peekLock + complete (x${concurrency})   ${rate(2 * count, drained.ms)}  (${2 * count} queued messages)`);

  // Latency with the subscriber already waiting, so it measures the path, not the backlog.
  const liveSender = client.createSender(queueName);
  const live = await receiveAll(count, () => sendSingly(liveSender, count, "live", true));
  await liveSender.close();
  const sorted = [...live.latencies].sort((a, b) => a - b);
  console.log(
    `end-to-end, send → processMessage              p50 ${percentile(sorted, 50).toFixed(2)} ms, p95 ${percentile(sorted, 95).toFixed(2)} ms  (${sorted.length} messages, ${rate(count, live.ms)})`,
  );
} finally {
  await receiver.close();
  await sender.close();
  await client.close();
  await emulator.close();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}
