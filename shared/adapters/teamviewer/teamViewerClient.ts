// A small fetch-based client for the TeamViewer Web API subset in docs/teamviewer.md,
// used by the queue workers. Every answer is validated; every failure is a TeamViewerError.
// Each call is a client span named by its path template (no ids, codes, query or body).
import type { z } from "zod";
import { systemClock, type Clock } from "../../app/clock.js";
import { redact } from "../../app/logging.js";
import { inSpan } from "../../app/tracing.js";
import { TeamViewerError, type TeamViewerErrorCode } from "../../app/teamViewerError.js";
import { findOpenSessionByCustomApi } from "../../app/teamViewerPaging.js";
import {
  accountResponseSchema,
  connectionsPageSchema,
  linkProblem,
  sessionLinkFields,
  createSessionRequestSchema,
  errorBodySchema,
  formatTime,
  pingResponseSchema,
  sessionCodeSchema,
  sessionListResponseSchema,
  sessionResponseSchema,
  tokenResponseSchema,
  type ConnectionsPage,
  type CreateSessionRequest,
  type SessionState,
  type TeamViewerAccount,
  type TeamViewerSession,
  type TokenSet,
} from "./wire.js";

export type { ConnectionsPage, TeamViewerConnection } from "./wire.js";
export type { CreateSessionRequest, SessionState, TeamViewerAccount, TeamViewerEndCustomer, TeamViewerSession, TokenSet } from "./wire.js";

export interface TeamViewerClientOptions {
  /** e.g. https://webapi.teamviewer.com/api/v1 */
  readonly apiBaseUrl: string;
  /** e.g. https://login.teamviewer.com */
  readonly loginBaseUrl: string;
  readonly clientId: string;
  /** Read when needed (Key Vault), never kept by the client. */
  readonly clientSecret: () => Promise<string>;
  readonly redirectUri: string;
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
  /** Turns expires_in into expiresAt. */
  readonly clock?: Clock;
  /**
   * Accept `http://` session links to a loopback host (the local TeamViewer fake). Off by
   * default: every link the client hands out is then `https:`.
   */
  readonly allowInsecureLinks?: boolean;
}

export interface ListSessionsQuery {
  readonly groupId?: string;
  readonly state?: readonly SessionState[];
  readonly fullList?: boolean;
  readonly offset?: number;
}

export interface ConnectionsQuery {
  readonly from: Date;
  readonly to: Date;
  readonly offsetId?: string;
}

export interface SessionPage {
  readonly sessions: TeamViewerSession[];
  readonly nextOffset?: number;
}

interface Call {
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

interface Answer {
  readonly status: number;
  readonly text: string;
}

export class TeamViewerClient {
  readonly #apiBaseUrl: string;
  readonly #loginBaseUrl: string;
  readonly #clientId: string;
  readonly #clientSecret: () => Promise<string>;
  readonly #redirectUri: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #clock: Clock;
  readonly #allowInsecureLinks: boolean;

  constructor(options: TeamViewerClientOptions) {
    this.#apiBaseUrl = options.apiBaseUrl.replace(/\/+$/, "");
    this.#loginBaseUrl = options.loginBaseUrl.replace(/\/+$/, "");
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#redirectUri = options.redirectUri;
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#clock = options.clock ?? systemClock;
    this.#allowInsecureLinks = options.allowInsecureLinks ?? false;
  }

  /** Where to send the admin's browser to sign in at TeamViewer. */
  authorizeUrl(state: string): string {
    const url = new URL(`${this.#loginBaseUrl}/oauth2/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: this.#clientId,
      redirect_uri: this.#redirectUri,
      state,
      display: "popup",
    }).toString();
    return url.toString();
  }

  async exchangeCode(code: string): Promise<TokenSet> {
    const clientSecret = await this.#clientSecret();
    return this.#token(
      { grant_type: "authorization_code", code, redirect_uri: this.#redirectUri, client_id: this.#clientId, client_secret: clientSecret },
      [code, clientSecret],
    );
  }

  /** Refresh tokens rotate: the one passed in is spent once this answers. */
  async refresh(refreshToken: string): Promise<TokenSet> {
    const clientSecret = await this.#clientSecret();
    return this.#token(
      { grant_type: "refresh_token", refresh_token: refreshToken, client_id: this.#clientId, client_secret: clientSecret },
      [refreshToken, clientSecret],
    );
  }

  /** Revokes the access token and its refresh token. */
  async revoke(accessToken: string): Promise<void> {
    await this.#send(this.#bearerCall(accessToken, { method: "POST", path: "/oauth2/revoke", label: "/oauth2/revoke" }));
  }

  async ping(accessToken: string): Promise<{ tokenValid: boolean }> {
    const call = this.#bearerCall(accessToken, { method: "GET", path: "/ping", label: "/ping" });
    return this.#parse(call, await this.#send(call), pingResponseSchema);
  }

  async getAccount(accessToken: string): Promise<TeamViewerAccount> {
    const call = this.#bearerCall(accessToken, { method: "GET", path: "/account", label: "/account" });
    return this.#parse(call, await this.#send(call), accountResponseSchema);
  }

  async createSession(accessToken: string, req: CreateSessionRequest): Promise<TeamViewerSession> {
    const body = this.#validRequest("POST /sessions", createSessionRequestSchema, req);
    // 200 is documented, 201 appears in older docs (unconfirmed): any 2xx with a session will do.
    const call = this.#bearerCall(accessToken, { method: "POST", path: "/sessions", label: "/sessions", json: body });
    const answer = await this.#send(call);
    return this.#withSafeLinks(call, answer, this.#parse(call, answer, sessionResponseSchema));
  }

  async listSessions(accessToken: string, q: ListSessionsQuery = {}): Promise<SessionPage> {
    if (q.offset !== undefined && !(Number.isInteger(q.offset) && q.offset >= 0)) {
      throw new TeamViewerError("badRequest", "GET /sessions was not sent: offset must be a whole number ≥ 0.");
    }
    const call = this.#bearerCall(accessToken, {
      method: "GET",
      path: "/sessions",
      label: "/sessions",
      query: {
        groupid: q.groupId,
        state: q.state && q.state.length > 0 ? q.state.join(",") : undefined,
        full_list: q.fullList ? "true" : undefined,
        offset: q.offset === undefined ? undefined : String(q.offset),
      },
    });
    const page = this.#parse(call, await this.#send(call), sessionListResponseSchema);
    // A listed session is still found and closed by its code; only its unusable links go.
    return { ...page, sessions: page.sessions.map((s) => this.#withoutUnsafeLinks(s)) };
  }

  /**
   * The open session this project created with `customApi`, if any. Only open sessions
   * matter to the callers (a retried create, a close without a saved code), and asking
   * for `state=open` keeps the pages to the group's open sessions, not its whole history.
   */
  async findOpenSessionByCustomApi(accessToken: string, customApi: string, groupId?: string): Promise<TeamViewerSession | undefined> {
    return findOpenSessionByCustomApi((q) => this.listSessions(accessToken, q), customApi, groupId);
  }

  async getSession(accessToken: string, code: string): Promise<TeamViewerSession> {
    const valid = this.#validRequest("GET /sessions/{code}", sessionCodeSchema, code);
    const call = this.#bearerCall(accessToken, { method: "GET", path: `/sessions/${encodeURIComponent(valid)}`, label: "/sessions/{code}" });
    const answer = await this.#send(call);
    return this.#withSafeLinks(call, answer, this.#parse(call, answer, sessionResponseSchema));
  }

  async closeSession(accessToken: string, code: string): Promise<void> {
    const valid = this.#validRequest("PUT /sessions/{code}", sessionCodeSchema, code);
    await this.#send(
      this.#bearerCall(accessToken, { method: "PUT", path: `/sessions/${encodeURIComponent(valid)}`, label: "/sessions/{code}", json: { state: "closed" } }),
    );
  }

  /**
   * One page of the connection report: connections made through a session code
   * (`has_code=true`) that started in [from, to], in TeamViewer's order. Pass `offsetId`
   * from the previous page's `nextOffset`.
   */
  async listConnections(accessToken: string, q: ConnectionsQuery): Promise<ConnectionsPage> {
    if (!(q.from.getTime() <= q.to.getTime())) throw new TeamViewerError("badRequest", "GET /reports/connections was not sent: from must not be after to.");
    if (q.offsetId !== undefined && !/^[\x21-\x7e]{1,200}$/.test(q.offsetId)) {
      throw new TeamViewerError("badRequest", "GET /reports/connections was not sent: offset_id is not an id TeamViewer gave.");
    }
    const call = this.#bearerCall(accessToken, {
      method: "GET",
      path: "/reports/connections",
      label: "/reports/connections",
      query: { from_date: formatTime(q.from), to_date: formatTime(q.to), has_code: "true", offset_id: q.offsetId },
    });
    return this.#parse(call, await this.#send(call), connectionsPageSchema);
  }

  // -------------------------------------------------------------------------------------

  async #token(form: Record<string, string>, secrets: readonly string[]): Promise<TokenSet> {
    const call: Call = { method: "POST", path: "/oauth2/token", label: "/oauth2/token", form, secrets, tokenEndpoint: true };
    const sentAt = this.#clock.now().getTime();
    const token = this.#parse(call, await this.#send(call), tokenResponseSchema);
    return {
      accessToken: token.access_token,
      refreshToken: token.refresh_token,
      // Measured from the request, so the token is never thought valid longer than it is.
      expiresAt: new Date(sentAt + token.expires_in * 1000),
    };
  }

  /**
   * A session whose links may go to a browser or a device, or an invalidResponse error
   * (permanent: TeamViewer will not answer differently on a retry). The link itself is
   * not quoted: it is whatever the answer held.
   */
  #withSafeLinks(call: Call, answer: Answer, session: TeamViewerSession): TeamViewerSession {
    for (const [field, wire] of sessionLinkFields) {
      const link = session[field];
      const problem = link === undefined ? undefined : linkProblem(link, this.#allowInsecureLinks);
      if (problem !== undefined) {
        throw new TeamViewerError("invalidResponse", `${call.method} ${call.label}: TeamViewer answered ${answer.status} with a ${wire} that ${problem}; the session's links were not used.`, {
          status: answer.status,
        });
      }
    }
    return session;
  }

  #withoutUnsafeLinks(session: TeamViewerSession): TeamViewerSession {
    const out: { -readonly [K in keyof TeamViewerSession]: TeamViewerSession[K] } = { ...session };
    for (const [field] of sessionLinkFields) {
      const link = out[field];
      if (link !== undefined && linkProblem(link, this.#allowInsecureLinks) !== undefined) delete out[field];
    }
    return out;
  }

  #bearerCall(accessToken: string, call: Omit<Call, "bearer" | "secrets">): Call {
    // A token with spaces or control characters cannot go in a header; fetch would throw
    // a TypeError that looks like a network failure. The remedy is a new token.
    if (!/^[\x21-\x7e]+$/.test(accessToken)) {
      throw new TeamViewerError("invalidToken", `${call.method} ${call.label} was not sent: the access token is empty or malformed.`);
    }
    return { ...call, bearer: accessToken, secrets: [accessToken] };
  }

  #validRequest<S extends z.ZodType>(what: string, schema: S, value: unknown): z.output<S> {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new TeamViewerError("badRequest", `${what} was not sent: ${summarise(parsed.error, [])}`);
    return parsed.data;
  }

  #send(call: Call): Promise<Answer> {
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
    let text: string;
    try {
      // A redirect would carry the bearer header somewhere unexpected: treat it as an answer.
      const res = await this.#fetch(url, { method: call.method, headers, body, redirect: "manual", signal });
      status = res.status;
      responseHeaders = res.headers;
      text = await res.text();
    } catch (e) {
      throw this.#transportError(call, e);
    }
    answered(status);
    if (status >= 200 && status < 300) return { status, text };
    throw this.#statusError(call, status, responseHeaders, text);
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

  #parse<S extends z.ZodType>(call: Call, answer: Answer, schema: S): z.output<S> {
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
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** TeamViewer's error_description, only if it echoes none of the request's secrets. */
function safeDescription(description: string | undefined, secrets: readonly string[]): string | undefined {
  if (description === undefined) return undefined;
  const text = description.replace(/\s+/g, " ").trim().slice(0, 300);
  if (text === "") return undefined;
  const lower = description.toLowerCase();
  if (secrets.some((s) => s.length > 0 && lower.includes(s.toLowerCase()))) return undefined;
  // Anything that looks like a credential (a bearer token, a JWT, key=value secrets) too.
  if (redact(text) !== text) return undefined;
  return text;
}

function summarise(error: z.ZodError, secrets: readonly string[]): string {
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
