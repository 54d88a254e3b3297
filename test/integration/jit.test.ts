// Just-in-time remote assistance against the whole local stack: the tenant's ticket rule,
// Intune's compliance state and its acknowledgement, and one open session per device
// (also when many requests race for one device).
import { describe, expect, it } from "vitest";
import type { SessionResource } from "../../shared/contracts/sessions.js";
import { randomUUID } from "node:crypto";
import { api, tokenFor } from "../support/api.js";
import { auditEvents, newTenant, onboard } from "./connectorSupport.js";
import { createDevices, envelope, eventuallySession, listSessions, managedDevice, requestSession, sendAutomationEvents } from "./sessionsSupport.js";
import { eventually } from "../support/api.js";

type Problem = { code?: string; existingSessionId?: string; warnings?: string[]; errors?: { path: string; message: string }[] };

async function tenantWith(devices: Record<string, unknown>[]) {
  const tenant = await newTenant();
  await onboard(tenant);
  await createDevices(tenant.tenantId, tenant.admin, devices);
  return tenant;
}

const close = (token: string, id: string) => api<SessionResource>(`/sessions/${id}/close`, { method: "POST", token });

describe("settings", () => {
  it("keeps requireTicketId, approvalRequiredScopeTags and approvalTimeoutMinutes, and refuses bad values", async () => {
    // Prepare
    const tenant = await newTenant();

    // Act
    const patched = await api("/settings", {
      method: "PATCH",
      token: tenant.admin,
      body: { requireTicketId: true, approvalRequiredScopeTags: ["vip", "finance", "vip"], approvalTimeoutMinutes: 15 },
    });
    const read = await api<Record<string, unknown>>("/settings", { token: tenant.admin });
    const tooLong = await api<Problem>("/settings", { method: "PATCH", token: tenant.admin, body: { approvalTimeoutMinutes: 1441 } });
    const badTag = await api<Problem>("/settings", { method: "PATCH", token: tenant.admin, body: { approvalRequiredScopeTags: ["a/b"] } });

    // Assess
    expect(patched.status, patched.text).toBe(200);
    expect(read.body).toMatchObject({ requireTicketId: true, approvalRequiredScopeTags: ["vip", "finance"], approvalTimeoutMinutes: 15 });
    expect(tooLong.status).toBe(400);
    expect(badTag.status).toBe(400);
    expect((await api<Record<string, unknown>>("/settings", { token: tenant.admin })).body).toMatchObject({ approvalTimeoutMinutes: 15 });
  });

  it("takes for approval every scope tag a role assignment can be scoped to", async () => {
    // Prepare: help desk scoped to a tag with an underscore, which role assignments accept.
    const device = managedDevice({ roleScopeTagIds: ["eu_finance"] });
    const tenant = await tenantWith([device]);
    const scopedId = randomUUID();
    const scoped = await tokenFor({ tid: tenant.tenantId, oid: scopedId, name: "EU Help Desk", roles: [] });
    const assigned = await api(`/roleAssignments/${randomUUID()}`, {
      method: "PUT",
      token: tenant.admin,
      body: { principalId: scopedId, principalType: "user", permission: "RemoteAssistance.Request", scopeTags: ["eu_finance"] },
    });

    // Act
    const patched = await api<Problem>("/settings", { method: "PATCH", token: tenant.admin, body: { approvalRequiredScopeTags: ["eu_finance"] } });
    const requested = await requestSession(scoped, device.id);

    // Assess
    expect(assigned.status, assigned.text).toBe(201);
    expect(patched.status, patched.text).toBe(200);
    expect(requested.status, requested.text).toBe(202);
    expect(requested.body.status).toBe("pendingApproval");
  });
});

describe("ticket ids", () => {
  it("refuses a request without a ticket when the tenant requires one, and stores, shows and audits the one given", async () => {
    // Prepare
    const device = managedDevice();
    const tenant = await tenantWith([device]);
    await api("/settings", { method: "PATCH", token: tenant.admin, body: { requireTicketId: true } });

    // Act
    const without = await requestSession(tenant.helpdesk, device.id, { description: "printer" });
    const blank = await requestSession(tenant.helpdesk, device.id, { ticketId: "   " });
    const tooLong = await requestSession(tenant.helpdesk, device.id, { ticketId: "x".repeat(65) });
    const withTicket = await requestSession(tenant.helpdesk, device.id, { ticketId: " INC0012345 " });

    // Assess
    expect(without.status, without.text).toBe(400);
    expect((without.body as Problem).errors).toEqual([{ path: "body.ticketId", message: "required by this tenant" }]);
    expect(blank.status).toBe(400);
    expect(tooLong.status).toBe(400);
    expect(withTicket.status, withTicket.text).toBe(202);
    expect(withTicket.body.ticketId).toBe("INC0012345");
    expect((await api<SessionResource>(`/sessions/${withTicket.body.id}`, { token: tenant.admin })).body.ticketId).toBe("INC0012345");
    const audit = (await auditEvents(tenant.admin, "session.requested")).filter((e) => e.result === "success");
    expect(audit.map((e) => e.detail)).toEqual([expect.stringContaining("ticket INC0012345")]);
    expect((await listSessions(tenant.admin)).length).toBe(1);
  });

  it("carries the ticket of remoteAssistance.requested, and fails such a request without one where tickets are required", async () => {
    // Prepare
    const [withTicket, without] = [managedDevice(), managedDevice()];
    const tenant = await tenantWith([withTicket, without]);
    await api("/settings", { method: "PATCH", token: tenant.admin, body: { requireTicketId: true } });
    const requestedBy = { id: tenant.adminId, displayName: "ITSM" };

    // Act
    await sendAutomationEvents([
      envelope("remoteAssistance.requested", tenant.tenantId, { deviceId: withTicket.id, ticketId: "CHG-42", requestedBy }),
      envelope("remoteAssistance.requested", tenant.tenantId, { deviceId: without.id, requestedBy }),
    ]);

    // Assess
    const sessions = await eventually(
      async () => {
        const all = await listSessions(tenant.admin);
        return all.length === 2 ? all : undefined;
      },
      30_000,
      "both automation requests to be recorded",
    );
    expect(sessions.find((s) => s.deviceId === withTicket.id)).toMatchObject({ ticketId: "CHG-42" });
    expect(sessions.find((s) => s.deviceId === without.id)).toMatchObject({ status: "failed", ticketId: null, failure: { code: "ticketIdRequired" } });
  });
});

describe("compliance", () => {
  it("shows Graph's complianceState on the device and in the list, keeping values Graph does not define", async () => {
    // Prepare
    const devices = [managedDevice({ complianceState: "noncompliant" }), managedDevice({ complianceState: "quarantined" }), managedDevice()];
    const tenant = await tenantWith(devices);

    // Act
    const one = await api<{ complianceState: string | null }>(`/devices/${devices[0].id}`, { token: tenant.admin });
    const list = await api<{ value: { id: string; complianceState: string | null }[] }>("/devices?top=100", { token: tenant.admin });

    // Assess
    expect(one.body.complianceState).toBe("noncompliant");
    const byId = new Map(list.body.value.map((d) => [d.id, d.complianceState]));
    expect(devices.map((d) => byId.get(d.id))).toEqual(["noncompliant", "quarantined", null]);
  });

  it("asks for an acknowledgement for a device that is not compliant, and records the one given", async () => {
    // Prepare
    const [noncompliant, unknownValue, unknown, silent] = [
      managedDevice({ complianceState: "noncompliant" }),
      managedDevice({ complianceState: "quarantined" }),
      managedDevice({ complianceState: "unknown" }),
      managedDevice(),
    ];
    const tenant = await tenantWith([noncompliant, unknownValue, unknown, silent]);

    // Act
    const refused = await requestSession(tenant.helpdesk, noncompliant.id);
    const refusedUndefined = await requestSession(tenant.helpdesk, unknownValue.id);
    const acknowledged = await requestSession(tenant.helpdesk, noncompliant.id, { acknowledgeWarnings: ["deviceNotCompliant"] });
    const unknownState = await requestSession(tenant.helpdesk, unknown.id);
    const noState = await requestSession(tenant.helpdesk, silent.id);
    const badWarning = await requestSession(tenant.helpdesk, silent.id, { acknowledgeWarnings: ["everything"] });

    // Assess
    expect(refused.status, refused.text).toBe(409);
    expect(refused.body as Problem).toMatchObject({ code: "acknowledgementRequired", warnings: ["deviceNotCompliant"] });
    expect(refusedUndefined.status).toBe(409);
    expect(acknowledged.status, acknowledged.text).toBe(202);
    expect(acknowledged.body.acknowledgedWarnings).toEqual(["deviceNotCompliant"]);
    expect(unknownState.status).toBe(202);
    expect(unknownState.body.acknowledgedWarnings).toEqual([]);
    expect(noState.status).toBe(202);
    expect(badWarning.status).toBe(400);
    const audit = await auditEvents(tenant.admin, "session.requested");
    expect(audit.filter((e) => e.target.id === acknowledged.body.id).map((e) => e.detail)).toEqual([
      expect.stringContaining("acknowledged: deviceNotCompliant"),
    ]);
    expect(audit.filter((e) => e.result === "failure" && e.detail?.startsWith("acknowledgementRequired")).length).toBe(2);
  });
});

describe("one open session per device", () => {
  it("answers 20 concurrent requests for one device with one session and 19 conflicts naming it", async () => {
    // Prepare
    const device = managedDevice();
    const tenant = await tenantWith([device]);

    // Act
    const answers = await Promise.all(Array.from({ length: 20 }, () => requestSession(tenant.helpdesk, device.id)));

    // Assess
    const created = answers.filter((a) => a.status === 202);
    const conflicts = answers.filter((a) => a.status === 409);
    expect(created.length, answers.map((a) => `${a.status} ${a.text.slice(0, 200)}`).join("\n")).toBe(1);
    expect(conflicts.length).toBe(19);
    for (const c of conflicts) expect(c.body as Problem).toMatchObject({ code: "conflict", existingSessionId: created[0].body.id });
    expect((await listSessions(tenant.admin, `&deviceId=${device.id}`)).map((s) => s.id)).toEqual([created[0].body.id]);
  });

  it("lets the device be helped again once its session is closed", async () => {
    // Prepare
    const device = managedDevice();
    const tenant = await tenantWith([device]);
    const first = await requestSession(tenant.helpdesk, device.id);
    await eventuallySession(tenant.admin, first.body.id, (s) => s.status === "awaitingEndUser", "the first session to await the end user");
    const busy = await requestSession(tenant.helpdesk, device.id);

    // Act
    const closed = await close(tenant.helpdesk, first.body.id);
    const second = await requestSession(tenant.helpdesk, device.id);

    // Assess
    expect(busy.status).toBe(409);
    expect((busy.body as Problem).existingSessionId).toBe(first.body.id);
    expect(closed.status, closed.text).toBe(202);
    expect(second.status, second.text).toBe(202);
    expect(second.body.id).not.toBe(first.body.id);
  });
});

describe("seen", () => {
  it("records that the Company Portal showed the request, once, for its end user only", async () => {
    // Prepare
    const device = managedDevice();
    const tenant = await tenantWith([device]);
    const requested = await requestSession(tenant.helpdesk, device.id);
    const id = requested.body.id;
    await eventuallySession(tenant.admin, id, (s) => s.status === "awaitingEndUser" && s.endUserNotification.status === "sent", "the notification to be sent");
    const endUser = await tokenFor({ tid: tenant.tenantId, oid: String(device.userId), name: "Device User" });
    const someoneElse = await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "Someone Else" });
    const seen = (token: string) => api(`/me/remoteAssistanceRequests/${id}/seen`, { method: "POST", token });

    // Act
    const stranger = await seen(someoneElse);
    const first = await seen(endUser);
    const again = await seen(endUser);
    const after = await api<SessionResource>(`/sessions/${id}`, { token: tenant.admin });
    await close(tenant.helpdesk, id);
    const closed = await seen(endUser);

    // Assess
    expect(stranger.status).toBe(404);
    expect(first.status, first.text).toBe(204);
    expect(again.status).toBe(204);
    expect(after.body.endUserNotification).toMatchObject({ status: "seen", seenAt: expect.any(String) as string });
    expect(after.body.history.filter((h) => h.detail?.startsWith("Seen by")).length).toBe(1);
    expect(closed.status).toBe(409);
    expect((await auditEvents(tenant.admin, "session.seen")).map((e) => e.target.id)).toEqual([id]);
  });
});
