// The end user's answer (Company Portal accept and decline) at its ports, in memory: a
// session made by the worker, then answered. TeamViewer's end_customer_link is optional on
// the wire, so a session can await its end user without a link; accepting it must refuse
// without changing anything, and declining must still work.
import { beforeEach, describe, expect, it } from "vitest";
import { EndUserRequests } from "../../shared/app/sessions/endUserRequests.js";
import { SessionExpiry } from "../../shared/app/sessions/expiry.js";
import type { UserCaller } from "../../shared/domain/caller.js";
import { DomainError } from "../../shared/domain/errors.js";
import type { Session } from "../../shared/domain/session.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const owner: UserCaller = { type: "user", tenantId, userId: "u1", displayName: "Diego Siciliani", roles: [], groups: [] };

let world: SessionWorkerWorld;
let requests: EndUserRequests;
beforeEach(() => {
  world = new SessionWorkerWorld();
  const expiry = new SessionExpiry({ writer: world.writer, audit: world.audit, clock: world.clock });
  requests = new EndUserRequests({
    writer: world.writer,
    inbox: world.inbox,
    devices: { get: async () => undefined },
    expiry,
    audit: world.audit,
    clock: world.clock,
  });
});

/** A session awaiting its end user, as the worker saves it; `endUserLink` overrides TeamViewer's link. */
async function awaiting(endUserLink?: string | null): Promise<Session> {
  const s = await world.request();
  await world.worker().create(world.createContext(s.id));
  if (endUserLink === undefined) return world.session(s.id);
  const current = await world.store.get(tenantId, s.id);
  if (!current || !(await world.store.update(current, { ...current.session, endUserLink }))) throw new Error("could not drop the link");
  return world.session(s.id);
}

const activities = (sessionId: string): string[] => world.audit.events.filter((e) => e.target.id === sessionId).map((e) => e.activity);

describe("accepting a request", () => {
  it("answers the link, makes the session accepted and audits it", async () => {
    // Prepare
    const s = await awaiting();

    // Act
    const answer = await requests.accept(owner, s.id, { log: world.log });

    // Assess
    expect(answer.endUserLink).toBe(s.endUserLink);
    expect(world.session(s.id)).toMatchObject({ status: "accepted", endUserResponse: { response: "accepted" } });
    expect(activities(s.id)).toContain("session.accepted");
  });

  it("without a TeamViewer link answers 409 and changes nothing: the request can still be declined", async () => {
    // Prepare
    const s = await awaiting(null);
    const before = world.session(s.id);
    const auditedBefore = activities(s.id);

    // Act
    const refused = await requests.accept(owner, s.id, { log: world.log }).catch((e: unknown) => e);

    // Assess
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: "conflict" });
    expect(world.session(s.id)).toEqual(before);
    expect(activities(s.id)).toEqual(auditedBefore);
    expect(await requests.list(owner, { log: world.log })).toEqual([expect.objectContaining({ id: s.id, status: "awaitingEndUser" })]);
    await requests.decline(owner, s.id, { log: world.log });
    expect(world.session(s.id)).toMatchObject({ status: "declined", endUserResponse: { response: "declined" } });
  });
});

describe("answers that come twice, at once, or too late", () => {
  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => "ok",
      (e: unknown) => (e instanceof DomainError ? e.code : String(e)),
    );

  it("a double tap on decline closes TeamViewer once and audits once; on accept, audits once and answers the same link", async () => {
    // Prepare
    const declinedOne = await awaiting();
    const acceptedOne = await world.request({ deviceId: "d-other" }).then(async (s) => {
      await world.worker().create(world.createContext(s.id));
      return world.session(s.id);
    });

    // Act
    const declines = await Promise.all([1, 2, 3].map(() => outcome(requests.decline(owner, declinedOne.id, { log: world.log }))));
    const accepts = await Promise.all([1, 2, 3].map(() => requests.accept(owner, acceptedOne.id, { log: world.log })));

    // Assess
    expect(declines).toEqual(["ok", "ok", "ok"]);
    expect(world.messages(declinedOne.id, "session.close")).toHaveLength(1);
    expect(activities(declinedOne.id).filter((a) => a === "session.declined")).toHaveLength(1);
    expect(new Set(accepts.map((a) => a.endUserLink))).toEqual(new Set([acceptedOne.endUserLink]));
    expect(activities(acceptedOne.id).filter((a) => a === "session.accepted")).toHaveLength(1);
  });

  it("accept racing decline: one of them wins, the other is 409; the session says which", async () => {
    // Prepare
    const s = await awaiting();

    // Act
    const [accepted, declined] = await Promise.all([
      outcome(requests.accept(owner, s.id, { log: world.log })),
      outcome(requests.decline(owner, s.id, { log: world.log })),
    ]);

    // Assess
    expect([accepted, declined].sort()).toEqual(["conflict", "ok"]);
    const after = world.session(s.id);
    expect(after.status).toBe(accepted === "ok" ? "accepted" : "declined");
    expect(after.endUserResponse?.response).toBe(after.status);
    expect(world.messages(s.id, "session.close")).toHaveLength(accepted === "ok" ? 0 : 1);
  });

  it("after the request expired, accept, decline and seen are 409 and it leaves the list; the expiry is audited once", async () => {
    // Prepare
    const s = await awaiting();
    world.clock.advance(61 * 60_000);

    // Act
    const answers = await Promise.all([
      outcome(requests.accept(owner, s.id, { log: world.log })),
      outcome(requests.decline(owner, s.id, { log: world.log })),
      outcome(requests.seen(owner, s.id, { log: world.log })),
    ]);

    // Assess
    expect(answers).toEqual(["conflict", "conflict", "conflict"]);
    expect(world.session(s.id)).toMatchObject({ status: "expired", endUserResponse: null, closeReason: "expired" });
    expect(activities(s.id).filter((a) => a === "session.expired")).toHaveLength(1);
    expect(activities(s.id)).not.toContain("session.accepted");
    expect(world.messages(s.id, "session.close")).toHaveLength(1);
    expect(await requests.list(owner, { log: world.log })).toEqual([]);
  });

  it("another user of the tenant, or the same user id in another tenant, finds nothing (404) and changes nothing", async () => {
    // Prepare
    const s = await awaiting();
    const before = world.session(s.id);
    const strangers: UserCaller[] = [
      { ...owner, userId: "u2" },
      { ...owner, tenantId: "t2" },
    ];

    // Act
    const answers = [];
    for (const c of strangers) {
      for (const kind of ["accept", "decline", "seen"] as const) answers.push(await outcome(requests[kind](c, s.id, { log: world.log })));
    }

    // Assess
    expect(new Set(answers)).toEqual(new Set(["notFound"]));
    for (const c of strangers) expect(await requests.list(c, { log: world.log })).toEqual([]);
    expect(world.session(s.id)).toEqual(before);
  });
});
