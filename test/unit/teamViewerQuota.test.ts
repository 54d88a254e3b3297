// The TeamViewer quota: the sliding-log rule (no window of a minute ever holds more calls
// than the setting, whatever the timing), its compact encoding, the decorator that every
// TeamViewer call goes through, and how a waiting session request is written. The limiter
// here is an in-memory one over the same rule as the Table adapter (tested against Azurite
// in the integration test); the TeamViewer client is a stand-in that records calls.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ulid } from "ulid";
import type { QuotaDecision, QuotaLimiter } from "../../shared/app/quota/ports.js";
import { block, decide, decodeTimes, emptyWindow, encodeTimes, quotaWindowMs, type WindowState } from "../../shared/app/quota/slidingWindow.js";
import { TeamViewerQuota, TeamViewerQuotaExhausted, throttleWithoutRetryAfterMs, type TeamViewerWebApi } from "../../shared/app/quota/teamViewerQuota.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { waitForQuota, waitingForTeamViewerQuota } from "../../shared/app/sessions/quotaWait.js";
import { buildSession } from "../../shared/app/sessions/newSession.js";
import { toSessionResource } from "../../shared/app/sessions/sessionView.js";
import type { Clock } from "../../shared/app/clock.js";

/** Grants from a run of acquire attempts at the given times (ascending), one limiter state. */
function grantsOf(times: readonly number[], limit: number): number[] {
  let state: WindowState = emptyWindow;
  const granted: number[] = [];
  for (const t of times) {
    const d = decide(state, t, limit);
    if (d.granted) {
      state = d.next;
      granted.push(t);
    }
  }
  return granted;
}

/** The most grants in any half-open window [t, t + ms). */
function busiestWindow(granted: readonly number[], ms: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < granted.length; i++) {
    while (j < granted.length && granted[j] < granted[i] + ms) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

const acquireTimes = fc
  .array(fc.integer({ min: 0, max: 5 * 60_000 }), { minLength: 1, maxLength: 400 })
  .map((ts) => ts.map((t) => 1_800_000_000_000 + t).sort((a, b) => a - b));

describe("the quota's sliding window", () => {
  it("never lets more than the limit through in any 60 seconds, whatever the acquire times", () => {
    fc.assert(
      fc.property(acquireTimes, fc.integer({ min: 1, max: 600 }), (times, limit) => {
        const granted = grantsOf(times, limit);
        expect(busiestWindow(granted, 60_000)).toBeLessThanOrEqual(limit);
        // And with the second of margin the limiter keeps for the way to TeamViewer.
        expect(busiestWindow(granted, quotaWindowMs)).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 300 },
    );
  });

  it("lets the whole limit through at once, and each refused caller learns when a call will fit", () => {
    fc.assert(
      fc.property(acquireTimes, fc.integer({ min: 1, max: 50 }), (times, limit) => {
        let state: WindowState = emptyWindow;
        for (const t of times) {
          const d = decide(state, t, limit);
          if (d.granted) state = d.next;
          else {
            // The promised time is in the future, and a call then fits.
            expect(d.retryAt).toBeGreaterThan(t);
            expect(decide(state, d.retryAt, limit).granted).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
    // A burst up to the limit is not held back.
    expect(grantsOf(Array(20).fill(1_800_000_000_000), 20)).toHaveLength(20);
    expect(grantsOf(Array(21).fill(1_800_000_000_000), 20)).toHaveLength(20);
  });

  it("holds every call back while blocked, and then goes on", () => {
    // Prepare
    const now = 1_800_000_000_000;
    const blocked = block(emptyWindow, now + 5_000);
    // Act
    const during = decide(blocked, now + 4_999, 10);
    const after = decide(blocked, now + 5_000, 10);
    // Assess
    expect(during).toEqual({ granted: false, retryAt: now + 5_000 });
    expect(after.granted).toBe(true);
    expect(block(blocked, now + 1_000).blockedUntil).toBe(now + 5_000); // a shorter block never shortens it
  });

  it("drops times a wrong clock put more than a window ahead, so they cannot hold slots for good", () => {
    const now = 1_800_000_000_000;
    const state: WindowState = { times: [now + 10 * 60_000], blockedUntil: 0 };
    expect(decide(state, now, 1).granted).toBe(true);
  });

  it("encodes a full log of 600 calls in a few thousand characters, and back", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: quotaWindowMs }), { minLength: 0, maxLength: 600 }), (offsets) => {
        const times = offsets.map((o) => 1_800_000_000_000 + o).sort((a, b) => a - b);
        const { base, log } = encodeTimes(times);
        expect(decodeTimes(base, log)).toEqual(times);
        // A Table string property holds 64 KiB of UTF-16: 32,768 characters.
        expect(log.length).toBeLessThanOrEqual(600 * 5);
      }),
    );
    expect(decodeTimes(1000, "0,zz,not a number!,1")).toEqual([1000, 1001, 1000 + 35 * 36 + 35]);
  });
});

class MemoryLimiter implements QuotaLimiter {
  state: WindowState = emptyWindow;
  constructor(readonly clock: Clock) {}
  async tryAcquire(_tenantId: string, callsPerMinute: number): Promise<QuotaDecision> {
    const d = decide(this.state, this.clock.now().getTime(), callsPerMinute);
    if (!d.granted) return { granted: false, retryAt: new Date(d.retryAt) };
    this.state = d.next;
    return { granted: true };
  }
  async blockUntil(_tenantId: string, until: Date): Promise<void> {
    this.state = block(this.state, until.getTime());
  }
}

function harness(limit: number, fail?: (op: string) => unknown) {
  let now = Date.parse("2026-12-05T10:00:00.000Z");
  const clock: Clock = { now: () => new Date(now) };
  const calls: string[] = [];
  const record = async <T>(op: string, value: T): Promise<T> => {
    calls.push(op);
    const error = fail?.(op);
    if (error) throw error;
    return value;
  };
  const info = { code: "s12-345-678", groupId: "g1", customApi: "S1" };
  const web: TeamViewerWebApi = {
    createSession: () => record("createSession", info),
    listSessions: (_t, q) => record("listSessions", { sessions: q.offset === undefined ? [] : [info], ...(q.offset === undefined ? { nextOffset: 1 } : {}) }),
    closeSession: () => record("closeSession", undefined),
    ping: () => record("ping", { tokenValid: true }),
    getAccount: () => record("getAccount", { userId: "u1", name: "Supporter" }),
    listConnections: () => record("listConnections", { records: [], unreadable: 0 }),
  };
  const limiter = new MemoryLimiter(clock);
  const quota = new TeamViewerQuota({ teamViewer: web, limiter, callsPerMinute: async () => limit, clock });
  return { quota, limiter, calls, advance: (ms: number) => (now += ms), clock };
}

describe("the TeamViewer quota decorator", () => {
  it("counts every Web API call, each page of a lookup included, and sends nothing without room", async () => {
    // Prepare
    const { quota, calls, limiter } = harness(3);
    const tv = quota.forTenant("t1");
    // Act: a two-page lookup and a create use the 3 calls; the close finds no room.
    const found = await tv.findOpenSessionByCustomApi("token", "S1");
    await tv.createSession("token", { groupName: "g", description: "d", validUntil: new Date(), customApi: "S1" });
    const refused = await tv.closeSession("token", "s12-345-678").catch((e: unknown) => e);
    // Assess
    expect(found?.code).toBe("s12-345-678");
    expect(calls).toEqual(["listSessions", "listSessions", "createSession"]);
    expect(refused).toBeInstanceOf(TeamViewerQuotaExhausted);
    expect(refused).toMatchObject({ operation: "closeSession", byTeamViewer: false, retryAt: new Date(limiter.state.times[0] + quotaWindowMs) });
  });

  it("counts each page of the connection report as one call", async () => {
    // Prepare
    const { quota, calls } = harness(1);
    const tv = quota.forTenant("t1");
    const q = { from: new Date("2026-12-05T09:00:00Z"), to: new Date("2026-12-05T10:00:00Z") };
    // Act
    await tv.listConnections("token", q);
    const refused = await tv.listConnections("token", { ...q, offsetId: "next" }).catch((e: unknown) => e);
    // Assess
    expect(calls).toEqual(["listConnections"]);
    expect(refused).toMatchObject({ operation: "listConnections", byTeamViewer: false });
  });

  it("turns TeamViewer's throttling into a wait: the tenant is blocked until Retry-After (a minute without one)", async () => {
    // Prepare
    const throttled = (retryAfterMs?: number) =>
      new TeamViewerError("throttled", "POST /sessions: TeamViewer answered 429 rate_limit_reached.", {
        status: 429,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    const withHeader = harness(10, (op) => (op === "createSession" ? throttled(5_000) : undefined));
    const without = harness(10, (op) => (op === "ping" ? throttled() : undefined));
    const request = { groupName: "g", description: "d", validUntil: new Date(), customApi: "S1" };
    // Act
    const e1 = await withHeader.quota
      .forTenant("t1")
      .createSession("token", request)
      .catch((e: unknown) => e);
    const next = await withHeader.quota
      .forTenant("t1")
      .getAccount("token")
      .catch((e: unknown) => e);
    const e2 = await without.quota
      .forTenant("t1")
      .ping("token")
      .catch((e: unknown) => e);
    // Assess
    const t0 = withHeader.clock.now().getTime();
    expect(e1).toMatchObject({ byTeamViewer: true, operation: "createSession", retryAt: new Date(t0 + 5_000) });
    expect(next).toMatchObject({ byTeamViewer: false, retryAt: new Date(t0 + 5_000) });
    expect(withHeader.calls).toEqual(["createSession"]); // the getAccount was never sent
    expect(e2).toMatchObject({ byTeamViewer: true, retryAt: new Date(without.clock.now().getTime() + throttleWithoutRetryAfterMs) });
  });

  it("backs off exponentially while TeamViewer throttles again and again without a Retry-After, and starts over after a quiet spell", async () => {
    // Prepare: every ping is throttled without a Retry-After.
    const h = harness(600, (op) => (op === "ping" ? new TeamViewerError("throttled", "rate_limit_reached", { status: 403 }) : undefined));
    const tv = h.quota.forTenant("t1");
    const waits: number[] = [];
    const throttledPing = async (): Promise<void> => {
      const e = await tv.ping("token").catch((x: unknown) => x);
      expect(e).toMatchObject({ byTeamViewer: true });
      const waited = (e as TeamViewerQuotaExhausted).retryAt.getTime() - h.clock.now().getTime();
      waits.push(waited);
      h.advance(waited); // the next call goes out as soon as the wait is over
    };
    // Act: six throttles in a row, then one after a quiet spell twice the last wait long.
    for (let i = 0; i < 6; i++) await throttledPing();
    h.advance(2 * waits[waits.length - 1]);
    await throttledPing();
    // Assess: one minute, doubled each time up to the hour, then a minute again.
    const minute = throttleWithoutRetryAfterMs;
    expect(waits).toEqual([minute, 2 * minute, 4 * minute, 8 * minute, 16 * minute, 32 * minute, minute]);
  });

  it("counts calls throttled together, while one wait runs, as one refusal: they end with it and do not double it", async () => {
    // Prepare: three pings are on their way when TeamViewer starts throttling.
    const h = harness(600, (op) => (op === "ping" ? new TeamViewerError("throttled", "rate_limit_reached", { status: 403 }) : undefined));
    const tv = h.quota.forTenant("t1");
    // Act
    const refused = await Promise.all([tv.ping("token"), tv.ping("token"), tv.ping("token")].map((p) => p.catch((e: unknown) => e)));
    h.advance(throttleWithoutRetryAfterMs);
    const next = await tv.ping("token").catch((e: unknown) => e);
    // Assess: all three wait the same minute; the first throttle after it doubles it once.
    const t0 = h.clock.now().getTime() - throttleWithoutRetryAfterMs;
    expect(refused.map((e) => (e as TeamViewerQuotaExhausted).retryAt.getTime() - t0)).toEqual([60_000, 60_000, 60_000]);
    expect((next as TeamViewerQuotaExhausted).retryAt.getTime() - h.clock.now().getTime()).toBe(2 * throttleWithoutRetryAfterMs);
  });

  it("holds this instance's calls back from the moment TeamViewer throttles, before the shared row says so", async () => {
    // Prepare: the block's write to the shared row takes a while (it queues behind the
    // instance's other changes of the row); the first create is throttled for 5 s.
    let creates = 0;
    const h = harness(10, (op) =>
      op === "createSession" && ++creates === 1 ? new TeamViewerError("throttled", "POST /sessions: 429.", { status: 429, retryAfterMs: 5_000 }) : undefined,
    );
    let releaseBlock: () => void = () => undefined;
    const blockWritten = new Promise<void>((r) => (releaseBlock = r));
    const write = h.limiter.blockUntil.bind(h.limiter);
    h.limiter.blockUntil = async (tenantId, until) => {
      await blockWritten;
      await write(tenantId, until);
    };
    const request = { groupName: "g", description: "d", validUntil: new Date(), customApi: "S1" };
    const tv = h.quota.forTenant("t1");
    // Act: the throttled call is still writing its block when the next ones come.
    const first = tv.createSession("token", request).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 0));
    const second = await tv.createSession("token", request).catch((e: unknown) => e);
    const other = await h.quota.forTenant("t2").ping("token");
    releaseBlock();
    await first;
    h.advance(5_001);
    const after = await tv.createSession("token", request);
    // Assess: nothing sent for t1 while throttled; another tenant unaffected; after the wait, sent.
    expect(second).toMatchObject({ byTeamViewer: false, operation: "createSession" });
    expect(other).toEqual({ tokenValid: true });
    expect(after.code).toBe("s12-345-678");
    expect(h.calls).toEqual(["createSession", "ping", "createSession"]);
  });

  it("passes other TeamViewer errors through unchanged", async () => {
    const { quota } = harness(10, () => new TeamViewerError("serverError", "GET /ping: 500."));
    await expect(quota.forTenant("t1").ping("token")).rejects.toMatchObject({ code: "serverError" });
  });
});

describe("a session request waiting for quota", () => {
  const now = new Date("2026-12-05T10:00:00.000Z");
  const requested = buildSession({
    tenantId: "t1",
    id: ulid(now.getTime()),
    deviceId: "d1",
    device: undefined,
    eligibility: undefined,
    requestedBy: { id: "a1", displayName: "Adele Vance", type: "user" },
    description: null,
    now,
    timeoutMinutes: 60,
  });
  const claimed = {
    ...requested,
    worker: { ...requested.worker, claimId: "c1", claimedUntil: now.toISOString(), claimMessageId: "m1", claimDelivery: 1, createAttempts: 1 },
  };

  it("stays requested, notes the wait once with the expected time, and is scheduled again for then", () => {
    // Prepare
    const exhausted = new TeamViewerQuotaExhausted("t1", new Date(now.getTime() + 30_000), "createSession", false);
    // Act
    const first = waitForQuota(claimed, 0, exhausted, now, "corr", () => 0);
    const again = waitForQuota(
      { ...first.next, worker: claimed.worker },
      0,
      new TeamViewerQuotaExhausted("t1", new Date(now.getTime() + 45_000), "createSession", false),
      now,
      "corr",
      () => 0,
    );
    // Assess
    expect(first.next.status).toBe("requested");
    expect(first.next.history.at(-1)?.detail).toBe(
      `${waitingForTeamViewerQuota}: expected at 2026-12-05T10:00:30.000Z (the tenant's TeamViewer calls per minute are used up).`,
    );
    expect(first.next.waitingForTeamViewerQuotaUntil).toBe("2026-12-05T10:00:30.000Z");
    expect(first.message).toMatchObject({ type: "session.create", queue: "session-commands", notBefore: "2026-12-05T10:00:30.000Z" });
    expect(first.next.worker).toMatchObject({ claimId: null, createAttempts: 0, retries: 0 }); // nothing reached TeamViewer: no lookup needed next time
    expect(again.next.history).toHaveLength(first.next.history.length); // one entry per wait, not per retry
    expect(again.next.waitingForTeamViewerQuotaUntil).toBe("2026-12-05T10:00:45.000Z");
    expect(again.message.id).not.toBe(first.message.id);
    expect(toSessionResource(again.next).waitingForTeamViewerQuotaUntil).toBe("2026-12-05T10:00:45.000Z");
  });

  it("does not count a create TeamViewer refused as throttled (it created nothing), keeps earlier attempts, and never waits past the request's expiry", () => {
    // Prepare: TeamViewer answered this claim's create with rate_limit_reached (byTeamViewer).
    const throttled = new TeamViewerQuotaExhausted("t1", new Date(now.getTime() + 2 * 3_600_000), "createSession", true);

    // Act: once as the first attempt, once after two earlier attempts (say, timeouts) that may have created one.
    const refused = waitForQuota(claimed, 0, throttled, now, undefined, () => 0);
    const afterEarlier = waitForQuota({ ...claimed, worker: { ...claimed.worker, createAttempts: 3 } }, 2, throttled, now, undefined, () => 0);

    // Assess: no lookup is spent on the refused create; the earlier attempts still make the next one look first.
    expect(claimed.worker.createAttempts).toBeGreaterThan(0);
    expect(refused.next.worker.createAttempts).toBe(0);
    expect(afterEarlier.next.worker.createAttempts).toBe(2);
    expect(refused.at.getTime()).toBe(Date.parse(requested.expiresAt) + 1_000);
    expect(refused.next.history.at(-1)?.detail).toContain("TeamViewer reported its rate limit as reached");
  });
});
