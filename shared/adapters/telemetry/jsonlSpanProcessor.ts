// The local trace exporter: every ended span as one JSON line in a file (`npm start`
// writes `.local/traces.jsonl`), in the order spans end. Lines are appended in order by one
// chain of writes, the spans that end during one write together in the next; a failed
// write is reported once and never reaches the app.
import { appendFile, rename, stat } from "node:fs/promises";
import { SpanKind, SpanStatusCode, type HrTime } from "@opentelemetry/api";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-node";

/** One line of the trace file. */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  /** Absent on a trace's first span. */
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: "internal" | "server" | "client" | "producer" | "consumer";
  readonly start: string;
  readonly end: string;
  readonly durationMs: number;
  readonly status: "unset" | "ok" | "error";
  readonly attributes: Readonly<Record<string, unknown>>;
}

const kindNames: Record<SpanKind, SpanRecord["kind"]> = {
  [SpanKind.INTERNAL]: "internal",
  [SpanKind.SERVER]: "server",
  [SpanKind.CLIENT]: "client",
  [SpanKind.PRODUCER]: "producer",
  [SpanKind.CONSUMER]: "consumer",
};

const statusNames: Record<SpanStatusCode, SpanRecord["status"]> = {
  [SpanStatusCode.UNSET]: "unset",
  [SpanStatusCode.OK]: "ok",
  [SpanStatusCode.ERROR]: "error",
};

const ms = (t: HrTime): number => t[0] * 1000 + t[1] / 1e6;

export function spanRecord(span: ReadableSpan): SpanRecord {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
    name: span.name,
    kind: kindNames[span.kind],
    start: new Date(ms(span.startTime)).toISOString(),
    end: new Date(ms(span.endTime)).toISOString(),
    durationMs: Math.round(ms(span.duration) * 1000) / 1000,
    status: statusNames[span.status.code],
    attributes: span.attributes,
  };
}

export interface JsonlSpanProcessorOptions {
  readonly file: string;
  /** When the file grows past this, it is renamed to `<file>.1` (replacing an older one) and a new one begun. */
  readonly maxBytes?: number;
  readonly warn?: (message: string) => void;
}

export class JsonlSpanProcessor implements SpanProcessor {
  readonly #file: string;
  readonly #maxBytes: number;
  readonly #warn: (message: string) => void;
  #written: number | undefined;
  #chain: Promise<void> = Promise.resolve();
  #pending: string[] = [];
  #warned = false;

  constructor(options: JsonlSpanProcessorOptions) {
    this.#file = options.file;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#warn = options.warn ?? ((m) => console.warn(m));
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    // Lines that end while a write is under way go together into the next one (one file
    // append for many spans, not one each: under load a request ends a dozen spans).
    this.#pending.push(`${JSON.stringify(spanRecord(span))}\n`);
    if (this.#pending.length === 1) this.#chain = this.#chain.then(() => this.#append(this.#takePending()));
  }

  #takePending(): string {
    const text = this.#pending.join("");
    this.#pending = [];
    return text;
  }

  forceFlush(): Promise<void> {
    return this.#chain;
  }

  shutdown(): Promise<void> {
    return this.#chain;
  }

  async #append(line: string): Promise<void> {
    try {
      this.#written ??= await stat(this.#file).then(
        (s) => s.size,
        () => 0,
      );
      if (this.#written > 0 && this.#written + line.length > this.#maxBytes) {
        await rename(this.#file, `${this.#file}.1`);
        this.#written = 0;
      }
      await appendFile(this.#file, line);
      this.#written += Buffer.byteLength(line);
    } catch (e) {
      this.#written = undefined;
      if (!this.#warned) {
        this.#warned = true;
        this.#warn(`could not write spans to ${this.#file}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
