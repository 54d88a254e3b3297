// notification.send against a newer push: a stale message's last failing delivery must not
// undo a push that a later resend delivered (the dead-letter handler keeps `sent` too).
// In-memory ports (test/support/sessionWorkerHarness.ts); the worker against the emulators is
// in the sessions integration tests.
import { describe, expect, it } from "vitest";
import { NotificationWorker } from "../../shared/app/sessions/notificationWorker.js";
import { sessionMessageIds } from "../../shared/app/sessions/sessionMessages.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

describe("notification.send", () => {
  it("leaves a push recorded as sent alone when an older message's last delivery fails", async () => {
    // Prepare: the first push (from session.create) fails, so notification.send #0 is queued;
    // an admin's resend is then pushed and recorded as sent.
    const world = new SessionWorkerWorld();
    const s = await world.request();
    world.push.failNext(new Error("hub down"));
    await world.worker().create(world.createContext(s.id));
    const first = sessionMessageIds.notification(s.id, world.session(s.id).endUserNotification.dispatches);
    const worker = new NotificationWorker({ writer: world.writer, push: world.push, audit: world.audit, clock: world.clock });
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 1, messageId: "resend-1", log: world.log });
    expect(world.session(s.id).endUserNotification.status).toBe("sent");

    // Act: message #0's last delivery fails.
    world.push.failNext(new Error("hub timeout"));
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 3, messageId: first, log: world.log });

    // Assess: the user was notified; the session says so, with no push-failed warning.
    const after = world.session(s.id);
    expect(after.endUserNotification.status).toBe("sent");
    expect(after.warnings).toEqual(s.warnings);
  });
});
