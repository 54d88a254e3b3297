// shared/app/tracing.ts against the real OpenTelemetry Node SDK (an in-memory exporter
// stands in for Application Insights and the trace file): inject and extract of
// `traceparent`, parent links, attributes handed down, errors without messages, and the
// no-op it is while no SDK is registered.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { inSpan, injectTraceContext, traceAttributes, traceContextOfHeaders, traceContextOfProperties } from "../../shared/app/tracing.js";
import { JsonlSpanProcessor, type SpanRecord } from "../../shared/adapters/telemetry/jsonlSpanProcessor.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";

const traceparentFormat = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
const byName = (spans: readonly ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.find((s) => s.name === name);
  if (!found) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`);
  return found;
};

describe("tracing while no SDK is registered", () => {
  it("runs the work, injects nothing and records nothing", async () => {
    // Prepare
    const properties: Record<string, string> = {};

    // Act
    const result = await inSpan("send q", { kind: "producer", attributes: { [traceAttributes.tenantId]: "t1" } }, async (span) => {
      span.annotate({ [traceAttributes.correlationId]: "c1" });
      injectTraceContext(properties);
      return 42;
    });

    // Assess
    expect(result).toBe(42);
    expect(properties).toEqual({});
  });
});

describe("tracing with the Node SDK", () => {
  const exporter = new InMemorySpanExporter();
  let tracesDir: string;
  let tracesFile: string;
  let provider: NodeTracerProvider;

  beforeAll(() => {
    tracesDir = mkdtempSync(join(tmpdir(), "rac-traces-"));
    tracesFile = join(tracesDir, "traces.jsonl");
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), new JsonlSpanProcessor({ file: tracesFile })] });
    provider.register();
  });

  afterAll(() => {
    trace.disable();
    propagation.disable();
    context.disable();
    rmSync(tracesDir, { recursive: true, force: true });
  });

  beforeEach(() => exporter.reset());

  it("injects the producer span's traceparent, and the consumer span extracted from it is its child", async () => {
    // Prepare
    const properties: Record<string, string> = {};
    await inSpan("POST /api/x", { kind: "server" }, () => inSpan("send session-commands", { kind: "producer" }, async () => injectTraceContext(properties)));

    // Act
    await inSpan("process session-commands", { kind: "consumer", parent: traceContextOfProperties(properties) }, async () => undefined);

    // Assess
    const spans = exporter.getFinishedSpans();
    const [server, producer, consumer] = ["POST /api/x", "send session-commands", "process session-commands"].map((n) => byName(spans, n));
    const [, traceId, spanId] = traceparentFormat.exec(properties.traceparent) ?? [];
    expect(traceId).toBe(producer.spanContext().traceId);
    expect(spanId).toBe(producer.spanContext().spanId);
    expect(producer.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(consumer.spanContext().traceId).toBe(server.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(server.parentSpanContext).toBeUndefined();
  });

  it.each(["Diagnostic-Id", "diagnostic-Id"])("continues a %s when the message has no traceparent (the Azure SDK's own property)", async (key) => {
    // Prepare
    const diagnosticId = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    // Act
    await inSpan("process q", { kind: "consumer", parent: traceContextOfProperties({ [key]: diagnosticId, other: 7 }) }, async () => undefined);

    // Assess
    const consumer = byName(exporter.getFinishedSpans(), "process q");
    expect(consumer.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(consumer.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
  });

  it("continues an incoming traceparent header", async () => {
    // Prepare
    const headers = new Headers({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });

    // Act
    await inSpan("GET /api/y", { kind: "server", parent: traceContextOfHeaders(headers) }, async () => undefined);

    // Assess
    const server = byName(exporter.getFinishedSpans(), "GET /api/y");
    expect(server.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(server.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(server.parentSpanContext?.isRemote).toBe(true);
  });

  it.each([
    ["a malformed traceparent", { traceparent: "00-not-a-trace-01" }],
    ["an all-zero trace id", { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" }],
    ["a non-string property", { traceparent: 12 }],
    ["no properties", undefined],
  ])("starts a new trace from %s", async (_name, properties) => {
    // Act
    await inSpan("process z", { kind: "consumer", parent: traceContextOfProperties(properties) }, async () => undefined);

    // Assess
    const consumer = byName(exporter.getFinishedSpans(), "process z");
    expect(consumer.parentSpanContext).toBeUndefined();
    expect(consumer.spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
  });

  it("ignores the ambient span when given an extracted parent", async () => {
    // Act
    await inSpan("ambient", {}, () => inSpan("fresh", { parent: traceContextOfProperties({}) }, async () => undefined));

    // Assess
    const spans = exporter.getFinishedSpans();
    expect(byName(spans, "fresh").spanContext().traceId).not.toBe(byName(spans, "ambient").spanContext().traceId);
  });

  it("hands annotated attributes down to later child spans, and set ones not", async () => {
    // Act
    await inSpan("process q", { kind: "consumer" }, async (span) => {
      span.annotate({ [traceAttributes.tenantId]: "tenant-1", [traceAttributes.correlationId]: undefined });
      span.set({ "messaging.message.id": "m-1" });
      await inSpan("TeamViewer POST /sessions", { kind: "client", attributes: { "url.template": "/sessions" } }, async () => undefined);
    });

    // Assess
    const spans = exporter.getFinishedSpans();
    expect(byName(spans, "process q").attributes).toEqual({ [traceAttributes.tenantId]: "tenant-1", "messaging.message.id": "m-1" });
    expect(byName(spans, "TeamViewer POST /sessions").attributes).toEqual({ [traceAttributes.tenantId]: "tenant-1", "url.template": "/sessions" });
  });

  it("marks a span failed by a throw with the error's type and code, never its message", async () => {
    // Prepare
    const secretBearingMessage = "POST /oauth2/token answered 400 (refresh_token=abc123)";

    // Act
    const thrown = await inSpan("TeamViewer POST /oauth2/token", { kind: "client" }, async () => {
      throw new TeamViewerError("invalidGrant", secretBearingMessage);
    }).catch((e: unknown) => e);

    // Assess
    expect(thrown).toBeInstanceOf(TeamViewerError);
    const span = byName(exporter.getFinishedSpans(), "TeamViewer POST /oauth2/token");
    expect(span.status).toEqual({ code: 2 });
    expect(span.attributes).toEqual({ "error.type": "TeamViewerError", [traceAttributes.errorCode]: "invalidGrant" });
    expect(JSON.stringify(span.events)).not.toContain("abc123");
  });

  it("writes each ended span as one JSON line with its parent", async () => {
    // Act
    await inSpan("outer", { kind: "server" }, () =>
      inSpan("inner", { kind: "client", attributes: { "http.response.status_code": 200 } }, async () => undefined),
    );

    // Assess
    await provider.forceFlush();
    const records = readFileSync(tracesFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as SpanRecord);
    const inner = records.find((r) => r.name === "inner")!;
    const outer = records.find((r) => r.name === "outer")!;
    expect(inner).toMatchObject({
      traceId: outer.traceId,
      parentSpanId: outer.spanId,
      kind: "client",
      status: "unset",
      attributes: { "http.response.status_code": 200 },
    });
    expect(outer.parentSpanId).toBeUndefined();
    expect(Date.parse(outer.end) - Date.parse(outer.start)).toBeGreaterThanOrEqual(0);
    expect(records.indexOf(inner)).toBeLessThan(records.indexOf(outer));
  });
});

describe("the local trace file (JsonlSpanProcessor)", () => {
  const lines = (file: string): string[] => readFileSync(file, "utf8").trim().split("\n");

  it("keeps every span of a burst once, in the order they ended, and starts a new file past maxBytes", async () => {
    // Prepare: a provider of its own (not registered), writing to a fresh file.
    const dir = mkdtempSync(join(tmpdir(), "rac-jsonl-"));
    const file = join(dir, "traces.jsonl");
    const processor = new JsonlSpanProcessor({ file, maxBytes: 40_000 });
    const tracer = new NodeTracerProvider({ spanProcessors: [processor] }).getTracer("test");
    try {
      // Act: 150 spans end in one turn of the event loop (they share writes), then 150 more.
      for (let i = 0; i < 150; i++) tracer.startSpan(`first ${i}`).end();
      await processor.forceFlush();
      const firstBurst = lines(file);
      for (let i = 0; i < 150; i++) tracer.startSpan(`second ${i}`).end();
      await processor.forceFlush();

      // Assess: the first burst is whole and in order; with the second it passes maxBytes,
      // so the second burst began a new file and the first moved to <file>.1.
      const names = (ls: string[]): string[] => ls.map((l) => (JSON.parse(l) as SpanRecord).name);
      expect(names(firstBurst)).toEqual(Array.from({ length: 150 }, (_, i) => `first ${i}`));
      expect(readFileSync(file, "utf8").length + readFileSync(`${file}.1`, "utf8").length).toBeGreaterThan(40_000);
      expect(names(lines(`${file}.1`))).toEqual(names(firstBurst));
      expect(names(lines(file))).toEqual(Array.from({ length: 150 }, (_, i) => `second ${i}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
