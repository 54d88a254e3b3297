// `npm run bench:tracing`: what a span costs. The same small piece of work (a server span
// around a producer span that injects a traceparent, as a request that sends one message
// does) is timed bare, with tracing off (no SDK registered: the OpenTelemetry API's no-op),
// and with the local JSONL exporter on. Off is what a deployment without a connection
// string pays; the per-request cost of on is what the local stack pays.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { inSpan, injectTraceContext, traceAttributes } from "../shared/app/tracing.js";
import { JsonlSpanProcessor } from "../shared/adapters/telemetry/jsonlSpanProcessor.js";

const { values } = parseArgs({ options: { count: { type: "string", default: "200000" } }, strict: true });
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) {
  console.error("--count must be a positive integer");
  process.exit(2);
}

async function bare(): Promise<number> {
  const properties: Record<string, string> = {};
  await Promise.resolve();
  return Object.keys(properties).length;
}

async function traced(): Promise<number> {
  return inSpan("POST /api/x", { kind: "server", attributes: { [traceAttributes.correlationId]: "c" } }, (span) => {
    span.annotate({ [traceAttributes.tenantId]: "t" });
    return inSpan("send q", { kind: "producer" }, () => {
      const properties: Record<string, string> = {};
      injectTraceContext(properties);
      return Promise.resolve(Object.keys(properties).length);
    });
  });
}

async function time(label: string, n: number, fn: () => Promise<number>): Promise<number> {
  for (let i = 0; i < Math.min(n, 10_000); i++) await fn(); // warm up
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const nsPerCall = Number(process.hrtime.bigint() - started) / n;
  console.log(`${label.padEnd(34)} ${(nsPerCall / 1000).toFixed(2).padStart(8)} µs per request`);
  return nsPerCall;
}

const bareNs = await time("bare", count, bare);
const offNs = await time("tracing off (no SDK)", count, traced);
console.log(`${"off costs".padEnd(34)} ${((offNs - bareNs) / 1000).toFixed(2).padStart(8)} µs per request (two spans, one inject)`);

const dir = mkdtempSync(join(tmpdir(), "rac-trace-bench-"));
const provider = new NodeTracerProvider({ spanProcessors: [new JsonlSpanProcessor({ file: join(dir, "traces.jsonl") })] });
provider.register();
const onCount = Math.min(count, 20_000);
const onNs = await time("tracing on (JSONL file)", onCount, traced);
await provider.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(`${"on costs".padEnd(34)} ${((onNs - bareNs) / 1000).toFixed(2).padStart(8)} µs per request (${onCount} requests, 2 lines each)`);
