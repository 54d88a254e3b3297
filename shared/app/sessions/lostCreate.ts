// A create that may have reached TeamViewer after the session ended. A delivery of
// session.create holds the claim while it calls TeamViewer; if the request is closed (or
// expires, or fails) meanwhile, the closing worker looks TeamViewer up by custom_api, and
// can look before TeamViewer has finished the create. When that create then times out at
// the client, the delivery cannot save anything (the session changed) and the message comes
// again, to a session that is no longer requested. That later delivery asks for the close
// once more, after TeamViewer's timeout, so the closing worker looks again and closes what
// the create left open (test/unit/lostCreate.test.ts).
import { isOpen } from "../../domain/sessionState.js";
import { noteHistory, type Session } from "../../domain/session.js";
import type { OutboxEntry } from "./ports.js";
import { releaseClaim } from "./retryPolicy.js";
import { sessionCloseEntry } from "./sessionMessages.js";

export const lostCreateNote = "A TeamViewer create was under way when the request ended: TeamViewer is looked up once more, and what it created is closed.";

/**
 * What a delivery of session.create that finds the session ended (not open, no TeamViewer
 * session, a create attempted) writes, when the claim is its message's:
 * - a later delivery than the one that held the claim and called TeamViewer: the claim
 *   released, a note, and a second close after TeamViewer's timeout;
 * - the delivery that holds the claim (so nothing was called yet): the claim released, so that
 *   a later delivery of the same message (its settlement lost) knows nothing was under way.
 * Otherwise undefined: nothing to write. A reserved claim (delivery 0) is run by delivery 1.
 */
export function closeAfterLostCreate(
  s: Session,
  delivery: { readonly messageId: string; readonly deliveryCount: number; readonly correlationId?: string },
  now: Date,
  teamViewerTimeoutMs: number,
): { next: Session; outbox: OutboxEntry[] } | undefined {
  const w = s.worker;
  const ranIn = w.claimDelivery === 0 ? 1 : w.claimDelivery;
  if (isOpen(s.status) || s.teamViewer !== null || w.createAttempts === 0) return undefined;
  if (w.claimMessageId !== delivery.messageId || ranIn === null) return undefined;
  const released: Session = { ...s, worker: releaseClaim(w) };
  if (delivery.deliveryCount <= ranIn) return { next: released, outbox: [] };
  const close: OutboxEntry = {
    ...sessionCloseEntry(s, { reason: "failed" }, { now, correlationId: delivery.correlationId, variant: `after-create|${delivery.messageId}` }),
    notBefore: new Date(now.getTime() + teamViewerTimeoutMs).toISOString(),
  };
  return { next: noteHistory(released, now, lostCreateNote), outbox: [close] };
}
