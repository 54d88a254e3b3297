// Who actually connected: every few minutes, for each onboarded tenant, read TeamViewer's
// connection report through the tenant's quota and record each connection once on the
// session whose TeamViewer code it names (a history entry and a `session.connected` audit
// event). The window overlaps the previous one (a record appears only some time after the
// connection, and an open one is completed later), so records repeat: the connection id on
// the session makes recording idempotent. A per-tenant cursor keeps the window and, while
// a window is read page by page, the next page's offset, so a run that stops (quota used
// up, a failure) loses nothing and re-reads nothing it already finished.
import { systemActor } from "../../domain/caller.js";
import { DomainError, errorCodes } from "../../domain/errors.js";
import { connectionDetail, recordConnection, type ConnectionOutcome } from "../../domain/sessionConnections.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import { isQuotaExhausted } from "../quota/teamViewerQuota.js";
import { isTeamViewerError } from "../teamViewerError.js";
import { isOutage, TimerRows } from "../timerRows.js";
import type { ConnectionReportCursor, ConnectionReportCursorStore, ReportedConnection, TeamViewerConnectionsApi } from "./connectionPorts.js";
import type { TeamViewerTokens } from "./ports.js";
import type { SessionWriter } from "./sessionWriter.js";

export const timerName = "teamViewerConnectionReports";

export const connectionReportLimits = {
  /**
   * How far each window reaches back before the end of the last one. TeamViewer's report
   * is read by start time and a record may appear only after its connection ended, so the
   * overlap must cover a whole connection plus the reporting delay.
   */
  overlapMs: 24 * 60 * 60_000,
  /** After a long outage the window starts no earlier than this before now. */
  maxLookbackMs: 7 * 24 * 60 * 60_000,
  /**
   * Pages read per tenant per run (1,000 records each); the rest waits for the next run. A
   * tenant's run also reads at most half its TeamViewer calls per minute (at least one page):
   * the report must leave room in the quota for the sessions, which need it more.
   */
  maxPagesPerRun: 10,
  /** Tenants read at once. */
  concurrency: 4,
} as const;

export interface ConnectionReportsDeps {
  readonly onboardedTenants: () => Promise<string[]>;
  readonly cursors: ConnectionReportCursorStore;
  readonly writer: SessionWriter;
  readonly tokens: TeamViewerTokens;
  readonly teamViewer: { forTenant(tenantId: string): TeamViewerConnectionsApi };
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** The tenant's teamViewerCallsPerMinute setting (absent: only maxPagesPerRun bounds a run). */
  readonly callsPerMinute?: (tenantId: string) => Promise<number>;
}

export interface ConnectionReportCounts {
  tenants: number;
  tenantsSkipped: number;
  pages: number;
  records: number;
  recorded: number;
  ended: number;
  known: number;
  /** No session of the tenant has the record's code (another account's, or not this service's session). */
  unknownCode: number;
  withoutCode: number;
  unreadable: number;
  dropped: number;
  rowsSkipped: number;
}

const emptyCounts = (): ConnectionReportCounts => ({
  tenants: 0,
  tenantsSkipped: 0,
  pages: 0,
  records: 0,
  recorded: 0,
  ended: 0,
  known: 0,
  unknownCode: 0,
  withoutCode: 0,
  unreadable: 0,
  dropped: 0,
  rowsSkipped: 0,
});

interface Window {
  readonly from: Date;
  readonly to: Date;
  readonly offsetId?: string;
}

export class ConnectionReports {
  readonly #d: ConnectionReportsDeps;
  readonly #rows: TimerRows;

  constructor(deps: ConnectionReportsDeps) {
    this.#d = deps;
    this.#rows = new TimerRows(deps.audit);
  }

  /** The timer: every onboarded tenant, a few at a time; one tenant's trouble never stops the others. */
  async run(log: Logger): Promise<ConnectionReportCounts> {
    const tenants = await this.#d.onboardedTenants();
    const counts = emptyCounts();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tenants.length) {
        const tenantId = tenants[next++];
        counts.tenants++;
        const tenantLog = log.with({ tenantId });
        try {
          await this.readTenant(tenantId, tenantLog, counts);
        } catch (e) {
          counts.tenantsSkipped++;
          await this.#tenantFailed(tenantId, e, tenantLog);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(connectionReportLimits.concurrency, tenants.length) }, worker));
    log.info("connection reports read", { ...counts });
    return counts;
  }

  /** Reads one tenant's report from its cursor, page by page, saving the cursor after each page. */
  async readTenant(tenantId: string, log: Logger, counts: ConnectionReportCounts = emptyCounts()): Promise<void> {
    let stored = await this.#d.cursors.get(tenantId);
    let window = this.#window(stored?.cursor);
    const teamViewer = this.#d.teamViewer.forTenant(tenantId);
    const perMinute = this.#d.callsPerMinute ? await this.#d.callsPerMinute(tenantId) : Infinity;
    const maxPages = Math.min(connectionReportLimits.maxPagesPerRun, Math.max(1, Math.floor(perMinute / 2)));
    for (let page = 0; page < maxPages; page++) {
      const q = { from: window.from, to: window.to, ...(window.offsetId === undefined ? {} : { offsetId: window.offsetId }) };
      let result;
      try {
        result = await this.#d.tokens.withAccessToken(tenantId, (token) => teamViewer.listConnections(token, q));
      } catch (e) {
        // An offset TeamViewer no longer knows: read the window again from its start (recording is idempotent).
        if (window.offsetId !== undefined && isTeamViewerError(e) && (e.code === "badRequest" || e.code === "notFound")) {
          log.warn("TeamViewer refused the saved offset of the connection report; the window is read again from its start", { errorCode: e.code });
          await this.#d.cursors.save(tenantId, { through: stored?.cursor.through ?? null, pending: null }, stored);
          return;
        }
        throw e;
      }
      counts.pages++;
      counts.records += result.records.length;
      counts.unreadable += result.unreadable;
      if (result.unreadable > 0)
        log.warn("TeamViewer's connection report held records that could not be read; they were skipped", { unreadable: result.unreadable });
      for (const record of result.records) await this.#record(tenantId, record, log, counts);

      const through = stored?.cursor.through ?? null;
      const advances = result.nextOffset !== undefined && result.nextOffset !== window.offsetId;
      if (result.nextOffset !== undefined && !advances) log.warn("TeamViewer's connection report paging did not advance; the window ends here");
      const cursor: ConnectionReportCursor = advances
        ? { through, pending: { from: window.from.toISOString(), to: window.to.toISOString(), offsetId: result.nextOffset! } }
        : { through: later(through, window.to.toISOString()), pending: null };
      const saved = await this.#d.cursors.save(tenantId, cursor, stored);
      // Another run moved the cursor meanwhile: it carries on from there.
      if (!saved || !advances) return;
      stored = saved;
      window = { ...window, offsetId: result.nextOffset! };
    }
  }

  #window(cursor: ConnectionReportCursor | undefined): Window {
    const now = this.#d.clock.now();
    if (cursor?.pending) return { from: new Date(cursor.pending.from), to: new Date(cursor.pending.to), offsetId: cursor.pending.offsetId };
    const earliest = now.getTime() - connectionReportLimits.maxLookbackMs;
    const through = cursor?.through ? Date.parse(cursor.through) : now.getTime();
    const from = Math.max(earliest, Math.min(through, now.getTime()) - connectionReportLimits.overlapMs);
    return { from: new Date(from), to: now };
  }

  async #record(tenantId: string, record: ReportedConnection, log: Logger, counts: ConnectionReportCounts): Promise<void> {
    if (record.sessionCode === undefined) {
      counts.withoutCode++;
      return;
    }
    const sessionCode = record.sessionCode;
    // What a failure is audited against: the connection until its session is known, then the session.
    const row = { tenantId, target: { type: "teamViewerConnection", id: record.id.slice(0, 100) } };
    const ok = await this.#rows.process(timerName, row, log, async () => {
      const found = await this.#d.writer.store.findByTeamViewerCode(tenantId, sessionCode);
      if (!found) {
        counts.unknownCode++;
        return;
      }
      const sessionId = found.session.id;
      row.target = { type: "session", id: sessionId };
      const now = this.#d.clock.now();
      const report = {
        id: record.id,
        supporter: { userId: record.userId, name: record.userName },
        startedAt: record.startDate,
        endedAt: record.endDate ?? null,
      };
      let outcome: ConnectionOutcome = { kind: "known" };
      const changed = await this.#d.writer.change(
        tenantId,
        sessionId,
        (s) => {
          outcome = recordConnection(s, report, now);
          if (outcome.kind === "known") return undefined;
          return outcome.session ? { next: outcome.session } : undefined;
        },
        log,
        found,
      );
      if (!changed) return;
      const done = outcome as ConnectionOutcome;
      if (done.kind === "known") counts.known++;
      else if (done.kind === "ended") counts.ended++;
      else if (done.kind === "full") {
        counts.dropped++;
        log.warn("a session has the most connections it keeps; a reported connection was not recorded", { sessionId });
      } else {
        counts.recorded++;
        await this.#d.audit.record({
          tenantId,
          actor: systemActor,
          activity: "session.connected",
          target: { type: "session", id: sessionId },
          result: "success",
          detail: connectionDetail(done.connection),
        });
      }
    });
    if (!ok) counts.rowsSkipped++;
  }

  async #tenantFailed(tenantId: string, e: unknown, log: Logger): Promise<void> {
    if (isQuotaExhausted(e)) {
      // Sessions need the quota more than a report does; the cursor holds the place.
      log.info("connection report skipped: no room in the tenant's TeamViewer quota", { until: e.retryAt.toISOString() });
      return;
    }
    if (e instanceof DomainError && e.code === errorCodes.connectorNotOnboarded) {
      // Disconnected meanwhile, or reauthorization required (the connector's health says so).
      log.info("connection report skipped: the connector cannot act", { reason: String(e.extensions?.reason ?? "notOnboarded") });
      return;
    }
    if (isTeamViewerError(e)) {
      log.warn("connection report skipped: TeamViewer failed; the next run tries again", { errorCode: e.code, status: e.status });
      return;
    }
    if (isOutage(e)) {
      log.error("connection report stopped for a tenant: storage is unavailable", e);
      return;
    }
    await this.#rows.skipped(timerName, { tenantId, target: { type: "connector", id: "teamviewer" } }, log, e);
  }
}

const later = (a: string | null, b: string): string => (a !== null && Date.parse(a) > Date.parse(b) ? a : b);
