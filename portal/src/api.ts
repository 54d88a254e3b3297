// The one HTTP client of the portal: adds the bearer token, reads JSON, and turns every
// failure into an ApiProblem carrying the API's problem details (docs/api.md, "Errors").
import { h } from "./dom.js";

export interface Problem {
  readonly type?: string;
  readonly title: string;
  readonly status?: number;
  readonly code?: string;
  readonly detail?: string;
  readonly errors?: readonly { readonly path: string; readonly message: string }[];
  readonly correlationId?: string;
}

export class ApiProblem extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.name = "ApiProblem";
    this.problem = problem;
  }
}

export interface List<T> {
  readonly value: T[];
  readonly continuationToken?: string;
}

type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** A bearer token for the API; `instead`: one other than this token, which the API refused. */
export type TokenSource = (options?: { readonly instead?: string }) => Promise<string | undefined>;

export class ApiClient {
  readonly #baseUrl: string;
  readonly #token: TokenSource;
  readonly #onUnauthenticated: () => void;
  /** The last renewal: the token refused and the new one asked for, shared by every request refused with it. */
  #renewal: { readonly refused: string; readonly fresh: Promise<string | undefined> } | undefined;

  constructor(baseUrl: string, token: TokenSource, onUnauthenticated: () => void) {
    this.#baseUrl = baseUrl.replace(/\/$/, "");
    this.#token = token;
    this.#onUnauthenticated = onUnauthenticated;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>("POST", path, { body, headers });
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.#baseUrl}${path}`, window.location.href);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
    const body = options.body !== undefined ? JSON.stringify(options.body) : undefined;
    const token = await this.#token();
    let res = await this.#send(method, url, options.headers, body, token);
    if (res.status === 401 && token) {
      // The API refused the token sent (its challenge says error="invalid_token", which a
      // cross-origin page cannot read: hence "a token was sent"): revoked, or issued before a
      // change. Renew it once and send again; the API authenticates first, so the refused request
      // changed nothing. A second refusal, or no new token, means signing in again.
      const fresh = await this.#renewed(token);
      if (fresh && fresh !== token) res = await this.#send(method, url, options.headers, body, fresh);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.ok) return parsed as T;
    const problem = asProblem(parsed, res);
    if (res.status === 401) this.#onUnauthenticated();
    throw new ApiProblem(problem);
  }

  /** A new token for one refused: asked for once, however many requests were refused with it. */
  #renewed(refused: string): Promise<string | undefined> {
    if (this.#renewal?.refused !== refused) {
      const fresh = this.#token({ instead: refused });
      this.#renewal = { refused, fresh };
      // None could be had: a later refusal asks again, since the reader may have signed in since.
      const forget = (): void => {
        if (this.#renewal?.fresh === fresh) this.#renewal = undefined;
      };
      fresh.then((t) => (t ? undefined : forget()), forget);
    }
    return this.#renewal.fresh;
  }

  /** One request; a timeout or an unreachable service as an ApiProblem. */
  async #send(method: string, url: URL, extra: Record<string, string> | undefined, body: string | undefined, token: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...extra };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(url, { method, headers, body, signal: AbortSignal.timeout(requestTimeoutMs) });
    } catch (e) {
      if (e instanceof DOMException && e.name === "TimeoutError") {
        throw new ApiProblem({
          title: "The service did not answer in time",
          detail: `No answer within ${requestTimeoutMs / 1000} s. The change may still have been made: reload the page to see the current state.`,
          code: "timeout",
        });
      }
      throw new ApiProblem({
        title: "The service could not be reached",
        detail: "Check your network connection and try again. If it keeps happening, the service may be down.",
        code: "network",
      });
    }
  }
}

/** How long the portal waits for one API answer before saying so (a busy button must not spin for ever). */
const requestTimeoutMs = 30_000;

function asProblem(body: unknown, res: Response): Problem {
  if (body && typeof body === "object" && typeof (body as { title?: unknown }).title === "string") {
    const p = body as Problem;
    return { ...p, correlationId: p.correlationId ?? res.headers.get("x-correlation-id") ?? undefined };
  }
  return {
    title: `The service answered ${res.status} ${res.statusText}`.trim(),
    status: res.status,
    detail: "The answer held no problem details.",
    correlationId: res.headers.get("x-correlation-id") ?? undefined,
  };
}

/**
 * How long a page that polls waits before its next request: `normalMs`, or longer when the
 * API answered 429 and said when to come back (`retryAfterSeconds`, as in `Retry-After`).
 */
export function nextPollMs(error: unknown, normalMs: number): number {
  if (!(error instanceof ApiProblem) || error.problem.status !== 429) return normalMs;
  const seconds = (error.problem as Problem & { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? Math.max(normalMs, Math.min(seconds, 3600) * 1000) : normalMs;
}

/** Any thrown value as problem details (so every error is shown the same way). */
export function problemOf(error: unknown): Problem {
  if (error instanceof ApiProblem) return error.problem;
  return { title: "Something went wrong in the portal", detail: error instanceof Error ? error.message : String(error) };
}

/** Problem details shown plainly: title, detail, field errors and the correlation id to quote to support. */
export function problemBox(error: unknown): HTMLElement {
  const p = problemOf(error);
  return h(
    "div",
    { class: "problem", role: "alert", "data-code": p.code ?? "" },
    h("p", { class: "problem-title" }, h("strong", null, p.title), p.status ? ` (${p.status})` : ""),
    p.detail ? h("p", { class: "problem-detail" }, p.detail) : null,
    p.errors && p.errors.length > 0
      ? h(
          "ul",
          null,
          p.errors.map((e) => h("li", null, e.path ? `${e.path}: ${e.message}` : e.message)),
        )
      : null,
    p.correlationId ? h("p", { class: "problem-correlation" }, "Correlation id: ", h("code", null, p.correlationId)) : null,
  );
}
