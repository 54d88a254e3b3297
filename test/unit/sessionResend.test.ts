// POST /api/sessions/{id}/resendNotification is refused with the reason that applies: a
// session that has ended cannot be resent whatever happened to its device since, so the
// answer says it ended, not that the device changed (which would tell the admin to close
// a session that is already closed, or answer 403 for a device that moved out of scope).
import { beforeEach, describe, expect, it } from "vitest";
import { Access } from "../../shared/app/access.js";
import { SessionAdministration } from "../../shared/app/sessions/sessionAdministration.js";
import { SessionExpiry } from "../../shared/app/sessions/expiry.js";
import { appRoles, type UserCaller } from "../../shared/domain/caller.js";
import type { Device } from "../../shared/domain/device.js";
import { applyEvent, type Session } from "../../shared/domain/session.js";
import { errorCodes } from "../../shared/domain/errors.js";
import type { RoleAssignment } from "../../shared/domain/permissions.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const admin: UserCaller = { type: "user", tenantId, userId: "admin-1", displayName: "Admin", roles: ["Intune.Administrator"], groups: [] };

let world: SessionWorkerWorld;
/** The device as the inventory has it now, by id. */
let inventory: Map<string, Device>;
let administration: SessionAdministration;
/** A help desk user whose Request Remote Assistance covers scope tag "0" only. */
const helper: UserCaller = { type: "user", tenantId, userId: "helper-1", displayName: "Helper", roles: [], groups: [] };
const helperScope: RoleAssignment = { id: "ra-1", principalId: helper.userId, principalType: "user", permission: appRoles.request, scopeTags: ["0"] };

beforeEach(() => {
  world = new SessionWorkerWorld();
  inventory = new Map();
  const assignments = { list: async () => [helperScope], get: async () => undefined, put: async () => ({ created: true }), delete: async () => false };
  administration = new SessionAdministration({
    writer: world.writer,
    access: new Access(assignments, { get: async () => undefined }),
    devices: { get: async (_tenantId, id) => inventory.get(id) },
    expiry: new SessionExpiry({ writer: world.writer, audit: world.audit, clock: world.clock }),
    audit: world.audit,
    clock: world.clock,
    resendMinIntervalSeconds: 60,
  });
});

/** The device of `s` as the inventory has it now: given to `userId`, with `scopeTags`. */
function deviceNow(s: Session, userId: string, scopeTags: string[] = s.device.scopeTags.slice()): void {
  inventory.set(s.deviceId, {
    tenantId,
    id: s.deviceId,
    deviceName: s.device.deviceName,
    operatingSystem: "Windows",
    osVersion: "10.0",
    managedDeviceOwnerType: "company",
    deviceEnrollmentType: "windowsAzureADJoin",
    roleScopeTagIds: scopeTags,
    removed: false,
    updatedAt: world.clock.now().toISOString(),
    userId,
  });
}

describe("resending the notification of a session that ended", () => {
  it("is refused because it ended, even when its device has been given to another user since", async () => {
    // Prepare: a session closed by its admin; then the inventory gives the device to someone else
    const s = await world.request();
    await world.writer.change(tenantId, s.id, (cur) => ({ next: { ...applyEvent(cur, "close", world.clock.now()), closeReason: "admin" } }), world.log);
    deviceNow(s, "someone-else");

    // Act
    const resend = administration.resendNotification(admin, s.id, { correlationId: "corr-1", log: world.log });

    // Assess: the reason that applies, not "close this session"
    await expect(resend).rejects.toMatchObject({ code: errorCodes.conflict, detail: expect.stringMatching(/it is closed/) });
    expect(world.audit.activities(tenantId)).not.toContain("session.notificationResent");
  });

  it("is refused because it ended (409), not for scope, when its device has left every scope the caller has", async () => {
    // Prepare: a closed session whose device the inventory moved to another scope tag
    const s = await world.request();
    await world.writer.change(tenantId, s.id, (cur) => ({ next: { ...applyEvent(cur, "close", world.clock.now()), closeReason: "admin" } }), world.log);
    deviceNow(s, s.endUser!.id, ["elsewhere"]);

    // Act
    const resend = administration.resendNotification(helper, s.id, { correlationId: "corr-2", log: world.log });

    // Assess
    await expect(resend).rejects.toMatchObject({ code: errorCodes.conflict, detail: expect.stringMatching(/it is closed/) });
  });
});

describe("resending the notification of a session awaiting its end user", () => {
  it("is still refused when its device has been given to another user since", async () => {
    // Prepare: a session awaiting the device's user; then the inventory gives the device to someone else
    const s = await world.request();
    await world.worker().create(world.createContext(s.id));
    expect(world.session(s.id).status).toBe("awaitingEndUser");
    deviceNow(s, "someone-else");

    // Act
    const resend = administration.resendNotification(admin, s.id, { correlationId: "corr-3", log: world.log });

    // Assess
    await expect(resend).rejects.toMatchObject({ code: errorCodes.conflict, detail: expect.stringMatching(/another primary user/) });
  });
});
