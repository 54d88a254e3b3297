// The TeamViewer fake's Web API under /api/v1 (docs/teamviewer.md): ping, account, groups,
// sessions and the connection report, in TeamViewer's wire names and shaped by the variants.
import type { ServerResponse } from "node:http";
import { z } from "zod";
import { send, sendJson } from "../http.js";
import type { FakeConditions } from "./conditions.js";
import type { FakeSession } from "./control.js";
import { formatTime, type TeamViewerFakeState } from "./fakeState.js";
import type { ConnectionRecord } from "./stateSnapshot.js";
import { HttpFailure, methodNotAllowed, notFound, parseJsonBody, type Context, type Json } from "./fakeRequest.js";
import type { OAuthTokens } from "./oauthTokens.js";

const timeString = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, "expected YYYY-MM-DDTHH:MM:SSZ");
const endCustomer = z.object({ name: z.string().max(100).optional(), email: z.string().max(254).optional() }).strict();
const createSessionBody = z
  .object({
    groupname: z.string().trim().min(1).max(200).optional(),
    groupid: z
      .string()
      .regex(/^g\d+$/)
      .optional(),
    description: z.string().max(4000).optional(),
    end_customer: endCustomer.optional(),
    valid_until: timeString.optional(),
    waiting_message: z.string().max(4000).optional(),
    assigned_userid: z
      .string()
      .regex(/^u\d+$/)
      .optional(),
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
    assigned_userid: z
      .string()
      .regex(/^u\d+$/)
      .optional(),
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
const compactCode = (code: string): string =>
  code
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")
    .replace(/^s(?=\d)/, "");

export class WebApi {
  readonly #state: TeamViewerFakeState;
  readonly #conditions: FakeConditions;
  readonly #tokens: OAuthTokens;
  /** The fake's own origin, known once it listens: session links start with it. */
  readonly #origin: () => string;

  constructor(init: { state: TeamViewerFakeState; conditions: FakeConditions; tokens: OAuthTokens; origin: () => string }) {
    this.#state = init.state;
    this.#conditions = init.conditions;
    this.#tokens = init.tokens;
    this.#origin = init.origin;
  }

  /** `api` is the route below /api/v1, e.g. "/sessions/s12-345-678". */
  route(ctx: Context, res: ServerResponse, api: string): void {
    const m = ctx.method;
    const session = /^\/sessions\/([^/]+)$/.exec(api);
    switch (true) {
      case api === "/oauth2/token":
        return m === "POST" ? this.#tokens.token(ctx, res) : methodNotAllowed(res, "POST");
      case api === "/oauth2/revoke":
        return m === "POST" ? this.#tokens.revoke(ctx, res) : methodNotAllowed(res, "POST");
      case api === "/ping":
        return m === "GET" ? this.#tokens.ping(ctx, res) : methodNotAllowed(res, "GET");
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
        return notFound(res);
    }
  }

  // ------------------------------------------------------------------ account, groups

  #account(ctx: Context, res: ServerResponse): void {
    if (this.#tokens.authenticate(ctx, res) === undefined) return;
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
    if (this.#tokens.authenticate(ctx, res) === undefined) return;
    const name = ctx.query.get("name")?.toLowerCase();
    const groups = this.#state.groups.filter((g) => name === undefined || g.name.toLowerCase().includes(name));
    sendJson(res, 200, { groups: groups.map((g) => ({ id: g.id, name: g.name, permissions: "owned" })) });
  }

  #createGroup(ctx: Context, res: ServerResponse): void {
    if (this.#tokens.authenticate(ctx, res) === undefined) return;
    const body = parseJsonBody(ctx, z.object({ name: z.string().trim().min(1).max(200) }).strict());
    if (this.#state.groupNamed(body.name, false)) throw new HttpFailure(400, "A group with this name exists already.");
    const group = this.#state.groupNamed(body.name, true);
    sendJson(res, 200, { id: group?.id, name: group?.name, permissions: "owned" });
  }

  // ------------------------------------------------------------------ sessions

  #createSession(ctx: Context, res: ServerResponse): void {
    if (this.#tokens.authenticate(ctx, res) === undefined) return;
    const body = parseJsonBody(ctx, createSessionBody);
    let groupid: string;
    if (body.groupid !== undefined) {
      if (!this.#state.findGroup(body.groupid)) throw new HttpFailure(400, "The group does not exist.");
      groupid = body.groupid;
    } else {
      groupid = this.#state.groupNamed(body.groupname ?? "", true)?.id ?? "";
    }
    const validUntil = body.valid_until === undefined ? undefined : Date.parse(body.valid_until);
    if (validUntil !== undefined && !(validUntil > this.#conditions.clock.now())) throw new HttpFailure(400, "valid_until must be in the future.");
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
    sendJson(res, this.#conditions.variants.createStatus, created);
  }

  #listSessions(ctx: Context, res: ServerResponse): void {
    if (this.#tokens.authenticate(ctx, res) === undefined) return;
    const parsed = listQuery.safeParse(Object.fromEntries(ctx.query));
    if (!parsed.success) throw new HttpFailure(400, z.prettifyError(parsed.error));
    const q = parsed.data;
    const all = this.#state.sessions({ groupid: q.groupid, assignedUserId: q.assigned_userid, states: q.state }, this.#origin());
    const offset = q.offset ?? 0;
    const page = all.slice(offset, offset + this.#conditions.variants.pageSize);
    const remaining = all.length - offset - page.length;
    sendJson(res, 200, {
      sessions: page.map((s) => (q.full_list ? this.#wire(s) : { code: s.code, state: this.#stateWord(s.state), online: s.online, groupid: s.groupid })),
      ...(remaining > 0 ? { next_offset: offset + page.length, sessions_remaining: remaining } : {}),
    });
  }

  #getSession(ctx: Context, res: ServerResponse, code: string): void {
    if (this.#tokens.authenticate(ctx, res) === undefined) return;
    const s = this.#state.session(code, this.#origin());
    if (!s) return notFound(res, "No session with this code.");
    sendJson(res, 200, this.#wire(s));
  }

  #updateSession(ctx: Context, res: ServerResponse, code: string): void {
    if (this.#tokens.authenticate(ctx, res) === undefined) return;
    const body = parseJsonBody(ctx, updateSessionBody);
    const existing = this.#state.session(code, this.#origin());
    if (!existing) return notFound(res, "No session with this code.");
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
    if (this.#tokens.authenticate(ctx, res) === undefined) return;
    const parsed = connectionsQuery.safeParse(Object.fromEntries(ctx.query));
    if (!parsed.success) throw new HttpFailure(400, z.prettifyError(parsed.error));
    const q = parsed.data;
    const now = this.#conditions.clock.now();
    const delay = this.#conditions.variants.connectionReportDelaySeconds ?? null;
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
    const size = this.#conditions.variants.connectionsPageSize ?? 1000;
    const page = all.slice(start, start + size);
    const rest = all.slice(start + size);
    sendJson(res, 200, {
      records: page.map((c) => this.#connectionWire(c)),
      records_remaining: rest.length,
      ...(rest.length > 0 ? { next_offset: rest[0].id } : {}),
    });
  }

  #connectionWire(c: ConnectionRecord): Json {
    const bare = this.#conditions.variants.connectionCodeForm === "bare";
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

  #sessionOrThrow(code: string): FakeSession {
    const s = this.#state.session(code, this.#origin());
    if (!s) throw new Error(`session ${code} vanished`);
    return s;
  }

  #wire(s: FakeSession): Json {
    const base = this.#conditions.variants.linkBase;
    const origin = this.#origin();
    const link = (l: string): string => (base !== null && l.startsWith(origin) ? base + l.slice(origin.length) : l);
    return {
      ...s,
      state: this.#stateWord(s.state),
      supporter_link: link(s.supporter_link),
      end_customer_link: link(s.end_customer_link),
      webclient_supporter_link: link(s.webclient_supporter_link),
    };
  }

  #stateWord(state: "open" | "closed"): string {
    return this.#conditions.variants.stateCase === "capitalized" ? state[0].toUpperCase() + state.slice(1) : state;
  }
}
