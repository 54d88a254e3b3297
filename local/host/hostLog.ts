// The host's log lines: host messages, one line per invocation, and the app's context.log output,
// filtered by host.json `logging.logLevel` the way the Functions host filters them.
import type { RpcLogLevel } from "./coreTypes.js";

export type LogSink = (line: string) => void;

const levelRank: Record<RpcLogLevel, number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

/** host.json log levels are .NET names (`Information`, `Warning`…); RPC levels are lower-case. */
export function parseLogLevel(value: unknown): RpcLogLevel | undefined {
  if (typeof value !== "string") return undefined;
  const v = value.trim().toLowerCase();
  return v in levelRank ? (v as RpcLogLevel) : undefined;
}

export interface InvocationLogEntry {
  readonly functionName: string;
  readonly invocationId: string;
  readonly succeeded: boolean;
  readonly reason?: string;
  readonly durationMs: number;
}

export class HostLog {
  #sink: LogSink;
  #levels: ReadonlyMap<string, RpcLogLevel>;

  /** `levels` is host.json `logging.logLevel` (category → level), keys compared case-insensitively. */
  constructor(sink: LogSink, levels: Readonly<Record<string, string>> = {}) {
    this.#sink = sink;
    const parsed = new Map<string, RpcLogLevel>();
    for (const [category, level] of Object.entries(levels)) {
      const l = parseLogLevel(level);
      if (l) parsed.set(category.toLowerCase(), l);
    }
    this.#levels = parsed;
  }

  /** A host message (start-up, listeners, shutdown). */
  info(message: string): void {
    this.#write(message);
  }

  warn(message: string): void {
    this.#write(`warning: ${message}`);
  }

  error(message: string): void {
    this.#write(`error: ${message}`);
  }

  /** A system log from the library (category `system`): information and above, like the host's default. */
  system(level: RpcLogLevel, message: string): void {
    if (levelRank[level] < this.#minimum("host")) return;
    this.#write(level === "information" ? message : `${level}: ${message}`);
  }

  /** A `context.log` line, prefixed with the function name. */
  user(functionName: string, level: RpcLogLevel, message: string): void {
    if (levelRank[level] < this.#minimum(`function.${functionName}.user`)) return;
    this.#write(level === "information" ? `[${functionName}] ${message}` : `[${functionName}] ${level}: ${message}`);
  }

  /** The one summary line per invocation, shaped like the host's "Executed 'Functions.x' (…)" line. */
  invocation(entry: InvocationLogEntry): void {
    const outcome = entry.succeeded ? "Succeeded" : "Failed";
    const reason = entry.succeeded || !entry.reason ? "" : `: ${entry.reason}`;
    this.#write(`Executed 'Functions.${entry.functionName}' (${outcome}, Id=${entry.invocationId}, Duration=${Math.round(entry.durationMs)}ms)${reason}`);
  }

  /** The most specific configured category wins: `Function.x.User` → `Function.x` → `Function` → `default`. */
  #minimum(category: string): number {
    const parts = category.toLowerCase().split(".");
    for (let n = parts.length; n > 0; n--) {
      const level = this.#levels.get(parts.slice(0, n).join("."));
      if (level) return levelRank[level];
    }
    return levelRank[this.#levels.get("default") ?? "information"];
  }

  #write(message: string): void {
    this.#sink(`[${new Date().toISOString()}] ${message}`);
  }
}
