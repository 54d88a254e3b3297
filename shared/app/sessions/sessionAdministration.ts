// The admin's side of sessions: list, read, close, resend the notification, and the
// "who helped whom, when" report. Reads are limited to the caller's read scope (a session
// outside it does not exist for them); close and resend need the request scope.
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Access } from "../access.js";
import { actorOf, type UserCaller } from "../../domain/caller.js";
import { conflict, forbidden, notFound, rateLimited } from "../../domain/errors.js";
import { inScope, requireRead, type Permissions } from "../../domain/permissions.js";
import { applyEvent, checkResend, noteHistory, resentNotification, type Session } from "../../domain/session.js";
import { isOpen, sessionStatuses, type SessionStatus } from "../../domain/sessionState.js";
import { acceptedNeverConnected, connectedSeconds } from "../../domain/sessionConnections.js";
import { messageTypes } from "../../contracts/messages.js";
import type { SessionReport } from "../../contracts/sessions.js";
import { deviceChangedSinceRequest } from "../../domain/device.js";
import { maxApprovalTimeoutMinutes } from "../../domain/tenantSettings.js";
import type { DeviceDirectory, StoredSession } from "./ports.js";
import type { SessionExpiry } from "./expiry.js";
import { outboxEntry, sessionCloseEntry, sessionMessageIds } from "./sessionMessages.js";
import type { SessionWriter } from "./sessionWriter.js";

export interface AdminContext {
  readonly correlationId?: string;
  readonly log: Logger;
}

export interface SessionListRequest {
  readonly deviceId?: string;
  readonly status?: SessionStatus;
  readonly top: number;
  readonly continuationToken?: string;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The report's counts, added to one session at a time: it keeps what it counts (and two
 * numbers per accepted or connected session, for the medians), never the sessions, so a
 * report over a year of a busy tenant's sessions does not hold them all in memory.
 */
export class ReportTally {
  readonly #byStatus = Object.fromEntries(sessionStatuses.map((s) => [s, 0])) as Record<SessionStatus, number>;
  readonly #byPlatform: Record<string, number> = {};
  readonly #requesters = new Map<string, { id: string; displayName: string; type: "user" | "automation"; count: number }>();
  readonly #acceptSeconds: number[] = [];
  readonly #connectedMinutes: number[] = [];
  #neverConnected = 0;
  #total = 0;

  add(s: Session): void {
    this.#total++;
    this.#byStatus[s.status]++;
    this.#byPlatform[s.device.platform] = (this.#byPlatform[s.device.platform] ?? 0) + 1;
    const key = `${s.requestedBy.type}|${s.requestedBy.id}`;
    const r = this.#requesters.get(key) ?? { id: s.requestedBy.id, displayName: s.requestedBy.displayName, type: s.requestedBy.type, count: 0 };
    r.count++;
    this.#requesters.set(key, r);
    if (s.endUserResponse?.response === "accepted") this.#acceptSeconds.push((Date.parse(s.endUserResponse.at) - Date.parse(s.requestedAt)) / 1000);
    if ((s.connections ?? []).length > 0) this.#connectedMinutes.push(connectedSeconds(s) / 60);
    if (acceptedNeverConnected(s)) this.#neverConnected++;
  }

  report(from: Date, to: Date): SessionReport {
    const minutes = (m: number): number => Math.round(m * 10) / 10;
    const medianMinutes = median(this.#connectedMinutes);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      total: this.#total,
      byStatus: { ...this.#byStatus },
      byPlatform: { ...this.#byPlatform },
      byRequester: [...this.#requesters.values()].sort((a, b) => b.count - a.count || a.displayName.localeCompare(b.displayName)),
      accepted: this.#acceptSeconds.length,
      medianTimeToAcceptSeconds: median(this.#acceptSeconds),
      connectedSessions: this.#connectedMinutes.length,
      totalConnectionMinutes: minutes(this.#connectedMinutes.reduce((a, b) => a + b, 0)),
      medianConnectionMinutes: medianMinutes === null ? null : minutes(medianMinutes),
      sessionsNeverConnected: this.#neverConnected,
    };
  }
}

/** The report over the given sessions (already limited to what the caller may see). */
export function buildReport(sessions: Iterable<Session>, from: Date, to: Date): SessionReport {
  const tally = new ReportTally();
  for (const s of sessions) tally.add(s);
  return tally.report(from, to);
}

const defaultReportDays = 30;

/**
 * Reports of one tenant computed at once on an instance. A report reads every session of its
 * range (a busy tenant's year: a hundred thousand rows, a page of up to a thousand in memory
 * at a time), so a caller's burst of requests would otherwise read the tenant's history a
 * hundred times over at once. Two lets two admins look at the same moment.
 */
export const maxConcurrentReports = 2;
const reportRetryAfterSeconds = 5;

interface AdministrationDeps {
  readonly writer: SessionWriter;
  readonly access: Access;
  readonly devices: DeviceDirectory;
  readonly expiry: SessionExpiry;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly resendMinIntervalSeconds: number;
}

export class SessionAdministration {
  readonly #d: AdministrationDeps;
  /** Reports running now, per tenant (a tenant with none has no entry). */
  readonly #reportsRunning = new Map<string, number>();

  constructor(deps: AdministrationDeps) {
    this.#d = deps;
  }

  async list(caller: UserCaller, q: SessionListRequest): Promise<{ value: Session[]; continuationToken?: string }> {
    const p = await this.#d.access.permissionsOf(caller);
    // The approver's queue: every request waiting for approval, whatever else they may read.
    const approvalQueue = q.status === "pendingApproval" && p.approve;
    if (!approvalQueue) requireRead(p);
    return this.#d.writer.store.list({
      tenantId: caller.tenantId,
      ...(q.deviceId === undefined ? {} : { deviceId: q.deviceId }),
      ...(q.status === undefined ? {} : { status: q.status }),
      ...(q.status === "pendingApproval" ? { requestedSince: this.#oldestStillWaiting() } : {}),
      top: q.top,
      ...(q.continuationToken === undefined ? {} : { continuationToken: q.continuationToken }),
      visible: (s) => approvalQueue || inScope(p.read, s.device.scopeTags),
    });
  }

  /**
   * A request waits for approval at most `maxApprovalTimeoutMinutes` after it was made; one
   * older than that (and an hour's leeway for clocks) is due to expire, not waiting. So the
   * approval queue ends there instead of paging through the tenant's whole history: the
   * device and status filters read a bounded range of sessions a page.
   */
  #oldestStillWaiting(): Date {
    return new Date(this.#d.clock.now().getTime() - (maxApprovalTimeoutMinutes + 60) * 60_000);
  }

  async get(caller: UserCaller, sessionId: string, ctx: AdminContext): Promise<Session> {
    const { stored } = await this.#visible(caller, sessionId);
    return this.#d.expiry.expireIfDue(stored, ctx.log, ctx.correlationId);
  }

  async close(caller: UserCaller, sessionId: string, ctx: AdminContext): Promise<Session> {
    const { stored } = await this.#requestable(caller, sessionId);
    const now = this.#d.clock.now();
    const actor = actorOf(caller);
    const changed = await this.#d.writer.change(
      caller.tenantId,
      sessionId,
      (s) => ({
        next: { ...applyEvent(s, "close", now, `Closed by ${caller.displayName}.`), closedBy: actor, closeReason: "admin" },
        outbox: [sessionCloseEntry(s, { reason: "admin", closedBy: actor }, { now, correlationId: ctx.correlationId })],
      }),
      ctx.log,
      stored,
    );
    if (!changed) throw notFound("The session");
    await this.#d.audit.record({
      tenantId: caller.tenantId,
      actor,
      activity: "session.closed",
      target: { type: "session", id: sessionId },
      result: "success",
      detail: `closed by the admin (was ${changed.before.status})`,
      correlationId: ctx.correlationId,
    });
    return changed.after.session;
  }

  async resendNotification(caller: UserCaller, sessionId: string, ctx: AdminContext): Promise<Session> {
    const { stored, permissions } = await this.#requestable(caller, sessionId);
    const current = await this.#d.expiry.expireIfDue(stored, ctx.log, ctx.correlationId);
    // A session that ended cannot be resent whatever its device became since: the write
    // below says it ended, rather than a device check telling to close what is closed.
    if (isOpen(current.status)) await this.#deviceStillFor(permissions, current);
    const now = this.#d.clock.now();
    const changed = await this.#d.writer.change(
      caller.tenantId,
      sessionId,
      (s) => {
        if (s.status !== "awaitingEndUser") throw conflict(`The notification can be resent only while the session awaits the end user; it is ${s.status}.`);
        if (s.endUserNotification.channel !== "companyPortal" || !s.endUser) {
          throw conflict("This device's user can't be notified in the Company Portal. Pass the end-user link on to them another way.");
        }
        // Throttle and cap, decided on the row this write is guarded by: two resends at once
        // cannot both pass (the loser re-reads, sees the first, and is throttled).
        checkResend(s.endUserNotification, now, this.#d.resendMinIntervalSeconds);
        const notification = resentNotification(s.endUserNotification, now);
        const dispatches = notification.dispatches;
        return {
          next: noteHistory({ ...s, endUserNotification: notification }, now, `Notification resent by ${caller.displayName}.`),
          outbox: [
            outboxEntry(
              messageTypes.notificationSend,
              s.tenantId,
              { sessionId: s.id, userId: s.endUser.id },
              {
                id: sessionMessageIds.notification(s.id, dispatches),
                now,
                correlationId: ctx.correlationId,
              },
            ),
          ],
        };
      },
      ctx.log,
    );
    if (!changed) throw notFound("The session");
    await this.#d.audit.record({
      tenantId: caller.tenantId,
      actor: actorOf(caller),
      activity: "session.notificationResent",
      target: { type: "session", id: sessionId },
      result: "success",
      detail: `notification resent (resend ${changed.after.session.endUserNotification.resends ?? 0}, dispatch ${changed.after.session.endUserNotification.dispatches})`,
      correlationId: ctx.correlationId,
    });
    return changed.after.session;
  }

  async report(caller: UserCaller, range: { from?: string; to?: string }): Promise<SessionReport> {
    const p = await this.#d.access.permissionsOf(caller);
    requireRead(p);
    const tenantId = caller.tenantId;
    const running = this.#reportsRunning.get(tenantId) ?? 0;
    if (running >= maxConcurrentReports) {
      throw rateLimited(
        `${maxConcurrentReports} session reports of your tenant are being computed right now. Try again in ${reportRetryAfterSeconds} s.`,
        reportRetryAfterSeconds,
      );
    }
    this.#reportsRunning.set(tenantId, running + 1);
    try {
      const to = range.to ? new Date(range.to) : this.#d.clock.now();
      const from = range.from ? new Date(range.from) : new Date(to.getTime() - defaultReportDays * 86_400_000);
      // Counted as read: the range may hold a year of sessions, which are not kept.
      const tally = new ReportTally();
      for await (const s of this.#d.writer.store.requestedBetween(tenantId, from, to)) {
        if (inScope(p.read, s.device.scopeTags)) tally.add(s);
      }
      return tally.report(from, to);
    } finally {
      const left = (this.#reportsRunning.get(tenantId) ?? 1) - 1;
      if (left > 0) this.#reportsRunning.set(tenantId, left);
      else this.#reportsRunning.delete(tenantId);
    }
  }

  /**
   * A resend reaches the device's user again, as a new request would, so it is judged on the
   * device as the inventory has it now, not only as recorded on the session (an open session
   * follows its device's tags, but a request that raced the move may not have): a helper whose
   * Request scope no longer covers the device's tags cannot keep asking its user to let them in
   * (403), and a device removed or given to
   * another primary user is not pushed to the person who no longer has it (409). A device the
   * inventory no longer knows leaves the session as recorded.
   */
  async #deviceStillFor(permissions: Permissions, s: Session): Promise<void> {
    const device = await this.#d.devices.get(s.tenantId, s.deviceId);
    if (device && !inScope(permissions.request, device.roleScopeTagIds)) {
      throw forbidden("This session's device is now outside the scope of your Request Remote Assistance permission.");
    }
    const changed = deviceChangedSinceRequest(s, device);
    if (changed) throw conflict(`${changed} since the request. Close this session and request a new one.`);
  }

  async #visible(caller: UserCaller, sessionId: string): Promise<{ stored: StoredSession; permissions: Permissions }> {
    const permissions = await this.#d.access.permissionsOf(caller);
    requireRead(permissions);
    const stored = await this.#d.writer.store.get(caller.tenantId, sessionId);
    if (!stored || !inScope(permissions.read, stored.session.device.scopeTags)) throw notFound("The session");
    return { stored, permissions };
  }

  async #requestable(caller: UserCaller, sessionId: string): Promise<{ stored: StoredSession; permissions: Permissions }> {
    const permissions = await this.#d.access.permissionsOf(caller);
    // No request permission anywhere: a plain "no" before anything is looked up.
    if (!permissions.request) throw forbidden("Closing sessions and resending notifications needs the Request Remote Assistance permission.");
    const found = await this.#visible(caller, sessionId);
    if (!inScope(found.permissions.request, found.stored.session.device.scopeTags)) {
      throw forbidden("This session's device is outside the scope of your Request Remote Assistance permission.");
    }
    return found;
  }
}
