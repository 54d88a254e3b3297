// The creation worker (session.create on session-commands): creates the TeamViewer session
// for a request (sessionClosing.ts closes it again). Exactly one TeamViewer session per request, under redelivery, crashes
// and races:
//   1. claim the session with an etag-guarded write before calling TeamViewer, so only
//      one delivery at a time may call it;
//   2. the TeamViewer session carries our session id in custom_api, and any attempt after
//      the first looks for it before creating (an earlier attempt may have created it and
//      died before saving);
//   3. the save is etag-guarded too; if the session ended meanwhile, what was created is
//      recorded and closed, never left behind.
// Transient TeamViewer failures re-schedule the command with backoff (Retry-After first)
// under a new message id; permanent ones fail the session with a failure code.
// It also sends the request's first end-user push (firstNotification.ts) once TeamViewer
// answered, and the save records it; only a push that failed here goes on to the
// notification worker.
import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import { systemActor, type Actor } from "../../domain/caller.js";
import { DomainError, errorCodes, notFound } from "../../domain/errors.js";
import { applyEvent, noteHistory, sessionFailureCodes, type Session, type SessionFailure, type TeamViewerDetails } from "../../domain/session.js";
import { messageTypes } from "../../contracts/messages.js";
import { isBadAuthorization, isTeamViewerError, type TeamViewerError } from "../teamViewerError.js";
import {
  faultPointNames,
  type FaultPoints,
  type OutboxEntry,
  type PushGateway,
  type StoredSession,
  type TeamViewerSessionInfo,
  type TeamViewerTokens,
} from "./ports.js";
import { claimLeaseMs, createRetryPolicy, decideClaim, releaseClaim, retryDelayMs, usesReservedClaim } from "./retryPolicy.js";
import { outboxEntry, sessionCloseEntry, sessionMessageIds, type CommandContext } from "./sessionMessages.js";
import type { SessionWriter } from "./sessionWriter.js";
import { isQuotaExhausted, type TeamViewerByTenant, type TeamViewerQuotaExhausted } from "../quota/teamViewerQuota.js";
import { waitForQuota } from "./quotaWait.js";
import { closeAfterLostCreate } from "./lostCreate.js";
import { changedSinceRequest, type WaitedRequestDeps } from "./waitedRequest.js";
import { notificationSentDetail } from "./notificationWorker.js";
import { notificationMessage, pushFirst, type FirstNotification } from "./firstNotification.js";
import { closeCodeAtTeamViewer, findByCustomApi, teamViewerRequest, type TeamViewerGroupHints } from "./teamViewerSessions.js";

export interface SessionCreationDeps extends WaitedRequestDeps {
  readonly writer: SessionWriter;
  readonly tokens: TeamViewerTokens;
  /** Every call counted against the tenant's TeamViewer quota. */
  readonly teamViewer: TeamViewerByTenant;
  readonly faults: FaultPoints;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** The TeamViewer client's per-call timeout: a claim must outlast the calls made under it. */
  readonly teamViewerTimeoutMs: number;
  readonly random?: () => number;
  /** Learned here from created sessions; shared with the closing worker. */
  readonly groups: TeamViewerGroupHints;
  readonly push: PushGateway;
}

/** The claim ran too short for another TeamViewer call: someone else may take over any moment. */
class ClaimExpiring extends Error {
  constructor() {
    super("the claim on the session is about to expire; re-scheduled instead of calling TeamViewer");
    this.name = "ClaimExpiring";
  }
}

export class SessionCreation {
  readonly #d: SessionCreationDeps;
  readonly #random: () => number;

  constructor(deps: SessionCreationDeps) {
    this.#d = deps;
    this.#random = deps.random ?? Math.random;
  }

  /** How long a claim lasts: long enough for a lookup, a create and a token refresh with retry. */
  get leaseMs(): number {
    return claimLeaseMs(this.#d.teamViewerTimeoutMs);
  }

  async create(ctx: CommandContext): Promise<void> {
    const { tenantId, sessionId, log } = ctx;
    const store = this.#d.writer.store;
    for (let round = 0; round < 5; round++) {
      const current = await store.get(tenantId, sessionId);
      if (!current) throw notFound(`Session ${sessionId}`);
      const s = current.session;
      if (s.status !== "requested") {
        const lost = closeAfterLostCreate(s, ctx, this.#d.clock.now(), this.#d.teamViewerTimeoutMs);
        if (lost && !(await this.#d.writer.commit(current, lost.next, lost.outbox, log, ctx.consumed))) continue;
        log.info(`session is ${s.status}; nothing to create`, { sessionId, closeLookedUpAgain: (lost?.outbox.length ?? 0) > 0 });
        return;
      }
      const now = this.#d.clock.now();
      if (Date.parse(s.expiresAt) <= now.getTime()) {
        if (await this.#expireUnstarted(current, ctx)) return;
        continue;
      }
      // What changed while the request waited (its device, the approval rule): then no session.
      const changed = await changedSinceRequest(s, now, this.#d);
      if (changed) {
        const message = `${changed} while the request waited; no session was created.`;
        // This delivery's first write: it takes the message's outbox row with it, as a claim would.
        await this.#fail(current, { code: sessionFailureCodes.deviceNotEligible, message }, { ...ctx, consumed: ctx.messageId });
        return;
      }
      if (usesReservedClaim(s.worker, now, ctx.messageId, ctx.deliveryCount, this.#d.teamViewerTimeoutMs)) {
        // The request took this claim for us: nothing to write, nothing created before.
        // The message's outbox row goes with this delivery's first write instead.
        await this.#createAtTeamViewer(current, false, { ...ctx, consumed: ctx.messageId });
        return;
      }
      const decision = decideClaim(s.worker, now, ctx.messageId, ctx.deliveryCount);
      if (decision.kind === "busy") {
        await this.#rescheduleWhileBusy(s, decision.until, ctx);
        return;
      }
      const claimed: Session = {
        ...s,
        worker: {
          ...s.worker,
          claimId: randomUUID(),
          claimedUntil: new Date(now.getTime() + this.leaseMs).toISOString(),
          claimMessageId: ctx.messageId,
          claimDelivery: ctx.deliveryCount,
          createAttempts: s.worker.createAttempts + 1,
        },
      };
      const held = await this.#d.writer.commit(current, claimed, [], log, ctx.messageId);
      if (!held) continue; // another delivery wrote first: look again
      await this.#createAtTeamViewer(held, s.worker.createAttempts > 0, ctx);
      return;
    }
    throw new Error(`could not claim session ${sessionId}: it kept changing`);
  }

  async #createAtTeamViewer(held: StoredSession, lookFirst: boolean, ctx: CommandContext): Promise<void> {
    const s = held.session;
    const claimedUntil = Date.parse(s.worker.claimedUntil ?? "");
    let result: { info: TeamViewerSessionInfo; found: boolean };
    try {
      result = await this.#d.tokens.withAccessToken(ctx.tenantId, async (token) => {
        if (lookFirst) {
          const found = await findByCustomApi(this.#d, ctx.tenantId, token, s.id, this.#d.groups.get(ctx.tenantId));
          if (found) return { info: found, found: true };
        }
        // Never start a create that could outlive the claim: another delivery could take
        // over meanwhile, find nothing yet, and create a second session.
        if (this.#d.clock.now().getTime() + this.#d.teamViewerTimeoutMs >= claimedUntil) throw new ClaimExpiring();
        return { info: await this.#d.teamViewer.forTenant(ctx.tenantId).createSession(token, teamViewerRequest(s)), found: false };
      });
    } catch (e) {
      await this.#createFailed(held, e, ctx);
      return;
    }
    this.#d.groups.set(ctx.tenantId, result.info.groupId);
    // Tests crash here on purpose: TeamViewer has the session, the table does not know yet.
    await this.#d.faults.hit(faultPointNames.afterTeamViewerCreate, { tenantId: ctx.tenantId, sessionId: s.id });
    const notified = await pushFirst(this.#d.push, s);
    await this.#saveCreated(held, result.info, result.found, notified, ctx);
  }

  async #saveCreated(held: StoredSession, info: TeamViewerSessionInfo, found: boolean, notified: FirstNotification, ctx: CommandContext): Promise<void> {
    const { log } = ctx;
    let current: StoredSession = held;
    for (let attempt = 0; attempt < 8; attempt++) {
      const s = current.session;
      const now = this.#d.clock.now();
      if (s.status === "requested") {
        const details: TeamViewerDetails = {
          code: info.code,
          supporterLink: info.supporterLink ?? "",
          validUntil: (info.validUntil ?? new Date(s.expiresAt)).toISOString(),
          groupId: info.groupId,
          closedAt: null,
        };
        let next: Session = {
          ...s,
          teamViewer: details,
          endUserLink: info.endCustomerLink ?? null,
          waitingForTeamViewerQuotaUntil: null,
          worker: { ...releaseClaim(s.worker), lastError: null },
        };
        next = applyEvent(
          next,
          "teamViewerSessionCreated",
          now,
          found ? "TeamViewer session found (an earlier attempt had created it)." : "TeamViewer session created.",
        );
        // pushFirst decided whether this session notifies its end user (sent or failed) or not.
        const sent = notified.kind === "sent";
        if (sent) next = { ...next, endUserNotification: { ...next.endUserNotification, status: "sent", sentAt: now.toISOString() } };
        // A first push that failed here goes on to the notification worker, which retries it.
        const outbox: OutboxEntry[] = notified.kind === "failed" ? [notificationMessage(next, now, ctx.correlationId)] : [];
        const written = await this.#d.writer.commit(current, next, outbox, log, ctx.consumed);
        if (written) {
          if (notified.kind === "failed")
            log.warn("the first notification failed; the notification worker retries it", { sessionId: s.id, reason: notified.reason });
          // Recorded together: the audit log commits them in one write, in this order.
          await Promise.all([
            this.#audit(
              next,
              systemActor,
              "session.teamViewerSessionCreated",
              "success",
              found ? "TeamViewer session found by its custom_api after a retry" : "TeamViewer session created",
              ctx.correlationId,
            ),
            sent ? this.#audit(next, systemActor, "session.notificationSent", "success", notificationSentDetail, ctx.correlationId) : undefined,
          ]);
          if (next.endUserNotification.status === "notSupported") {
            log.info("the device cannot be notified; the session carries the end-user link for the admin", { sessionId: s.id });
          }
          return;
        }
      } else if (s.teamViewer?.code === info.code) {
        return; // another delivery saved this very TeamViewer session
      } else if (s.teamViewer) {
        // Should not happen (the claim and the lookup prevent it), but if it does the extra session must not linger.
        log.error("a second TeamViewer session was created for one request; closing the extra one", undefined, { sessionId: s.id });
        await this.#closeQuietly(ctx.tenantId, info.code, log);
        return;
      } else {
        // The request ended (closed, failed, expired) while TeamViewer was creating the
        // session: record it and have it closed, so nothing stays open at TeamViewer.
        const next = noteHistory(
          {
            ...s,
            teamViewer: {
              code: info.code,
              supporterLink: info.supporterLink ?? "",
              validUntil: (info.validUntil ?? new Date(s.expiresAt)).toISOString(),
              groupId: info.groupId,
              closedAt: null,
            },
            worker: releaseClaim(s.worker),
          },
          now,
          "A TeamViewer session created while the request ended will be closed.",
        );
        const close = sessionCloseEntry(next, { reason: "failed" }, { now, correlationId: ctx.correlationId, variant: `orphan|${info.code}` });
        if (await this.#d.writer.commit(current, next, [close], log, ctx.consumed)) return;
      }
      const reread = await this.#d.writer.store.get(ctx.tenantId, ctx.sessionId);
      if (!reread) throw notFound(`Session ${ctx.sessionId}`);
      current = reread;
    }
    throw new Error(`could not save the TeamViewer session of ${ctx.sessionId}: it kept changing`);
  }

  async #createFailed(held: StoredSession, e: unknown, ctx: CommandContext): Promise<void> {
    if (isQuotaExhausted(e)) {
      await this.#waitForQuota(held, e, ctx);
      return;
    }
    if (e instanceof DomainError) {
      const code = e.code === errorCodes.connectorNotOnboarded ? sessionFailureCodes.connectorNotOnboarded : e.code;
      await this.#fail(held, { code, message: e.detail }, ctx);
      return;
    }
    if (e instanceof ClaimExpiring) {
      await this.#retryLater(held, undefined, e.message, true, ctx);
      return;
    }
    if (isTeamViewerError(e)) {
      if (e.transient) {
        await this.#retryLater(held, e, e.message, false, ctx);
        return;
      }
      const code = isBadAuthorization(e) ? sessionFailureCodes.teamViewerAuthorization : sessionFailureCodes.teamViewerRejected;
      // An answer that cannot be used (a link that is not https, say) is as final as a refusal.
      const what = e.code === "invalidResponse" ? "TeamViewer's answer to the session creation could not be used" : "TeamViewer refused to create the session";
      await this.#fail(held, { code, message: `${what}: ${e.message}` }, ctx);
      return;
    }
    // Anything else (Key Vault, storage) is transient: Service Bus redelivers, and the
    // redelivery of this same message may take over the claim at once.
    throw e;
  }

  async #retryLater(held: StoredSession, e: TeamViewerError | undefined, reason: string, free: boolean, ctx: CommandContext): Promise<void> {
    const s = held.session;
    const now = this.#d.clock.now();
    const retries = free ? s.worker.retries : s.worker.retries + 1;
    const throttled = e?.code === "throttled";
    const failureCode = throttled ? sessionFailureCodes.teamViewerThrottled : sessionFailureCodes.teamViewerUnavailable;
    if (retries > createRetryPolicy.maxRetries) {
      await this.#fail(held, { code: failureCode, message: `TeamViewer did not create the session after ${retries} attempts: ${reason}` }, ctx);
      return;
    }
    const at = new Date(now.getTime() + retryDelayMs(Math.max(0, retries - 1), e?.retryAfterMs, this.#random));
    if (at.getTime() >= Date.parse(s.expiresAt)) {
      await this.#fail(held, { code: failureCode, message: `TeamViewer could not create the session before the request would have expired: ${reason}` }, ctx);
      return;
    }
    const next: Session = { ...s, worker: { ...releaseClaim(s.worker), retries, lastError: reason.slice(0, 500) } };
    const message = {
      ...outboxEntry(
        messageTypes.sessionCreate,
        s.tenantId,
        { sessionId: s.id },
        {
          id: sessionMessageIds.create(s.id, free ? s.worker.createAttempts : retries, free ? "claim" : "retry"),
          now,
          correlationId: ctx.correlationId,
        },
      ),
      notBefore: at.toISOString(),
    };
    if (!(await this.#d.writer.commit(held, next, [message], ctx.log, ctx.consumed))) {
      // Someone wrote meanwhile (a close, a takeover): let Service Bus redeliver and look again.
      throw new Error(`session ${s.id} changed while re-scheduling its creation`);
    }
    ctx.log.warn(`TeamViewer failed transiently; creation re-scheduled in ${Math.round((at.getTime() - now.getTime()) / 1000)} s`, {
      sessionId: s.id,
      retry: retries,
      reason,
    });
  }

  /** No room in the tenant's TeamViewer quota: the request waits (quotaWait.ts), it does not fail. */
  async #waitForQuota(held: StoredSession, e: TeamViewerQuotaExhausted, ctx: CommandContext): Promise<void> {
    const wait = waitForQuota(held.session, held.session.worker.createAttempts - 1, e, this.#d.clock.now(), ctx.correlationId, this.#random);
    if (!(await this.#d.writer.commit(held, wait.next, [wait.message], ctx.log, ctx.consumed))) {
      throw new Error(`session ${held.session.id} changed while it was set to wait for TeamViewer quota`);
    }
    ctx.log.info("waiting for the tenant's TeamViewer quota; creation re-scheduled", {
      sessionId: held.session.id,
      at: wait.at.toISOString(),
      byTeamViewer: e.byTeamViewer,
    });
  }

  async #fail(held: StoredSession, failure: SessionFailure, ctx: CommandContext): Promise<void> {
    const s = held.session;
    const now = this.#d.clock.now();
    const next: Session = { ...applyEvent(s, "fail", now, failure.message), failure, worker: releaseClaim(s.worker) };
    // An attempt may have reached TeamViewer (a timeout is not a "no"): have it looked up and closed.
    const outbox = s.worker.createAttempts > 0 ? [sessionCloseEntry(next, { reason: "failed" }, { now, correlationId: ctx.correlationId })] : [];
    if (!(await this.#d.writer.commit(held, next, outbox, ctx.log, ctx.consumed))) throw new Error(`session ${s.id} changed while failing it`);
    await this.#audit(next, systemActor, "session.failed", "failure", `${failure.code}: ${failure.message}`, ctx.correlationId);
  }

  async #expireUnstarted(current: StoredSession, ctx: CommandContext): Promise<boolean> {
    const s = current.session;
    const now = this.#d.clock.now();
    const next: Session = { ...applyEvent(s, "expire", now, "Expired before TeamViewer created the session."), closeReason: "expired", closedBy: systemActor };
    const outbox = s.worker.createAttempts > 0 ? [sessionCloseEntry(next, { reason: "expired" }, { now, correlationId: ctx.correlationId })] : [];
    if (!(await this.#d.writer.commit(current, next, outbox, ctx.log))) return false;
    await this.#audit(next, systemActor, "session.expired", "success", "expired before it could be created at TeamViewer", ctx.correlationId);
    return true;
  }

  async #rescheduleWhileBusy(s: Session, until: Date, ctx: CommandContext): Promise<void> {
    // Completing this message and coming back after the lease keeps the delivery count
    // (and the dead-letter budget) for real failures. The id is tied to the claim, so every
    // duplicate that meets the same claim collapses into one re-scheduled message. Nothing
    // was written, so no outbox: if the send fails, this message is redelivered instead.
    const now = this.#d.clock.now();
    const entry = outboxEntry(
      messageTypes.sessionCreate,
      s.tenantId,
      { sessionId: s.id },
      {
        id: sessionMessageIds.create(s.id, 1, `busy|${s.worker.claimId ?? ""}`),
        now,
        correlationId: ctx.correlationId,
      },
    );
    const at = new Date(until.getTime() + 1_000);
    await this.#d.writer.send({ ...entry, notBefore: at.toISOString() });
    ctx.log.info("another delivery holds the session's claim; looking again after its lease", { sessionId: s.id, at: at.toISOString() });
  }

  async #closeQuietly(tenantId: string, code: string, log: Logger): Promise<void> {
    try {
      await this.#d.tokens.withAccessToken(tenantId, (token) => closeCodeAtTeamViewer(this.#d, tenantId, token, code), { requireOnboarded: false });
    } catch (e) {
      log.warn("could not close an extra TeamViewer session", { error: e instanceof Error ? e.message : String(e) });
    }
  }

  // ------------------------------------------------------------------ helpers

  async #audit(s: Session, actor: Actor, activity: string, result: "success" | "failure", detail: string, correlationId: string | undefined): Promise<void> {
    await this.#d.audit.record({ tenantId: s.tenantId, actor, activity, target: { type: "session", id: s.id }, result, detail, correlationId });
  }
}
