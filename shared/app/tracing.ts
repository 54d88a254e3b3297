// Traces: one W3C trace from an HTTP request through Service Bus to the worker and its
// TeamViewer calls. Only the OpenTelemetry API is used here; which SDK records the spans
// (Application Insights, the local JSONL file, or none) is chosen once at start-up by the
// composition root. With none registered every call below is a no-op.
//
// Span attributes are chosen, never copied: tenant, correlation id, function, message type
// and id, routes as templates, status codes and error codes. No URL query, header, body or
// error message goes into a span, so no token, secret, OAuth code or state can.
import {
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type TextMapGetter,
} from "@opentelemetry/api";

export const tracerName = "remote-assistance-connector";

/** This project's attribute names (beside OpenTelemetry's own `http.*`, `messaging.*`, `error.type`). */
export const traceAttributes = {
  tenantId: "rac.tenant_id",
  correlationId: "rac.correlation_id",
  functionName: "rac.function",
  messageType: "rac.message_type",
  /** The project's error code: a problem's `code`, a TeamViewerError's code. */
  errorCode: "rac.error_code",
  /** What a queue function did with a message that did not simply succeed. */
  outcome: "rac.outcome",
} as const;

export type SpanKindName = "server" | "client" | "producer" | "consumer" | "internal";
export type TraceAttributeValues = Readonly<Record<string, string | number | boolean | undefined>>;

export interface SpanOptions {
  readonly kind?: SpanKindName;
  readonly attributes?: TraceAttributeValues;
  /** Start under this context (an extracted `traceparent`) instead of the active one. */
  readonly parent?: Context;
}

export interface TraceSpan {
  /** Attributes of this span only. */
  set(attributes: TraceAttributeValues): void;
  /** Attributes of this span and of every span started under it from now on (tenant, correlation id). */
  annotate(attributes: TraceAttributeValues): void;
  /** Marks the span failed with an error type and, if it has one, the project's error code; no message. */
  fail(errorType: string, errorCode?: string): void;
}

const kinds: Record<SpanKindName, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

/** Attributes a span hands down to the spans started under it (a mutable bag per span). */
const inheritedKey = createContextKey("rac.inherited-trace-attributes");
const tracer = trace.getTracer(tracerName);
const codePattern = /^[A-Za-z0-9_.:-]{1,64}$/;

function defined(values: TraceAttributeValues | undefined): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(values ?? {})) if (v !== undefined) out[k] = v;
  return out;
}

/** The error's class name and its `code`, if it has a plain one; never its message. */
export function errorFacts(e: unknown): { readonly type: string; readonly code?: string } {
  if (!(e instanceof Error)) return { type: typeof e };
  const code = (e as Error & { code?: unknown }).code;
  return { type: codePattern.test(e.name) ? e.name : "Error", ...(typeof code === "string" && codePattern.test(code) ? { code } : {}) };
}

/**
 * Runs `fn` in a new span, a child of `options.parent` or of the active span, and ends the
 * span when `fn` settles. A throw marks the span failed (error type and code) and is rethrown.
 */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: TraceSpan) => Promise<T>): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(name, { kind: kinds[options.kind ?? "internal"] }, parent);
  const recording = span.isRecording();
  const inherited: Attributes = recording ? { ...(parent.getValue(inheritedKey) as Attributes | undefined) } : {};
  if (recording) span.setAttributes({ ...inherited, ...defined(options.attributes) });
  const handle: TraceSpan = {
    set: (a) => {
      if (recording) span.setAttributes(defined(a));
    },
    annotate: (a) => {
      if (!recording) return;
      const values = defined(a);
      Object.assign(inherited, values);
      span.setAttributes(values);
    },
    fail: (type, code) => {
      if (!recording) return;
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttributes(defined({ "error.type": type, [traceAttributes.errorCode]: code }));
    },
  };
  const active = recording ? trace.setSpan(parent, span).setValue(inheritedKey, inherited) : trace.setSpan(parent, span);
  try {
    return await context.with(active, () => fn(handle));
  } catch (e) {
    const facts = errorFacts(e);
    handle.fail(facts.type, facts.code);
    throw e;
  } finally {
    span.end();
  }
}

/** Writes the active trace context (`traceparent`, `tracestate`) into a carrier, e.g. a message's application properties. */
export function injectTraceContext(carrier: Record<string, string>): void {
  propagation.inject(context.active(), carrier);
}

const headersGetter: TextMapGetter<Pick<Headers, "get" | "keys">> = {
  keys: (h) => [...h.keys()],
  get: (h, key) => h.get(key) ?? undefined,
};

/**
 * Service Bus application properties: ours (`traceparent`) first, else the `Diagnostic-Id`
 * the Azure SDK's own tracing (and other senders using it) put there in the same format.
 * The Functions library lower-cases the first letter of trigger metadata keys, nested ones
 * too, so a function sees it as `diagnostic-Id`.
 */
const propertiesGetter: TextMapGetter<Readonly<Record<string, unknown>>> = {
  keys: (p) => Object.keys(p),
  get: (p, key) => {
    const value = p[key] ?? (key === "traceparent" ? (p["diagnostic-Id"] ?? p["Diagnostic-Id"]) : undefined);
    return typeof value === "string" ? value : undefined;
  },
};

/**
 * The trace context a caller sent in HTTP headers, on a fresh root: nothing ambient leaks
 * in. A missing or malformed `traceparent` gives a root, so the span started on it begins a
 * new trace.
 */
export function traceContextOfHeaders(headers: Pick<Headers, "get" | "keys">): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headersGetter);
}

/** The trace context a message carries in its application properties, on a fresh root (as above). */
export function traceContextOfProperties(properties: Readonly<Record<string, unknown>> | undefined): Context {
  return properties === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, properties, propertiesGetter);
}
