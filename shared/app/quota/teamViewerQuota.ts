// Every TeamViewer Web API call made for a tenant goes through here: the decorator around
// the TeamViewer client asks the tenant's limiter first, and a call without room is not
// made; it throws TeamViewerQuotaExhausted with the time there will be room, which queue
// work turns into a scheduled message and an HTTP request into 429 with Retry-After.
// TeamViewer's own throttling (403 rate_limit_reached / blocked, or 429) blocks the
// tenant's limiter until its Retry-After and is reported the same way.
// Not counted: the OAuth endpoints (token exchange, refresh, revoke), which are not Web API
// resources; a disconnect's revoke must never wait for quota.
import type { Clock } from "../clock.js";
import { isTeamViewerError } from "../teamViewerError.js";
import { findOpenSessionByCustomApi, type OpenSessionsPageQuery, type SessionsPage } from "../teamViewerPaging.js";
import type { TeamViewerAccountInfo, TeamViewerAuthApi } from "../connector/ports.js";
import type { NewTeamViewerSession, TeamViewerSessionInfo, TeamViewerSessionsApi } from "../sessions/ports.js";
import type { ConnectionReportPage, ConnectionReportQuery, TeamViewerConnectionsApi } from "../sessions/connectionPorts.js";
import type { QuotaLimiter } from "./ports.js";

/** The Web API calls the app makes, as the TeamViewer client offers them (one HTTP call each). */
export interface TeamViewerWebApi {
  createSession(accessToken: string, request: NewTeamViewerSession): Promise<TeamViewerSessionInfo>;
  listSessions(accessToken: string, q: OpenSessionsPageQuery): Promise<SessionsPage<TeamViewerSessionInfo>>;
  closeSession(accessToken: string, code: string): Promise<void>;
  ping(accessToken: string): Promise<{ tokenValid: boolean }>;
  getAccount(accessToken: string): Promise<TeamViewerAccountInfo>;
  listConnections(accessToken: string, q: ConnectionReportQuery): Promise<ConnectionReportPage>;
}

/** The TeamViewer calls one tenant's work may make, each counted against its quota. */
export type TenantTeamViewer = TeamViewerSessionsApi & Pick<TeamViewerAuthApi, "ping" | "getAccount"> & TeamViewerConnectionsApi;

/** Hands out a tenant's quota-guarded TeamViewer API. */
export interface TeamViewerByTenant {
  forTenant(tenantId: string): TenantTeamViewer;
}

/** No room in the tenant's TeamViewer quota until `retryAt`; nothing was sent for this call. */
export class TeamViewerQuotaExhausted extends Error {
  readonly tenantId: string;
  readonly retryAt: Date;
  /** The call that found no room, e.g. "createSession". */
  readonly operation: string;
  /** TeamViewer itself refused (rate_limit_reached / 429); false = this service held the call back. */
  readonly byTeamViewer: boolean;

  constructor(tenantId: string, retryAt: Date, operation: string, byTeamViewer: boolean, options?: { cause?: unknown }) {
    super(
      byTeamViewer
        ? `TeamViewer throttled the tenant's calls (${operation}); the next call waits until ${retryAt.toISOString()}.`
        : `The tenant's TeamViewer quota is used up; ${operation} waits until ${retryAt.toISOString()}.`,
      options,
    );
    this.name = "TeamViewerQuotaExhausted";
    this.tenantId = tenantId;
    this.retryAt = retryAt;
    this.operation = operation;
    this.byTeamViewer = byTeamViewer;
  }
}

export const isQuotaExhausted = (e: unknown): e is TeamViewerQuotaExhausted => e instanceof TeamViewerQuotaExhausted;

export interface TeamViewerQuotaDeps {
  readonly teamViewer: TeamViewerWebApi;
  readonly limiter: QuotaLimiter;
  /**
   * The tenant's `teamViewerCallsPerMinute` setting, read for every call: the settings store
   * keeps it per instance only as long as it keeps any setting (2 s, updated by its writer),
   * so a lowered limit holds within that bound on every instance.
   */
  readonly callsPerMinute: (tenantId: string) => Promise<number>;
  readonly clock: Clock;
}

/**
 * How long the tenant first waits when TeamViewer throttles without a Retry-After (its
 * documented 403 rate_limit_reached has none): one whole window, as a full bucket would take
 * to refill. Throttled again as soon as that wait is over, it waits twice as long, and so on
 * up to `maxThrottleMs` (exponential backoff, as TeamViewer asks when it gives no time).
 */
export const throttleWithoutRetryAfterMs = 60_000;
/** A Retry-After beyond this is not believed (a typo, a date far off): the wait is capped. */
const maxThrottleMs = 60 * 60_000;

export class TeamViewerQuota implements TeamViewerByTenant {
  readonly #d: TeamViewerQuotaDeps;
  /**
   * Per tenant, until when this instance saw TeamViewer throttle it. The shared row says so
   * too, but its write queues behind this instance's other changes of the row: meanwhile
   * this instance would go on granting calls TeamViewer has already refused.
   */
  readonly #throttledUntil = new Map<string, number>();
  /**
   * Per tenant, this instance's last wait after a throttle without a Retry-After and when it
   * ended: the next such throttle within that long of its end doubles it. Per instance (the
   * shared row keeps the longest block any instance set), bounded by the tenants it serves.
   */
  readonly #backoff = new Map<string, { waitMs: number; until: number }>();

  constructor(deps: TeamViewerQuotaDeps) {
    this.#d = deps;
  }

  forTenant(tenantId: string): TenantTeamViewer {
    const tv = this.#d.teamViewer;
    const call = <T>(operation: string, fn: () => Promise<T>): Promise<T> => this.#call(tenantId, operation, fn);
    return {
      createSession: (token, request) => call("createSession", () => tv.createSession(token, request)),
      findOpenSessionByCustomApi: (token, customApi, groupId) =>
        findOpenSessionByCustomApi((q) => call("listSessions", () => tv.listSessions(token, q)), customApi, groupId),
      closeSession: (token, code) => call("closeSession", () => tv.closeSession(token, code)),
      ping: (token) => call("ping", () => tv.ping(token)),
      getAccount: (token) => call("getAccount", () => tv.getAccount(token)),
      listConnections: (token, q) => call("listConnections", () => tv.listConnections(token, q)),
    };
  }

  async #call<T>(tenantId: string, operation: string, fn: () => Promise<T>): Promise<T> {
    const throttledUntil = this.#throttledUntil.get(tenantId);
    if (throttledUntil !== undefined) {
      if (throttledUntil > this.#d.clock.now().getTime()) throw new TeamViewerQuotaExhausted(tenantId, new Date(throttledUntil), operation, false);
      this.#throttledUntil.delete(tenantId);
    }
    const decision = await this.#d.limiter.tryAcquire(tenantId, await this.#d.callsPerMinute(tenantId));
    if (!decision.granted) throw new TeamViewerQuotaExhausted(tenantId, decision.retryAt, operation, false);
    try {
      return await fn();
    } catch (e) {
      if (!(isTeamViewerError(e) && e.code === "throttled")) throw e;
      const now = this.#d.clock.now().getTime();
      const waitMs = Math.min(maxThrottleMs, e.retryAfterMs ?? this.#backoffWait(tenantId, now));
      const until = new Date(now + waitMs);
      this.#throttledUntil.set(tenantId, Math.max(this.#throttledUntil.get(tenantId) ?? 0, until.getTime()));
      await this.#d.limiter.blockUntil(tenantId, until);
      throw new TeamViewerQuotaExhausted(tenantId, until, operation, true, { cause: e });
    }
  }

  /**
   * The wait after a throttle without a Retry-After: a minute, doubled while throttles follow
   * one another. Calls that were already on their way when the wait began (throttled before
   * it ends) belong to the same refusal: they end with it, and do not double it.
   */
  #backoffWait(tenantId: string, now: number): number {
    const last = this.#backoff.get(tenantId);
    if (last && now < last.until) return last.until - now;
    const waitMs = last && now - last.until <= last.waitMs ? Math.min(maxThrottleMs, 2 * last.waitMs) : throttleWithoutRetryAfterMs;
    this.#backoff.set(tenantId, { waitMs, until: now + waitMs });
    return waitMs;
  }
}
