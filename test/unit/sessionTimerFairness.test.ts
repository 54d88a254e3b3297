// The session timer visits every tenant one after the other in one run a minute. A tenant
// with a huge backlog (thousands of requests expiring at once, thousands of outbox rows after
// a Service Bus outage) must not make the run work through all of it before the next tenant
// gets its turn: a run handles a bounded number of each tenant's rows and carries on with the
// rest next run, from where it stopped (so rows it cannot process do not hold the rest back).
import { beforeEach, describe, expect, it } from "vitest";
import { SessionMaintenance } from "../../shared/app/sessions/sessionMaintenance.js";
import { outboxEntry, sessionMessageIds } from "../../shared/app/sessions/sessionMessages.js";
import { messageTypes } from "../../shared/contracts/messages.js";
import type { Session } from "../../shared/domain/session.js";
import { requestedSession, SessionWorkerWorld } from "../support/sessionWorkerHarness.js";

/** The documented bound (docs/limits.md): rows of one kind of one tenant a run handles. */
const perRun = 200;
const big = "t-big";
const small = "t-small";

let world: SessionWorkerWorld;
let timer: SessionMaintenance;

beforeEach(() => {
  world = new SessionWorkerWorld();
  timer = world.maintenance();
});

/** Stores `count` requests of the tenant, made now, each expiring after a minute; `outbox`: each with a message still to send. */
async function requests(tenantId: string, count: number, outbox = false): Promise<Session[]> {
  const made: Session[] = [];
  for (let i = 0; i < count; i++) {
    const s = requestedSession(world.clock.now(), { tenantId }, outbox ? 60 : 1);
    const entries = outbox
      ? [outboxEntry(messageTypes.sessionCreate, tenantId, { sessionId: s.id }, { id: sessionMessageIds.create(s.id), now: world.clock.now() })]
      : [];
    const result = await world.store.create(s, entries);
    if (!result.created) throw new Error("the test session was not created");
    made.push(s);
  }
  return made;
}

const expiredOf = (tenantId: string, sessions: readonly Session[]): number =>
  sessions.filter((s) => world.store.peek(tenantId, s.id)?.status === "expired").length;
const sentFor = (tenantId: string): number => world.bus.sent.filter((m) => (m.body as { tenantId: string }).tenantId === tenantId).length;

describe("the session timer shares a run between tenants", () => {
  it("expires at most a bounded number of one tenant's requests a run, and the rest the next run", async () => {
    // Prepare: a tenant with more requests due than a run handles, listed before a small one
    const many = await requests(big, perRun + 25);
    const one = await requests(small, 1);
    world.clock.advance(2 * 60_000);

    // Act
    await timer.runTimers(world.log);
    const afterFirst = { big: expiredOf(big, many), small: expiredOf(small, one) };
    await timer.runTimers(world.log);

    // Assess
    expect(afterFirst).toEqual({ big: perRun, small: 1 });
    expect(expiredOf(big, many)).toBe(perRun + 25);
  });

  it("re-sends at most a bounded number of one tenant's outbox messages a run, and the rest the next run", async () => {
    // Prepare: a backlog of unsent messages (as a Service Bus outage leaves) in a big tenant and one in a small one
    await requests(big, perRun + 25, true);
    await requests(small, 1, true);
    world.clock.advance(2 * 60_000);

    // Act
    await timer.runTimers(world.log);
    const afterFirst = { big: sentFor(big), small: sentFor(small) };
    await timer.runTimers(world.log);

    // Assess
    expect(afterFirst).toEqual({ big: perRun, small: 1 });
    expect(sentFor(big)).toBe(perRun + 25);
    expect(world.store.outbox(big)).toEqual([]);
  });

  it("carries on after the rows it could not process: a run's share is not spent on them for ever", async () => {
    // Prepare: a run's worth of unreadable requests due first, then good ones
    const bad = new Set((await requests(big, perRun)).map((s) => s.id));
    world.clock.advance(1_000);
    const good = await requests(big, 5);
    const get = world.store.get.bind(world.store);
    world.store.get = async (tenantId, sessionId) => {
      if (bad.has(sessionId)) throw new SyntaxError("unreadable session row (test)");
      return get(tenantId, sessionId);
    };
    world.clock.advance(2 * 60_000);

    // Act
    await timer.runTimers(world.log);
    await timer.runTimers(world.log);

    // Assess
    expect(expiredOf(big, good)).toBe(5);
  });
});
