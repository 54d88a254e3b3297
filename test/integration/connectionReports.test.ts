// Who actually connected: the TeamViewer fake is told "this supporter connected to this
// session then" (POST /_control/connections), the timer teamViewerConnectionReports runs
// through the host's admin API, and the session, its history, the audit log and the report
// show it. Everything runs on the real stack; the fake serves the report over HTTP.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { TableConnectionReportCursorStore } from "../../shared/adapters/tables/tableConnectionReportCursorStore.js";
import type { SessionReport, SessionResource } from "../../shared/contracts/sessions.js";
import { api, eventually, tokenFor } from "../support/api.js";
import { auditEvents, fake, hostLog, newTenant, onboard, tables, type TestTenant } from "./connectorSupport.js";
import { createDevices, eventuallySession, getSession, managedDevice, requestSession, runFunctionNow } from "./sessionsSupport.js";

const timer = "teamViewerConnectionReports";
const minutes = (n: number): number => n * 60_000;
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

afterEach(async () => {
  await fake().setVariants({ connectionsPageSize: 1000, connectionCodeForm: "prefixed", connectionReportDelaySeconds: null });
  await fake().clearFaults();
  await fake().throttle({ ms: 0 });
});

async function onboardedTenant(): Promise<TestTenant> {
  const tenant = await newTenant();
  await onboard(tenant);
  return tenant;
}

/** A session on a new device of the tenant, with its TeamViewer code; accepted by the device's user unless told not to. */
async function session(tenant: TestTenant, options: { accept?: boolean } = {}): Promise<{ id: string; code: string }> {
  const device = managedDevice();
  await createDevices(tenant.tenantId, tenant.admin, [device]);
  const requested = await requestSession(tenant.helpdesk, device.id);
  expect(requested.status, requested.text).toBe(202);
  const id = requested.body.id;
  const waiting = await eventuallySession(tenant.admin, id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
  if (options.accept ?? true) {
    const endUser = await tokenFor({ tid: tenant.tenantId, oid: String(device.userId), name: "Device User", roles: [], groups: [] });
    const accepted = await api(`/me/remoteAssistanceRequests/${id}/accept`, { method: "POST", token: endUser });
    expect(accepted.status, accepted.text).toBe(200);
  }
  return { id, code: waiting.teamViewer!.code };
}

const cursors = (): TableConnectionReportCursorStore => new TableConnectionReportCursorStore(tables());

/** Runs the timer through the host's admin API and waits until it read each tenant's window to its end. */
async function runTimer(...tenants: TestTenant[]): Promise<void> {
  const before = await Promise.all(tenants.map(async (t) => (await cursors().get(t.tenantId))?.cursor.through ?? ""));
  await runFunctionNow(timer);
  await eventually(
    async () => {
      const after = await Promise.all(tenants.map(async (t) => (await cursors().get(t.tenantId))?.cursor ?? undefined));
      return after.every((c, i) => c !== undefined && c.pending === null && c.through !== null && c.through > before[i]) ? true : undefined;
    },
    30_000,
    "the timer to read every tenant's connection report",
  );
}

const connectedEvents = async (tenant: TestTenant, sessionId: string): Promise<number> =>
  (await auditEvents(tenant.admin, "session.connected")).filter((e) => e.target.id === sessionId).length;

describe("connection reports", () => {
  it("records a connection told to the fake on its session once, with supporter and duration, even when the timer runs twice over the same window", async () => {
    // Prepare: an accepted session, and a supporter connected to it for 12 minutes.
    const tenant = await onboardedTenant();
    const s = await session(tenant);
    const start = Date.now() - minutes(20);
    await fake().addConnection({
      session_code: s.code,
      userid: "u7001",
      username: "Sam Supporter",
      start_date: iso(start),
      end_date: iso(start + minutes(12)),
    });

    // Act: the timer twice; the second window overlaps the first (it reaches back a day).
    await runTimer(tenant);
    const first = (await getSession(tenant.admin, s.id)).body;
    await runTimer(tenant);
    const second = (await getSession(tenant.admin, s.id)).body;

    // Assess: one connection, one history entry, one audit event, after both runs.
    expect(first.connections).toEqual([
      {
        id: expect.any(String),
        supporter: { userId: "u7001", name: "Sam Supporter" },
        startedAt: new Date(Math.floor(start / 1000) * 1000).toISOString(),
        endedAt: expect.any(String),
        durationSeconds: 720,
      },
    ]);
    expect(first.neverConnected).toBe(false);
    expect(second.connections).toEqual(first.connections);
    expect(second.history.filter((h) => h.detail?.includes("Sam Supporter (u7001) connected")).length).toBe(1);
    expect(second.history.at(-1)).toMatchObject({ status: "accepted", detail: expect.stringContaining("for 12 min") });
    expect(await connectedEvents(tenant, s.id)).toBe(1);
  });

  it("reads the report across several pages (offset_id) and matches codes sent without the s prefix", async () => {
    // Prepare: two records a page, codes without their prefix, five connections to one session.
    const tenant = await onboardedTenant();
    const s = await session(tenant);
    await fake().setVariants({ connectionsPageSize: 2, connectionCodeForm: "bare" });
    const start = Date.now() - minutes(60);
    for (let i = 0; i < 5; i++) {
      await fake().addConnection({
        session_code: s.code,
        userid: `u80${i}`,
        username: `Supporter ${i}`,
        start_date: iso(start + minutes(10 * i)),
        end_date: iso(start + minutes(10 * i + 5)),
      });
    }
    await fake().clearCalls();

    // Act
    await runTimer(tenant);

    // Assess: all five, in order, each five minutes; the fake saw pages beyond the first.
    const after = (await getSession(tenant.admin, s.id)).body;
    expect(after.connections.map((c) => [c.supporter.userId, c.durationSeconds])).toEqual([0, 1, 2, 3, 4].map((i) => [`u80${i}`, 300]));
    const pages = (await fake().calls()).filter((c) => c.path === "/api/v1/reports/connections" && c.status === 200);
    expect(pages.some((c) => c.query?.includes("offset_id="))).toBe(true);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(await connectedEvents(tenant, s.id)).toBe(5);
  });

  it("completes a connection reported while still open once its end is reported, without a second entry", async () => {
    // Prepare: a connection the fake lists as open (no end_date).
    const tenant = await onboardedTenant();
    const s = await session(tenant);
    const id = randomUUID();
    const start = Date.now() - minutes(30);
    await fake().addConnection({ id, session_code: s.code, userid: "u7100", username: "Open Supporter", start_date: iso(start) });
    await runTimer(tenant);
    const open = (await getSession(tenant.admin, s.id)).body;

    // Act: it ends after 25 minutes.
    await fake().addConnection({
      id,
      session_code: s.code,
      userid: "u7100",
      username: "Open Supporter",
      start_date: iso(start),
      end_date: iso(start + minutes(25)),
    });
    await runTimer(tenant);

    // Assess
    expect(open.connections).toMatchObject([{ id, endedAt: null, durationSeconds: null }]);
    const ended = (await getSession(tenant.admin, s.id)).body;
    expect(ended.connections).toMatchObject([{ id, durationSeconds: 1500 }]);
    expect(await connectedEvents(tenant, s.id)).toBe(1);
  });

  it("ignores a connection to a session code no session has, and records only one whose record appears late", async () => {
    // Prepare: records appear only 0 s after their end (the delayed variant), one to an unknown code.
    const tenant = await onboardedTenant();
    const s = await session(tenant);
    await fake().setVariants({ connectionReportDelaySeconds: 0 });
    const start = Date.now() - minutes(10);
    await fake().addConnection({
      session_code: "s99-999-999",
      userid: "u7200",
      username: "Nobody's Supporter",
      start_date: iso(start),
      end_date: iso(start + minutes(1)),
    });
    await fake().addConnection({ session_code: s.code, userid: "u7201", username: "Late Supporter", start_date: iso(start) });

    // Act: the open one is not listed yet; then it ends and is.
    await runTimer(tenant);
    const before = (await getSession(tenant.admin, s.id)).body;
    await fake().addConnection({
      id: (await fake().connections()).find((c) => c.userid === "u7201")!.id,
      session_code: s.code,
      userid: "u7201",
      username: "Late Supporter",
      start_date: iso(start),
      end_date: iso(start + minutes(3)),
    });
    await runTimer(tenant);

    // Assess
    expect(before.connections).toEqual([]);
    expect(before.neverConnected).toBe(true);
    const after = (await getSession(tenant.admin, s.id)).body;
    expect(after.connections.map((c) => c.supporter.userId)).toEqual(["u7201"]);
    const events = await auditEvents(tenant.admin, "session.connected");
    expect(events.map((e) => e.detail).join("\n")).not.toContain("Nobody's Supporter");
    expect(events).toHaveLength(1);
  });

  it("never matches another tenant's session, though each tenant's read sees the record", async () => {
    // Prepare: two onboarded tenants, each with an accepted session; a connection to the first's.
    const [a, b] = [await onboardedTenant(), await onboardedTenant()];
    const sa = await session(a);
    const sb = await session(b);
    const start = Date.now() - minutes(15);
    await fake().addConnection({
      session_code: sa.code,
      userid: "u7300",
      username: "Tenant A Supporter",
      start_date: iso(start),
      end_date: iso(start + minutes(2)),
    });
    await fake().clearCalls();

    // Act
    await runTimer(a, b);

    // Assess: A's session has it; B's read the report (its own grant) and recorded nothing.
    expect((await getSession(a.admin, sa.id)).body.connections).toHaveLength(1);
    expect((await getSession(b.admin, sb.id)).body.connections).toEqual([]);
    expect(await auditEvents(b.admin, "session.connected")).toEqual([]);
    const grants = new Set((await fake().calls()).filter((c) => c.path === "/api/v1/reports/connections" && c.status === 200).map((c) => c.grantId));
    expect(grants.size).toBeGreaterThanOrEqual(2);
    expect((await getSession(b.admin, sa.id)).status).toBe(404);
  });

  it("skips a tenant whose quota has no room without moving its cursor, and records the connection on a later run", async () => {
    // Prepare: a first run sets the cursor; a connection; TeamViewer throttles report calls for 2 s (429 with Retry-After).
    const tenant = await onboardedTenant();
    const s = await session(tenant);
    await runTimer(tenant);
    const cursorBefore = (await cursors().get(tenant.tenantId))!.cursor;
    const start = Date.now() - minutes(5);
    await fake().addConnection({
      session_code: s.code,
      userid: "u7400",
      username: "Patient Supporter",
      start_date: iso(start),
      end_date: iso(start + minutes(1)),
    });
    await fake().clearCalls();
    await fake().throttle({ ms: 2_000, path: "/api/v1/reports/connections" });

    // Act 1: the run meets the throttle.
    await runFunctionNow(timer);
    await eventually(
      async () =>
        hostLog().includes(`connection report skipped: no room in the tenant's TeamViewer quota {"timer":"${timer}","tenantId":"${tenant.tenantId}"`)
          ? true
          : undefined,
      30_000,
      "the run to skip the tenant for its quota",
    );

    // Assess 1: nothing recorded, the cursor where it was.
    expect((await getSession(tenant.admin, s.id)).body.connections).toEqual([]);
    expect((await cursors().get(tenant.tenantId))!.cursor).toEqual(cursorBefore);

    // Act 2: once the bucket has room again, the next run reads the same window.
    await new Promise((r) => setTimeout(r, 2_500));
    await runTimer(tenant);

    // Assess 2
    expect((await getSession(tenant.admin, s.id)).body.connections.map((c) => c.supporter.userId)).toEqual(["u7400"]);
  });

  it("GET /api/reports/sessions counts connected sessions, their total and median minutes, and accepted sessions never connected", async () => {
    // Prepare: one session connected 10 min, one 5 + 15 min, one accepted with nobody connecting.
    const tenant = await onboardedTenant();
    const [one, two, none] = [await session(tenant), await session(tenant), await session(tenant)];
    const start = Date.now() - minutes(90);
    const add = (code: string, from: number, length: number, user: string) =>
      fake().addConnection({
        session_code: code,
        userid: user,
        username: user,
        start_date: iso(start + minutes(from)),
        end_date: iso(start + minutes(from + length)),
      });
    await add(one.code, 0, 10, "u7500");
    await add(two.code, 20, 5, "u7501");
    await add(two.code, 30, 15, "u7502");

    // Act
    await runTimer(tenant);
    const report = await api<SessionReport>("/reports/sessions", { token: tenant.admin });

    // Assess
    expect(report.status, report.text).toBe(200);
    expect(report.body).toMatchObject({
      total: 3,
      accepted: 3,
      connectedSessions: 2,
      totalConnectionMinutes: 30,
      medianConnectionMinutes: 15,
      sessionsNeverConnected: 1,
    });
    const neverConnected: SessionResource = (await getSession(tenant.admin, none.id)).body;
    expect(neverConnected).toMatchObject({ status: "accepted", connections: [], neverConnected: true });
  });
});
