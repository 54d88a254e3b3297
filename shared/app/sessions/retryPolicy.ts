// When the session worker tries TeamViewer again after a transient failure, and when it
// stops trying. Pure, so the numbers are tested without a clock or a queue.
import type { WorkerState } from "../../domain/session.js";

export const createRetryPolicy = {
  /** Re-schedules after transient failures before the session fails. */
  maxRetries: 8,
  baseDelayMs: 2_000,
  maxDelayMs: 5 * 60_000,
  /** Spread for throttled retries, so sessions that were throttled together do not return together. */
  retryAfterJitterMs: 2_000,
  /** A Retry-After beyond this is not believed (a typo, a date far off; past any date it broke the re-schedule): as the quota caps it. */
  maxRetryAfterMs: 60 * 60_000,
} as const;

/**
 * The delay before retry number `retry` (0-based). TeamViewer's Retry-After wins when it
 * gave one (at most `maxRetryAfterMs`, plus a little jitter); otherwise exponential backoff with "equal jitter":
 * half the step fixed, half random.
 */
export function retryDelayMs(retry: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) {
    return Math.min(Math.max(0, retryAfterMs), createRetryPolicy.maxRetryAfterMs) + Math.floor(random() * createRetryPolicy.retryAfterJitterMs);
  }
  const step = Math.min(createRetryPolicy.maxDelayMs, createRetryPolicy.baseDelayMs * 2 ** Math.max(0, retry));
  return Math.floor(step / 2 + random() * (step / 2));
}

/** The worker state with its claim released (nobody holds the session for a TeamViewer call). */
export const releaseClaim = (w: WorkerState): WorkerState => ({ ...w, claimId: null, claimedUntil: null, claimMessageId: null, claimDelivery: null });

/** How long a claim lasts: long enough for a lookup, a create and a token refresh with retry. */
export const claimLeaseMs = (teamViewerTimeoutMs: number): number => teamViewerTimeoutMs * 4 + 10_000;

/**
 * Whether this delivery is the first delivery of the session.create that the request
 * reserved the claim for (newSession.ts `withReservedCreate`), with room left for one
 * TeamViewer call: it may then use that claim without writing one. Any other delivery
 * (a redelivery, a re-scheduled message, a reservation about to run out) claims as usual.
 */
export function usesReservedClaim(
  worker: { readonly claimedUntil: string | null; readonly claimMessageId: string | null; readonly claimDelivery: number | null },
  now: Date,
  messageId: string,
  deliveryCount: number,
  teamViewerTimeoutMs: number,
): boolean {
  if (worker.claimDelivery !== 0 || worker.claimMessageId !== messageId || deliveryCount !== 1 || worker.claimedUntil === null) return false;
  // Room for the create and the save after it, or the usual claim (and a lookup first).
  return Date.parse(worker.claimedUntil) - now.getTime() > 2 * teamViewerTimeoutMs + 5_000;
}

export type ClaimDecision = { readonly kind: "take" } | { readonly kind: "busy"; readonly until: Date };

/**
 * Whether this delivery may claim the session for the TeamViewer call:
 * - nobody holds it, or the holder's lease ran out;
 * - or the holder was this very message in an earlier delivery: Service Bus redelivers a
 *   message only after its previous delivery ended (abandoned, crashed, lock lost), so
 *   the earlier attempt is over and waiting out its lease would only delay recovery.
 * Anyone else (a duplicate or re-scheduled message) waits for the lease.
 */
export function decideClaim(
  worker: {
    readonly claimId: string | null;
    readonly claimedUntil: string | null;
    readonly claimMessageId: string | null;
    readonly claimDelivery: number | null;
  },
  now: Date,
  messageId: string,
  deliveryCount: number,
): ClaimDecision {
  if (worker.claimId === null || worker.claimedUntil === null) return { kind: "take" };
  const until = new Date(worker.claimedUntil);
  if (until.getTime() <= now.getTime()) return { kind: "take" };
  if (worker.claimMessageId === messageId && worker.claimDelivery !== null && deliveryCount > worker.claimDelivery) return { kind: "take" };
  return { kind: "busy", until };
}
