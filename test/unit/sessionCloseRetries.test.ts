// session.close when TeamViewer fails transiently (5xx, a timeout): Service Bus would
// redeliver at once, so ten deliveries would be spent within seconds of a short outage and
// the TeamViewer session left open. The close is re-scheduled with backoff instead, a
// bounded number of times, and then the failure is recorded where the admin sees it.
import { beforeEach, describe, expect, it } from "vitest";
import { applyEvent, sessionFailureCodes } from "../../shared/domain/session.js";
import { messageTypes } from "../../shared/contracts/messages.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { closeRetryPolicy, dataOf, SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";
import type { Session } from "../../shared/domain/session.js";

const unavailable = (): TeamViewerError => new TeamViewerError("serverError", "PUT /sessions/{code}: TeamViewer answered 502.", { status: 502 });

let world: SessionWorkerWorld;
beforeEach(() => {
  world = new SessionWorkerWorld();
});

/** A request whose TeamViewer session exists, closed by its admin: its session.close is due. */
async function closedByAdmin(): Promise<Session> {
  const s = await world.request();
  await world.worker().create(world.createContext(s.id));
  await world.writer.change(tenantId, s.id, (cur) => ({ next: { ...applyEvent(cur, "close", world.clock.now()), closeReason: "admin" } }), world.log);
  return world.session(s.id);
}

describe("session.close when TeamViewer fails transiently", () => {
  it("is re-scheduled with backoff under a new message id, and the retry closes the TeamViewer session", async () => {
    // Prepare
    const s = await closedByAdmin();
    world.teamViewer.failNext("closeSession", unavailable());

    // Act
    await world.worker().close(world.closeContext(s.id, "admin"));
    const [retry] = world.messages(s.id, messageTypes.sessionClose);
    world.clock.advance(2_000);
    await world.worker().close(world.closeContext(s.id, "admin", { messageId: retry!.id }));

    // Assess: the retry came a backoff step later (random 0: half of the first 2 s step).
    expect(retry?.notBefore?.getTime()).toBe(Date.parse(s.closedAt!) + 1_000);
    expect(dataOf(retry!).reason).toBe("admin");
    expect(world.teamViewer.sessions[0].open).toBe(false);
    const after = world.session(s.id);
    expect(after.teamViewer?.closedAt).not.toBeNull();
    expect(after.failure).toBeNull();
    expect(world.audit.events.filter((e) => e.activity === "session.teamViewerSessionClosed").map((e) => e.result)).toEqual(["success"]);
  });

  it("gives up after its retries: the failure is recorded on the session and audited, and nothing more is sent", async () => {
    // Prepare
    const s = await closedByAdmin();
    for (let i = 0; i <= closeRetryPolicy.maxRetries; i++) world.teamViewer.failNext("closeSession", unavailable());

    // Act: the command, then each re-scheduled one as it comes.
    let messageId: string | undefined;
    for (let i = 0; i <= closeRetryPolicy.maxRetries; i++) {
      await world.worker().close(world.closeContext(s.id, "admin", messageId === undefined ? {} : { messageId }));
      messageId = world.messages(s.id, messageTypes.sessionClose).at(-1)?.id;
      world.clock.advance(10 * 60_000);
    }

    // Assess
    expect(world.teamViewer.callsOf("closeSession")).toBe(closeRetryPolicy.maxRetries + 1);
    expect(world.messages(s.id, messageTypes.sessionClose)).toHaveLength(closeRetryPolicy.maxRetries);
    const after = world.session(s.id);
    expect(after.status).toBe("closed");
    expect(after.teamViewer?.closedAt).toBeNull();
    expect(after.failure).toMatchObject({ code: sessionFailureCodes.teamViewerCloseFailed, message: expect.stringMatching(/502/) });
    expect(world.audit.events.filter((e) => e.activity === "session.teamViewerSessionClosed").map((e) => e.result)).toEqual(["failure"]);
  });
});

describe("session.close when the audit log fails", () => {
  it("records the close at TeamViewer on the redelivery: an audit write that failed is not lost", async () => {
    // Prepare
    const s = await closedByAdmin();
    world.audit.failRecords();

    // Act: the first delivery closes at TeamViewer and fails on the audit write; Service Bus redelivers.
    await expect(world.worker().close(world.closeContext(s.id, "admin"))).rejects.toThrow(/audit log is unreachable/);
    await world.worker().close(world.closeContext(s.id, "admin", { deliveryCount: 2 }));

    // Assess
    expect(world.teamViewer.sessions[0].open).toBe(false);
    expect(world.session(s.id).teamViewer?.closedAt).not.toBeNull();
    expect(world.audit.events.filter((e) => e.target.id === s.id && e.activity === "session.teamViewerSessionClosed")).toEqual([
      expect.objectContaining({ result: "success" }),
    ]);
  });
});
