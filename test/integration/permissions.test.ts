// Permissions that must not leak, through the local host: tenant-wide permissions refuse
// scope tags, the audit log is for Intune administrators and tenant-wide ViewReports only,
// an idempotent replay is judged again, and a token with a groups overage is judged with
// the groups of the user's record.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { api, eventually, tokenFor } from "../support/api.js";
import { newTenant, onboard, type TestTenant } from "./connectorSupport.js";
import {
  closeOpenSessions,
  createDevices,
  envelope,
  eventuallySession,
  getSession,
  listSessions,
  managedDevice,
  requestSession,
  sendAutomationEvents,
} from "./sessionsSupport.js";

type Problem = { code?: string; errors?: { path: string; message: string }[] };

const putAssignment = (token: string, id: string, body: Record<string, unknown>) =>
  api<Problem & { id?: string }>(`/roleAssignments/${id}`, { method: "PUT", token, body });

describe("tenant-wide permissions in role assignments", () => {
  let tenant: TestTenant;
  beforeAll(async () => {
    tenant = await newTenant();
  });

  it.each(["RemoteAssistance.Update", "RemoteAssistance.ViewReports", "RemoteAssistance.Approve"])(
    "%s with scope tags is 400 validationFailed naming scopeTags, and stores nothing",
    async (permission) => {
      // Prepare
      const id = randomUUID();
      // Act
      const res = await putAssignment(tenant.admin, id, { principalId: randomUUID(), principalType: "group", permission, scopeTags: ["berlin"] });
      // Assess
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.body.code).toBe("validationFailed");
      expect(res.body.errors?.some((e) => e.path === "body.scopeTags")).toBe(true);
      const list = await api<{ value: { id: string }[] }>("/roleAssignments", { token: tenant.admin });
      expect(list.body.value.some((a) => a.id === id)).toBe(false);
    },
  );

  it.each(["RemoteAssistance.Update", "RemoteAssistance.ViewReports", "RemoteAssistance.Approve", "RemoteAssistance.Request"])(
    "%s tenant-wide is accepted (201)",
    async (permission) => {
      const res = await putAssignment(tenant.admin, randomUUID(), { principalId: randomUUID(), principalType: "user", permission, scopeTags: [] });
      expect(res.status).toBe(201);
    },
  );
});

describe("the audit log is tenant-wide data", () => {
  let tenant: TestTenant;
  const scopedGroup = randomUUID();
  const reportsUser = randomUUID();
  beforeAll(async () => {
    tenant = await newTenant();
    expect(
      (
        await putAssignment(tenant.admin, randomUUID(), {
          principalId: scopedGroup,
          principalType: "group",
          permission: "RemoteAssistance.Request",
          scopeTags: ["berlin"],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await putAssignment(tenant.admin, randomUUID(), {
          principalId: reportsUser,
          principalType: "user",
          permission: "RemoteAssistance.ViewReports",
          scopeTags: [],
        })
      ).status,
    ).toBe(201);
  });

  it.each([
    ["a scoped helper", { groups: [scopedGroup] }],
    ["RemoteAssistance.Request", { roles: ["RemoteAssistance.Request"] }],
    ["RemoteAssistance.Update", { roles: ["RemoteAssistance.Update"] }],
    ["RemoteAssistance.Approve", { roles: ["RemoteAssistance.Approve"] }],
    ["an end user", {}],
  ])("%s gets 403 forbidden", async (_who, claims) => {
    // Prepare
    const token = await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "Not a reader", ...claims });
    // Act
    const res = await api<Problem>("/auditEvents", { token });
    // Assess
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("forbidden");
  });

  it.each([
    ["the ViewReports app role", () => ({ oid: randomUUID(), roles: ["RemoteAssistance.ViewReports"] })],
    ["a tenant-wide ViewReports assignment", () => ({ oid: reportsUser })],
    ["Intune.Administrator", () => ({ oid: randomUUID(), roles: ["Intune.Administrator"] })],
  ])("%s reads it, its own tenant's events only", async (_who, claims) => {
    // Prepare
    const token = await tokenFor({ tid: tenant.tenantId, name: "Auditor", ...claims() });
    // Act
    const res = await api<{ value: { activity: string; target: { id: string } }[] }>("/auditEvents?activity=settings.update", { token });
    // Assess: newTenant's PATCH of allowUnlicensedAdmins is there
    expect(res.status).toBe(200);
    expect(res.body.value.some((e) => e.target.id === tenant.tenantId)).toBe(true);
    expect(res.body.value.every((e) => e.target.id === tenant.tenantId)).toBe(true);
  });
});

describe("re-checks on every request", () => {
  let tenant: TestTenant;
  const berlin = managedDevice({ roleScopeTagIds: ["berlin"] });
  beforeAll(async () => {
    tenant = await newTenant();
    await onboard(tenant);
    await createDevices(tenant.tenantId, tenant.admin, [berlin]);
  });

  async function helperWithAssignment(scopeTags: string[]): Promise<{ token: string; assignmentId: string; userId: string }> {
    const userId = randomUUID();
    const assignmentId = randomUUID();
    const put = await putAssignment(tenant.admin, assignmentId, {
      principalId: userId,
      principalType: "user",
      permission: "RemoteAssistance.Request",
      scopeTags,
    });
    expect(put.status).toBe(201);
    return { token: await tokenFor({ tid: tenant.tenantId, oid: userId, name: "Assigned helper" }), assignmentId, userId };
  }

  it("a replay after the permission was removed is 403, not the stored answer", async () => {
    // Prepare
    const helper = await helperWithAssignment([]);
    const key = randomUUID();
    const first = await requestSession(helper.token, berlin.id, { description: "replay" }, { "idempotency-key": key });
    expect(first.status).toBe(202);
    const replay = await requestSession(helper.token, berlin.id, { description: "replay" }, { "idempotency-key": key });
    expect(replay.status).toBe(202);
    expect(replay.body.id).toBe(first.body.id);
    expect((await api(`/roleAssignments/${helper.assignmentId}`, { method: "DELETE", token: tenant.admin })).status).toBe(204);
    // Act
    const after = await requestSession(helper.token, berlin.id, { description: "replay" }, { "idempotency-key": key });
    // Assess
    expect(after.status).toBe(403);
    expect(after.body.code).toBe("forbidden");
    expect(JSON.stringify(after.body)).not.toContain(first.body.id);
  });

  it("a replay after the device left the caller's scope is 403", async () => {
    // Prepare
    const helper = await helperWithAssignment(["berlin"]);
    await closeOpenSessions(tenant.admin, berlin.id);
    const key = randomUUID();
    const first = await requestSession(helper.token, berlin.id, {}, { "idempotency-key": key });
    expect(first.status).toBe(202);
    const narrowed = await putAssignment(tenant.admin, helper.assignmentId, {
      principalId: helper.userId,
      principalType: "user",
      permission: "RemoteAssistance.Request",
      scopeTags: ["paris"],
    });
    expect(narrowed.status).toBe(200);
    // Act
    const after = await requestSession(helper.token, berlin.id, {}, { "idempotency-key": key });
    // Assess
    expect(after.status).toBe(403);
    expect(after.body.code).toBe("forbidden");
  });
  it("a resend after inventory moved the device out of the caller's scope is 404 (403 for who still reads it), and pushes nothing", async () => {
    // Prepare: a berlin helper's session awaits the end user; then the device is re-tagged paris.
    // A second berlin helper also holds Update, so reads sessions tenant-wide.
    const helper = await helperWithAssignment(["berlin"]);
    const reader = await helperWithAssignment(["berlin"]);
    const readerToken = await tokenFor({ tid: tenant.tenantId, oid: reader.userId, name: "Assigned helper", roles: ["RemoteAssistance.Update"] });
    const device = managedDevice({ roleScopeTagIds: ["berlin"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const session = await requestSession(helper.token, device.id);
    expect(session.status, session.text).toBe(202);
    await eventuallySession(tenant.admin, session.body.id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
    await sendAutomationEvents([
      envelope("device.upserted", tenant.tenantId, { ...device, roleScopeTagIds: ["paris"], lastSyncDateTime: "2026-11-21T08:00:00Z" }),
    ]);
    await eventuallySession(tenant.admin, session.body.id, (s) => s.history.some((h) => h.detail?.includes("scope tags")), "the session to follow its device");

    // Act
    const resend = await api<Problem>(`/sessions/${session.body.id}/resendNotification`, { method: "POST", token: helper.token });
    const byReader = await api<Problem>(`/sessions/${session.body.id}/resendNotification`, { method: "POST", token: readerToken });
    const byAdmin = await api<Problem>(`/sessions/${session.body.id}/resendNotification`, { method: "POST", token: tenant.admin });

    // Assess: the helpers may no longer reach the device's user (the session left the first one's
    // scope: not found; the second still reads it, but may not request there); an admin still may
    expect(resend.status, resend.text).toBe(404);
    expect(resend.body.code).toBe("notFound");
    expect(byReader.status, byReader.text).toBe(403);
    expect(byReader.body.code).toBe("forbidden");
    expect(byAdmin.status, byAdmin.text).toBe(202);
    const after = await getSession(tenant.admin, session.body.id);
    expect(after.body.history.filter((h) => h.detail?.startsWith("Notification resent by")).map((h) => h.detail)).toEqual([
      "Notification resent by Tenant Admin.",
    ]);
  });
});

describe("a session's scope follows its device", () => {
  let tenant: TestTenant;
  const scopedHelper = async (scopeTags: string[]): Promise<string> => {
    const userId = randomUUID();
    const put = await putAssignment(tenant.admin, randomUUID(), {
      principalId: userId,
      principalType: "user",
      permission: "RemoteAssistance.Request",
      scopeTags,
    });
    expect(put.status).toBe(201);
    return tokenFor({ tid: tenant.tenantId, oid: userId, name: `Helper in ${scopeTags.join(", ")}` });
  };
  const retag = (device: Record<string, unknown>, roleScopeTagIds: string[]) =>
    sendAutomationEvents([envelope("device.upserted", tenant.tenantId, { ...device, roleScopeTagIds })]);
  /** A helper of berlin and one of paris, and a session the berlin helper requested for a berlin device. */
  const berlinSession = async () => {
    const [berlinHelper, parisHelper] = await Promise.all([scopedHelper(["berlin"]), scopedHelper(["paris"])]);
    const device = managedDevice({ roleScopeTagIds: ["berlin"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const requested = await requestSession(berlinHelper, device.id);
    expect(requested.status, requested.text).toBe(202);
    return { berlinHelper, parisHelper, device, id: requested.body.id };
  };
  beforeAll(async () => {
    tenant = await newTenant();
    await onboard(tenant);
  });

  it("an open session moved by inventory from berlin to paris is gone for berlin's helper (404) and readable by paris's", async () => {
    // Prepare: a berlin helper's session, accepted by the device's user (the supporter link takes control)
    const { berlinHelper, parisHelper, device, id } = await berlinSession();
    await eventuallySession(tenant.admin, id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
    const user = await tokenFor({ tid: tenant.tenantId, oid: String(device.userId), name: "Device User" });
    expect((await api(`/me/remoteAssistanceRequests/${id}/accept`, { method: "POST", token: user })).status).toBe(200);

    // Act: the inventory moves the device to paris
    await retag(device, ["paris"]);
    const forParis = await eventually(
      async () => {
        const res = await getSession(parisHelper, id);
        return res.status === 200 ? res.body : undefined;
      },
      20_000,
      "paris's helper to read the session",
    );

    // Assess: the session is paris's now, supporter link and all; berlin's helper cannot read, list or close it
    expect(forParis.status).toBe("accepted");
    expect(forParis.teamViewer?.supporterLink).toBeTruthy();
    const read = await getSession(berlinHelper, id);
    expect(read.status, read.text).toBe(404);
    expect(read.text).not.toContain(forParis.teamViewer!.supporterLink);
    expect((await listSessions(berlinHelper, `&deviceId=${device.id}`)).map((s) => s.id)).toEqual([]);
    expect((await listSessions(parisHelper, `&deviceId=${device.id}`)).map((s) => s.id)).toEqual([id]);
    const close = await api<Problem>(`/sessions/${id}/close`, { method: "POST", token: berlinHelper });
    expect(close.status, close.text).toBe(404);
    expect((await getSession(tenant.admin, id)).body.status).toBe("accepted");
  });

  it("a closed session keeps the scope tags it had: its history stays with the scope that helped", async () => {
    // Prepare: a berlin helper's session, closed
    const { berlinHelper, parisHelper, device, id } = await berlinSession();
    expect((await api(`/sessions/${id}/close`, { method: "POST", token: berlinHelper })).status).toBe(202);

    // Act: the device moves to paris, and a new session is requested for it there
    await retag(device, ["paris"]);
    await eventually(async () => ((await api(`/devices/${device.id}`, { token: parisHelper })).status === 200 ? true : undefined));
    const second = await requestSession(parisHelper, device.id);
    expect(second.status, second.text).toBe(202);

    // Assess
    expect((await getSession(berlinHelper, id)).status).toBe(200);
    expect((await getSession(parisHelper, id)).status).toBe(404);
    expect((await listSessions(parisHelper, `&deviceId=${device.id}`)).map((s) => s.id)).toEqual([second.body.id]);
  });
});

describe("groups overage", () => {
  it("a token with hasgroups is judged with the groups of the user's record", async () => {
    // Prepare: a group assignment, a device in its scope, a user whose token lists no groups
    const tenant = await newTenant();
    const group = randomUUID();
    const userId = randomUUID();
    const device = managedDevice({ roleScopeTagIds: ["berlin"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    expect(
      (
        await putAssignment(tenant.admin, randomUUID(), {
          principalId: group,
          principalType: "group",
          permission: "RemoteAssistance.Request",
          scopeTags: ["berlin"],
        })
      ).status,
    ).toBe(201);
    const overage = await tokenFor({ tid: tenant.tenantId, oid: userId, name: "Many groups", hasgroups: true });
    const listedNone = await tokenFor({ tid: tenant.tenantId, oid: userId, name: "Many groups", groups: [] });
    const before = await api<Problem>(`/devices/${device.id}`, { token: overage });

    // Act: the platform's sync says which groups the user is in
    await sendAutomationEvents([
      envelope("user.upserted", tenant.tenantId, {
        id: userId,
        userPrincipalName: "many@contoso.example",
        displayName: "Many groups",
        mail: null,
        intuneLicensed: true,
        groups: [group],
      }),
    ]);

    // Assess
    expect(before.status).toBe(403);
    const after = await eventually(async () => {
      const res = await api<{ id?: string }>(`/devices/${device.id}`, { token: overage });
      return res.status === 200 ? res : undefined;
    });
    expect(after.body.id).toBe(device.id);
    // A token that lists its groups is judged by them alone, record or not.
    expect((await api<Problem>(`/devices/${device.id}`, { token: listedNone })).status).toBe(403);
    // The audit log stays closed: the record grants only what the assignment says.
    expect((await api<Problem>("/auditEvents", { token: overage })).status).toBe(403);
  });
});

describe("groups overage, a user in many groups", () => {
  it("keeps a user.upserted with as many groups as the contract allows, and judges an overage token by them", async () => {
    // Prepare: the user is in 2,000 groups (an overage token names none of them); the
    // assignment is for the last one
    const tenant = await newTenant();
    const groups = Array.from({ length: 2_000 }, () => randomUUID());
    const userId = randomUUID();
    const device = managedDevice({ roleScopeTagIds: ["berlin"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const assigned = await putAssignment(tenant.admin, randomUUID(), {
      principalId: groups[groups.length - 1],
      principalType: "group",
      permission: "RemoteAssistance.Request",
      scopeTags: ["berlin"],
    });
    const overage = await tokenFor({ tid: tenant.tenantId, oid: userId, name: "Many groups", hasgroups: true });

    // Act
    await sendAutomationEvents([
      envelope("user.upserted", tenant.tenantId, {
        id: userId,
        userPrincipalName: "many@contoso.example",
        displayName: "Many groups",
        mail: null,
        intuneLicensed: true,
        groups,
      }),
    ]);

    // Assess
    expect(assigned.status).toBe(201);
    const after = await eventually(async () => {
      const res = await api<{ id?: string }>(`/devices/${device.id}`, { token: overage });
      return res.status === 200 ? res : undefined;
    });
    expect(after.body.id).toBe(device.id);
  });
});
