// Work nobody asks for: the timer that re-sends outbox messages, expires unanswered
// requests and deletes expired Idempotency-Key records, closing a tenant's open sessions when its connector is disconnected, and what
// happens when a command was dead-lettered (the session is failed or marked, and audited).
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { ClosedSessionsPage, OpenSessionsCloser } from "../connector/ports.js";
import { systemActor } from "../../domain/caller.js";
import { isOpen } from "../../domain/sessionState.js";
import { applyEvent, noteHistory, sessionFailureCodes, type Session, type TeamViewerDetails } from "../../domain/session.js";
import type { IdempotencyStore, RowsPage, TeamViewerTokens } from "./ports.js";
import type { TeamViewerByTenant } from "../quota/teamViewerQuota.js";
import type { SessionExpiry } from "./expiry.js";
import { sessionCloseEntry } from "./sessionMessages.js";
import { closeAtTeamViewer, closedTeamViewerDetails } from "./teamViewerSessions.js";
import { pushFailedWarning } from "./notificationWorker.js";
import type { SessionWriter } from "./sessionWriter.js";
import { buildSession } from "./newSession.js";
import { releaseClaim } from "./retryPolicy.js";
import { ulid } from "ulid";
import { isOutage, TimerRows } from "../timerRows.js";

const timerName = "sessionTimers";

/** Outbox entries younger than this are still being sent by the request that wrote them. */
export const outboxGraceMs = 60_000;

/**
 * An outbox entry the timer could not send for this long is given up: audited, logged and
 * deleted, not re-sent every minute for ever. Everything such a message could still do is
 * moot by then: requests expire within sessionTimeoutMinutes (at most 24 h) of being asked
 * for or approved, the session timer closes them without it, and a TeamViewer session made
 * for one is valid only until that expiry.
 */
export const outboxGiveUpMs = 24 * 60 * 60_000;

/**
 * Expired Idempotency-Key records one run looks at per tenant. A record is written for
 * every keyed request and answers for 24 hours; after that it is dead weight, and a script
 * that sends a new key with every request would otherwise grow the table for ever. A run a
 * minute at this bound outpaces what a tenant's callers can write.
 */
export const idempotencyPurgePerRun = 1_000;

/**
 * Outbox entries, and due requests, one run handles per tenant. The run visits the tenants
 * one after the other: unbounded, a tenant with thousands of either (a Service Bus outage, a
 * mass request expiring at once) would hold every tenant after it back for as long as its
 * rows take. The rest wait for the next runs, which carry on where this one stopped.
 */
export const sessionTimerRowsPerTenant = 200;

/** Why an outbox entry was deleted unsent: audited as the entry's maintenanceSkipped. */
export class OutboxGivenUp extends Error {
  override readonly name = "not sent within 24 hours, given up";
}

export interface DeadLetterContext {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly reason?: string;
  readonly correlationId?: string;
  readonly log: Logger;
}

/** An automation's remoteAssistance.requested that Service Bus gave up on (built in functions/sessionQueues.ts). */
export interface DeadLetteredAutomationRequest {
  readonly tenantId: string;
  /** The event's id: its session, if one was made, was stored under it. */
  readonly eventId: string;
  readonly deviceId: string;
  readonly requestedBy: { readonly id: string; readonly displayName: string };
  readonly description?: string;
  /** The help-desk ticket it named: the failed session carries it, so the ticket finds its failure. */
  readonly ticketId?: string;
  readonly reason?: string;
  readonly correlationId?: string;
}

export class SessionMaintenance implements OpenSessionsCloser {
  readonly #d: {
    writer: SessionWriter;
    expiry: SessionExpiry;
    idempotency: IdempotencyStore;
    tokens: TeamViewerTokens;
    teamViewer: TeamViewerByTenant;
    audit: AuditLog;
    clock: Clock;
    log: Logger;
  };
  readonly #rows: TimerRows;
  /**
   * Per tenant, where the next run carries on in its outbox and in its due requests (this
   * instance's memory: another instance starts from the first). Set while a tenant has more
   * than a run's share, so rows a run cannot process do not take every run's share.
   */
  readonly #places = { outbox: new Map<string, string>(), due: new Map<string, string>() };

  constructor(deps: {
    writer: SessionWriter;
    expiry: SessionExpiry;
    idempotency: IdempotencyStore;
    tokens: TeamViewerTokens;
    teamViewer: TeamViewerByTenant;
    audit: AuditLog;
    clock: Clock;
    log: Logger;
  }) {
    this.#d = deps;
    this.#rows = new TimerRows(deps.audit);
  }

  /**
   * One timer run: per tenant with sessions, re-send outbox entries older than a minute
   * (giving up those still unsent after 24 hours), expire what is due, and delete expired
   * Idempotency-Key records, each up to a bounded number a tenant. The first two are
   * key-range reads of rows that exist only while there is work (outbox rows until sent,
   * open rows while open), never scans of history.
   */
  async runTimers(log: Logger): Promise<{ tenants: number; resent: number; expired: number; skipped: number; purgedKeys: number }> {
    const now = this.#d.clock.now();
    const store = this.#d.writer.store;
    let resent = 0;
    let expired = 0;
    let skipped = 0;
    let purgedKeys = 0;
    const tenants = await store.listTenants();
    for (const tenantId of tenants) {
      try {
        const pending = await store.listOutbox(tenantId, new Date(now.getTime() - outboxGraceMs), this.#pageOf("outbox", tenantId));
        for (const id of pending.unreadable) {
          skipped++;
          await this.#rows.skipped(timerName, { tenantId, target: { type: "outboxMessage", id } }, log, new SyntaxError("unreadable outbox row"));
        }
        if (pending.entries.length > 0) {
          log.warn(`re-sending ${pending.entries.length} outbox message(s) whose send was not confirmed`, { tenantId });
          const giveUpBefore = now.getTime() - outboxGiveUpMs;
          const old = pending.entries.filter((e) => Date.parse(e.createdAt) < giveUpBefore);
          resent += await this.#d.writer.dispatch(
            tenantId,
            pending.entries.filter((e) => !old.includes(e)),
            log,
          );
          for (const entry of old) {
            if ((await this.#d.writer.dispatch(tenantId, [entry], log)) === 1) {
              resent++;
              continue;
            }
            skipped++;
            await this.#rows.skipped(
              timerName,
              { tenantId, target: { type: "outboxMessage", id: entry.id } },
              log,
              new OutboxGivenUp(),
              "It was deleted unsent.",
            );
            await store.deleteOutbox(tenantId, entry.id);
          }
        }
        this.#moveOn("outbox", tenantId, pending.next);
        const due = await store.listDue(tenantId, now, this.#pageOf("due", tenantId));
        for (const sessionId of due.sessionIds) {
          // A session row that cannot be read or written back is skipped (logged and
          // audited): it must not keep the tenant's other sessions from expiring.
          const done = await this.#rows.process(timerName, { tenantId, target: { type: "session", id: sessionId } }, log, async () => {
            const stored = await store.get(tenantId, sessionId);
            if (!stored) return;
            const before = stored.session.status;
            const after = await this.#d.expiry.expireIfDue(stored, log);
            if (after.status !== before) expired++;
          });
          if (!done) skipped++;
        }
        this.#moveOn("due", tenantId, due.next);
        // Last: a failure here must not keep the tenant's messages and expiries waiting.
        purgedKeys += await this.#d.idempotency.purgeExpired(tenantId, now, idempotencyPurgePerRun);
      } catch (e) {
        // One tenant's trouble must not starve the others; the next run tries again.
        log.error(isOutage(e) ? "session timer stopped for a tenant: storage or messaging is unavailable" : "session timer failed for a tenant", e, {
          tenantId,
        });
      }
    }
    return { tenants: tenants.length, resent, expired, skipped, purgedKeys };
  }

  /** The tenant's rows of a kind this run reads: a run's share, after where the last run stopped. */
  #pageOf(kind: "outbox" | "due", tenantId: string): RowsPage {
    const after = this.#places[kind].get(tenantId);
    return after === undefined ? { limit: sessionTimerRowsPerTenant } : { limit: sessionTimerRowsPerTenant, after };
  }

  /** After a page: the next run carries on after it, or from the first once the end was reached. */
  #moveOn(kind: "outbox" | "due", tenantId: string, next: string | undefined): void {
    if (next === undefined) this.#places[kind].delete(tenantId);
    else this.#places[kind].set(tenantId, next);
  }

  /** OpenSessionsCloser: the connector is being disconnected; the token still works now, not later. */
  async closeOpen(tenantId: string, reason: "disconnected", page: { readonly limit: number; readonly after?: string }): Promise<ClosedSessionsPage> {
    const log = this.#d.log.with({ tenantId });
    const open = await this.#d.writer.store.listOpenPage(tenantId, page.limit, page.after);
    let closed = 0;
    for (const sessionId of open.sessionIds) if (await this.#closeDisconnected(tenantId, sessionId, reason, log)) closed++;
    return open.next === undefined ? { closed } : { closed, next: open.next };
  }

  /** Closes one session because the connector is being disconnected; false when it was not open. */
  async #closeDisconnected(tenantId: string, sessionId: string, reason: "disconnected", log: Logger): Promise<boolean> {
    const stored = await this.#d.writer.store.get(tenantId, sessionId);
    if (!stored || !isOpen(stored.session.status)) return false;
    const s = stored.session;
    // At TeamViewer first, best effort: after the disconnect there is no token to do it with.
    let atTeamViewer: TeamViewerDetails | null = s.teamViewer;
    let problem: string | undefined;
    if ((s.teamViewer && !s.teamViewer.closedAt) || (!s.teamViewer && s.worker.createAttempts > 0)) {
      try {
        const info = await closeAtTeamViewer(this.#d, s);
        if (info) atTeamViewer = closedTeamViewerDetails(s, info, this.#d.clock.now());
      } catch (e) {
        problem = e instanceof Error ? e.message : String(e);
        log.warn("could not close a session at TeamViewer while disconnecting", { sessionId, error: problem });
      }
    }
    const now = this.#d.clock.now();
    const changed = await this.#d.writer.change(
      tenantId,
      sessionId,
      (cur) => {
        if (!isOpen(cur.status)) return undefined;
        let next: Session = {
          ...applyEvent(cur, "close", now, "Closed because the TeamViewer connector was disconnected."),
          closedBy: systemActor,
          closeReason: reason,
          teamViewer: atTeamViewer ?? cur.teamViewer,
        };
        if (atTeamViewer?.closedAt) next = noteHistory(next, now, "TeamViewer session closed.");
        if (problem) next = noteHistory(next, now, `The TeamViewer session could not be closed: ${problem.slice(0, 300)}`);
        return { next };
      },
      log,
    );
    if (!changed || isOpen(changed.after.session.status) === isOpen(changed.before.status)) return false;
    await this.#d.audit.record({
      tenantId,
      actor: systemActor,
      activity: "session.closed",
      target: { type: "session", id: sessionId },
      result: problem ? "failure" : "success",
      detail: problem
        ? `closed because the connector was disconnected; not closed at TeamViewer: ${problem.slice(0, 300)}`
        : "closed because the connector was disconnected",
    });
    return true;
  }

  // ------------------------------------------------------------------ dead letters

  /** session.create gave up: the request fails (and anything created at TeamViewer is closed). */
  async createDeadLettered(ctx: DeadLetterContext): Promise<void> {
    const now = this.#d.clock.now();
    const message = `The session could not be created: its command failed every delivery and was dead-lettered${ctx.reason ? ` (${ctx.reason})` : ""}.`;
    const changed = await this.#d.writer.change(
      ctx.tenantId,
      ctx.sessionId,
      (s) => {
        if (s.status !== "requested") return undefined;
        const next: Session = {
          ...applyEvent(s, "fail", now, message),
          failure: { code: sessionFailureCodes.deadLettered, message },
          worker: releaseClaim(s.worker),
        };
        const outbox = s.worker.createAttempts > 0 ? [sessionCloseEntry(s, { reason: "failed" }, { now, correlationId: ctx.correlationId })] : [];
        return { next, outbox };
      },
      ctx.log,
    );
    await this.#auditDeadLetter(
      ctx,
      "session.create",
      changed !== undefined && changed.before.status === "requested"
        ? "the session was failed"
        : `the session was ${changed?.after.session.status ?? "not found"}; left as is`,
    );
  }

  /** session.close gave up: the session stays closed here, with the failure to close it at TeamViewer recorded. */
  async closeDeadLettered(ctx: DeadLetterContext): Promise<void> {
    const now = this.#d.clock.now();
    const message = `The TeamViewer session could not be closed: the command failed every delivery and was dead-lettered${ctx.reason ? ` (${ctx.reason})` : ""}. It ends by itself when it is no longer valid.`;
    await this.#d.writer.change(
      ctx.tenantId,
      ctx.sessionId,
      (s) => {
        if (s.teamViewer?.closedAt) return undefined;
        // An open session here would be odd (producers close first); fail it rather than leave it open.
        const base = isOpen(s.status) ? applyEvent(s, "fail", now, message) : noteHistory(s, now, message);
        return { next: { ...base, failure: s.failure ?? { code: sessionFailureCodes.teamViewerCloseFailed, message } } };
      },
      ctx.log,
    );
    await this.#auditDeadLetter(ctx, "session.close", "the failure to close it at TeamViewer was recorded");
  }

  /**
   * notification.send gave up: the notification is marked failed, not the session. The
   * session itself is fine (the TeamViewer session exists, the admin can resend or pass
   * the link on), and failing it would throw away a working session over a push.
   */
  async notificationDeadLettered(ctx: DeadLetterContext): Promise<void> {
    const now = this.#d.clock.now();
    await this.#d.writer.change(
      ctx.tenantId,
      ctx.sessionId,
      (s) =>
        s.endUserNotification.status === "sent" || s.endUserNotification.status === "failed" || s.endUserNotification.status === "seen"
          ? undefined
          : {
              next: noteHistory(
                {
                  ...s,
                  endUserNotification: { ...s.endUserNotification, status: "failed" },
                  warnings: s.warnings.includes(pushFailedWarning) ? s.warnings : [...s.warnings, pushFailedWarning],
                },
                now,
                "The notification could not be delivered (dead-lettered).",
              ),
            },
      ctx.log,
    );
    await this.#auditDeadLetter(ctx, "notification.send", "the notification was marked failed");
  }

  /**
   * remoteAssistance.requested gave up: if it never became a session, a failed one records
   * it (under the message's dedupe key, so a session it did create is left alone).
   */
  async automationRequestDeadLettered(message: DeadLetteredAutomationRequest, log: Logger): Promise<void> {
    const now = this.#d.clock.now();
    const failureMessage = `The automation's request could not be processed: it failed every delivery and was dead-lettered${message.reason ? ` (${message.reason})` : ""}.`;
    const session = buildSession({
      tenantId: message.tenantId,
      id: ulid(now.getTime()),
      deviceId: message.deviceId,
      device: undefined,
      eligibility: undefined,
      requestedBy: { ...message.requestedBy, type: "automation" },
      description: message.description?.trim() || null,
      ticketId: message.ticketId ?? null,
      now,
      timeoutMinutes: 1,
    });
    const failed: Session = {
      ...applyEvent(session, "fail", now, failureMessage),
      failure: { code: sessionFailureCodes.deadLettered, message: failureMessage },
    };
    const result = await this.#d.writer.create(failed, [], log, `msg-${message.eventId}`);
    await this.#auditDeadLetter(
      {
        tenantId: message.tenantId,
        sessionId: result.created ? failed.id : result.existingSessionId,
        reason: message.reason,
        correlationId: message.correlationId,
        log,
      },
      "remoteAssistance.requested",
      result.created ? "recorded as a failed session" : "its session exists; left as is",
    );
  }

  async #auditDeadLetter(ctx: DeadLetterContext, type: string, outcome: string): Promise<void> {
    ctx.log.warn(`${type} was dead-lettered: ${outcome}`, { sessionId: ctx.sessionId, reason: ctx.reason });
    await this.#d.audit.record({
      tenantId: ctx.tenantId,
      actor: systemActor,
      activity: `${type}.deadLettered`,
      target: { type: "session", id: ctx.sessionId },
      result: "failure",
      detail: `${outcome}${ctx.reason ? `; reason: ${ctx.reason}` : ""}`,
      correlationId: ctx.correlationId,
    });
  }
}
