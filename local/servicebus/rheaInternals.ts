// Typed access to the few rhea 3.0.5 internals the emulator relies on and rhea's typings leave out:
// link settle modes and credit, the session's outgoing delivery queue, and raw incoming transfer bytes.
import type { Delivery, Sender, Session, link as Link } from "rhea";

interface AttachFields {
  snd_settle_mode?: number;
  rcv_settle_mode?: number;
}
interface LinkInternals {
  credit: number;
  local: { attach: AttachFields };
}
interface TransferFrame {
  performative: { handle: number; more?: boolean; aborted?: boolean };
  payload?: Buffer;
}
interface SessionInternals {
  outgoing: {
    next_delivery_id: number;
    next_pending_delivery: number;
    available(): number;
    deliveries: { by_id(id: number): { link: unknown } | undefined };
  };
  remote: { handles: Record<number, unknown> };
  on_transfer(frame: TransferFrame): void;
}

const linkInternals = (link: Link): LinkInternals => link as unknown as LinkInternals;
const sessionInternals = (session: Session): SessionInternals => session as unknown as SessionInternals;

/** A broker link copies the client's settle modes; rhea only pre-settles when snd-settle-mode is 1. */
export function setSettleModes(link: Link, sndSettleMode: number | undefined, rcvSettleMode: number | undefined): void {
  const attach = linkInternals(link).local.attach;
  attach.snd_settle_mode = sndSettleMode;
  attach.rcv_settle_mode = rcvSettleMode;
}

export function linkCredit(link: Link): number {
  return linkInternals(link).credit;
}

/**
 * How many more deliveries `sender` may take now. rhea decrements credit only when it writes a
 * transfer (next tick), and its session queue of unsettled deliveries has a fixed capacity that
 * throws when exceeded, so both are counted here.
 */
export function deliverableCount(sender: Sender): number {
  const outgoing = sessionInternals(sender.session).outgoing;
  let unsent = 0;
  for (let id = outgoing.next_pending_delivery; id < outgoing.next_delivery_id; id++) {
    if (outgoing.deliveries.by_id(id)?.link === sender) unsent++;
  }
  return Math.max(0, Math.min(linkCredit(sender) - unsent, outgoing.available()));
}

/**
 * Settles a delivery the client settles only on its side afterwards (rcv-settle-mode second): it
 * never tells us, and rhea keeps deliveries until the peer has settled them, so without this its
 * fixed-size session queue fills up and the link stalls.
 */
export function settleLast(delivery: Delivery, state: unknown): void {
  delivery.update(true, state);
  (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
}

export function sessionCapacity(sender: Sender): number {
  return sessionInternals(sender.session).outgoing.available();
}

/**
 * Hands the bytes of every complete incoming transfer on `session` to `onMessage` just before
 * rhea decodes them: the broker stores messages as sent, and rhea keeps only its decoded form.
 */
export function captureIncomingTransfers(session: Session, onMessage: (link: unknown, bytes: Buffer) => void): void {
  const internals = sessionInternals(session);
  const original = internals.on_transfer;
  const partial = new Map<number, Buffer[]>();
  internals.on_transfer = function (this: SessionInternals, frame: TransferFrame): void {
    const { handle, more, aborted } = frame.performative;
    const chunks = partial.get(handle) ?? [];
    if (frame.payload) chunks.push(frame.payload);
    if (more) partial.set(handle, chunks);
    else {
      partial.delete(handle);
      const link = this.remote.handles[handle];
      if (link && !aborted) onMessage(link, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    }
    original.call(this, frame);
  };
}
