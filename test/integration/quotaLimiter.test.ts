// The TeamViewer quota row in Table storage (Azurite), driven directly: the sliding window's
// margin of one second covers the way from a grant to TeamViewer, so a grant whose own write
// took longer must not be used. The clock is a test clock that moves when the test says so;
// the row, its etags and Azurite are real.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TableQuotaLimiter } from "../../shared/adapters/tables/tableQuotaLimiter.js";
import { tableNames } from "../../shared/adapters/tables/tables.js";
import { tableOperations } from "../../shared/adapters/tables/tableOperations.js";
import { tables } from "./connectorSupport.js";

/** A clock that answers `now` and then moves `step` ms forward on every read. */
function steppingClock(start: number) {
  let now = start;
  let step = 0;
  return {
    now: () => {
      const at = new Date(now);
      now += step;
      return at;
    },
    set step(ms: number) {
      step = ms;
    },
    get ms() {
      return now;
    },
  };
}

async function loggedCalls(tenantId: string): Promise<number> {
  const row = await tables().client(tableNames.quotas).getEntity<{ log: string }>(tenantId, "teamviewer");
  return String(row.log).split(",").filter(Boolean).length;
}

describe("the quota row", () => {
  it("grants while there is room and refuses the call after the limit with the time the oldest leaves the window", async () => {
    const tenantId = randomUUID();
    const clock = steppingClock(Date.parse("2026-12-06T10:00:00Z"));
    const limiter = new TableQuotaLimiter(tables(), clock);

    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.tryAcquire(tenantId, 3));

    expect(decisions.map((d) => d.granted)).toEqual([true, true, true, false]);
    const refused = decisions[3];
    expect(refused.granted === false && refused.retryAt.toISOString()).toBe("2026-12-06T10:01:01.000Z");
    expect(await loggedCalls(tenantId)).toBe(3);
  });

  it("a grant that took longer than 400 ms to record is not used: the call asks again, and after three such grants waits", async () => {
    const tenantId = randomUUID();
    const clock = steppingClock(Date.parse("2026-12-06T10:00:00Z"));
    const limiter = new TableQuotaLimiter(tables(), clock);
    // Every read of the clock moves it 300 ms: the grant is read once, the check after the
    // write once more, so each grant looks 300 ms old. Used.
    clock.step = 300;
    expect((await limiter.tryAcquire(tenantId, 10)).granted).toBe(true);
    expect(await loggedCalls(tenantId)).toBe(1);

    // Now 500 ms per read: every grant is stale when its write returns. Three slots are spent
    // recording them, and the caller is told to come back in a second, like any call without room.
    clock.step = 500;
    const stale = await limiter.tryAcquire(tenantId, 10);
    expect(stale.granted).toBe(false);
    expect(stale.granted === false && stale.retryAt.getTime() - clock.ms).toBeLessThanOrEqual(1_000);
    expect(await loggedCalls(tenantId)).toBe(4);
  });

  it("an instance decides on its own copy of the row (one write per grant); another instance's write makes it read again, and the limit holds", async () => {
    const tenantId = randomUUID();
    const clock = steppingClock(Date.parse("2026-12-06T10:00:00Z"));
    const [a, b] = [new TableQuotaLimiter(tables(), clock), new TableQuotaLimiter(tables(), clock)];
    const label = `quota-${tenantId}`;
    const counted = async (name: string, limiter: TableQuotaLimiter) => {
      const decision = await tableOperations.withinInvocation(`${label} ${name}`, () => limiter.tryAcquire(tenantId, 5));
      return { decision: decision.granted, operations: tableOperations.snapshot().byInvocation.get(`${label} ${name}`)!.operations };
    };

    // A's first grant reads (no copy yet) and creates the row; its next two only write.
    const first = await counted("a1", a);
    const [second, third] = [await counted("a2", a), await counted("a3", a)];
    // B has no copy: it reads, then writes. A's copy is now stale: its write fails on the etag, it reads and writes.
    const fromB = await counted("b1", b);
    const afterB = await counted("a4", a);
    // The fifth call of the minute was the last: B's copy (stale after A's write) still decides right, after a read.
    const overLimit = await counted("b2", b);

    expect([first, second, third, fromB, afterB].map((c) => c.decision)).toEqual([true, true, true, true, true]);
    expect(first.operations).toBe(2);
    expect([second.operations, third.operations]).toEqual([1, 1]);
    expect(fromB.operations).toBe(2);
    expect(afterB.operations).toBe(3);
    expect(overLimit.decision).toBe(false);
    expect(await loggedCalls(tenantId)).toBe(5);
  });
});
