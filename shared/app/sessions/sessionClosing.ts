// The closing worker (session.close on session-commands): closes a session's TeamViewer
// session once the session was closed, failed or expired here. Producers change the
// status first and send the command after; TeamViewer is told through the one close
// routine (teamViewerSessions.ts). A transient TeamViewer failure (5xx, a timeout) is
// re-scheduled with backoff, as a create is: Service Bus would redeliver at once and spend
// its ten deliveries within seconds of a short outage. After `closeRetryPolicy.maxRetries`
// re-schedules, or on a permanent failure, the failure is recorded on the session (which
// TeamViewer ends by itself in time) and audited.
import type { Clock } from "../clock.js";
import type { AuditLog } from "../audit/auditLog.js";
import { systemActor, type Actor } from "../../domain/caller.js";
import { DomainError, errorCodes, notFound } from "../../domain/errors.js";
import { isOpen } from "../../domain/sessionState.js";
import { applyEvent, noteHistory, sessionFailureCodes, type Session } from "../../domain/session.js";
import type { SessionCloseReason } from "../../contracts/messages.js";
import { isTeamViewerError, type TeamViewerError } from "../teamViewerError.js";
import { isReauthorizationRequired } from "../connector/connectorErrors.js";
import type { StoredSession, TeamViewerSessionInfo } from "./ports.js";
import { retryDelayMs } from "./retryPolicy.js";
import { sessionCloseEntry, type CommandContext } from "./sessionMessages.js";
import type { SessionWriter } from "./sessionWriter.js";
import { closeAtTeamViewer, closedTeamViewerDetails, type TeamViewerAccess, type TeamViewerGroupHints } from "./teamViewerSessions.js";

export interface SessionClosingDeps extends TeamViewerAccess {
  readonly writer: SessionWriter;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** Shared with the creation worker, which learns them. */
  readonly groups: TeamViewerGroupHints;
  /** Spreads the backoff (tests pass 0: the shortest delays). */
  readonly random?: () => number;
}

/** Re-schedules of a close after transient TeamViewer failures (about 4-8 minutes in all) before it is given up. */
export const closeRetryPolicy = { maxRetries: 8 } as const;

export type CloseCommand = CommandContext & { readonly reason: SessionCloseReason; readonly closedBy?: Actor };

export class SessionClosing {
  readonly #d: SessionClosingDeps;

  constructor(deps: SessionClosingDeps) {
    this.#d = deps;
  }

  /** Closes the session's TeamViewer session (the status was changed by whoever asked). */
  async close(ctx: CloseCommand): Promise<void> {
    const { tenantId, sessionId, log } = ctx;
    const store = this.#d.writer.store;
    let stored = await store.get(tenantId, sessionId);
    if (!stored) throw notFound(`Session ${sessionId}`);
    if (isOpen(stored.session.status)) {
      // Producers write the new status before sending; an open session here means the
      // command came from elsewhere (an operator): close it as asked.
      const changed = await this.#d.writer.change(
        tenantId,
        sessionId,
        (s) =>
          isOpen(s.status)
            ? {
                next: {
                  ...applyEvent(s, "close", this.#d.clock.now(), `Closed (${ctx.reason}).`),
                  closedBy: ctx.closedBy ?? systemActor,
                  closeReason: ctx.reason === "failed" ? null : ctx.reason,
                },
              }
            : undefined,
        log,
      );
      if (!changed) throw notFound(`Session ${sessionId}`);
      stored = changed.after;
      if (isOpen(changed.before.status)) {
        await this.#d.audit.record({
          tenantId,
          actor: ctx.closedBy ?? systemActor,
          activity: "session.closed",
          target: { type: "session", id: sessionId },
          result: "success",
          detail: `closed by a session.close command (${ctx.reason}; was ${changed.before.status})`,
          correlationId: ctx.correlationId,
        });
      }
    }
    const s = stored.session;
    if (s.teamViewer?.closedAt) return;

    let closed: TeamViewerSessionInfo | undefined;
    try {
      closed = await closeAtTeamViewer(this.#d, s, this.#d.groups.get(tenantId));
    } catch (e) {
      if (isTeamViewerError(e) && e.transient) {
        await this.#retryLater(stored, e, ctx);
        return;
      }
      // A refused token is reported as "not onboarded" with a reason: say which it is.
      const why =
        e instanceof DomainError
          ? isReauthorizationRequired(e)
            ? "the connector must be authorized again (TeamViewer no longer accepts its token)"
            : e.code === errorCodes.connectorNotOnboarded
              ? "the connector is not onboarded any more"
              : e.detail
          : isTeamViewerError(e)
            ? e.message
            : undefined;
      if (why === undefined) throw e;
      await this.#recordCloseFailure(stored, why, ctx);
      return;
    }
    if (!closed) {
      log.info("no TeamViewer session to close", { sessionId });
      return;
    }
    const info = closed;
    const now = this.#d.clock.now();
    // Audited before closedAt is saved: once it is saved, a redelivery returns at once, so
    // an audit write that failed after it would be lost. This way either write failing
    // makes the message come again and close again (a no-op at TeamViewer): the event may
    // be recorded twice, never not at all.
    await this.#audit(s, "success", `closed at TeamViewer (${ctx.reason})`, ctx.correlationId);
    await this.#d.writer.change(
      tenantId,
      sessionId,
      (cur) =>
        cur.teamViewer?.closedAt
          ? undefined
          : { next: noteHistory({ ...cur, teamViewer: closedTeamViewerDetails(cur, info, now) }, now, "TeamViewer session closed.") },
      log,
    );
  }

  /** Sends the close again after a backoff step, or records the failure once the retries are spent. */
  async #retryLater(stored: StoredSession, e: TeamViewerError, ctx: CloseCommand): Promise<void> {
    const now = this.#d.clock.now();
    let spent = false;
    const changed = await this.#d.writer.change(
      ctx.tenantId,
      ctx.sessionId,
      (cur) => {
        spent = false;
        if (cur.teamViewer?.closedAt) return undefined;
        const retries = (cur.worker.closeRetries ?? 0) + 1;
        spent = retries > closeRetryPolicy.maxRetries;
        if (spent) return undefined;
        const at = new Date(now.getTime() + retryDelayMs(retries - 1, e.retryAfterMs, this.#d.random));
        const again = sessionCloseEntry(
          cur,
          { reason: ctx.reason, ...(ctx.closedBy ? { closedBy: ctx.closedBy } : {}) },
          { now, correlationId: ctx.correlationId, variant: `retry|${retries}` },
        );
        return { next: { ...cur, worker: { ...cur.worker, closeRetries: retries } }, outbox: [{ ...again, notBefore: at.toISOString() }] };
      },
      ctx.log,
    );
    if (spent) {
      await this.#recordCloseFailure(stored, `${e.message} (tried ${closeRetryPolicy.maxRetries + 1} times)`, ctx);
      return;
    }
    const retries = changed?.after.session.worker.closeRetries;
    if (changed && retries !== changed.before.worker.closeRetries) {
      ctx.log.warn("TeamViewer failed transiently; the close is re-scheduled", { sessionId: ctx.sessionId, retry: retries, reason: e.message });
    }
  }

  async #recordCloseFailure(stored: StoredSession, why: string, ctx: CommandContext): Promise<void> {
    const now = this.#d.clock.now();
    const message = `The TeamViewer session could not be closed: ${why}. It ends by itself when it is no longer valid.`;
    await this.#d.writer.change(
      ctx.tenantId,
      ctx.sessionId,
      (cur) =>
        cur.teamViewer?.closedAt
          ? undefined
          : { next: noteHistory({ ...cur, failure: cur.failure ?? { code: sessionFailureCodes.teamViewerCloseFailed, message } }, now, message) },
      ctx.log,
    );
    await this.#audit(stored.session, "failure", message, ctx.correlationId);
  }

  async #audit(s: Session, result: "success" | "failure", detail: string, correlationId: string | undefined): Promise<void> {
    await this.#d.audit.record({
      tenantId: s.tenantId,
      actor: systemActor,
      activity: "session.teamViewerSessionClosed",
      target: { type: "session", id: s.id },
      result,
      detail,
      correlationId,
    });
  }
}
