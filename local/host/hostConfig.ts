// The parts of host.json the local host honours: HTTP route prefix, Service Bus concurrency, lock renewal and
// batch size (extension 5.x schema), and log levels. Missing keys take the documented defaults (local/host/README.md).
import { readFileSync } from "node:fs";

export interface HostConfig {
  readonly routePrefix: string;
  readonly serviceBus: {
    readonly maxConcurrentCalls: number;
    readonly maxAutoLockRenewalDurationMs: number;
    readonly autoCompleteMessages: boolean;
    /** For `cardinality: "many"` triggers; absent = the extension's default, 1000 (maxMessageBatchSizeDefault). */
    readonly maxMessageBatchSize?: number;
  };
  readonly logLevels: Readonly<Record<string, string>>;
}

/** The Service Bus extension's (5.x) default batch size for `cardinality: "many"`. */
export const maxMessageBatchSizeDefault = 1000;

export const defaultHostConfig: HostConfig = {
  routePrefix: "api",
  serviceBus: { maxConcurrentCalls: 16, maxAutoLockRenewalDurationMs: 5 * 60_000, autoCompleteMessages: true },
  logLevels: {},
};

const timeSpan = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/;

/** Milliseconds in a .NET TimeSpan string (`[-][d.]hh:mm[:ss[.fffffff]]`, e.g. "00:05:00"). */
export function parseTimeSpan(value: string): number {
  const m = timeSpan.exec(value.trim());
  if (!m) throw new Error(`not a TimeSpan ([d.]hh:mm:ss): "${value}"`);
  const [, sign, d, h, min, s, frac] = m;
  const ms = ((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60_000 + Number(s ?? 0) * 1000 + Math.round(Number(`0.${frac ?? "0"}`) * 1000);
  return sign ? -ms : ms;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Case-insensitive lookup: host.json keys are read case-insensitively by the host's configuration. */
function get(obj: unknown, key: string): unknown {
  if (!isObject(obj)) return undefined;
  const found = Object.keys(obj).find((k) => k.toLowerCase() === key.toLowerCase());
  return found === undefined ? undefined : obj[found];
}

export function readHostConfig(path: string): HostConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return defaultHostConfig;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: malformed JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseHostConfig(json, path);
}

export function parseHostConfig(json: unknown, source = "host.json"): HostConfig {
  const extensions = get(json, "extensions");
  const http = get(extensions, "http");
  const sb = get(extensions, "serviceBus");

  const prefix = get(http, "routePrefix");
  if (prefix !== undefined && typeof prefix !== "string") throw new Error(`${source}: extensions.http.routePrefix must be a string`);

  const concurrency = get(sb, "maxConcurrentCalls");
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && (concurrency as number) > 0)) {
    throw new Error(`${source}: extensions.serviceBus.maxConcurrentCalls must be a positive integer`);
  }
  const renewal = get(sb, "maxAutoLockRenewalDuration");
  let renewalMs = defaultHostConfig.serviceBus.maxAutoLockRenewalDurationMs;
  if (renewal !== undefined) {
    if (typeof renewal !== "string") throw new Error(`${source}: extensions.serviceBus.maxAutoLockRenewalDuration must be a TimeSpan string`);
    try {
      renewalMs = Math.max(0, parseTimeSpan(renewal));
    } catch (error) {
      throw new Error(`${source}: extensions.serviceBus.maxAutoLockRenewalDuration: ${(error as Error).message}`, { cause: error });
    }
  }
  const autoComplete = get(sb, "autoCompleteMessages");
  if (autoComplete !== undefined && typeof autoComplete !== "boolean") {
    throw new Error(`${source}: extensions.serviceBus.autoCompleteMessages must be true or false`);
  }

  const batchSize = get(sb, "maxMessageBatchSize");
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && (batchSize as number) > 0)) {
    throw new Error(`${source}: extensions.serviceBus.maxMessageBatchSize must be a positive integer`);
  }

  const logLevel = get(get(json, "logging"), "logLevel");
  const logLevels: Record<string, string> = {};
  if (isObject(logLevel)) for (const [k, v] of Object.entries(logLevel)) if (typeof v === "string") logLevels[k] = v;

  return {
    routePrefix: ((prefix as string | undefined) ?? defaultHostConfig.routePrefix).replace(/^\/+|\/+$/g, ""),
    serviceBus: {
      maxConcurrentCalls: (concurrency as number | undefined) ?? defaultHostConfig.serviceBus.maxConcurrentCalls,
      maxAutoLockRenewalDurationMs: renewalMs,
      autoCompleteMessages: (autoComplete as boolean | undefined) ?? true,
      ...(batchSize === undefined ? {} : { maxMessageBatchSize: batchSize as number }),
    },
    logLevels,
  };
}
