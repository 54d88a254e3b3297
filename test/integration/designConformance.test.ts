// Conformance with the contract that outside clients (an admin portal, automation, the
// Company Portal app) are written against: each test quotes the phrase of the contract it
// checks, and pins what no other test file pins (resource shapes key by key, status codes,
// error codes). Grouped by the contract's sections: HTTP API, trust boundaries and limits,
// evidence, just-in-time.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { TableAuditLog } from "../../shared/adapters/tables/tableAuditLog.js";
import { systemClock } from "../../shared/app/clock.js";
import { loadConfig } from "../../shared/config.js";
import { systemActor } from "../../shared/domain/caller.js";
import type { SessionResource } from "../../shared/contracts/sessions.js";
import { api, tokenFor } from "../support/api.js";
import { newTenant, onboard, tables, type TestTenant } from "./connectorSupport.js";
import { createDevices, eventuallySession, managedDevice, requestSession } from "./sessionsSupport.js";

type Problem = {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  correlationId: string;
  errors?: { path: string; message: string }[];
};

const keysOf = (o: unknown): string[] => Object.keys(o as Record<string, unknown>).sort();

/** A problem+json answer with every member the contract names. */
function expectProblem(res: { status: number; headers: Headers; body: unknown }, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const p = res.body as Problem;
  expect(p).toMatchObject({ status, code });
  for (const member of ["type", "title", "detail", "correlationId"] as const) expect(typeof p[member], member).toBe("string");
}

let tenant: TestTenant;
let device: Record<string, unknown> & { id: string; userId: string };
let endUser = "";
let session: SessionResource;

beforeAll(async () => {
  tenant = await newTenant();
  await onboard(tenant);
  device = managedDevice() as typeof device;
  await createDevices(tenant.tenantId, tenant.admin, [device]);
  endUser = await tokenFor({ tid: tenant.tenantId, oid: device.userId, name: "Device User", roles: [], groups: [] });
  const requested = await requestSession(tenant.helpdesk, device.id, { description: "printer" });
  expect(requested.status, requested.text).toBe(202);
  session = await eventuallySession(tenant.admin, requested.body.id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
}, 120_000);

describe("the contract's HTTP API", () => {
  it('GET /api/connector → { id: "teamviewer", displayName, onboardingStatus, health, account, licenseAgreement, onboardedAt, lastConnectionDateTime, lastError }', async () => {
    const fresh = await newTenant();
    const res = await api<Record<string, unknown>>("/connector", { token: fresh.admin });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: "teamviewer",
      onboardingStatus: "notOnboarded",
      health: null,
      account: null,
      licenseAgreement: null,
      onboardedAt: null,
      lastConnectionDateTime: null,
      lastError: null,
    });
    expect(typeof res.body.displayName).toBe("string");
  });

  it("POST /api/connector/verify → 200 { health, checkedAt, detail }", async () => {
    const verified = await api<Record<string, unknown>>("/connector/verify", { method: "POST", token: tenant.admin });
    expect(verified.status, verified.text).toBe(200);
    expect(keysOf(verified.body)).toEqual(expect.arrayContaining(["health", "checkedAt", "detail"]));
    expect(verified.body).toMatchObject({ health: "healthy", checkedAt: expect.any(String), detail: expect.any(String) });
  });

  it("Device: { id, deviceName, operatingSystem, osVersion, ownership, enrollmentType, userId, userPrincipalName, userDisplayName, emailAddress, scopeTags, lastSyncDateTime, remoteAssistance: { eligible, reason?, warnings, notificationChannel } }", async () => {
    const one = await api<Record<string, unknown>>(`/devices/${device.id}`, { token: tenant.admin });
    const list = await api<{ value: Record<string, unknown>[] }>("/devices?search=&platform=&eligible=&top=5&continuationToken=", { token: tenant.admin });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: device.id,
      deviceName: device.deviceName,
      operatingSystem: "Windows",
      osVersion: device.osVersion,
      ownership: "personal",
      enrollmentType: "windowsAzureADJoin",
      userId: device.userId,
      userPrincipalName: device.userPrincipalName,
      userDisplayName: device.userDisplayName,
      emailAddress: device.emailAddress,
      scopeTags: ["0"],
      lastSyncDateTime: expect.any(String),
      remoteAssistance: { eligible: true, warnings: [], notificationChannel: "companyPortal" },
    });
    expect(list.status, list.text).toBe(200);
    expect(list.body.value).toContainEqual(one.body);
  });

  it("Session: { id, deviceId, device, requestedBy: { id, displayName, type }, requestedAt, description, status, history, teamViewer, endUserNotification, endUserResponse, closedAt, closedBy, failure, warnings }", async () => {
    const res = await api<Record<string, unknown>>(`/sessions/${session.id}`, { token: tenant.admin });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: session.id,
      deviceId: device.id,
      device: {
        deviceName: device.deviceName,
        operatingSystem: "Windows",
        osVersion: device.osVersion,
        userDisplayName: device.userDisplayName,
        userPrincipalName: device.userPrincipalName,
      },
      requestedBy: { id: expect.any(String), displayName: "Help Desk", type: "user" },
      requestedAt: expect.any(String),
      description: "printer",
      status: "awaitingEndUser",
      teamViewer: { code: expect.any(String), supporterLink: expect.any(String), validUntil: expect.any(String) },
      endUserNotification: { channel: "companyPortal", status: "sent", sentAt: expect.any(String) },
      endUserResponse: null,
      closedAt: null,
      closedBy: null,
      failure: null,
      warnings: [],
    });
    expect(keysOf(res.body)).not.toContain("endUserLink");
    for (const entry of res.body.history as Record<string, unknown>[]) {
      expect(keysOf(entry).filter((k) => k !== "detail")).toEqual(["at", "status"]);
    }
  });

  it("POST /api/devices/{deviceId}/remoteAssistanceSessions → 202 Session with Location: /api/sessions/{id}; lists answer { value: [...], continuationToken? }", async () => {
    const other = managedDevice();
    await createDevices(tenant.tenantId, tenant.admin, [other]);
    const requested = await requestSession(tenant.helpdesk, other.id, {}, { "idempotency-key": randomUUID() });
    const list = await api<Record<string, unknown>>(`/sessions?deviceId=${other.id}&status=requested&top=1`, { token: tenant.admin });
    expect(requested.status, requested.text).toBe(202);
    expect(requested.headers.get("location")).toBe(`/api/sessions/${requested.body.id}`);
    expect(list.status, list.text).toBe(200);
    expect(keysOf(list.body).filter((k) => k !== "continuationToken")).toEqual(["value"]);
    const closed = await api(`/sessions/${requested.body.id}/close`, { method: "POST", token: tenant.helpdesk });
    expect(closed.status, closed.text).toBe(202);
  });

  it("Writes reject unknown fields", async () => {
    const res = await requestSession(tenant.helpdesk, device.id, { description: "x", priority: "high" });
    expectProblem(res, 400, "validationFailed");
    expect((res.body as unknown as Problem).errors?.length).toBeGreaterThan(0);
  });

  it("GET /api/me/remoteAssistanceRequests → { value: [{ id, deviceId, deviceName, requestedBy: { displayName }, requestedAt, description, status }] }", async () => {
    const res = await api<{ value: Record<string, unknown>[] }>("/me/remoteAssistanceRequests", { token: endUser });
    expect(res.status).toBe(200);
    const mine = res.body.value.find((r) => r.id === session.id);
    expect(mine).toEqual({
      id: session.id,
      deviceId: device.id,
      deviceName: device.deviceName,
      requestedBy: { displayName: "Help Desk" },
      requestedAt: session.requestedAt,
      description: "printer",
      status: "awaitingEndUser",
    });
  });

  it('GET /api/auditEvents → { id, at, actor: { id, displayName, type }, activity, target: { type, id }, result: "success" | "failure", detail? }', async () => {
    const res = await api<{ value: Record<string, unknown>[] }>("/auditEvents?activity=session.requested&top=1", { token: tenant.admin });
    expect(res.status).toBe(200);
    expect(res.body.value[0]).toMatchObject({
      id: expect.any(String),
      at: expect.any(String),
      actor: { id: expect.any(String), displayName: "Help Desk", type: "user" },
      activity: "session.requested",
      target: { type: "session", id: expect.any(String) },
      result: "success",
    });
  });

  it("GET /api/reports/sessions?from=&to= → counts by status, by platform and by requester, and median time to accept", async () => {
    const res = await api<Record<string, unknown>>("/reports/sessions?from=&to=", { token: tenant.admin });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      byStatus: expect.objectContaining({ awaitingEndUser: expect.any(Number) }),
      byPlatform: expect.objectContaining({ windows: expect.any(Number) }),
      byRequester: expect.arrayContaining([expect.objectContaining({ displayName: "Help Desk", type: "user", count: expect.any(Number) })]),
    });
    expect(keysOf(res.body)).toContain("medianTimeToAcceptSeconds");
  });

  it("POST /api/sessions/{sessionId}/resendNotification → 202, while the session awaits the end user (a conflict once it does not)", async () => {
    const other = managedDevice();
    await createDevices(tenant.tenantId, tenant.admin, [other]);
    const requested = await requestSession(tenant.helpdesk, other.id);
    const waiting = await eventuallySession(tenant.admin, requested.body.id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
    const resent = await api(`/sessions/${waiting.id}/resendNotification`, { method: "POST", token: tenant.helpdesk });
    expect(resent.status, resent.text).toBe(202);
    const user = await tokenFor({ tid: tenant.tenantId, oid: String(other.userId), name: "Other User", roles: [], groups: [] });
    const accepted = await api(`/me/remoteAssistanceRequests/${waiting.id}/accept`, { method: "POST", token: user });
    expect(accepted.status, accepted.text).toBe(200);
    expectProblem(await api(`/sessions/${waiting.id}/resendNotification`, { method: "POST", token: tenant.helpdesk }), 409, "conflict");
  });

  it("GET /api/roleAssignments lists { value: [...] }", async () => {
    const res = await api<Record<string, unknown>>("/roleAssignments", { token: tenant.admin });
    expect(res.status).toBe(200);
    expect(keysOf(res.body).filter((k) => k !== "continuationToken")).toEqual(["value"]);
  });
});

describe("the contract's trust boundaries", () => {
  it("Ids that cannot exist (a malformed ULID, an over-long id) are 404, never 500", async () => {
    for (const id of ["not-a-ulid", "0".repeat(65), "ZZZZZZZZZZZZZZZZZZZZZZZZZZ"]) {
      expectProblem(await api(`/sessions/${id}`, { token: tenant.admin }), 404, "notFound");
      expectProblem(await api(`/sessions/${id}/close`, { method: "POST", token: tenant.admin }), 404, "notFound");
      expectProblem(await api(`/me/remoteAssistanceRequests/${id}/accept`, { method: "POST", token: endUser }), 404, "notFound");
    }
  });

  it("RemoteAssistance.Update is tenant-wide: a role assignment of it with scope tags is 400 validationFailed", async () => {
    const res = await api(`/roleAssignments/${randomUUID()}`, {
      method: "PUT",
      token: tenant.admin,
      body: { principalId: randomUUID(), principalType: "user", permission: "RemoteAssistance.Update", scopeTags: ["berlin"] },
    });
    expectProblem(res, 400, "validationFailed");
  });
});

describe("the contract's limits", () => {
  it("per caller 300 requests a minute, bursts of up to 100; per client address on anonymous endpoints 60 a minute; resend at most one per session per 60 seconds", () => {
    // The defaults (neither Azure nor the sample settings set these; the shared test stack lifts them).
    const settings = (JSON.parse(readFileSync(new URL("../../local.settings.sample.json", import.meta.url), "utf8")) as { Values: Record<string, string> })
      .Values;
    const sample = loadConfig(settings);
    expect(sample.limits).toMatchObject({ callerPerMinute: 300, callerBurst: 100, anonymousPerMinute: 60, resendMinIntervalSeconds: 60 });
  });
});

describe("the contract's evidence", () => {
  it("GET /api/auditEvents/delta: every event exactly once, at most 1,000 per call (call again while value is full)", async () => {
    // Prepare: 1,001 events of a tenant of its own, recorded as the audit log records them.
    const tenantId = randomUUID();
    const log = new TableAuditLog(tables(), systemClock);
    await Promise.all(
      Array.from({ length: 1001 }, (_, i) =>
        log.record({ tenantId, actor: systemActor, activity: "conformance.event", target: { type: "test", id: String(i) }, result: "success" }),
      ),
    );
    const reader = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "SIEM", roles: ["RemoteAssistance.ViewReports"], groups: [] });

    // Act
    const first = await api<{ value: { id: string }[]; deltaToken: string }>("/auditEvents/delta", { token: reader });
    const second = await api<{ value: { id: string }[]; deltaToken: string }>(`/auditEvents/delta?deltaToken=${first.body.deltaToken}`, { token: reader });

    // Assess
    expect(first.status, first.text).toBe(200);
    expect(keysOf(first.body)).toEqual(["deltaToken", "value"]);
    expect(first.body.value).toHaveLength(1000);
    expect(second.body.value).toHaveLength(1);
    expect(new Set([...first.body.value, ...second.body.value].map((e) => e.id)).size).toBe(1001);
  });
});

describe("the contract's just-in-time settings", () => {
  it.each([0, 1441, 1.5])("approvalTimeoutMinutes (1–1440): %s is 400 validationFailed", async (value) => {
    const res = await api<Problem>("/settings", { method: "PATCH", token: tenant.admin, body: { approvalTimeoutMinutes: value } });
    expectProblem(res, 400, "validationFailed");
    expect(res.body.errors?.map((e) => e.path)).toContain("body.approvalTimeoutMinutes");
  });
});
