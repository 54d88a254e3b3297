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
