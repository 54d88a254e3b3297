// A local fake of the TeamViewer Web API subset in docs/teamviewer.md (OAuth sign-in page
// included) on node:http, with a /_control/ API that lets tests inject faults and variants.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomUUID, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import {
  TeamViewerFakeControl,
  accountSchema,
  clockSchema,
  connectionInputSchema,
  defaultVariants,
  faultSchema,
  latencySchema,
  throttleSchema,
  variantsSchema,
  type CallRecord,
  type Fault,
  type FakeSession,
  type Latency,
  type Variants,
} from "./control.js";
import { TeamViewerFakeState, formatTime, type ConnectionRecord } from "./fakeState.js";
import { consentPage, errorPage, indexPage, sessionLinkPage } from "./pages.js";
import { isLoopbackHost, listen, urlHost } from "../loopback.js";

export interface TeamViewerFakeOptions {
  /** Default 7072; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1; loopback only, since the control API has no authentication. */
  readonly host?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Keeps tokens (hashed), groups and sessions across restarts. */
  readonly dataDir?: string;
  readonly log?: (line: string) => void;
}

export interface TeamViewerFake {
  readonly port: number;
  /** http://127.0.0.1:<port>: the sign-in page's base (TEAMVIEWER_LOGIN_BASE_URL). */
  readonly url: string;
  /** url + "/api/v1" (TEAMVIEWER_API_BASE_URL). */
  readonly apiBaseUrl: string;
  readonly control: TeamViewerFakeControl;
  close(): Promise<void>;
}

export const defaultTeamViewerFakePort = 7072;
const apiPrefix = "/api/v1";
const maxBodyBytes = 1024 * 1024;
const maxCallRecords = 10_000;

export async function startTeamViewerFake(options: TeamViewerFakeOptions = {}): Promise<TeamViewerFake> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host)) {
    throw new Error(`The TeamViewer fake only listens on loopback (its control API has no authentication); "${host}" is not loopback.`);
  }
  const log = options.log ?? (() => undefined);
  const clock = new FakeClock();
  const fake = new Fake({
    clientId: options.clientId ?? "local-client-id",
    clientSecret: options.clientSecret ?? "local-client-secret",
    state: new TeamViewerFakeState({ dataDir: options.dataDir, now: clock.now, log }),
    clock,
    log,
  });
  const server = createServer((req, res) => void fake.handle(req, res));
  const port = await listen(server, options.port ?? defaultTeamViewerFakePort, host);
  const url = `http://${urlHost(host)}:${port}`;
  fake.url = url;
  return {
    port,
    url,
    apiBaseUrl: `${url}${apiPrefix}`,
    control: new TeamViewerFakeControl(url),
    close: () => fake.close(server),
  };
}

// ---------------------------------------------------------------------------------------

interface Context {
  readonly method: string;
  readonly path: string;
  /** Lower case, no trailing slash: TeamViewer's paths are case-insensitive. */
  readonly route: string;
  readonly query: URLSearchParams;
  readonly body: string;
  readonly contentType: string;
  readonly authorization?: string;
  tokenId?: string;
  grantId?: string;
  fault?: boolean;
}

type Json = Record<string, unknown>;

/** The fake's time: real time plus whatever tests advanced it by (codes, tokens, sessions expire). */
class FakeClock {
  #offsetMs = 0;
  readonly now = (): number => Date.now() + this.#offsetMs;
  advance(ms: number): void {
    this.#offsetMs += ms;
  }
  reset(): void {
    this.#offsetMs = 0;
  }
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const timeString = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, "expected YYYY-MM-DDTHH:MM:SSZ");
const endCustomer = z.object({ name: z.string().max(100).optional(), email: z.string().max(254).optional() }).strict();
const createSessionBody = z
  .object({
    groupname: z.string().trim().min(1).max(200).optional(),
    groupid: z.string().regex(/^g\d+$/).optional(),
    description: z.string().max(4000).optional(),
    end_customer: endCustomer.optional(),
    valid_until: timeString.optional(),
    waiting_message: z.string().max(4000).optional(),
    assigned_userid: z.string().regex(/^u\d+$/).optional(),
    custom_api: z.string().max(4000).optional(),
    support_session_type: z.enum(["Default", "Pilot"]).optional(),
  })
  .strict()
  .refine((b) => (b.groupname === undefined) !== (b.groupid === undefined), "give exactly one of groupname or groupid");
const updateSessionBody = z
  .object({
    state: z.string().optional(),
    description: z.string().max(4000).optional(),
    end_customer: endCustomer.optional(),
    valid_until: timeString.optional(),
    assigned_userid: z.string().regex(/^u\d+$/).optional(),
    custom_api: z.string().max(4000).optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "nothing to update");
const listQuery = z.object({
  groupid: z.string().optional(),
  assigned_userid: z.string().optional(),
  state: z
    .string()
    .transform((s) => s.split(",").map((x) => x.trim().toLowerCase()))
    .pipe(z.array(z.enum(["open", "closed"])))
    .optional(),
  full_list: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(["true", "false"]))
    .transform((s) => s === "true")
    .optional(),
  offset: z.string().regex(/^\d+$/, "offset must be a whole number").transform(Number).optional(),
});

class Fake {
  url = "";
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #state: TeamViewerFakeState;
  readonly #clock: FakeClock;
  readonly #log: (line: string) => void;
  #variants: Variants = { ...defaultVariants };
  #faults: Fault[] = [];
  #latencies: Latency[] = [];
  #throttle: { readonly until: number; readonly rule: { status: 429 | 403; retryAfter: boolean; method: string; path: string } } | undefined;
  #calls: CallRecord[] = [];
  // Pending latency waits end when the fake closes, so nothing outlives it.
  readonly #closing = new AbortController();

  constructor(init: { clientId: string; clientSecret: string; state: TeamViewerFakeState; clock: FakeClock; log: (line: string) => void }) {
    this.#clientId = init.clientId;
    this.#clientSecret = init.clientSecret;
    this.#state = init.state;
    this.#clock = init.clock;
    this.#log = init.log;
  }

  async close(server: Server): Promise<void> {
    this.#closing.abort();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    let ctx: Context | undefined;
    try {
      const url = new URL(req.url ?? "/", "http://fake.invalid");
      const body = await readBody(req);
      ctx = {
        method: (req.method ?? "GET").toUpperCase(),
        path: url.pathname,
        route: url.pathname.toLowerCase().replace(/\/+$/, "") || "/",
        query: url.searchParams,
        body,
        contentType: (req.headers["content-type"] ?? "").toLowerCase(),
        authorization: req.headers.authorization,
      };
      if (ctx.route === "/_control" || ctx.route.startsWith("/_control/")) {
        this.#control(ctx, res);
        return;
      }
      const call = ctx;
      res.once("close", () => this.#record(call, res, started));
      await this.#delay(ctx);
      if (res.destroyed) return;
      if (this.#applyFault(ctx, res)) return;
      if (this.#applyThrottle(ctx, res)) return;
      this.#route(ctx, res);
    } catch (e) {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpFailure) {
        sendJson(res, e.status, { error: "invalid_request", error_description: e.message });
        return;
      }
      this.#log(`internal error on ${ctx?.method ?? "?"} ${ctx?.path ?? "?"}: ${e instanceof Error ? e.message : String(e)}`);
      sendJson(res, 500, { error: "internal_error", error_description: "The fake failed; see its log." });
    }
  }

  // ------------------------------------------------------------------ routing

  #route(ctx: Context, res: ServerResponse): void {
    const r = ctx.route;
    const m = ctx.method;
    if (r === "/" && m === "GET") return sendHtml(res, 200, indexPage(`${this.url}${apiPrefix}`));
    if (r === "/oauth2/authorize") {
      if (m === "GET") return this.#authorizePage(ctx, res);
      if (m === "POST") return this.#authorizeDecision(ctx, res);
      return methodNotAllowed(res, "GET, POST");
    }
    const link = /^\/s\/(s\d{8})(?:\/(supporter|webclient))?$/.exec(r);
    if (link && m === "GET") return this.#sessionLink(res, link[1], link[2]);
    if (!r.startsWith(`${apiPrefix}/`)) return sendJson(res, 404, { error: "not_found", error_description: "No such endpoint." });

    const api = r.slice(apiPrefix.length);
    const session = /^\/sessions\/([^/]+)$/.exec(api);
    switch (true) {
      case api === "/oauth2/token":
        return m === "POST" ? this.#token(ctx, res) : methodNotAllowed(res, "POST");
      case api === "/oauth2/revoke":
        return m === "POST" ? this.#revoke(ctx, res) : methodNotAllowed(res, "POST");
      case api === "/ping":
        return m === "GET" ? this.#ping(ctx, res) : methodNotAllowed(res, "GET");
      case api === "/account":
        return m === "GET" ? this.#account(ctx, res) : methodNotAllowed(res, "GET");
      case api === "/groups":
        if (m === "GET") return this.#listGroups(ctx, res);
        if (m === "POST") return this.#createGroup(ctx, res);
        return methodNotAllowed(res, "GET, POST");
      case api === "/sessions":
        if (m === "GET") return this.#listSessions(ctx, res);
        if (m === "POST") return this.#createSession(ctx, res);
        return methodNotAllowed(res, "GET, POST");
      case api === "/reports/connections":
        return m === "GET" ? this.#listConnections(ctx, res) : methodNotAllowed(res, "GET");
      case session !== null:
        if (m === "GET") return this.#getSession(ctx, res, decodeURIComponent(session[1]));
        if (m === "PUT") return this.#updateSession(ctx, res, decodeURIComponent(session[1]));
        return methodNotAllowed(res, "GET, PUT");
      default:
        return sendJson(res, 404, { error: "not_found", error_description: "No such endpoint." });
    }
  }

  // ------------------------------------------------------------------ OAuth sign-in

  /** The checks both halves of the sign-in share; a failure is an HTML page, never a redirect. */
  #signInRequest(params: URLSearchParams, res: ServerResponse): { clientId: string; redirectUri: URL } | undefined {
    const clientId = params.get("client_id");
    if (clientId === null || clientId !== this.#clientId) {
      sendHtml(res, 400, errorPage("Unknown application", "The client_id of this sign-in request is not a registered TeamViewer application."));
      return undefined;
    }
    const redirectUri = parseRedirectUri(params.get("redirect_uri"));
    if (!redirectUri) {
      sendHtml(res, 400, errorPage("Invalid redirect", "The redirect_uri of this sign-in request is missing or is not an http(s) address."));
      return undefined;
    }
    return { clientId, redirectUri };
  }

  #authorizePage(ctx: Context, res: ServerResponse): void {
    const request = this.#signInRequest(ctx.query, res);
    if (!request) return;
    const state = ctx.query.get("state") ?? undefined;
    if (ctx.query.get("response_type") !== "code") {
      return redirect(res, request.redirectUri, { error: "unsupported_response_type", state });
    }
    sendHtml(
      res,
      200,
      consentPage({
        clientId: request.clientId,
        redirectUri: request.redirectUri.toString(),
        state,
        display: ctx.query.get("display") ?? undefined,
        account: this.#state.account,
      }),
    );
  }

  #authorizeDecision(ctx: Context, res: ServerResponse): void {
    if (!ctx.contentType.startsWith("application/x-www-form-urlencoded")) {
      return sendHtml(res, 400, errorPage("Bad request", "The sign-in form must be posted as application/x-www-form-urlencoded."));
    }
    const form = new URLSearchParams(ctx.body);
    const request = this.#signInRequest(form, res);
    if (!request) return;
    const state = form.get("state") ?? undefined;
    const decision = form.get("decision");
    if (decision === "deny") return redirect(res, request.redirectUri, { error: "access_denied", state });
    if (decision !== "allow") return sendHtml(res, 400, errorPage("Bad request", "Choose Allow or Deny."));
    const code = this.#state.issueCode(request.clientId, request.redirectUri.toString());
    redirect(res, request.redirectUri, { code, state });
  }

  // ------------------------------------------------------------------ OAuth tokens

  #token(ctx: Context, res: ServerResponse): void {
    if (!ctx.contentType.startsWith("application/x-www-form-urlencoded")) {
      return sendJson(res, 400, { error: "invalid_request", error_description: "Send the token request as application/x-www-form-urlencoded." });
    }
    const form = new URLSearchParams(ctx.body);
    const clientId = form.get("client_id");
    const clientSecret = form.get("client_secret");
    if (clientId === null || clientId !== this.#clientId) {
      return sendJson(res, 400, { error: "invalid_client", error_description: "Unknown client_id." });
    }
    if (clientSecret === null || !sameSecret(clientSecret, this.#clientSecret)) {
      return sendJson(res, 401, { error: "invalid_client", error_description: "Client authentication failed." }, { "www-authenticate": 'Basic realm="oauth2"' });
    }
    const expiresIn = this.#variants.expiresIn;
    let result;
    switch (form.get("grant_type")) {
      case "authorization_code": {
        const code = form.get("code");
        const redirectUri = form.get("redirect_uri");
        if (!code || !redirectUri) {
          return sendJson(res, 400, { error: "invalid_request", error_description: "code and redirect_uri are required." });
        }
        result = this.#state.exchangeCode(code, clientId, redirectUri, expiresIn);
        break;
      }
      case "refresh_token": {
        const refreshToken = form.get("refresh_token");
        if (!refreshToken) return sendJson(res, 400, { error: "invalid_request", error_description: "refresh_token is required." });
        result = this.#state.refresh(refreshToken, clientId, expiresIn);
        break;
      }
      case null:
        return sendJson(res, 400, { error: "invalid_request", error_description: "grant_type is required." });
      default:
        return sendJson(res, 400, { error: "unsupported_grant_type", error_description: "Use authorization_code or refresh_token." });
    }
    if (!result.ok) return sendJson(res, 400, { error: result.error, error_description: result.description }, { "cache-control": "no-store" });
    sendJson(res, 200, { ...result.tokens }, { "cache-control": "no-store", pragma: "no-cache" });
  }

  #revoke(ctx: Context, res: ServerResponse): void {
    const tokenId = this.#authenticate(ctx, res);
    if (tokenId === undefined) return;
    this.#state.revoke(tokenId);
    send(res, 204);
  }

  /**
   * The bearer check every API call but ping and the token endpoint makes. Answers 401
   * itself and returns undefined when the token does not do.
   */
  #authenticate(ctx: Context, res: ServerResponse): string | undefined {
    const token = bearerToken(ctx.authorization);
    if (token === undefined) {
      send(res, 401, undefined, { "www-authenticate": "Bearer" });
      return undefined;
    }
    const check = this.#state.checkBearer(token);
    ctx.tokenId = check.tokenId;
    ctx.grantId = check.grantId;
    if (check.kind === "valid") return check.tokenId;
    if (check.kind === "expired") {
      sendJson(
        res,
        401,
        { error: "token_expired", error_description: "The access token has expired.", error_code: 1 },
        { "www-authenticate": 'Bearer error="invalid_token", error_description="The access token expired"' },
      );
    } else {
      sendJson(
        res,
        401,
        { error: "invalid_token", error_description: "The access token is invalid or has been revoked." },
        { "www-authenticate": 'Bearer error="invalid_token"' },
      );
    }
    return undefined;
  }

  // ------------------------------------------------------------------ account, ping, groups

  #ping(ctx: Context, res: ServerResponse): void {
    // The token is optional here; the answer says whether it is any good.
    const token = bearerToken(ctx.authorization);
    const check = token === undefined ? undefined : this.#state.checkBearer(token);
    ctx.tokenId = check?.tokenId;
    ctx.grantId = check?.grantId;
    sendJson(res, 200, { token_valid: check?.kind === "valid" });
  }

  #account(ctx: Context, res: ServerResponse): void {
    if (this.#authenticate(ctx, res) === undefined) return;
    const a = this.#state.account;
    sendJson(res, 200, {
      userid: a.userid,
      name: a.name,
      ...(a.email === null ? {} : { email: a.email, email_validated: true }),
      ...(a.company_name === null ? {} : { company_name: a.company_name }),
      ...(a.license_type === null ? {} : { license: { license_type: a.license_type } }),
    });
  }

  #listGroups(ctx: Context, res: ServerResponse): void {
    if (this.#authenticate(ctx, res) === undefined) return;
    const name = ctx.query.get("name")?.toLowerCase();
    const groups = this.#state.groups.filter((g) => name === undefined || g.name.toLowerCase().includes(name));
    sendJson(res, 200, { groups: groups.map((g) => ({ id: g.id, name: g.name, permissions: "owned" })) });
  }

  #createGroup(ctx: Context, res: ServerResponse): void {
    if (this.#authenticate(ctx, res) === undefined) return;
    const body = parseJsonBody(ctx, z.object({ name: z.string().trim().min(1).max(200) }).strict());
    if (this.#state.groupNamed(body.name, false)) throw new HttpFailure(400, "A group with this name exists already.");
    const group = this.#state.groupNamed(body.name, true);
    sendJson(res, 200, { id: group?.id, name: group?.name, permissions: "owned" });
  }

  // ------------------------------------------------------------------ sessions

  #createSession(ctx: Context, res: ServerResponse): void {
    if (this.#authenticate(ctx, res) === undefined) return;
    const body = parseJsonBody(ctx, createSessionBody);
    let groupid: string;
    if (body.groupid !== undefined) {
      if (!this.#state.findGroup(body.groupid)) throw new HttpFailure(400, "The group does not exist.");
      groupid = body.groupid;
    } else {
      groupid = this.#state.groupNamed(body.groupname ?? "", true)?.id ?? "";
    }
    const validUntil = body.valid_until === undefined ? undefined : Date.parse(body.valid_until);
    if (validUntil !== undefined && !(validUntil > this.#clock.now())) throw new HttpFailure(400, "valid_until must be in the future.");
    const code = this.#state.createSession({
      groupid,
      description: body.description,
      endCustomer: body.end_customer,
      assignedUserId: body.assigned_userid,
      customApi: body.custom_api,
      waitingMessage: body.waiting_message,
      supportSessionType: body.support_session_type,
      validUntil,
    });
    const s = this.#sessionOrThrow(code);
    // The create answer has no online / closed_at (docs/teamviewer.md).
    const { online: _online, closed_at: _closedAt, waiting_message: _waiting, ...created } = this.#wire(s);
    sendJson(res, this.#variants.createStatus, created);
  }

  #listSessions(ctx: Context, res: ServerResponse): void {
    if (this.#authenticate(ctx, res) === undefined) return;
    const parsed = listQuery.safeParse(Object.fromEntries(ctx.query));
    if (!parsed.success) throw new HttpFailure(400, z.prettifyError(parsed.error));
    const q = parsed.data;
    const all = this.#state.sessions({ groupid: q.groupid, assignedUserId: q.assigned_userid, states: q.state }, this.url);
    const offset = q.offset ?? 0;
    const page = all.slice(offset, offset + this.#variants.pageSize);
    const remaining = all.length - offset - page.length;
    sendJson(res, 200, {
      sessions: page.map((s) => (q.full_list ? this.#wire(s) : { code: s.code, state: this.#stateWord(s.state), online: s.online, groupid: s.groupid })),
      ...(remaining > 0 ? { next_offset: offset + page.length, sessions_remaining: remaining } : {}),
    });
  }

  #getSession(ctx: Context, res: ServerResponse, code: string): void {
    if (this.#authenticate(ctx, res) === undefined) return;
    const s = this.#state.session(code, this.url);
    if (!s) return sendJson(res, 404, { error: "not_found", error_description: "No session with this code." });
    sendJson(res, 200, this.#wire(s));
  }

  #updateSession(ctx: Context, res: ServerResponse, code: string): void {
    if (this.#authenticate(ctx, res) === undefined) return;
    const body = parseJsonBody(ctx, updateSessionBody);
    const existing = this.#state.session(code, this.url);
    if (!existing) return sendJson(res, 404, { error: "not_found", error_description: "No session with this code." });
    const state = body.state?.toLowerCase();
    if (state !== undefined && state !== "closed" && !(state === "open" && existing.state === "open")) {
      throw new HttpFailure(400, state === "open" ? "A closed session cannot be reopened." : "state may only be set to closed.");
    }
    const validUntil = body.valid_until === undefined ? undefined : Date.parse(body.valid_until);
    this.#state.updateSession(code, {
      close: state === "closed",
      description: body.description,
      endCustomer: body.end_customer,
      assignedUserId: body.assigned_userid,
      customApi: body.custom_api,
      validUntil,
    });
    send(res, 204);
  }

  // ------------------------------------------------------------------ reports

  #listConnections(ctx: Context, res: ServerResponse): void {
    if (this.#authenticate(ctx, res) === undefined) return;
    const parsed = connectionsQuery.safeParse(Object.fromEntries(ctx.query));
    if (!parsed.success) throw new HttpFailure(400, z.prettifyError(parsed.error));
    const q = parsed.data;
    const now = this.#clock.now();
    const delay = this.#variants.connectionReportDelaySeconds ?? null;
    const code = q.session_code === undefined ? undefined : compactCode(q.session_code);
    // The window is read by start time (TeamViewer's semantics are not documented; start is the stricter reading).
    const all = this.#state.connections.filter(
      (c) =>
        (q.from_date === undefined || c.startDate >= q.from_date) &&
        (q.to_date === undefined || c.startDate <= q.to_date) &&
        (code === undefined || compactCode(c.sessionCode) === code) &&
        (delay === null ? c.startDate <= now : c.endDate !== undefined && c.endDate + delay * 1000 <= now),
    );
    let start = 0;
    if (q.offset_id !== undefined) {
      start = all.findIndex((c) => c.id === q.offset_id);
      if (start < 0) throw new HttpFailure(400, "offset_id names no record of this report.");
    }
    const size = this.#variants.connectionsPageSize ?? 1000;
    const page = all.slice(start, start + size);
    const rest = all.slice(start + size);
    sendJson(res, 200, {
      records: page.map((c) => this.#connectionWire(c)),
      records_remaining: rest.length,
      ...(rest.length > 0 ? { next_offset: rest[0].id } : {}),
    });
  }

  #connectionWire(c: ConnectionRecord): Json {
    const bare = this.#variants.connectionCodeForm === "bare";
    return {
      id: c.id,
      userid: c.userid,
      username: c.username,
      ...(c.devicename === undefined ? {} : { devicename: c.devicename }),
      start_date: formatTime(c.startDate),
      ...(c.endDate === undefined ? {} : { end_date: formatTime(c.endDate) }),
      session_code: bare ? c.sessionCode.replace(/^s/i, "") : c.sessionCode,
      support_session_type: 1,
    };
  }

  /** The control API's view: the code as it was told, times as TeamViewer writes them. */
  #controlConnection(c: ConnectionRecord): Json {
    return {
      id: c.id,
      session_code: c.sessionCode,
      userid: c.userid,
      username: c.username,
      start_date: formatTime(c.startDate),
      ...(c.endDate === undefined ? {} : { end_date: formatTime(c.endDate) }),
      ...(c.devicename === undefined ? {} : { devicename: c.devicename }),
    };
  }

  #sessionLink(res: ServerResponse, compact: string, role: string | undefined): void {
    const code = `${compact.slice(0, 3)}-${compact.slice(3, 6)}-${compact.slice(6)}`;
    if (!this.#state.session(code, this.url)) return sendHtml(res, 404, errorPage("Unknown session", "There is no session behind this link."));
    sendHtml(res, 200, sessionLinkPage(code, role === "supporter" ? "supporter" : role === "webclient" ? "web client supporter" : "end customer"));
  }

  #sessionOrThrow(code: string): FakeSession {
    const s = this.#state.session(code, this.url);
    if (!s) throw new Error(`session ${code} vanished`);
    return s;
  }

  #wire(s: FakeSession): Json {
    const base = this.#variants.linkBase;
    const link = (l: string): string => (base !== null && l.startsWith(this.url) ? base + l.slice(this.url.length) : l);
    return {
      ...s,
      state: this.#stateWord(s.state),
      supporter_link: link(s.supporter_link),
      end_customer_link: link(s.end_customer_link),
      webclient_supporter_link: link(s.webclient_supporter_link),
    };
  }

  #stateWord(state: "open" | "closed"): string {
    return this.#variants.stateCase === "capitalized" ? state[0].toUpperCase() + state.slice(1) : state;
  }

  // ------------------------------------------------------------------ faults, latency, call log

  async #delay(ctx: Context): Promise<void> {
    const ms = Math.max(0, ...this.#latencies.filter((l) => matches(l, ctx)).map((l) => l.ms));
    if (ms === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#closing.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  #applyFault(ctx: Context, res: ServerResponse): boolean {
    const fault = this.#faults.find((f) => matches(f, ctx));
    if (!fault) return false;
    fault.count -= 1;
    if (fault.count <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
    ctx.fault = true;
    this.#identifyCaller(ctx);
    if (fault.rawBody !== undefined) {
      send(res, fault.status, fault.rawBody, { "content-type": "application/json; charset=utf-8", ...fault.headers });
    } else if (fault.body !== undefined) {
      send(res, fault.status, JSON.stringify(fault.body), { "content-type": "application/json; charset=utf-8", ...fault.headers });
    } else {
      send(res, fault.status, undefined, fault.headers);
    }
    return true;
  }

  /** Who called, for the call log, when the answer is not the route's own (faults, throttling). */
  #identifyCaller(ctx: Context): void {
    const token = bearerToken(ctx.authorization);
    if (token === undefined) return;
    const check = this.#state.checkBearer(token);
    ctx.tokenId = check.tokenId;
    ctx.grantId = check.grantId;
  }

  #applyThrottle(ctx: Context, res: ServerResponse): boolean {
    const t = this.#throttle;
    if (!t) return false;
    const now = Date.now();
    if (t.until <= now) {
      this.#throttle = undefined;
      return false;
    }
    if (!matches(t.rule, ctx)) return false;
    ctx.fault = true;
    this.#identifyCaller(ctx);
    const seconds = Math.max(1, Math.ceil((t.until - now) / 1000));
    sendJson(
      res,
      t.rule.status,
      { error: "rate_limit_reached", error_description: "Rate limit reached. Try again later." },
      t.rule.retryAfter ? { "retry-after": String(seconds) } : {},
    );
    return true;
  }

  #record(ctx: Context, res: ServerResponse, started: number): void {
    const oauth = ctx.route.startsWith("/oauth2/") || ctx.route.startsWith(`${apiPrefix}/oauth2/`);
    const query = ctx.query.toString();
    const record: CallRecord = {
      method: ctx.method,
      path: ctx.path,
      // The sign-in's query carries the OAuth state, which is a credential.
      ...(query !== "" && !oauth ? { query } : {}),
      status: res.statusCode,
      at: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      ...(ctx.tokenId !== undefined ? { tokenId: ctx.tokenId } : {}),
      ...(ctx.grantId !== undefined ? { grantId: ctx.grantId } : {}),
      ...(res.writableFinished ? {} : { aborted: true }),
      ...(ctx.fault ? { fault: true } : {}),
    };
    this.#calls.push(record);
    if (this.#calls.length > maxCallRecords) this.#calls.splice(0, this.#calls.length - maxCallRecords);
    this.#log(
      `${record.method} ${record.path} → ${record.aborted ? "aborted" : record.status} ${record.durationMs} ms` +
        `${record.tokenId ? ` token=${record.tokenId}` : ""}${record.fault ? " (injected)" : ""}`,
    );
  }

  // ------------------------------------------------------------------ control API

  #control(ctx: Context, res: ServerResponse): void {
    const r = ctx.route.slice("/_control".length);
    const m = ctx.method;
    const key = `${m} ${r}`;
    switch (key) {
      case "POST /faults":
        this.#faults.push(parseJsonBody(ctx, faultSchema));
        return send(res, 204);
      case "GET /faults":
        return sendJson(res, 200, { faults: this.#faults });
      case "DELETE /faults":
        this.#faults = [];
        return send(res, 204);
      case "POST /latency": {
        const rule = parseJsonBody(ctx, latencySchema);
        this.#latencies = this.#latencies.filter((l) => !(l.method.toUpperCase() === rule.method.toUpperCase() && l.path.toLowerCase() === rule.path.toLowerCase()));
        if (rule.ms > 0) this.#latencies.push(rule);
        return send(res, 204);
      }
      case "POST /throttle": {
        const { ms, ...rule } = parseJsonBody(ctx, throttleSchema);
        this.#throttle = ms > 0 ? { until: Date.now() + ms, rule } : undefined;
        return send(res, 204);
      }
      case "DELETE /latency":
        this.#latencies = [];
        return send(res, 204);
      case "POST /tokens/expire":
        this.#state.expireAllTokens();
        return send(res, 204);
      case "GET /account":
        return sendJson(res, 200, this.#state.account);
      case "PUT /account":
        return sendJson(res, 200, this.#state.setAccount(parseJsonBody(ctx, accountSchema.partial().strict())));
      case "GET /variants":
        return sendJson(res, 200, this.#variants);
      case "PUT /variants":
        this.#variants = { ...this.#variants, ...parseJsonBody(ctx, variantsSchema.partial().strict()) };
        return sendJson(res, 200, this.#variants);
      case "GET /calls":
        return sendJson(res, 200, { calls: this.#calls });
      case "DELETE /calls":
        this.#calls = [];
        return send(res, 204);
      case "GET /sessions":
        return sendJson(res, 200, { sessions: this.#state.sessions({}, this.url) });
      case "GET /groups":
        return sendJson(res, 200, { groups: this.#state.groups });
      case "POST /connections": {
        const c = parseJsonBody(ctx, connectionInputSchema);
        const stored = this.#state.putConnection({
          id: c.id ?? randomUUID(),
          userid: c.userid,
          username: c.username,
          sessionCode: c.session_code,
          // TeamViewer's times have whole seconds.
          startDate: Math.floor(Date.parse(c.start_date) / 1000) * 1000,
          ...(c.end_date === undefined ? {} : { endDate: Math.floor(Date.parse(c.end_date) / 1000) * 1000 }),
          ...(c.devicename === undefined ? {} : { devicename: c.devicename }),
        });
        return sendJson(res, 200, this.#controlConnection(stored));
      }
      case "GET /connections":
        return sendJson(res, 200, { connections: this.#state.connections.map((c) => this.#controlConnection(c)) });
      case "POST /clock": {
        const { advanceMs } = parseJsonBody(ctx, clockSchema);
        this.#clock.advance(advanceMs);
        return sendJson(res, 200, { now: new Date(this.#clock.now()).toISOString() });
      }
      case "POST /reset":
        this.#clock.reset();
        this.#state.reset();
        this.#variants = { ...defaultVariants };
        this.#faults = [];
        this.#latencies = [];
        this.#throttle = undefined;
        this.#calls = [];
        return send(res, 204);
      default:
        return sendJson(res, 404, { error: "not_found", error_description: `No control endpoint ${m} /_control${r}.` });
    }
  }
}

// ---------------------------------------------------------------------------------------

const reportTime = timeString.transform((t) => Date.parse(t));
const connectionsQuery = z.object({
  from_date: reportTime.optional(),
  to_date: reportTime.optional(),
  session_code: z.string().max(64).optional(),
  // Only connections made through a session code are held, so has_code changes nothing here.
  has_code: z.enum(["true", "false"]).optional(),
  offset_id: z.string().min(1).max(200).optional(),
  userid: z.string().optional(),
  username: z.string().optional(),
  groupid: z.string().optional(),
  deviceid: z.string().optional(),
});

/** Session codes compared without the `s` prefix, dashes or case. */
const compactCode = (code: string): string => code.toLowerCase().replace(/[^a-z0-9]/g, "").replace(/^s(?=\d)/, "");

function matches(rule: { method: string; path: string }, ctx: Context): boolean {
  if (rule.method !== "*" && rule.method.toUpperCase() !== ctx.method) return false;
  const prefix = rule.path.toLowerCase().replace(/\/+$/, "");
  return prefix === "" || ctx.route === prefix || ctx.route.startsWith(`${prefix}/`);
}

function parseJsonBody<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  if (!ctx.contentType.startsWith("application/json")) throw new HttpFailure(400, "Send the body as application/json.");
  let json: unknown;
  try {
    json = JSON.parse(ctx.body);
  } catch {
    throw new HttpFailure(400, "The request body is not valid JSON.");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new HttpFailure(400, z.prettifyError(parsed.error));
  return parsed.data;
}

function parseRedirectUri(value: string | null): URL | undefined {
  if (value === null) return undefined;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hash === "" ? url : undefined;
  } catch {
    return undefined;
  }
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new HttpFailure(413, "The request body is too large."));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body?: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, headers);
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { "content-type": "application/json; charset=utf-8", ...headers });
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  send(res, status, html, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // The page's URL holds the OAuth state: keep it out of Referer headers and frames.
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  });
}

function redirect(res: ServerResponse, target: URL, params: Record<string, string | undefined>): void {
  const location = new URL(target);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) location.searchParams.set(k, v);
  send(res, 302, undefined, { location: location.toString(), "cache-control": "no-store", "referrer-policy": "no-referrer" });
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendJson(res, 405, { error: "invalid_request", error_description: "Method not allowed." }, { allow });
}
