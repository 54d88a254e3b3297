// A small fetch-based client for the TeamViewer Web API subset in docs/teamviewer.md,
// used by the queue workers: what each call sends and accepts. Every answer is validated;
// every failure is a TeamViewerError (how a call travels and fails: httpExchange.ts).
import type { z } from "zod";
import { systemClock, type Clock } from "../../app/clock.js";
import { TeamViewerError } from "../../app/teamViewerError.js";
import { findOpenSessionByCustomApi } from "../../app/teamViewerPaging.js";
import { HttpExchange, parseAnswer, summarise, type Answer, type Call } from "./httpExchange.js";
import {
  accountResponseSchema,
  connectionsPageSchema,
  linkProblem,
  sessionLinkFields,
  createSessionRequestSchema,
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

export type { TokenSet } from "./wire.js";

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

export class TeamViewerClient {
  readonly #loginBaseUrl: string;
  readonly #clientId: string;
  readonly #clientSecret: () => Promise<string>;
  readonly #redirectUri: string;
  readonly #clock: Clock;
  readonly #allowInsecureLinks: boolean;
  readonly #http: HttpExchange;

  constructor(options: TeamViewerClientOptions) {
    this.#loginBaseUrl = options.loginBaseUrl.replace(/\/+$/, "");
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#redirectUri = options.redirectUri;
    this.#clock = options.clock ?? systemClock;
    this.#allowInsecureLinks = options.allowInsecureLinks ?? false;
    this.#http = new HttpExchange({
      apiBaseUrl: options.apiBaseUrl.replace(/\/+$/, ""),
      timeoutMs: options.timeoutMs,
      fetch: options.fetch ?? globalThis.fetch,
      clock: this.#clock,
    });
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
    return this.#token({ grant_type: "authorization_code", code, redirect_uri: this.#redirectUri, client_id: this.#clientId, client_secret: clientSecret }, [
      code,
      clientSecret,
    ]);
  }

  /** Refresh tokens rotate: the one passed in is spent once this answers. */
  async refresh(refreshToken: string): Promise<TokenSet> {
    const clientSecret = await this.#clientSecret();
    return this.#token({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: this.#clientId, client_secret: clientSecret }, [
      refreshToken,
      clientSecret,
    ]);
  }

  /** Revokes the access token and its refresh token. */
  async revoke(accessToken: string): Promise<void> {
    await this.#http.send(this.#bearerCall(accessToken, { method: "POST", path: "/oauth2/revoke", label: "/oauth2/revoke" }));
  }

  async ping(accessToken: string): Promise<{ tokenValid: boolean }> {
    const call = this.#bearerCall(accessToken, { method: "GET", path: "/ping", label: "/ping" });
    return parseAnswer(call, await this.#http.send(call), pingResponseSchema);
  }

  async getAccount(accessToken: string): Promise<TeamViewerAccount> {
    const call = this.#bearerCall(accessToken, { method: "GET", path: "/account", label: "/account" });
    return parseAnswer(call, await this.#http.send(call), accountResponseSchema);
  }

  async createSession(accessToken: string, req: CreateSessionRequest): Promise<TeamViewerSession> {
    const body = this.#validRequest("POST /sessions", createSessionRequestSchema, req);
    // 200 is documented, 201 appears in older docs (unconfirmed): any 2xx with a session will do.
    const call = this.#bearerCall(accessToken, { method: "POST", path: "/sessions", label: "/sessions", json: body });
    const answer = await this.#http.send(call);
    return this.#withSafeLinks(call, answer, parseAnswer(call, answer, sessionResponseSchema));
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
    const page = parseAnswer(call, await this.#http.send(call), sessionListResponseSchema);
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
    const answer = await this.#http.send(call);
    return this.#withSafeLinks(call, answer, parseAnswer(call, answer, sessionResponseSchema));
  }

  async closeSession(accessToken: string, code: string): Promise<void> {
    const valid = this.#validRequest("PUT /sessions/{code}", sessionCodeSchema, code);
    await this.#http.send(
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
    return parseAnswer(call, await this.#http.send(call), connectionsPageSchema);
  }

  // -------------------------------------------------------------------------------------

  async #token(form: Record<string, string>, secrets: readonly string[]): Promise<TokenSet> {
    const call: Call = { method: "POST", path: "/oauth2/token", label: "/oauth2/token", form, secrets, tokenEndpoint: true };
    const sentAt = this.#clock.now().getTime();
    const token = parseAnswer(call, await this.#http.send(call), tokenResponseSchema);
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
        throw new TeamViewerError(
          "invalidResponse",
          `${call.method} ${call.label}: TeamViewer answered ${answer.status} with a ${wire} that ${problem}; the session's links were not used.`,
          {
            status: answer.status,
          },
        );
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
}
