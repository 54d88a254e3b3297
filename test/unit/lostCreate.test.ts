// A create that lands at TeamViewer after the request was closed and after the closing
// worker looked for it: the message's next delivery asks for the close again, after
// TeamViewer's timeout, and the closing worker then finds and closes it (lostCreate.ts).
// In-memory ports (test/support/sessionWorkerHarness.ts).
import { describe, expect, it } from "vitest";
import { lostCreateNote } from "../../shared/app/sessions/lostCreate.js";
import { sessionCloseEntry, sessionMessageIds } from "../../shared/app/sessions/sessionMessages.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { systemActor } from "../../shared/domain/caller.js";
import { applyEvent } from "../../shared/domain/session.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

/** The id of the second close a later delivery of the request's session.create asks for. */
const afterCreateCloseId = (sessionId: string): string => sessionMessageIds.close(sessionId, `after-create|${sessionMessageIds.create(sessionId)}`);

/** The admin closes the request through the writer (as the HTTP close does) and session.close runs. */
async function adminCloses(world: SessionWorkerWorld, sessionId: string): Promise<void> {
  await world.writer.change(
    tenantId,
    sessionId,
    (cur) => {
      const now = world.clock.now();
      return {
        next: { ...applyEvent(cur, "close", now, "Closed by an admin."), closedBy: systemActor, closeReason: "admin" },
        outbox: [sessionCloseEntry(cur, { reason: "admin" }, { now, correlationId: undefined })],
      };
    },
    world.log,
  );
  await world.worker().close(world.closeContext(sessionId, "admin"));
}

describe("a create under way when the request ends", () => {
  it("is looked up again after the timeout and closed, when TeamViewer finished it after the close looked", async () => {
    // Prepare: while the first delivery's create is at TeamViewer, the admin closes the request and
    // session.close looks TeamViewer up too early to see it; the create then times out at the client.
    const world = new SessionWorkerWorld();
    const s = await world.requestReserved();
    const worker = world.worker();
    world.teamViewer.onCreated = async (created) => {
      world.teamViewer.onCreated = undefined;
      created.open = false; // not listed yet
      await adminCloses(world, s.id);
      created.open = true;
      throw new TeamViewerError("timeout", "POST /api/v1/sessions: no answer within 15000 ms");
    };
    await expect(worker.create(world.createContext(s.id))).rejects.toThrow();
    expect(world.teamViewer.sessions.filter((x) => x.open)).toHaveLength(1);

    // Act: the message's second delivery, then the close it asked for.
    await worker.create(world.createContext(s.id, { deliveryCount: 2 }));
    const again = world.messages(s.id, "session.close").filter((m) => m.id === afterCreateCloseId(s.id));
    await worker.close(world.closeContext(s.id, "failed", { messageId: again[0]?.id }));

    // Assess: no TeamViewer session left open, one more close asked for, after the timeout; noted on the session.
    expect(again).toHaveLength(1);
    expect(again[0].notBefore!.getTime()).toBeGreaterThan(world.clock.now().getTime());
    expect(world.teamViewer.sessions.filter((x) => x.open)).toHaveLength(0);
    expect(world.session(s.id).status).toBe("closed");
    expect(world.session(s.id).history.some((h) => h.detail === lostCreateNote)).toBe(true);
  });

  it("asks nothing more when the request ended before any delivery called TeamViewer", async () => {
    // Prepare: closed while its session.create (with the reserved claim) was still queued.
    const world = new SessionWorkerWorld();
    const s = await world.requestReserved();
    await adminCloses(world, s.id);
    const lookups = world.teamViewer.callsOf("findOpenSessionByCustomApi");

    // Act: the first delivery, and a second (say the first's settlement was lost).
    await world.worker().create(world.createContext(s.id));
    await world.worker().create(world.createContext(s.id, { deliveryCount: 2 }));

    // Assess
    expect(world.messages(s.id, "session.close").filter((m) => m.id === afterCreateCloseId(s.id))).toEqual([]);
    expect(world.teamViewer.callsOf("createSession")).toBe(0);
    expect(world.teamViewer.callsOf("findOpenSessionByCustomApi")).toBe(lookups);
  });
});
