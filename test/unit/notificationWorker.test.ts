// notification.send against a newer push: a stale message's last failing delivery must not
// undo a push that a later resend delivered (the dead-letter handler keeps `sent` too).
// In-memory ports (test/support/sessionWorkerHarness.ts); the worker against the emulators is
// in the sessions integration tests.
import { describe, expect, it } from "vitest";
import { NotificationWorker } from "../../shared/app/sessions/notificationWorker.js";
import { sessionMessageIds } from "../../shared/app/sessions/sessionMessages.js";
import { resentNotification, type Session } from "../../shared/domain/session.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

/** A request whose first push (from session.create) failed, so notification.send #0 (`first`) is queued. */
async function firstPushFailed(): Promise<{ world: SessionWorkerWorld; s: Session; first: string }> {
  const world = new SessionWorkerWorld();
  const s = await world.request();
  world.push.failNext(new Error("hub down"));
  await world.worker().create(world.createContext(s.id));
  return { world, s, first: sessionMessageIds.notification(s.id, world.session(s.id).endUserNotification.dispatches) };
}

describe("notification.send", () => {
  it("leaves a push recorded as sent alone when an older message's last delivery fails", async () => {
    // Prepare: the first push (from session.create) fails, so notification.send #0 is queued;
    // an admin's resend is then pushed and recorded as sent.
    const { world, s, first } = await firstPushFailed();
    const worker = new NotificationWorker({ writer: world.writer, push: world.push, devices: world.devices, audit: world.audit, clock: world.clock });
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
  it("does not push a retried first notification to a user the device was taken from meanwhile", async () => {
    // Prepare: the first push failed, then the inventory gave the device to someone else.
    const { world, s, first } = await firstPushFailed();
    world.reassignedDevices.set(s.deviceId, "someone-else");
    const worker = new NotificationWorker({ writer: world.writer, push: world.push, devices: world.devices, audit: world.audit, clock: world.clock });

    // Act
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 1, messageId: first, log: world.log });

    // Assess: nobody pushed, and the message is done with (not thrown back for redelivery).
    expect(world.push.pushed).toEqual([]);
    expect(world.logs.lines.some((l) => /another primary user.*not pushed/.test(l.line))).toBe(true);
  });

  it("pushes once when the same message is delivered again after its push was recorded as sent", async () => {
    // Prepare: the first push (from session.create) fails, so notification.send #0 is queued and handled.
    const { world, s, first } = await firstPushFailed();
    const worker = new NotificationWorker({ writer: world.writer, push: world.push, devices: world.devices, audit: world.audit, clock: world.clock });
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 1, messageId: first, log: world.log });
    expect(world.push.pushed).toHaveLength(1);

    // Act: Service Bus delivers it again (its lock ran out before it was completed).
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 2, messageId: first, log: world.log });

    // Assess: the user got one push; the audit entry is recorded at least once (again by the
    // redelivery, which cannot tell a lock that ran out from an audit write that failed).
    expect(world.push.pushed).toHaveLength(1);
    expect(world.audit.events.filter((e) => e.target.id === s.id && e.activity === "session.notificationSent" && e.result === "success")).toHaveLength(2);
  });

  it("pushes for each of two resends made at the same moment; a redelivery of the one that made it sent pushes nothing", async () => {
    // Prepare: a request notified by session.create, then two resends before either message is handled.
    const world = new SessionWorkerWorld();
    const s = await world.request();
    await world.worker().create(world.createContext(s.id));
    expect(world.push.pushed).toHaveLength(1);
    for (let i = 0; i < 2; i++) {
      await world.writer.change(
        tenantId,
        s.id,
        (cur) => ({ next: { ...cur, endUserNotification: resentNotification(cur.endUserNotification, world.clock.now()) } }),
        world.log,
      );
    }
    const [one, two] = [1, 2].map((d) => sessionMessageIds.notification(s.id, d));
    const worker = new NotificationWorker({ writer: world.writer, push: world.push, devices: world.devices, audit: world.audit, clock: world.clock });

    // Act: both messages, then the first again.
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 1, messageId: one, log: world.log });
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 1, messageId: two, log: world.log });
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 2, messageId: one, log: world.log });

    // Assess: the first push and one per resend. Only the dispatch that made the notification
    // sent is recorded (the second found it sent and wrote nothing: no race for the row).
    expect(world.push.pushed).toHaveLength(3);
    expect(world.session(s.id).endUserNotification).toMatchObject({ status: "sent", pushedDispatches: [1] });
  });

  it("audits the push when the same message is delivered again after only the audit write failed", async () => {
    // Prepare: notification.send #0 is queued (the first push failed); its push and session
    // write get through, its audit write fails, so Service Bus delivers it again.
    const { world, s, first } = await firstPushFailed();
    const record = world.audit.record.bind(world.audit);
    let failAudit = true;
    world.audit.record = async (e) => {
      if (failAudit && e.activity === "session.notificationSent") {
        failAudit = false;
        throw new Error("audit write failed");
      }
      await record(e);
    };
    const worker = new NotificationWorker({ writer: world.writer, push: world.push, devices: world.devices, audit: world.audit, clock: world.clock });
    await expect(worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 1, messageId: first, log: world.log })).rejects.toThrow(
      "audit write failed",
    );

    // Act: the redelivery.
    await worker.send({ tenantId, sessionId: s.id, userId: "u1", deliveryCount: 2, messageId: first, log: world.log });

    // Assess: one push, and the audit log tells of it.
    expect(world.push.pushed).toHaveLength(1);
    expect(world.audit.events.filter((e) => e.target.id === s.id && e.activity === "session.notificationSent" && e.result === "success")).toHaveLength(1);
  });
});
