// The TeamViewer fake's control API (/_control/…): its request and answer schemas, shared
// with the server, and TeamViewerFakeControl, a typed fetch client for tests to drive it.
import { z } from "zod";

/** Answer the next `count` calls matching method + path (a case-insensitive prefix) with this. */
export const faultSchema = z
  .object({
    /** GET, POST, … or "*" for any. */
    method: z.string().trim().min(1).default("*"),
    /** e.g. "/api/v1/sessions" also matches "/api/v1/sessions/s12-345-678". */
    path: z.string().startsWith("/"),
    status: z.number().int().min(200).max(599),
    /** Sent as JSON. */
    body: z.unknown().optional(),
    /** Sent as is (malformed JSON, HTML error pages, …); wins over `body`. */
    rawBody: z.string().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    count: z.number().int().min(1).default(1),
  })
  .strict();
export type FaultInput = z.input<typeof faultSchema>;
export type Fault = z.output<typeof faultSchema>;

/**
 * Throttle every call matching method + path prefix for `ms` from now: 429 (or TeamViewer's
 * documented 403) with `{ error: "rate_limit_reached" }` and, unless `retryAfter` is false,
 * a Retry-After of the seconds left. ms 0 ends it.
 */
export const throttleSchema = z
  .object({
    ms: z.number().int().min(0).max(3_600_000),
    status: z.union([z.literal(429), z.literal(403)]).default(429),
    retryAfter: z.boolean().default(true),
    method: z.string().trim().min(1).default("*"),
    path: z.string().startsWith("/").default("/api/v1"),
  })
  .strict();
export type ThrottleInput = z.input<typeof throttleSchema>;
export type Throttle = z.output<typeof throttleSchema>;

/** Delay calls to the fake (all, or a method + path prefix); ms 0 removes the rule. */
export const latencySchema = z
  .object({
    ms: z.number().int().min(0).max(120_000),
    method: z.string().trim().min(1).default("*"),
    path: z.string().startsWith("/").default("/"),
  })
  .strict();
export type LatencyInput = z.input<typeof latencySchema>;
export type Latency = z.output<typeof latencySchema>;

/** How the fake resolves the points docs/teamviewer.md marks unconfirmed, and its limits. */
export const variantsSchema = z
  .object({
    /** Connection report records per page (TeamViewer: up to 1000); absent = 1000. */
    connectionsPageSize: z.number().int().min(1).max(1000).optional(),
    /** Whether a connection record's session_code carries the `s` prefix (unconfirmed); absent = "prefixed". */
    connectionCodeForm: z.enum(["prefixed", "bare"]).optional(),
    /**
     * Unconfirmed too: when a connection appears in the report. Absent or null: at once,
     * an open one without end_date. A number: only once it ended, that many seconds later.
     */
    connectionReportDelaySeconds: z.number().int().min(0).max(86_400).nullable().optional(),
    createStatus: z.union([z.literal(200), z.literal(201)]),
    stateCase: z.enum(["lower", "capitalized"]),
    /** Sessions per list page (TeamViewer: up to 1000). */
    pageSize: z.number().int().min(1).max(1000),
    /** expires_in of new access tokens, in seconds. */
    expiresIn: z.number().int().min(1).max(31_536_000),
    /**
     * What session links start with in the Web API's answers instead of the fake's own URL
     * (null: the fake's own), e.g. "javascript:alert(1)//" or "http://evil.example": how
     * the app treats links that are not https.
     */
    linkBase: z.string().min(1).max(200).nullable(),
  })
  .strict();
export type Variants = z.output<typeof variantsSchema>;
export const defaultVariants: Variants = { createStatus: 200, stateCase: "lower", pageSize: 1000, expiresIn: 86_400, linkBase: null };

/** Moves the fake's clock forward: codes (10 min), tokens (expires_in) and sessions (valid_until) expire. */
export const clockSchema = z
  .object({
    advanceMs: z
      .number()
      .int()
      .min(0)
      .max(10 * 365 * 24 * 60 * 60 * 1000),
  })
  .strict();

/** The signed-in TeamViewer account; null removes an optional field. */
export const accountSchema = z
  .object({
    userid: z.string().regex(/^u\d+$/),
    name: z.string().min(1),
    email: z.string().nullable(),
    company_name: z.string().nullable(),
    license_type: z.string().nullable(),
  })
  .strict();
export type FakeAccount = z.output<typeof accountSchema>;
export const defaultAccount: FakeAccount = {
  userid: "u1234567",
  name: "Local Supporter",
  email: "supporter@teamviewer.local",
  company_name: "Contoso (local)",
  license_type: "Premium",
};

/** One call the fake answered. Tokens appear only as the fake's id for them ("t3"). */
export const callRecordSchema = z.object({
  method: z.string(),
  path: z.string(),
  /** Query string, except on the OAuth endpoints (it carries the state there). */
  query: z.string().optional(),
  status: z.number(),
  at: z.string(),
  durationMs: z.number(),
  tokenId: z.string().optional(),
  /**
   * The sign-in the bearer token descends from (one per connector onboarding; refreshed
   * tokens keep it): tells apart the tenants, each of which signs in on its own.
   */
  grantId: z.string().optional(),
  /** The caller went away before the answer (e.g. a client-side timeout). */
  aborted: z.boolean().optional(),
  /** Answered by an injected fault. */
  fault: z.boolean().optional(),
});
export type CallRecord = z.output<typeof callRecordSchema>;

/** A session as the fake holds it, in TeamViewer's wire names. */
export const fakeSessionSchema = z.object({
  code: z.string(),
  state: z.enum(["open", "closed"]),
  groupid: z.string(),
  description: z.string().optional(),
  end_customer: z.object({ name: z.string().optional(), email: z.string().optional() }).optional(),
  assigned_userid: z.string().optional(),
  custom_api: z.string().optional(),
  waiting_message: z.string().optional(),
  support_session_type: z.string(),
  created_at: z.string(),
  valid_until: z.string(),
  closed_at: z.string().optional(),
  online: z.boolean(),
  supporter_link: z.string(),
  end_customer_link: z.string(),
  webclient_supporter_link: z.string(),
});
export type FakeSession = z.output<typeof fakeSessionSchema>;

/** "This supporter connected to this session then": what the connection report will list. */
export const connectionInputSchema = z
  .object({
    /** Given with the same id again, the connection is replaced (e.g. to say when it ended). */
    id: z.string().trim().min(1).max(100).optional(),
    session_code: z.string().trim().min(1).max(64),
    userid: z.string().regex(/^u\d+$/, "a user id looks like u123"),
    username: z.string().min(1).max(200),
    start_date: z.iso.datetime(),
    end_date: z.iso.datetime().optional(),
    devicename: z.string().max(200).optional(),
  })
  .strict()
  .refine((c) => c.end_date === undefined || Date.parse(c.end_date) >= Date.parse(c.start_date), {
    message: "end_date is before start_date",
    path: ["end_date"],
  });
export type ConnectionInput = z.input<typeof connectionInputSchema>;

export const fakeConnectionSchema = z.object({
  id: z.string(),
  session_code: z.string(),
  userid: z.string(),
  username: z.string(),
  start_date: z.string(),
  end_date: z.string().optional(),
  devicename: z.string().optional(),
});
export type FakeConnection = z.output<typeof fakeConnectionSchema>;

export const fakeGroupSchema = z.object({ id: z.string(), name: z.string() });

export class TeamViewerFakeControl {
  readonly #url: string;

  /** `url` is the fake's root, e.g. http://127.0.0.1:7072. */
  constructor(url: string) {
    this.#url = url.replace(/\/+$/, "");
  }

  /** Answers the next `count` (default 1) matching calls with the given status, body and headers. */
  async failNext(fault: FaultInput): Promise<void> {
    await this.#call("POST", "/_control/faults", faultSchema.parse(fault));
  }

  async clearFaults(): Promise<void> {
    await this.#call("DELETE", "/_control/faults");
  }

  async setLatency(latency: LatencyInput): Promise<void> {
    await this.#call("POST", "/_control/latency", latencySchema.parse(latency));
  }

  /** Answers rate_limit_reached (429 + Retry-After by default) to matching calls for `ms`. */
  async throttle(throttle: ThrottleInput): Promise<void> {
    await this.#call("POST", "/_control/throttle", throttleSchema.parse(throttle));
  }

  async clearLatency(): Promise<void> {
    await this.#call("DELETE", "/_control/latency");
  }

  /** Every access token issued so far answers token_expired from now on. */
  async expireAllTokens(): Promise<void> {
    await this.#call("POST", "/_control/tokens/expire");
  }

  /** Advances the fake's clock (never backwards); reset() puts it back to real time. Answers the fake's new time. */
  async advanceClock(ms: number): Promise<Date> {
    const answer = z.object({ now: z.string() }).parse(await this.#call("POST", "/_control/clock", clockSchema.parse({ advanceMs: ms })));
    return new Date(answer.now);
  }

  async setAccount(account: Partial<FakeAccount>): Promise<FakeAccount> {
    return accountSchema.parse(await this.#call("PUT", "/_control/account", account));
  }

  async setVariants(variants: Partial<Variants>): Promise<Variants> {
    return variantsSchema.parse(await this.#call("PUT", "/_control/variants", variants));
  }

  async calls(): Promise<CallRecord[]> {
    return z.object({ calls: z.array(callRecordSchema) }).parse(await this.#call("GET", "/_control/calls")).calls;
  }

  async clearCalls(): Promise<void> {
    await this.#call("DELETE", "/_control/calls");
  }

  async sessions(): Promise<FakeSession[]> {
    return z.object({ sessions: z.array(fakeSessionSchema) }).parse(await this.#call("GET", "/_control/sessions")).sessions;
  }

  /** Tells the fake a supporter connected to a session (the report lists it from now on, subject to the variants). */
  async addConnection(connection: ConnectionInput): Promise<FakeConnection> {
    return fakeConnectionSchema.parse(await this.#call("POST", "/_control/connections", connectionInputSchema.parse(connection)));
  }

  async connections(): Promise<FakeConnection[]> {
    return z.object({ connections: z.array(fakeConnectionSchema) }).parse(await this.#call("GET", "/_control/connections")).connections;
  }

  async groups(): Promise<z.output<typeof fakeGroupSchema>[]> {
    return z.object({ groups: z.array(fakeGroupSchema) }).parse(await this.#call("GET", "/_control/groups")).groups;
  }

  /** Back to a fresh fake: no tokens, sessions, groups, faults, latency or calls; default variants, account and clock. */
  async reset(): Promise<void> {
    await this.#call("POST", "/_control/reset");
  }

  /**
   * Plays the admin at the sign-in page: submits Allow or Deny for an authorize URL the app
   * produced and returns where TeamViewer sends the browser (redirect_uri?code=…&state=…).
   */
  async signIn(authorizeUrl: string, decision: "allow" | "deny" = "allow"): Promise<URL> {
    const params = new URL(authorizeUrl).searchParams;
    const form = new URLSearchParams();
    for (const name of ["response_type", "client_id", "redirect_uri", "state", "display"]) {
      const value = params.get(name);
      if (value !== null) form.set(name, value);
    }
    form.set("decision", decision);
    const res = await fetch(`${this.#url}/oauth2/authorize`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
      redirect: "manual",
    });
    const location = res.headers.get("location");
    if (res.status !== 302 || location === null) throw new Error(`the TeamViewer fake's sign-in answered ${res.status}, not a redirect`);
    return new URL(location);
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.#url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`TeamViewer fake control ${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
    return text === "" ? undefined : (JSON.parse(text) as unknown);
  }
}
