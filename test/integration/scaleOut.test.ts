// Several instances of the app at once, as Flex Consumption runs them: each instance is built
// here as the composition builds it (its own caches, its own copy of the quota row, its own
// audit group commit) against the stack's one Azurite. Time is a clock the test moves, so
// "two seconds later" takes no two seconds; the rows, their etags and Azurite are real.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TableSettingsStore } from "../../shared/adapters/tables/tableAdminStores.js";
import { TableQuotaLimiter } from "../../shared/adapters/tables/tableQuotaLimiter.js";
import { CachedSettingsStore } from "../../shared/app/admin/cachedSettingsStore.js";
import type { Clock } from "../../shared/app/clock.js";
import { isQuotaExhausted, TeamViewerQuota, type TeamViewerWebApi } from "../../shared/app/quota/teamViewerQuota.js";
import { ShortCache } from "../../shared/app/shortCache.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { tenantStateCacheMs } from "../../shared/composition.js";
import { tables } from "./connectorSupport.js";

/** A clock tests move by hand. */
function manualClock(start = Date.parse("2026-12-07T10:00:00Z")): Clock & { advance(ms: number): void } {
  let at = start;
  return { now: () => new Date(at), advance: (ms) => void (at += ms) };
}

/** One instance's settings and TeamViewer quota, wired as shared/composition.ts wires them. */
function quotaInstance(clock: Clock) {
  const t = tables();
  const settings = new CachedSettingsStore(new TableSettingsStore(t), new ShortCache({ ttlMs: tenantStateCacheMs, now: () => clock.now().getTime() }));
  const made: number[] = [];
  let throttleNext = false;
  const notUsed = (): never => {
    throw new Error("not used here");
  };
  const web: TeamViewerWebApi = {
    ping: async () => {
      if (throttleNext) {
        throttleNext = false;
        throw new TeamViewerError("throttled", "GET /ping: 429", { status: 429, retryAfterMs: 30_000 });
      }
      made.push(clock.now().getTime());
      return { tokenValid: true };
    },
    createSession: notUsed,
    listSessions: notUsed,
    closeSession: notUsed,
    getAccount: notUsed,
    listConnections: notUsed,
  };
  const quota = new TeamViewerQuota({
    teamViewer: web,
    limiter: new TableQuotaLimiter(t, clock),
    callsPerMinute: async (tenantId) => (await settings.get(tenantId)).teamViewerCallsPerMinute,
    clock,
  });
  /** Tries `n` calls at once for the tenant; answers how many TeamViewer got. */
  const spend = async (tenantId: string, n: number): Promise<number> => {
    const outcomes = await Promise.allSettled(Array.from({ length: n }, () => quota.forTenant(tenantId).ping("token")));
    for (const o of outcomes) if (o.status === "rejected" && !isQuotaExhausted(o.reason)) throw o.reason;
    return outcomes.filter((o) => o.status === "fulfilled").length;
  };
  return {
    settings,
    made,
    spend,
    throttleNextCall: () => void (throttleNext = true),
  };
}

describe("the TeamViewer quota across instances", () => {
  it("two instances spending one tenant's calls at once never pass the setting together", async () => {
    const tenantId = randomUUID();
    const clock = manualClock();
    const [a, b] = [quotaInstance(clock), quotaInstance(clock)];
    await a.settings.update(tenantId, { teamViewerCallsPerMinute: 7 });

    const [fromA, fromB] = await Promise.all([a.spend(tenantId, 10), b.spend(tenantId, 10)]);

    expect(fromA + fromB).toBe(7);
    expect(a.made.length + b.made.length).toBe(7);
  });

  it("a lowered setting applies at once on the instance that changed it, and within 2 s on the other", async () => {
    const tenantId = randomUUID();
    const clock = manualClock();
    const [a, b] = [quotaInstance(clock), quotaInstance(clock)];
    await a.settings.update(tenantId, { teamViewerCallsPerMinute: 20 });
    // Both instances have made a call under the old setting, so both have read it.
    expect(await a.spend(tenantId, 1)).toBe(1);
    expect(await b.spend(tenantId, 1)).toBe(1);

    // Act: instance A lowers the setting to 5; its own next calls find 3 places left
    await a.settings.update(tenantId, { teamViewerCallsPerMinute: 5 });
    clock.advance(1_000);
    const onA = await a.spend(tenantId, 10);
    // …and instance B, once its copy of the settings is older than the documented 2 s
    clock.advance(tenantStateCacheMs + 1);
    const onB = await b.spend(tenantId, 10);

    // Assess: the minute holds 5 calls, not 20
    expect(onA).toBe(3);
    expect(onB).toBe(0);
    expect(a.made.length + b.made.length).toBe(5);
  });

  it("TeamViewer throttling seen by one instance holds the other back until its Retry-After", async () => {
    const tenantId = randomUUID();
    const clock = manualClock();
    const [a, b] = [quotaInstance(clock), quotaInstance(clock)];
    await a.settings.update(tenantId, { teamViewerCallsPerMinute: 20 });
    expect(await b.spend(tenantId, 1)).toBe(1);

    // Act: TeamViewer answers A with 429, Retry-After 30 s
    a.throttleNextCall();
    expect(await a.spend(tenantId, 1)).toBe(0);
    clock.advance(29_000);
    const duringBlock = await b.spend(tenantId, 3);
    clock.advance(1_001);
    const afterBlock = await b.spend(tenantId, 3);

    // Assess
    expect(duringBlock).toBe(0);
    expect(afterBlock).toBe(3);
  });
});
