// One call to the TeamViewer Web API over fetch: the request built from a Call, one
// deadline, a client span named by the path template (no ids, codes, query or body), and
// every failure turned into a TeamViewerError whose message and cause hold no secret.
import type { z } from "zod";
import type { Clock } from "../../app/clock.js";
import { redact } from "../../app/logging.js";
import { inSpan } from "../../app/tracing.js";
import { TeamViewerError, type TeamViewerErrorCode } from "../../app/teamViewerError.js";
import { errorBodySchema } from "./wire.js";

export interface Call {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly path: string;
  /** The path as it may appear in messages: templates instead of ids. */
  readonly label: string;
  readonly query?: Record<string, string | undefined>;
  readonly json?: unknown;
  readonly form?: Record<string, string>;
  readonly bearer?: string;
  /** Values that must never be echoed into an error: tokens, codes, the client secret. */
  readonly secrets: readonly string[];
  readonly tokenEndpoint?: boolean;
}

/**
 * The most of an answer the client reads: far above the biggest it asks for (a page of
 * 1,000 sessions with their 4,000-character descriptions, or of 1,000 connections), so
 * a misbehaving answer cannot fill the instance's memory.
 */
export const maxAnswerBytes = 32 * 1024 * 1024;

export interface Answer {
  readonly status: number;
  readonly text: string;
}

export interface HttpExchangeOptions {
  readonly apiBaseUrl: string;
  readonly timeoutMs: number;
  readonly fetch: typeof fetch;
  /** Turns an HTTP-date Retry-After into a delay. */
  readonly clock: Clock;
}

export class HttpExchange {
  readonly #apiBaseUrl: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #clock: Clock;

  constructor(options: HttpExchangeOptions) {
    this.#apiBaseUrl = options.apiBaseUrl;
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch;
    this.#clock = options.clock;
  }

  /** Sends the call in a client span named by its path template; a 2xx answer or a TeamViewerError. */
  send(call: Call): Promise<Answer> {
    const url = new URL(this.#apiBaseUrl + call.path);
    const attributes = { "http.request.method": call.method, "url.template": call.label, "server.address": url.hostname };
    return inSpan(`TeamViewer ${call.method} ${call.label}`, { kind: "client", attributes }, (span) =>
      this.#exchange(call, url, (status) => span.set({ "http.response.status_code": status })),
    );
  }

  async #exchange(call: Call, url: URL, answered: (status: number) => void): Promise<Answer> {
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: "application/json" };
    if (call.bearer !== undefined) headers.authorization = `Bearer ${call.bearer}`;
    let body: string | undefined;
    if (call.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.json);
    } else if (call.form !== undefined) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(call.form).toString();
    }

    // One deadline for connecting, the headers and the body.
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let status: number;
    let responseHeaders: Headers;
    let text: string | undefined;
    try {
      // A redirect would carry the bearer header somewhere unexpected: treat it as an answer.
      const res = await this.#fetch(url, { method: call.method, headers, body, redirect: "manual", signal });
      status = res.status;
      responseHeaders = res.headers;
      text = await readBounded(res, maxAnswerBytes);
    } catch (e) {
      throw this.#transportError(call, e);
    }
    answered(status);
    if (status >= 200 && status < 300) {
      if (text === undefined) {
        throw new TeamViewerError("invalidResponse", `${call.method} ${call.label}: TeamViewer answered ${status} with a body too big to read.`, { status });
      }
      return { status, text };
    }
    // An error's status decides without its body; one too big to read is left unread.
    throw this.#statusError(call, status, responseHeaders, text ?? "");
  }

  #transportError(call: Call, e: unknown): TeamViewerError {
    const cause = safeCause(e, call.secrets);
    const name = e instanceof Error ? e.name : "";
    if (name === "TimeoutError" || name === "AbortError") {
      return new TeamViewerError("timeout", `${call.method} ${call.label}: TeamViewer did not answer within ${this.#timeoutMs} ms.`, { cause });
    }
    const code = errorCode(e);
    return new TeamViewerError("unreachable", `${call.method} ${call.label}: TeamViewer could not be reached${code ? ` (${code})` : ""}.`, { cause });
  }

  #statusError(call: Call, status: number, headers: Headers, text: string): TeamViewerError {
    let body: z.output<typeof errorBodySchema> = {};
    try {
      const parsed = errorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success) body = parsed.data;
    } catch {
      // Not JSON (or no body, as for a 401 without a token): the status alone decides.
    }
    const tvError = body.error !== undefined && /^[A-Za-z0-9_.-]{1,64}$/.test(body.error) ? body.error : undefined;
    const code = classify(status, tvError?.toLowerCase(), body.error_code, call.tokenEndpoint === true);
    const description = safeDescription(body.error_description, call.secrets);
    const retryAfterMs = parseRetryAfter(headers.get("retry-after"), this.#clock.now().getTime());
    const message =
      `${call.method} ${call.label}: TeamViewer answered ${status}` +
      (tvError ? ` ${tvError}` : "") +
      (description ? ` (${description})` : "") +
      (code === "throttled" && retryAfterMs !== undefined ? `; retry after ${Math.ceil(retryAfterMs / 1000)} s` : "") +
      ".";
    return new TeamViewerError(code, message, { status, tvError, retryAfterMs });
  }
}

/** The body as text, or undefined (and the rest left unread) once it is longer than `max` bytes. */
async function readBounded(res: Response, max: number): Promise<string | undefined> {
  if (Number(res.headers.get("content-length") ?? 0) > max) {
    await res.body?.cancel();
    return undefined;
  }
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  // As Response.text() decodes: UTF-8, a byte-order mark dropped, bad bytes replaced.
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** The answer's body as `schema` says, or an invalidResponse error that quotes none of it. */
export function parseAnswer<S extends z.ZodType>(call: Call, answer: Answer, schema: S): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    // JSON.parse quotes the body in its message, and a token response body holds fresh
    // tokens this client does not know yet: say what went wrong, not what was there.
    throw new TeamViewerError("invalidResponse", `${call.method} ${call.label}: TeamViewer answered ${answer.status} with a body that is not JSON.`, {
      status: answer.status,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new TeamViewerError(
      "invalidResponse",
      `${call.method} ${call.label}: TeamViewer answered ${answer.status} with an unexpected body: ${summarise(parsed.error, call.secrets)}`,
      { status: answer.status },
    );
  }
  return parsed.data;
}

function classify(status: number, tvError: string | undefined, errorCode: number | undefined, tokenEndpoint: boolean): TeamViewerErrorCode {
  if (tvError === "invalid_grant") return "invalidGrant";
  if (tvError === "invalid_client") return "invalidClient";
  if (status === 401) {
    if (tokenEndpoint) return "invalidClient";
    return tvError === "token_expired" || (tvError === undefined && errorCode === 1) ? "tokenExpired" : "invalidToken";
  }
  // 403 is documented for throttling; 429 is not, but is treated the same.
  if (status === 429 || (status === 403 && (tvError === "rate_limit_reached" || tvError === "blocked"))) return "throttled";
  if (status === 404) return "notFound";
  if (status === 408) return "timeout";
  if (status >= 500) return "serverError";
  if (status >= 400) return "badRequest";
  return "invalidResponse";
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** TeamViewer's error_description, only if it echoes none of the request's secrets. */
function safeDescription(description: string | undefined, secrets: readonly string[]): string | undefined {
  if (description === undefined) return undefined;
  // One line, and nothing hidden (a pair cut by the slice included): it goes on to logs, a
  // session's history and the audit log.
  const text = description
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 300)
    .replace(/[\p{Cc}\p{Cf}\p{Cs}]/gu, "\uFFFD");
  if (text === "") return undefined;
  const lower = description.toLowerCase();
  if (secrets.some((s) => s.length > 0 && lower.includes(s.toLowerCase()))) return undefined;
  // Anything that looks like a credential (a bearer token, a JWT, key=value secrets) too.
  if (redact(text) !== text) return undefined;
  return text;
}

/** A zod error in a message: at most five issues, none quoting the call's secrets. */
export function summarise(error: z.ZodError, secrets: readonly string[]): string {
  const text = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(body)"}: ${i.message}`)
    .join("; ");
  return scrub(text, secrets);
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("[redacted]");
  return redact(out);
}

function errorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 4; cur = cur.cause, depth++) {
    const code = (cur as Error & { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/**
 * A copy of a transport error's chain (name, code, scrubbed message), so the cause keeps
 * what diagnoses the failure (ECONNREFUSED, ENOTFOUND) and nothing that could hold a secret.
 */
function safeCause(e: unknown, secrets: readonly string[], depth = 0): Error | undefined {
  if (e === undefined || e === null || depth > 3) return undefined;
  const source = e instanceof Error ? e : new Error(typeof e === "string" ? e : "non-error thrown");
  const inner = safeCause(source.cause, secrets, depth + 1);
  const copy: Error & { code?: string } = new Error(scrub(source.message, secrets), inner ? { cause: inner } : undefined);
  copy.name = source.name;
  const code = (source as Error & { code?: unknown }).code;
  if (typeof code === "string") copy.code = code;
  copy.stack = `${copy.name}: ${copy.message}`;
  return copy;
}
