// Logging with one redaction rule applied to every line: bearer tokens, JWTs and the
// OAuth secrets (code, state, access/refresh tokens, client secret) never reach a sink.

// SharedAccessKey: Service Bus and Notification Hubs connection strings; AccountKey: storage's.
const secretKeys = "code|state|secret|access_token|refresh_token|client_secret|id_token|accessToken|refreshToken|clientSecret|sig|SharedAccessKey|AccountKey";
const rules: readonly [RegExp, string][] = [
  [/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, "Bearer [redacted]"],
  // A client id and secret, as a token endpoint may take them (only as a header: "Basic" is a word too).
  [/(authorization["']?\s*[:=]\s*["']?)Basic\s+[A-Za-z0-9+/]+=*/gi, "$1Basic [redacted]"],
  [/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, "[redacted-jwt]"],
  [new RegExp(`([?&;\\s]|^)(${secretKeys})=([^&\\s"';]+)`, "g"), "$1$2=[redacted]"],
  [new RegExp(`("(?:${secretKeys})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, "g"), '$1"[redacted]"'],
];

export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of rules) out = out.replace(pattern, replacement);
  return out;
}

export type LogLevel = "info" | "warn" | "error";
export type LogSink = (level: LogLevel, line: string) => void;

export interface Logger {
  info(message: string, props?: Record<string, unknown>): void;
  warn(message: string, props?: Record<string, unknown>): void;
  error(message: string, error?: unknown, props?: Record<string, unknown>): void;
  with(props: Record<string, unknown>): Logger;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

export function createLogger(sink: LogSink, base: Record<string, unknown> = {}): Logger {
  const write = (level: LogLevel, message: string, props?: Record<string, unknown>, error?: unknown): void => {
    const merged = { ...base, ...props };
    // Each string redacted as it is, before JSON escapes it: a JSON body or a form held in a
    // property reads `{\"code\":\"…\"}` in the line, which the rules below do not see as a pair.
    const suffix =
      Object.keys(merged).length > 0 ? ` ${JSON.stringify(merged, (_key, value: unknown) => (typeof value === "string" ? redact(value) : value))}` : "";
    const err = error === undefined ? "" : `\n${describe(error)}`;
    sink(level, redact(`${message}${suffix}${err}`));
  };
  return {
    info: (m, p) => write("info", m, p),
    warn: (m, p) => write("warn", m, p),
    error: (m, e, p) => write("error", m, p, e),
    with: (props) => createLogger(sink, { ...base, ...props }),
  };
}

export const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};
