// What the end user learns about requests for their device that never reached them, in
// memory: a request that waited for approval is not theirs to see, and neither is one that
// ended there (denied, expired, closed) before anything was created at TeamViewer. For them
// it does not exist (404), exactly as while it waited.
import { beforeEach, describe, expect, it } from "vitest";
import { EndUserRequests } from "../../shared/app/sessions/endUserRequests.js";
import { SessionExpiry } from "../../shared/app/sessions/expiry.js";
import type { UserCaller } from "../../shared/domain/caller.js";
import { applyEvent, type Session } from "../../shared/domain/session.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const owner: UserCaller = { type: "user", tenantId, userId: "u1", displayName: "Diego Siciliani", roles: [], groups: [] };

let world: SessionWorkerWorld;
let requests: EndUserRequests;
beforeEach(() => {
  world = new SessionWorkerWorld();
  requests = new EndUserRequests({
    writer: world.writer,
    inbox: world.inbox,
    devices: { get: async () => undefined },
    expiry: new SessionExpiry({ writer: world.writer, audit: world.audit, clock: world.clock }),
    audit: world.audit,
    clock: world.clock,
  });
});

/** The codes the end user's three answers get for the session. */
async function answers(sessionId: string): Promise<string[]> {
  const code = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => "ok",
      (e: { code: string }) => e.code,
    );
  const ctx = { log: world.log };
  return [
    await code(requests.accept(owner, sessionId, ctx)),
    await code(requests.decline(owner, sessionId, ctx)),
    await code(requests.seen(owner, sessionId, ctx)),
  ];
}

const waiting: Partial<Session> = { status: "pendingApproval", approval: { required: true, decision: null } };

describe("a request for the end user's device that never reached them", () => {
  it("is not found while it waits for approval", async () => {
    // Prepare
    const s = await world.request(waiting);

    // Act
    const codes = await answers(s.id);

    // Assess
    expect(codes).toEqual(["notFound", "notFound", "notFound"]);
  });

  it.each(["deny", "expire", "close"] as const)("is not found after it ended waiting (%s), and nothing changes", async (event) => {
    // Prepare: the request ended in pendingApproval; nothing was created at TeamViewer, the end user was never asked
    const s = await world.request(waiting);
    const stored = (await world.store.get(tenantId, s.id))!;
    await world.store.update(stored, applyEvent(stored.session, event, world.clock.now()), []);
    const before = world.session(s.id);

    // Act
    const codes = await answers(s.id);

    // Assess
    expect(codes).toEqual(["notFound", "notFound", "notFound"]);
    expect(world.session(s.id)).toEqual(before);
    expect(world.audit.events).toEqual([]);
  });
});
