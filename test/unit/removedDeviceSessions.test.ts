// A device removed from management loses its open session: the sessions area's side of
// device.removed, at its ports (in-memory tables, Service Bus and TeamViewer; a manual clock).
import { beforeEach, describe, expect, it } from "vitest";
import { messageTypes } from "../../shared/contracts/messages.js";
import { RemovedDeviceSessions } from "../../shared/app/sessions/removedDevices.js";
import { dataOf, SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

let world: SessionWorkerWorld;
let removed: RemovedDeviceSessions;
beforeEach(() => {
  world = new SessionWorkerWorld();
  removed = new RemovedDeviceSessions({ writer: world.writer, audit: world.audit, clock: world.clock });
});

const closeOpen = (deviceId: string, eventId = "event-1") => removed.closeOpen(tenantId, deviceId, { eventId, log: world.log });

describe("closing a removed device's open session", () => {
  it("closes a session open at TeamViewer there too, and takes it out of the end user's inbox", async () => {
    // Prepare: a session awaiting the end user
    const s = await world.request();
    await world.worker().create(world.createContext(s.id));
    expect(await world.inbox.list(tenantId, "u1")).toHaveLength(1);

    // Act
    await closeOpen(s.deviceId);
    const [close] = world.messages(s.id, messageTypes.sessionClose);
    await world.worker().close(world.closeContext(s.id, dataOf(close).reason!));

    // Assess
    const after = world.session(s.id);
    expect(after).toMatchObject({ status: "closed", closeReason: "deviceRemoved", closedBy: { type: "system" } });
    expect(after.history.map((h) => h.detail)).toContain("Closed because the device was removed from management.");
    expect(world.teamViewer.sessions[0].open).toBe(false);
    expect(await world.inbox.list(tenantId, "u1")).toEqual([]);
    const audited = world.audit.events.filter((e) => e.activity === "session.closed" && e.target.id === s.id);
    expect(audited).toHaveLength(1);
    expect(audited[0].detail).toContain("device was removed from management (event event-1; was awaitingEndUser)");
  });

  it("closes a request waiting for approval with nothing sent to TeamViewer", async () => {
    // Prepare
    const s = await world.request({ status: "pendingApproval", approval: { required: true, decision: null } });

    // Act
    await closeOpen(s.deviceId);

    // Assess
    expect(world.session(s.id).status).toBe("closed");
    expect(world.messages(s.id, messageTypes.sessionClose)).toEqual([]);
  });

  it("closes once however often the removal comes, and leaves other devices' sessions and ended sessions alone", async () => {
    // Prepare: the device's session, and another device's
    const s = await world.request();
    world.clock.advance(1);
    const other = await world.request();

    // Act: the removal and its redelivery
    await closeOpen(s.deviceId);
    await closeOpen(s.deviceId);

    // Assess
    expect(world.session(s.id).status).toBe("closed");
    expect(world.session(other.id).status).toBe("requested");
    expect(world.audit.events.filter((e) => e.activity === "session.closed")).toHaveLength(1);
  });
});
