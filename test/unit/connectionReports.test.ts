// Connection reporting: the pure recording rules, the report's connection figures, and the
// use case's cursor against in-memory ports (Powertools' in-memory persistence pattern).
import { ulid } from "ulid";
import { describe, expect, it } from "vitest";
import { buildReport } from "../../shared/app/sessions/sessionAdministration.js";
import { ConnectionReports } from "../../shared/app/sessions/connectionReports.js";
import type {
  ConnectionReportCursor,
  ConnectionReportCursorStore,
  ConnectionReportPage,
  ConnectionReportQuery,
  StoredCursor,
} from "../../shared/app/sessions/connectionPorts.js";
import type { SessionStore, StoredSession } from "../../shared/app/sessions/ports.js";
import { SessionWriter } from "../../shared/app/sessions/sessionWriter.js";
import { TeamViewerQuotaExhausted } from "../../shared/app/quota/teamViewerQuota.js";
import type { AuditEventInput, AuditLog } from "../../shared/app/audit/auditLog.js";
import { createLogger } from "../../shared/app/logging.js";
import { initialWorkerState, type Session } from "../../shared/domain/session.js";
import { maxConnectionsPerSession, normalizeSessionCode, recordConnection } from "../../shared/domain/sessionConnections.js";
import { connectionsPageSchema } from "../../shared/adapters/teamviewer/wire.js";

const at = new Date("2026-12-05T10:00:00.000Z");

function session(over: Partial<Session> = {}): Session {
  return {
    tenantId: "t1",
    id: ulid(at.getTime() - 3_600_000),
    deviceId: "d1",
    device: {
      deviceName: "PC",
      operatingSystem: "Windows",
      osVersion: "10",
      platform: "windows",
      userDisplayName: null,
      userPrincipalName: null,
      scopeTags: ["0"],
    },
    endUser: null,
    requestedBy: { id: "a1", displayName: "Adele", type: "user" },
    requestedAt: new Date(at.getTime() - 3_600_000).toISOString(),
    description: null,
    status: "accepted",
    history: [{ status: "requested", at: at.toISOString() }],
    expiresAt: at.toISOString(),
    teamViewer: { code: "s12-345-678", supporterLink: "https://x", validUntil: at.toISOString(), groupId: "g1", closedAt: null },
    endUserLink: null,
    endUserNotification: { channel: "companyPortal", status: "sent", dispatches: 1 },
    endUserResponse: { response: "accepted", at: at.toISOString() },
    closedAt: null,
    closedBy: null,
    closeReason: null,
    failure: null,
    warnings: [],
    worker: initialWorkerState,
    ...over,
  };
}

const report = (id: string, minutes: number | null) => ({
  id,
  supporter: { userId: "u1", name: "Sam" },
  startedAt: new Date("2026-12-05T09:00:00Z"),
  endedAt: minutes === null ? null : new Date(Date.parse("2026-12-05T09:00:00Z") + minutes * 60_000),
});

describe("recording a connection on a session", () => {
  it("records a new one with its duration and a history entry, and knows it the second time", () => {
    // Act
    const first = recordConnection(session(), report("c1", 12), at);
    const again = first.kind === "recorded" ? recordConnection(first.session, report("c1", 12), at) : undefined;
    // Assess
    expect(first).toMatchObject({ kind: "recorded", connection: { id: "c1", durationSeconds: 720, endedAt: "2026-12-05T09:12:00.000Z" } });
    if (first.kind === "recorded")
      expect(first.session.history.at(-1)).toMatchObject({ status: "accepted", detail: "Sam (u1) connected at 2026-12-05T09:00:00.000Z for 12 min." });
    expect(again).toEqual({ kind: "known" });
  });

  it("completes an open connection once its end is reported, without another history entry", () => {
    // Prepare
    const open = recordConnection(session(), report("c1", null), at);
    if (open.kind !== "recorded") throw new Error("expected a recorded connection");
    // Act
    const ended = recordConnection(open.session, report("c1", 5), at);
    // Assess
    expect(open.connection).toMatchObject({ endedAt: null, durationSeconds: null });
    expect(ended).toMatchObject({ kind: "ended", connection: { durationSeconds: 300 } });
    if (ended.kind === "ended") expect(ended.session.history).toHaveLength(open.session.history.length);
  });

  it("keeps at most the cap, noting the drop in the history once", () => {
    // Prepare
    let s = session();
    for (let i = 0; i < maxConnectionsPerSession; i++) {
      const r = recordConnection(s, report(`c${i}`, 1), at);
      if (r.kind === "recorded") s = r.session;
    }
    // Act
    const over = recordConnection(s, report("extra", 1), at);
    const overAgain = over.kind === "full" && over.session ? recordConnection(over.session, report("extra2", 1), at) : undefined;
    // Assess
    expect(s.connections).toHaveLength(maxConnectionsPerSession);
    expect(over.kind).toBe("full");
    expect(overAgain).toEqual({ kind: "full", session: undefined });
  });

  it("compares session codes without the s prefix, dashes or case", () => {
    expect(["s12-345-678", "12-345-678", "S12345678", "12345678"].map(normalizeSessionCode)).toEqual(Array(4).fill("12345678"));
  });
});

describe("the report's connection figures", () => {
  it("counts connected sessions, total and median minutes, and accepted sessions never connected", () => {
    // Prepare
    const withConnections = (id: string, ...minutes: number[]): Session =>
      session({
        id,
        connections: minutes.map((m, i) => ({
          id: `${id}${i}`,
          supporter: { userId: "u1", name: "Sam" },
          startedAt: at.toISOString(),
          endedAt: at.toISOString(),
          durationSeconds: m * 60,
        })),
      });
    // Act
    const r = buildReport(
      [withConnections("a", 10), withConnections("b", 5, 15), withConnections("c"), session({ id: "d", endUserResponse: null, status: "declined" })],
      at,
      at,
    );
    // Assess
    expect(r).toMatchObject({ connectedSessions: 2, totalConnectionMinutes: 30, medianConnectionMinutes: 15, sessionsNeverConnected: 1 });
  });
});

describe("reading TeamViewer's connection report page", () => {
  it("skips an unreadable record, accepts a bare code and a numeric id, and stops when nothing remains", () => {
    // Act
    const page = connectionsPageSchema.parse({
      records: [
        { id: 7, userid: "u1", username: "Sam", start_date: "2026-12-05T09:00:00Z", end_date: "2026-12-05T09:10:00Z", session_code: "12-345-678" },
        { id: "x", userid: "u1", start_date: "yesterday" },
        { id: "y", userid: "u2", start_date: "2026-12-05T09:00:00Z", end_date: null, session_code: null },
      ],
      records_remaining: 0,
      next_offset: "z",
    });
    // Assess
    expect(page.unreadable).toBe(1);
    expect(page.nextOffset).toBeUndefined();
    expect(page.records.map((r) => [r.id, r.sessionCode, r.endDate?.toISOString()])).toEqual([
      ["7", "12-345-678", "2026-12-05T09:10:00.000Z"],
      ["y", undefined, undefined],
    ]);
  });
});

class MemoryCursors implements ConnectionReportCursorStore {
  stored: StoredCursor | undefined;
  async get(): Promise<StoredCursor | undefined> {
    return this.stored;
  }
  async save(_t: string, cursor: ConnectionReportCursor, current: StoredCursor | undefined): Promise<StoredCursor | undefined> {
    if (current?.etag !== this.stored?.etag) return undefined;
    this.stored = { cursor, etag: String(Number(this.stored?.etag ?? 0) + 1) };
    return this.stored;
  }
}

function harness(pages: (q: ConnectionReportQuery) => ConnectionReportPage, callsPerMinute?: number) {
  let stored: StoredSession = { session: session(), etag: "1" };
  const store = {
    findByTeamViewerCode: async (_t: string, code: string) => {
      if (normalizeSessionCode(code) === "66666666") throw new SyntaxError("Unexpected token in the stored row");
      return normalizeSessionCode(code) === "12345678" ? stored : undefined;
    },
    get: async () => stored,
    update: async (current: StoredSession, next: Session) =>
      current.etag === stored.etag ? (stored = { session: next, etag: String(Number(stored.etag) + 1) }) : undefined,
    deleteOutbox: async () => undefined,
  } as unknown as SessionStore; // only the calls recording makes
  const audit: AuditEventInput[] = [];
  const auditLog: AuditLog = { record: async (e) => void audit.push(e), query: async () => ({ value: [] }) };
  const cursors = new MemoryCursors();
  const queries: ConnectionReportQuery[] = [];
  const reports = new ConnectionReports({
    onboardedTenants: async () => ["t1"],
    cursors,
    writer: new SessionWriter({
      store,
      bus: { send: async () => undefined, ping: async () => undefined, close: async () => undefined },
    }),
    tokens: { withAccessToken: (_t, fn) => fn("token") },
    teamViewer: { forTenant: () => ({ listConnections: async (_token, q) => (queries.push(q), pages(q)) }) },
    audit: auditLog,
    clock: { now: () => at },
    ...(callsPerMinute === undefined ? {} : { callsPerMinute: async () => callsPerMinute }),
  });
  return { reports, cursors, queries, audit, session: () => stored.session };
}

const record = (id: string) => ({
  id,
  userId: "u1",
  userName: "Sam",
  startDate: new Date("2026-12-05T09:00:00Z"),
  endDate: new Date("2026-12-05T09:01:00Z"),
  sessionCode: "s12-345-678",
});
const log = createLogger(() => undefined);

describe("the connection report timer's cursor", () => {
  it("keeps the next page's offset when the quota runs out mid-window, and goes on from it next run", async () => {
    // Prepare: page 1 answers, page 2 finds no room once.
    let refuse = true;
    const h = harness((q) => {
      if (q.offsetId === undefined) return { records: [record("c1")], unreadable: 0, nextOffset: "p2" };
      if (refuse) {
        refuse = false;
        throw new TeamViewerQuotaExhausted("t1", at, "listConnections", false);
      }
      return { records: [record("c2")], unreadable: 0 };
    });
    // Act
    await h.reports.run(log);
    const pending = h.cursors.stored?.cursor;
    await h.reports.run(log);
    // Assess
    expect(pending).toEqual({ through: null, pending: { from: "2026-12-04T10:00:00.000Z", to: at.toISOString(), offsetId: "p2" } });
    expect(h.queries.map((q) => q.offsetId)).toEqual([undefined, "p2", "p2"]);
    expect(h.cursors.stored?.cursor).toEqual({ through: at.toISOString(), pending: null });
    expect(h.session().connections?.map((c) => c.id)).toEqual(["c1", "c2"]);
    expect(h.audit.map((e) => e.activity)).toEqual(["session.connected", "session.connected"]);
  });

  it("reads at most half the tenant's TeamViewer calls a minute in one run, leaving the rest to its sessions", async () => {
    // Prepare: a busy tenant (every page names a next one) at 10 calls a minute, and one at 1.
    const endless = (q: ConnectionReportQuery): ConnectionReportPage => ({
      records: [],
      unreadable: 0,
      nextOffset: `p${Number(q.offsetId?.slice(1) ?? 0) + 1}`,
    });
    const ten = harness(endless, 10);
    const one = harness(endless, 1);
    const unset = harness(endless);

    // Act
    await ten.reports.run(log);
    await one.reports.run(log);
    await unset.reports.run(log);

    // Assess: 5 pages, at least 1, and the fixed cap of 10 without the setting; the cursor keeps the next page.
    expect(ten.queries).toHaveLength(5);
    expect(one.queries).toHaveLength(1);
    expect(unset.queries).toHaveLength(10);
    expect(ten.cursors.stored?.cursor.pending?.offsetId).toBe("p5");
  });

  it("reaches a day back before the last window's end, and no further back than a week after an outage", async () => {
    // Prepare
    const h = harness(() => ({ records: [], unreadable: 0 }));
    h.cursors.stored = { cursor: { through: "2026-11-01T00:00:00.000Z", pending: null }, etag: "1" };
    // Act
    await h.reports.run(log);
    await h.reports.run(log);
    // Assess
    expect(h.queries.map((q) => q.from.toISOString())).toEqual(["2026-11-28T10:00:00.000Z", "2026-12-04T10:00:00.000Z"]);
  });

  it("skips a record whose session row cannot be read, audits it, and records the rest", async () => {
    // Prepare
    const h = harness(() => ({
      records: [{ ...record("bad"), sessionCode: "s66-666-666" }, { ...record("nobody"), sessionCode: "s00-000-001" }, record("c1")],
      unreadable: 0,
    }));
    // Act
    await h.reports.run(log);
    // Assess
    expect(h.session().connections?.map((c) => c.id)).toEqual(["c1"]);
    expect(h.audit.map((e) => [e.activity, e.target.id])).toEqual([
      ["teamViewerConnection.maintenanceSkipped", "bad"],
      ["session.connected", h.session().id],
    ]);
    expect(h.cursors.stored?.cursor).toEqual({ through: at.toISOString(), pending: null });
  });
});
