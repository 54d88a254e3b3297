// How sessions end when nobody ends them: expiry (sessionTimeoutMinutes=1, real time, the
// timer run on demand through the host's admin API), the dead-letter path (a session
// worker that crashes on every delivery), the connector being disconnected, and the
// session's device being removed from management.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { SessionResource } from "../../shared/contracts/sessions.js";
import { api, eventually, tokenFor } from "../support/api.js";
import { auditEvents, eventuallyConnector, fake, newTenant, onboard } from "./connectorSupport.js";
import {
  clearFaultPoints,
  closeCallsFor,
  createDevices,
  envelope,
  eventuallySession,
  listSessions,
  managedDevice,
  requestSession,
  runFunctionNow,
  sendAutomationEvents,
  setFaultPoints,
  teamViewerSessionsFor,
} from "./sessionsSupport.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterEach(() => clearFaultPoints());

async function tenantWithDevice() {
  const tenant = await newTenant();
  await onboard(tenant);
  const device = managedDevice();
  await createDevices(tenant.tenantId, tenant.admin, [device]);
  return { tenant, device };
}

describe("expiry", () => {
  it("a request nobody answers within sessionTimeoutMinutes expires and is closed at TeamViewer", async () => {
    // Prepare: the shortest timeout there is.
    const { tenant, device } = await tenantWithDevice();
    const patched = await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: 1 } });
    expect(patched.status, patched.text).toBe(200);
    const requested = await requestSession(tenant.helpdesk, device.id);
    expect(requested.status, requested.text).toBe(202);
    const id = requested.body.id;
    const waiting = await eventuallySession(tenant.admin, id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
    const [tv] = await teamViewerSessionsFor(id);
    expect(Date.parse(tv.valid_until) - Date.parse(waiting.requestedAt)).toBeLessThanOrEqual(61_000);

    // Act: let the minute pass, then run the timer now instead of waiting for its schedule.
    await sleep(Math.max(0, Date.parse(waiting.requestedAt) + 60_000 - Date.now()) + 1_000);
    await runFunctionNow("sessionTimers");

    // Assess: the timer (not a read) expired it, and the TeamViewer session was closed by us.
    const expired = await eventually(
      async () => (await listSessions(tenant.admin, "&status=expired")).find((s) => s.id === id),
      30_000,
      "the timer to expire the session",
    );
    expect(expired).toMatchObject({ status: "expired", closedBy: { type: "system" } });
    await eventually(async () => ((await closeCallsFor(tv.code)) === 1 ? true : undefined), 30_000, "the close at TeamViewer");
    const final = await eventuallySession(
      tenant.admin,
      id,
      (s) => s.history.some((h) => h.detail === "TeamViewer session closed."),
      "the close to be recorded",
    );
    expect(final.history.map((h) => h.status)).toEqual(["requested", "awaitingEndUser", "expired", "expired"]);
    expect((await auditEvents(tenant.admin, "session.expired")).map((e) => e.target.id)).toContain(id);
  }, 180_000);
});

describe("the dead-letter path", () => {
  it("a session.create that fails every delivery is dead-lettered; the dead-letter function fails the session, audits it, and closes what TeamViewer created", async () => {
    // Prepare: the worker crashes after TeamViewer created the session, on every delivery, for this tenant only.
    const { tenant, device } = await tenantWithDevice();
    setFaultPoints({ "sessionWorker.afterTeamViewerCreate": { rate: 1, tenantId: tenant.tenantId } });

    // Act
    const requested = await requestSession(tenant.helpdesk, device.id);
    expect(requested.status, requested.text).toBe(202);
    const id = requested.body.id;

    // Assess: ten deliveries, then the dead-letter queue, then a failed session.
    const failed = await eventuallySession(tenant.admin, id, (s) => s.status === "failed", "the session to fail", 120_000);
    clearFaultPoints();
    expect(failed.failure?.code).toBe("deadLettered");
    expect(failed.failure?.message).toMatch(/dead-lettered/);
    const audit = await eventually(
      async () => (await auditEvents(tenant.admin, "session.create.deadLettered")).find((e) => e.target.id === id),
      15_000,
      "the dead-letter audit event",
    );
    expect(audit.result).toBe("failure");
    // Every delivery after the first found the session it had created; there is exactly one, and it is closed.
    await eventually(async () => ((await teamViewerSessionsFor(id))[0]?.state === "closed" ? true : undefined), 30_000, "the TeamViewer session to be closed");
    expect(await teamViewerSessionsFor(id)).toHaveLength(1);
  }, 180_000);
});

describe("disconnecting the connector", () => {
  it("closes the tenant's open sessions, at TeamViewer too", async () => {
    // Prepare
    const { tenant, device } = await tenantWithDevice();
    const requested = await requestSession(tenant.helpdesk, device.id);
    const id = requested.body.id;
    await eventuallySession(tenant.admin, id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
    const [tv] = await teamViewerSessionsFor(id);

    // Act
    const res = await api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin });

    // Assess
    expect(res.status, res.text).toBe(202);
    await eventuallyConnector(tenant.admin, (c) => c.onboardingStatus === "notOnboarded", "the connector to be disconnected");
    const closed: SessionResource = await eventuallySession(tenant.admin, id, (s) => s.status === "closed", "the session to be closed");
    expect(closed.closedBy).toMatchObject({ type: "system" });
    expect(closed.history.map((h) => h.detail)).toContain("Closed because the TeamViewer connector was disconnected.");
    expect(closed.history.map((h) => h.detail)).toContain("TeamViewer session closed.");
    expect((await fake().sessions()).find((s) => s.code === tv.code)?.state).toBe("closed");
    expect(await closeCallsFor(tv.code)).toBe(1);
  });
});

describe("removing the device from management", () => {
  it("closes the device's open session, at TeamViewer and in the end user's inbox too, once however often the event comes", async () => {
    // Prepare: a session waiting for the end user, listed in their Company Portal inbox.
    const { tenant, device } = await tenantWithDevice();
    const requested = await requestSession(tenant.helpdesk, device.id);
    expect(requested.status, requested.text).toBe(202);
    const id = requested.body.id;
    await eventuallySession(tenant.admin, id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
    const [tv] = await teamViewerSessionsFor(id);
    const endUser = await tokenFor({ tid: tenant.tenantId, oid: String(device.userId), name: "Device User" });
    const inbox = async () => (await api<{ value: { id: string }[] }>("/me/remoteAssistanceRequests", { token: endUser })).body.value.map((r) => r.id);
    expect(await inbox()).toEqual([id]);
    const removal = envelope("device.removed", tenant.tenantId, { id: device.id });

    // Act: the removal, then the same event again (a redelivery under another message id).
    await sendAutomationEvents([removal]);
    const closed = await eventuallySession(tenant.admin, id, (s) => s.status === "closed", "the session to be closed");
    await sendAutomationEvents([{ ...removal, id: randomUUID() }]);

    // Assess
    expect(closed.closedBy).toMatchObject({ type: "system" });
    expect(closed.history.map((h) => h.detail)).toContain("Closed because the device was removed from management.");
    await eventually(async () => ((await closeCallsFor(tv.code)) === 1 ? true : undefined), 30_000, "the close at TeamViewer");
    expect((await fake().sessions()).find((s) => s.code === tv.code)?.state).toBe("closed");
    expect(await inbox()).toEqual([]);
    const audited = await eventually(
      async () => ((await auditEvents(tenant.admin, "device.remove")).length === 2 ? auditEvents(tenant.admin, "session.closed") : undefined),
      30_000,
      "both removals to be handled",
    );
    expect(audited.filter((e) => e.target.id === id)).toHaveLength(1);
    expect(audited.find((e) => e.target.id === id)?.detail).toContain("removed from management");
    const again = await requestSession(tenant.helpdesk, device.id);
    expect(again.status).toBe(422);
  });
});
