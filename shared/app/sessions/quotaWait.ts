// A session request that finds no room in the tenant's TeamViewer quota waits instead of
// failing: it stays `requested`, notes `waitingForTeamViewerQuota` with the expected time
// in its history (once per wait, not per retry) and in `waitingForTeamViewerQuotaUntil`,
// and its session.create is scheduled again for that time, in the same transaction as the
// session row (outbox), so the new message is never lost. Quota waits spend neither the
// retry budget nor the delivery count; the request's own expiry is what bounds them.
import { noteHistory, type Session } from "../../domain/session.js";
import { messageTypes } from "../../contracts/messages.js";
import type { TeamViewerQuotaExhausted } from "../quota/teamViewerQuota.js";
import type { OutboxEntry } from "./ports.js";
import { releaseClaim } from "./retryPolicy.js";
import { outboxEntry, sessionMessageIds } from "./sessionMessages.js";

/** The word the history entry starts with, so people and tools can find the waits. */
export const waitingForTeamViewerQuota = "waitingForTeamViewerQuota";

/**
 * Waiting sessions come back spread over 2 s plus a tenth of their wait, so a crowd held
 * back by a long block does not arrive at its end all at once.
 */
const spreadMs = 2_000;
const spreadShare = 0.1;

export interface QuotaWait {
  readonly next: Session;
  readonly message: OutboxEntry;
  readonly at: Date;
}

/**
 * The session (claim released) and its re-scheduled session.create after `e`. `held` is
 * the claimed session; `createAttemptsBefore` its count before this claim, always restored:
 * a quota wait means this claim created nothing at TeamViewer, either because no create was
 * sent (the limiter held it back) or because TeamViewer refused it (`rate_limit_reached`,
 * 403 or 429: throttling refuses a request, it does not process it, and the client does not
 * retry on its own). So the next attempt does not spend a call of the same quota looking
 * for a session first. An earlier attempt that may have created one (a timeout) is already
 * in `createAttemptsBefore`, and its lookup still happens.
 */
export function waitForQuota(
  held: Session,
  createAttemptsBefore: number,
  e: TeamViewerQuotaExhausted,
  now: Date,
  correlationId: string | undefined,
  random: () => number,
): QuotaWait {
  const expiresAt = Date.parse(held.expiresAt);
  // After the request's expiry nothing is worth a call: come back then, and expire it.
  const waitMs = Math.max(0, e.retryAt.getTime() - now.getTime());
  const at = new Date(Math.min(e.retryAt.getTime() + Math.floor(random() * (spreadMs + waitMs * spreadShare)), expiresAt + 1_000));
  const first = !held.waitingForTeamViewerQuotaUntil;
  const why = e.byTeamViewer ? "TeamViewer reported its rate limit as reached" : "the tenant's TeamViewer calls per minute are used up";
  const base: Session = {
    ...held,
    waitingForTeamViewerQuotaUntil: at.toISOString(),
    worker: {
      ...releaseClaim(held.worker),
      createAttempts: createAttemptsBefore,
      lastError: e.message.slice(0, 500),
    },
  };
  const next = first ? noteHistory(base, now, `${waitingForTeamViewerQuota}: expected at ${at.toISOString()} (${why}).`) : base;
  const message: OutboxEntry = {
    ...outboxEntry(
      messageTypes.sessionCreate,
      held.tenantId,
      { sessionId: held.id },
      {
        // One message per wait slot: a new time is a new message, a duplicate of this one is dropped.
        id: sessionMessageIds.create(held.id, at.getTime(), "quota"),
        now,
        correlationId,
      },
    ),
    notBefore: at.toISOString(),
  };
  return { next, message, at };
}
