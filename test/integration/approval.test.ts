// Approval of requests for sensitive devices, against the whole local stack: a request for
// a device tagged for approval waits in pendingApproval with nothing at TeamViewer; someone
// else with Approve approves (then TeamViewer and the end user follow) or denies; the
// requester cannot decide their own; no decision in time expires it. The TeamViewer fake's
// call log, per tenant (grantId: one sign-in per connector onboarding), shows that deny
// and timeout never reach TeamViewer.
import { randomUUID } from "node:crypto";
import { ulid } from "ulid";
import { beforeAll, describe, expect, it } from "vitest";
import type { SessionResource } from "../../shared/contracts/sessions.js";
import { api, eventually, tokenFor } from "../support/api.js";
import { auditEvents, fake, grantOf, newTenant, onboard, type TestTenant } from "./connectorSupport.js";
import {
  createDevices,
  envelope,
  eventuallySession,
  listSessions,
  managedDevice,
  requestSession,
  runFunctionNow,
  sendAutomationEvents,
  teamViewerSessionsFor,
} from "./sessionsSupport.js";

type Problem = { code?: string; detail?: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const decide = (token: string, id: string, kind: "approve" | "deny", body: Record<string, unknown> = {}) =>
  api<SessionResource & Problem>(`/sessions/${id}/${kind}`, { method: "POST", token, body });

let tenant: TestTenant;
let approver = "";
let approverId = "";
/** The tenant's sign-in at the TeamViewer fake: every call made with its tokens carries it. */
let grantId = "";

/** Calls this tenant made at TeamViewer since `since`. */
/**
 * The tenant's calls about sessions since `since`. The connector's own timers (health every
 * few minutes, connection reports) also call TeamViewer for the tenant and may fire during a
 * test: they are not the request reaching TeamViewer.
 */
async function sessionCallsSince(since: string) {
  return (await fake().calls()).filter((c) => c.grantId === grantId && c.at >= since && c.path.toLowerCase().startsWith("/api/v1/sessions"));
}

beforeAll(async () => {
  tenant = await newTenant();
  await onboard(tenant);
  grantId = await grantOf(tenant.tenantId);
  approverId = randomUUID();
  approver = await tokenFor({ tid: tenant.tenantId, oid: approverId, name: "Finance Approver", roles: ["RemoteAssistance.Approve"] });
  const patched = await api("/settings", { method: "PATCH", token: tenant.admin, body: { approvalRequiredScopeTags: ["finance"] } });
  expect(patched.status, patched.text).toBe(200);
}, 60_000);

describe("approval", () => {
  it("holds a request for a tagged device in pendingApproval, with nothing at TeamViewer, in the approver's queue", async () => {
    // Prepare
    const [tagged, plain] = [managedDevice({ roleScopeTagIds: ["0", "finance"] }), managedDevice()];
    await createDevices(tenant.tenantId, tenant.admin, [tagged, plain]);
    const since = new Date().toISOString();

    // Act
    const pending = await requestSession(tenant.helpdesk, tagged.id, { ticketId: "INC-1" });
    const direct = await requestSession(tenant.helpdesk, plain.id);
    const queue = await api<{ value: SessionResource[] }>("/sessions?status=pendingApproval", { token: approver });
    const approverReadsAll = await api<Problem>("/sessions", { token: approver });

    // Assess
    expect(pending.status, pending.text).toBe(202);
    expect(pending.body).toMatchObject({ status: "pendingApproval", approval: { required: true, decision: null }, teamViewer: null });
    expect(direct.body.approval).toEqual({ required: false, decision: null });
    expect(queue.status, queue.text).toBe(200);
    expect(queue.body.value.map((s) => s.id)).toEqual([pending.body.id]);
    expect(approverReadsAll.status).toBe(403);
    await eventuallySession(tenant.admin, direct.body.id, (s) => s.status === "awaitingEndUser", "the plain request to reach TeamViewer");
    expect(await teamViewerSessionsFor(pending.body.id)).toEqual([]);
    expect((await getStatus(pending.body.id)).status).toBe("pendingApproval");
    expect((await sessionCallsSince(since)).length).toBeGreaterThan(0);
  });

  it("someone else approves: the request goes on to TeamViewer and the end user, and the audit names the approver", async () => {
    // Prepare
    const device = managedDevice({ roleScopeTagIds: ["finance"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const pending = await requestSession(tenant.helpdesk, device.id, { ticketId: "INC-2" });

    // Act
    const approved = await decide(approver, pending.body.id, "approve", { comment: "ok for INC-2" });
    const again = await decide(approver, pending.body.id, "approve");

    // Assess
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({
      status: "requested",
      approval: { required: true, decision: { decision: "approved", by: { id: approverId, displayName: "Finance Approver" }, comment: "ok for INC-2" } },
    });
    expect(again.status).toBe(409);
    const reached = await eventuallySession(tenant.admin, pending.body.id, (s) => s.status === "awaitingEndUser", "the approved session to await the end user");
    expect(reached.teamViewer?.code).toBeTruthy();
    expect(await teamViewerSessionsFor(pending.body.id)).toHaveLength(1);
    expect(reached.history.map((h) => h.status)).toEqual(["pendingApproval", "requested", "awaitingEndUser"]);
    const audit = (await auditEvents(tenant.admin, "session.approved")).filter((e) => e.target.id === pending.body.id);
    expect(audit).toMatchObject([{ actor: { id: approverId }, result: "success" }]);
    expect(audit[0].detail).toContain("ticket INC-2");
  });

  it("the requester cannot approve their own request (403), not even holding Approve", async () => {
    // Prepare: a helper who may request and approve.
    const device = managedDevice({ roleScopeTagIds: ["finance"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const both = await tokenFor({
      tid: tenant.tenantId,
      oid: randomUUID(),
      name: "Both Roles",
      roles: ["RemoteAssistance.Request", "RemoteAssistance.Approve"],
    });
    const pending = await requestSession(both, device.id);

    // Act
    const own = await decide(both, pending.body.id, "approve");
    const ownDeny = await decide(both, pending.body.id, "deny");
    const byHelpdesk = await decide(tenant.helpdesk, pending.body.id, "approve");
    const otherTenant = await newTenant();
    const stranger = await tokenFor({ tid: otherTenant.tenantId, oid: randomUUID(), name: "Stranger", roles: ["RemoteAssistance.Approve"] });
    const fromElsewhere = await decide(stranger, pending.body.id, "approve");

    // Assess
    expect(pending.body.status).toBe("pendingApproval");
    expect(own.status, own.text).toBe(403);
    expect(ownDeny.status).toBe(403);
    expect(byHelpdesk.status).toBe(403);
    expect(fromElsewhere.status).toBe(404);
    expect((await getStatus(pending.body.id)).status).toBe("pendingApproval");
  });

  it("a session that needed no approval and that the approver may not read answers like a missing one", async () => {
    // Prepare
    const device = managedDevice({ roleScopeTagIds: ["0"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const session = await requestSession(tenant.helpdesk, device.id);

    // Act
    const read = await api<Problem>(`/sessions/${session.body.id}`, { token: approver });
    const denied = await decide(approver, session.body.id, "deny");
    const missing = await decide(approver, ulid(), "deny");

    // Assess
    expect(session.status, session.text).toBe(202);
    expect(read.status).toBe(403);
    expect(missing.status).toBe(404);
    expect(denied.status, denied.text).toBe(404);
    expect({ code: denied.body.code, detail: denied.body.detail }).toEqual({ code: missing.body.code, detail: missing.body.detail });
    expect((await getStatus(session.body.id)).approval.decision).toBeNull();
  });

  it("deny ends the request as denied, frees the device, and never reaches TeamViewer", async () => {
    // Prepare
    const device = managedDevice({ roleScopeTagIds: ["finance"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const since = new Date().toISOString();
    const pending = await requestSession(tenant.helpdesk, device.id);
    const busy = await requestSession(tenant.helpdesk, device.id);

    // Act
    const denied = await decide(approver, pending.body.id, "deny", { comment: "not without the CFO" });
    const next = await requestSession(tenant.helpdesk, device.id);

    // Assess
    expect(busy.status).toBe(409);
    expect(denied.status, denied.text).toBe(200);
    expect(denied.body).toMatchObject({
      status: "denied",
      closedBy: { id: approverId },
      approval: { decision: { decision: "denied", comment: "not without the CFO" } },
    });
    expect(next.status, next.text).toBe(202);
    await sleep(2_000);
    expect(await teamViewerSessionsFor(pending.body.id)).toEqual([]);
    expect(await sessionCallsSince(since)).toEqual([]);
    expect((await auditEvents(tenant.admin, "session.denied")).map((e) => e.target.id)).toContain(pending.body.id);
  });

  it("a request nobody decides within approvalTimeoutMinutes expires through the timer, never reaching TeamViewer", async () => {
    // Prepare: the shortest approval timeout there is, on its own tenant's setting.
    const device = managedDevice({ roleScopeTagIds: ["finance"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    await api("/settings", { method: "PATCH", token: tenant.admin, body: { approvalTimeoutMinutes: 1 } });
    const since = new Date().toISOString();
    const pending = await requestSession(tenant.helpdesk, device.id);
    await api("/settings", { method: "PATCH", token: tenant.admin, body: { approvalTimeoutMinutes: 60 } });

    // Act: let the minute pass, then run the timer now.
    await sleep(Math.max(0, Date.parse(pending.body.requestedAt) + 60_000 - Date.now()) + 1_000);
    await runFunctionNow("sessionTimers");

    // Assess
    const expired = await eventually(
      async () => (await listSessions(tenant.admin, "&status=expired")).find((s) => s.id === pending.body.id),
      30_000,
      "the timer to expire the request",
    );
    expect(expired.history.map((h) => h.status)).toEqual(["pendingApproval", "expired"]);
    const late = await decide(approver, pending.body.id, "approve");
    expect(late.status).toBe(409);
    expect(await teamViewerSessionsFor(pending.body.id)).toEqual([]);
    expect(await sessionCallsSince(since)).toEqual([]);
  }, 120_000);

  it("a request whose device is removed from management while it waits is closed, and cannot be approved; nothing reaches TeamViewer", async () => {
    // Prepare: a request waiting for approval
    const device = managedDevice({ roleScopeTagIds: ["finance"] });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const pending = await requestSession(tenant.helpdesk, device.id);
    expect(pending.body.status).toBe("pendingApproval");
    const since = new Date().toISOString();

    // Act: the inventory says the device is gone, then the approver approves
    await sendAutomationEvents([envelope("device.removed", tenant.tenantId, { id: device.id })]);
    const closed = await eventuallySession(tenant.admin, pending.body.id, (s) => s.status !== "pendingApproval", "the request to end");
    const approved = await decide(approver, pending.body.id, "approve");

    // Assess: closed by the removal, so there is nothing left to approve
    expect(closed.status).toBe("closed");
    expect(closed.history.map((h) => h.detail)).toContain("Closed because the device was removed from management.");
    expect(approved.status).toBe(409);
    expect(await teamViewerSessionsFor(pending.body.id)).toEqual([]);
    expect(await sessionCallsSince(since)).toEqual([]);
  });
});

async function getStatus(id: string): Promise<SessionResource> {
  const res = await api<SessionResource>(`/sessions/${id}`, { token: tenant.admin });
  expect(res.status, res.text).toBe(200);
  return res.body;
}
