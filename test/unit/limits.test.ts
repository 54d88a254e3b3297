// The caller-facing limits, as pure rules: the token-bucket limiter (on a test clock), the
// client address the limits key on, the health probe cache, the resend throttle and cap,
// and the bound on a session's history.
import { ulid } from "ulid";
import { describe, expect, it } from "vitest";
import { clientAddress, unknownAddress } from "../../functions/http/clientAddress.js";
import { forwardedFor } from "../../local/host/httpTrigger.js";
import { HealthProbe } from "../../shared/app/healthProbe.js";
import { RateLimiter } from "../../shared/app/rateLimiter.js";
import { buildSession } from "../../shared/app/sessions/newSession.js";
import { toSessionResource } from "../../shared/app/sessions/sessionView.js";
import { failureKind, isOutage, TimerRows } from "../../shared/app/timerRows.js";
import { DomainError } from "../../shared/domain/errors.js";
import { ManualClock, MemoryAuditLog, recordingLogger } from "../support/memoryPorts.js";
import {
  appendHistory,
  applyEvent,
  checkResend,
  maxHistoryDetailLength,
  maxHistoryEntries,
  maxResendsPerSession,
  noteHistory,
  resentNotification,
  type EndUserNotification,
  type HistoryEntry,
  type Session,
} from "../../shared/domain/session.js";

/** A clock the test moves by hand. */
const testClock = (start = Date.parse("2026-12-01T10:00:00.000Z")) => {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
};

const takeMany = (limiter: RateLimiter, key: string, n: number): number => {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (limiter.take(key).allowed) allowed++;
  return allowed;
};

describe("RateLimiter", () => {
  it("lets a burst through, then refuses with the whole seconds until the next token", () => {
    // Prepare: 300 a minute (one token per 200 ms), bursts of 100.
    const clock = testClock();
    const limiter = new RateLimiter({ perMinute: 300, burst: 100 }, clock);

    // Act
    const allowed = takeMany(limiter, "t/a", 100);
    const refused = limiter.take("t/a");

    // Assess
    expect(allowed).toBe(100);
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it("refills at the sustained rate and never beyond the burst", () => {
    const clock = testClock();
    const limiter = new RateLimiter({ perMinute: 300, burst: 100 }, clock);
    takeMany(limiter, "t/a", 100);

    clock.advance(1_000);
    const afterOneSecond = takeMany(limiter, "t/a", 10);
    clock.advance(3_600_000);
    const afterAnHour = takeMany(limiter, "t/a", 1_000);

    expect(afterOneSecond).toBe(5);
    expect(afterAnHour).toBe(100);
  });

  it("keeps keys apart: one key's burst does not spend another's", () => {
    const clock = testClock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 60 }, clock);

    takeMany(limiter, "address:192.0.2.1", 1_000);
    const other = takeMany(limiter, "address:192.0.2.2", 60);

    expect(other).toBe(60);
    expect(limiter.take("address:192.0.2.1")).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it("answers Retry-After for a slow rate in whole seconds, rounded up", () => {
    const clock = testClock();
    const limiter = new RateLimiter({ perMinute: 1, burst: 1 }, clock);
    limiter.take("k");

    clock.advance(30_500);
    const refused = limiter.take("k");

    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 30 });
  });

  it("holds at most maxKeys buckets: idle ones go first, then the least recently used", () => {
    const clock = testClock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 2 }, clock, { maxKeys: 3 });
    limiter.take("busy");
    limiter.take("busy");
    limiter.take("idle-1");
    limiter.take("idle-2");
    clock.advance(5_000); // the idle ones refill (2 tokens in 2 s); "busy" is spent again below
    limiter.take("busy");
    limiter.take("busy");

    limiter.take("new");
    for (let i = 0; i < 1_000; i++) limiter.take(`flood-${i}`);

    expect(limiter.size).toBeLessThanOrEqual(3);
  });

  it("does not forget a spent bucket because idle keys were dropped", () => {
    const clock = testClock();
    const limiter = new RateLimiter({ perMinute: 1, burst: 1 }, clock, { maxKeys: 2 });
    limiter.take("spent");
    limiter.take("a");
    clock.advance(2_000);

    limiter.take("spent"); // refused, and now the most recently used
    limiter.take("b"); // over maxKeys: "a" (least recently used) goes

    expect(limiter.take("spent").allowed).toBe(false);
  });

  it("refills nothing when the clock goes back", () => {
    const clock = testClock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 1 }, clock);
    limiter.take("k");

    clock.advance(-60_000);

    expect(limiter.take("k").allowed).toBe(false);
  });
});

describe("clientAddress", () => {
  const of = (xff?: string): string => clientAddress(new Headers(xff === undefined ? {} : { "x-forwarded-for": xff }));

  it("takes the last entry, the one the front end appended, without its port", () => {
    expect(of("203.0.113.7:51234")).toBe("203.0.113.7");
    expect(of("198.51.100.1, 203.0.113.7:51234")).toBe("203.0.113.7");
    expect(of("203.0.113.7")).toBe("203.0.113.7");
  });

  it("keys IPv6 clients by their /64 and IPv4-mapped ones as IPv4", () => {
    expect(of("[2001:db8:1:2:3:4:5:6]:443")).toBe("2001:db8:1:2::/64");
    expect(of("2001:db8:1:2::9")).toBe("2001:db8:1:2::/64");
    expect(of("[::ffff:203.0.113.7]:1234")).toBe("203.0.113.7");
    expect(of("[::1]:1234")).toBe("0:0:0:0::/64");
  });

  it("puts a missing or unreadable address in one shared bucket: garbage never escapes the limit", () => {
    expect(of()).toBe(unknownAddress);
    expect(of("1.2.3.4, not-an-address")).toBe(unknownAddress);
    expect(of("999.1.1.1:80")).toBe(unknownAddress);
    expect(of("")).toBe(unknownAddress);
  });

  it("matches what the local host passes on (the client's header, then the peer with its port)", () => {
    expect(forwardedFor(undefined, "127.0.0.1", 50000)).toBe("127.0.0.1:50000");
    expect(forwardedFor("10.0.0.1", "::1", 50000)).toBe("10.0.0.1, [::1]:50000");
    expect(of(forwardedFor("10.9.9.9", "127.0.0.2", 4000))).toBe("127.0.0.2");
  });
});

describe("HealthProbe", () => {
  it("probes at most once per 10 s, shares an in-flight probe, and says when it checked", async () => {
    // Prepare
    const clock = testClock();
    let probes = 0;
    const up = async (): Promise<void> => void probes++;
    const probe = new HealthProbe({ tables: up, serviceBus: up, keyVault: up }, clock);

    // Act
    const [a, b] = await Promise.all([probe.report(), probe.report()]);
    clock.advance(9_999);
    const c = await probe.report();
    clock.advance(1);
    const d = await probe.report();

    // Assess: three dependencies probed twice.
    expect(probes).toBe(6);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(a.checkedAt).toBe("2026-12-01T10:00:00.000Z");
    expect(d.checkedAt).toBe("2026-12-01T10:00:10.000Z");
  });

  it("reports a failing dependency by its error's kind and first line only", async () => {
    const clock = testClock();
    const probe = new HealthProbe(
      { tables: async () => undefined, serviceBus: async () => undefined, keyVault: () => Promise.reject(new Error("down\nconnection details")) },
      clock,
    );

    const r = await probe.report();

    expect(r.healthy).toBe(false);
    expect(r.dependencies.keyVault).toMatchObject({ status: "down", error: "Error: down" });
  });
});

const at = (s: number): Date => new Date(Date.parse("2026-12-01T10:00:00.000Z") + s * 1000);

const awaiting = (): Session => {
  const requested = buildSession({
    tenantId: "t1",
    id: ulid(at(0).getTime()),
    deviceId: "d1",
    device: undefined,
    eligibility: undefined,
    requestedBy: { id: "a1", displayName: "A".repeat(256), type: "user" },
    description: "d".repeat(500),
    now: at(0),
    timeoutMinutes: 60,
  });
  return applyEvent(requested, "teamViewerSessionCreated", at(1), "TeamViewer session created.");
};

describe("history bound", () => {
  it("keeps the first entry, a marker counting what was dropped, and the newest entries", () => {
    // Prepare
    let s = awaiting();

    // Act: 500 notes.
    for (let i = 0; i < 500; i++) s = noteHistory(s, at(10 + i), `note ${i}`);

    // Assess
    expect(s.history).toHaveLength(maxHistoryEntries);
    expect(s.history[0].status).toBe("requested");
    expect(s.history[1].detail).toBe(`${502 - maxHistoryEntries + 1} earlier entries were dropped (a session keeps ${maxHistoryEntries}).`);
    expect(s.history.at(-1)?.detail).toBe("note 499");
    expect(s.history[2].detail).toBe(`note ${500 - (maxHistoryEntries - 2)}`);
  });

  it("never drops while there is room, and cuts long details", () => {
    const history: HistoryEntry[] = [{ status: "requested", at: at(0).toISOString() }];

    const out = appendHistory(history, { status: "requested", at: at(1).toISOString(), detail: "x".repeat(5_000) });

    expect(out).toHaveLength(2);
    expect(out[1].detail).toHaveLength(maxHistoryDetailLength);
    expect(out[1].detail?.endsWith("…")).toBe(true);
  });

  it("keeps a session resource well under 32,000 characters whatever callers do", () => {
    let s = awaiting();
    for (let i = 0; i < 1_000; i++) s = noteHistory(s, at(10 + i), `Notification resent by ${"N".repeat(256)}.`);
    s = applyEvent(s, "close", at(2_000), `Closed by ${"C".repeat(256)}.`);

    const resource = JSON.stringify(toSessionResource(s));
    const stored = JSON.stringify(s);

    expect(resource.length).toBeLessThan(32_000);
    expect(stored.length).toBeLessThan(32_000);
  });
});

describe("resend rule", () => {
  const fresh: EndUserNotification = { channel: "companyPortal", status: "sent", dispatches: 1 };
  const codeOf = (f: () => void): string | undefined => {
    try {
      f();
      return undefined;
    } catch (e) {
      return e instanceof DomainError
        ? `${e.code}${e.extensions?.retryAfterSeconds === undefined ? "" : ` ${String(e.extensions.retryAfterSeconds)}`}`
        : "other";
    }
  };

  it("allows one resend a minute, answering rateLimited with the seconds left", () => {
    const once = resentNotification(fresh, at(0));

    expect(codeOf(() => checkResend(fresh, at(0), 60))).toBeUndefined();
    expect(codeOf(() => checkResend(once, at(1), 60))).toBe("rateLimited 59");
    expect(codeOf(() => checkResend(once, at(59.5), 60))).toBe("rateLimited 1");
    expect(codeOf(() => checkResend(once, at(60), 60))).toBeUndefined();
    expect(codeOf(() => checkResend(once, at(-3_600), 60))).toBe("rateLimited 60");
  });

  it("allows at most 10 resends per session, then answers conflict whatever the time", () => {
    let n = fresh;
    let accepted = 0;
    for (let i = 0; i < 120; i++) {
      if (codeOf(() => checkResend(n, at(i * 61), 60)) === undefined) {
        n = resentNotification(n, at(i * 61));
        accepted++;
      }
    }

    expect(accepted).toBe(maxResendsPerSession);
    expect(n).toMatchObject({ resends: 10, dispatches: 11, status: "pending" });
    expect(codeOf(() => checkResend(n, at(1_000_000), 60))).toBe("conflict");
    expect(codeOf(() => checkResend(n, at(1_000_000), 0))).toBe("conflict");
  });
});

describe("timer rows", () => {
  it("tells an outage of the service from a problem with one row", () => {
    expect(isOutage({ statusCode: 503 })).toBe(true);
    expect(isOutage({ code: "ECONNREFUSED" })).toBe(true);
    expect(isOutage({ statusCode: 400, code: "PropertyValueTooLarge" })).toBe(false);
    expect(isOutage(new SyntaxError("Unexpected token"))).toBe(false);
    expect(isOutage(new TypeError("x is not iterable"))).toBe(false);
  });

  it("describes a failure without its message, which can quote the row", () => {
    expect(failureKind(new SyntaxError('Unexpected token "https://secret-link"'))).toBe("the stored row is not valid JSON");
    expect(failureKind({ statusCode: 400, code: "PropertyValueTooLarge", message: "data" })).toBe("storage answered 400 PropertyValueTooLarge");
    expect(failureKind(new TypeError("secret"))).toBe("TypeError");
  });

  it("remembers what it audited per tenant: one tenant's flood of bad rows does not audit another's row again", async () => {
    // Prepare: a bad row of a small tenant, audited once
    const audit = new MemoryAuditLog(new ManualClock());
    const rows = new TimerRows(audit);
    const { log } = recordingLogger();
    const bad = new SyntaxError("unreadable (test)");
    const skipSmall = () => rows.skipped("sessionTimers", { tenantId: "t-small", target: { type: "session", id: "s-1" } }, log, bad);
    await skipSmall();

    // Act: another tenant's many bad rows, then the small tenant's row again (the next run)
    for (let i = 0; i < 12_000; i++) await rows.skipped("sessionTimers", { tenantId: "t-big", target: { type: "session", id: `s-${i}` } }, log, bad);
    await skipSmall();

    // Assess
    expect(audit.activities("t-small")).toEqual(["session.maintenanceSkipped"]);
  });
});
