// Administration API through the local host: role assignments, settings, audit events,
// problem details and correlation ids.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { api, tokenFor } from "../support/api.js";

const tenantId = randomUUID();
const otherTenantId = randomUUID();
let admin = "";
let otherAdmin = "";
let helpdesk = "";

beforeAll(async () => {
  admin = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "Admin A", roles: ["Intune.Administrator"] });
  otherAdmin = await tokenFor({ tid: otherTenantId, oid: randomUUID(), name: "Admin B", roles: ["Intune.Administrator"] });
  helpdesk = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "Help desk", roles: ["RemoteAssistance.Request"] });
});

describe("settings", () => {
  it("start at the defaults and change with PATCH, audited", async () => {
    // Prepare
    const initial = await api("/settings", { token: admin });
    expect(initial.status).toBe(200);
    expect(initial.body).toEqual({
      allowUnlicensedAdmins: false,
      allowPossiblyUnsupportedWindowsEditions: false,
      sessionTimeoutMinutes: 60,
      teamViewerCallsPerMinute: 10,
      requireTicketId: false,
      approvalRequiredScopeTags: [],
      approvalTimeoutMinutes: 60,
    });
    // Act
    const patched = await api("/settings", {
      method: "PATCH",
      token: admin,
      body: { sessionTimeoutMinutes: 15, allowUnlicensedAdmins: true, teamViewerCallsPerMinute: 40 },
    });
    // Assess
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({
      allowUnlicensedAdmins: true,
      allowPossiblyUnsupportedWindowsEditions: false,
      sessionTimeoutMinutes: 15,
      teamViewerCallsPerMinute: 40,
      requireTicketId: false,
      approvalRequiredScopeTags: [],
      approvalTimeoutMinutes: 60,
    });
    expect((await api("/settings", { token: admin })).body).toEqual(patched.body);
    expect((await api("/settings", { token: otherAdmin })).body).toMatchObject({ sessionTimeoutMinutes: 60 });
    const audit = await api<{ value: { activity: string; detail?: string }[] }>("/auditEvents?activity=settings.update", { token: admin });
    expect(audit.body.value[0]).toMatchObject({ activity: "settings.update" });
    expect(audit.body.value[0].detail).toContain("sessionTimeoutMinutes=15");
    expect(audit.body.value[0].detail).toContain("teamViewerCallsPerMinute=40");
  });

  it.each([
    [{ sessionTimeoutMinutes: 0 }, "body.sessionTimeoutMinutes"],
    [{ sessionTimeoutMinutes: 1441 }, "body.sessionTimeoutMinutes"],
    [{ sessionTimeoutMinutes: 2.5 }, "body.sessionTimeoutMinutes"],
    [{ teamViewerCallsPerMinute: 0 }, "body.teamViewerCallsPerMinute"],
    [{ teamViewerCallsPerMinute: 601 }, "body.teamViewerCallsPerMinute"],
    [{ teamViewerCallsPerMinute: 1.5 }, "body.teamViewerCallsPerMinute"],
    [{ allowUnlicensedAdmins: "yes" }, "body.allowUnlicensedAdmins"],
    [{ unknownSetting: true }, "body"],
    [{}, "body"],
  ])("reject %j with 400 validationFailed naming %s, changing nothing", async (body, path) => {
    const before = await api("/settings", { token: admin });
    const res = await api<{ code: string; errors: { path: string }[]; correlationId: string }>("/settings", { method: "PATCH", token: admin, body });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body.code).toBe("validationFailed");
    expect(res.body.errors.map((e) => e.path).some((p) => p.startsWith(path))).toBe(true);
    expect((await api("/settings", { token: admin })).body).toEqual(before.body);
  });

  it("answer many admins changing them at once with 200 or 429, never 500", async () => {
    // Prepare
    const busyTenant = randomUUID();
    const busyAdmin = await tokenFor({ tid: busyTenant, oid: randomUUID(), name: "Busy Admin", roles: ["Intune.Administrator"] });

    // Act: 40 changes of the one settings row at once, each racing the others' etags.
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => api("/settings", { method: "PATCH", token: busyAdmin, body: { sessionTimeoutMinutes: i + 1 } })),
    );

    // Assess
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(statuses).toContain(200);
    for (const a of answers.filter((x) => x.status === 429)) expect(Number(a.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("role assignments", () => {
  it("PUT creates (201) then replaces (200), GET lists, DELETE removes; other tenants see nothing", async () => {
    const id = randomUUID();
    const body = { principalId: randomUUID(), principalType: "group", permission: "RemoteAssistance.Request", scopeTags: ["berlin", "paris"] };
    const created = await api(`/roleAssignments/${id}`, { method: "PUT", token: admin, body });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(`/api/roleAssignments/${id}`);
    const replaced = await api(`/roleAssignments/${id}`, { method: "PUT", token: admin, body: { ...body, scopeTags: [] } });
    expect(replaced.status).toBe(200);
    const list = await api<{ value: { id: string; scopeTags: string[] }[] }>("/roleAssignments", { token: admin });
    expect(list.body.value).toContainEqual(expect.objectContaining({ id, scopeTags: [] }));
    expect((await api<{ value: unknown[] }>("/roleAssignments", { token: otherAdmin })).body.value.some((a) => (a as { id: string }).id === id)).toBe(false);
    const otherDelete = await api<{ code: string }>(`/roleAssignments/${id}`, { method: "DELETE", token: otherAdmin });
    expect(otherDelete.status).toBe(404);
    expect(otherDelete.body.code).toBe("notFound");
    expect((await api(`/roleAssignments/${id}`, { method: "DELETE", token: admin })).status).toBe(204);
    expect((await api(`/roleAssignments/${id}`, { method: "DELETE", token: admin })).status).toBe(404);
  });

  it("rejects an unknown permission and unknown fields", async () => {
    const res = await api<{ code: string }>(`/roleAssignments/${randomUUID()}`, {
      method: "PUT",
      token: admin,
      body: { principalId: randomUUID(), principalType: "user", permission: "Intune.Administrator", scopeTags: [], extra: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("validationFailed");
  });

  it("is for administrators only", async () => {
    const res = await api<{ code: string }>("/roleAssignments", { token: helpdesk });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("forbidden");
  });
});

describe("audit events", () => {
  it("page newest first with an opaque continuation token, each event once", async () => {
    // Prepare: five audited changes.
    for (let i = 1; i <= 5; i++) await api("/settings", { method: "PATCH", token: admin, body: { sessionTimeoutMinutes: 100 + i } });
    // Act
    const seen: { id: string; at: string; detail?: string }[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await api<{ value: { id: string; at: string; detail?: string }[]; continuationToken?: string }>(
        `/auditEvents?activity=settings.update&top=2${token ? `&continuationToken=${token}` : ""}`,
        { token: admin },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.value);
      token = page.body.continuationToken;
      pages++;
    } while (token && pages < 10);
    // Assess
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(seen[0].detail).toContain("sessionTimeoutMinutes=105");
    const times = seen.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it("respects the time range and rejects a bad continuation token", async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const empty = await api<{ value: unknown[] }>(`/auditEvents?from=${encodeURIComponent(future)}&to=${encodeURIComponent(later)}`, { token: admin });
    expect(empty.status).toBe(200);
    expect(empty.body.value).toEqual([]);
    const bad = await api<{ code: string }>("/auditEvents?continuationToken=bm90LWEtdG9rZW4", { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("validationFailed");
  });
});

describe("problem details and correlation", () => {
  it("echo a well-formed x-correlation-id and generate one otherwise", async () => {
    const mine = await api<{ correlationId: string }>("/settings", { token: helpdesk, headers: { "x-correlation-id": "portal-req-12345" } });
    expect(mine.headers.get("x-correlation-id")).toBe("portal-req-12345");
    expect(mine.body.correlationId).toBe("portal-req-12345");
    const bad = await api<{ correlationId: string }>("/settings", { token: helpdesk, headers: { "x-correlation-id": "<script>" } });
    expect(bad.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answer an unknown route with 404", async () => {
    expect((await api("/no-such-endpoint", { token: admin })).status).toBe(404);
  });

  it("reject oversized bodies with 413", async () => {
    const res = await api<{ code: string }>("/settings", {
      method: "PATCH",
      token: admin,
      rawBody: JSON.stringify({ pad: "x".repeat(100_000) }),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("payloadTooLarge");
  });
});
