// A message as a queue holds it, and its journal form: the records that write it down, the replay
// that reads them back, and the annotations it is handed out with.
import { parseMessage, storedBytes, type BrokerAnnotations, type ParsedMessage } from "./amqpEncoding.js";
import type { DuplicateHistory } from "./duplicateDetection.js";
import type { JournalRecord } from "./journal.js";

export type MessageState = "active" | "deferred" | "scheduled";

export interface StoredMessage {
  readonly seq: number;
  message: ParsedMessage;
  state: MessageState;
  enqueuedAt: number;
  expiresAt: number | undefined;
  scheduledAt: number | undefined;
  /** Times the message was handed out; the header delivery-count is this before the hand-out. */
  deliveries: number;
  lock: { token: string; until: number } | undefined;
  deadLetterSource: string | undefined;
}

/** A message just sent: scheduled while its enqueue time is ahead, expiring after its own TTL or the queue's default, whichever is shorter. */
export function newStoredMessage(seq: number, message: ParsedMessage, now: number, defaultTtl: number): StoredMessage {
  const scheduled = message.scheduledEnqueueTime !== undefined && message.scheduledEnqueueTime > now;
  const enqueuedAt = scheduled ? (message.scheduledEnqueueTime ?? now) : now;
  const ttl = Math.min(message.header.ttl ?? Infinity, defaultTtl);
  return {
    seq,
    message,
    state: scheduled ? "scheduled" : "active",
    enqueuedAt,
    expiresAt: enqueuedAt + ttl,
    scheduledAt: scheduled ? enqueuedAt : undefined,
    deliveries: 0,
    lock: undefined,
    deadLetterSource: undefined,
  };
}

export function annotationsOf(m: StoredMessage, deliveryCount: number, lockedUntil: number | undefined): BrokerAnnotations {
  return {
    sequenceNumber: m.seq,
    enqueuedTime: m.enqueuedAt,
    deliveryCount,
    lockedUntil,
    state: m.state === "deferred" ? 1 : m.state === "scheduled" ? 2 : undefined,
    deadLetterSource: m.deadLetterSource,
  };
}

/** The whole message, as the journal keeps it under entity `key`. */
export function putRecord(key: string, m: StoredMessage): JournalRecord {
  return {
    t: "put",
    e: key,
    s: m.seq,
    raw: storedBytes(m.message).toString("base64"),
    st: m.state,
    at: m.enqueuedAt,
    x: m.expiresAt ?? null,
    sch: m.scheduledAt ?? null,
    d: m.deliveries,
    dls: m.deadLetterSource ?? null,
    tok: m.lock?.token ?? null,
    u: m.lock?.until ?? null,
  };
}

export function stateRecord(key: string, m: StoredMessage): JournalRecord {
  return { t: "state", e: key, s: m.seq, st: m.state, at: m.enqueuedAt, x: m.expiresAt ?? null };
}

export function lockRecord(key: string, m: StoredMessage, token: string, until: number): JournalRecord {
  return { t: "lock", e: key, s: m.seq, tok: token, u: until, d: m.deliveries };
}

/** The state of one entity that its journal records rebuild. */
export interface ReplayTarget {
  readonly messages: Map<number, StoredMessage>;
  readonly sequence: { next: number };
  readonly duplicates: DuplicateHistory;
}

/** Applies one journal record of the entity to `target`. */
export function replay(target: ReplayTarget, record: JournalRecord): void {
  const { messages, sequence } = target;
  switch (record.t) {
    case "put":
      messages.set(record.s, {
        seq: record.s,
        message: parseMessage(Buffer.from(record.raw, "base64")),
        state: record.st,
        enqueuedAt: record.at,
        expiresAt: record.x ?? undefined,
        scheduledAt: record.sch ?? undefined,
        deliveries: record.d,
        lock: record.tok !== null && record.u !== null ? { token: record.tok, until: record.u } : undefined,
        deadLetterSource: record.dls ?? undefined,
      });
      sequence.next = Math.max(sequence.next, record.s + 1);
      return;
    case "lock": {
      const m = messages.get(record.s);
      if (m) Object.assign(m, { lock: { token: record.tok, until: record.u }, deliveries: record.d });
      return;
    }
    case "unlock": {
      const m = messages.get(record.s);
      if (m) m.lock = undefined;
      return;
    }
    case "state": {
      const m = messages.get(record.s);
      if (m) Object.assign(m, { state: record.st, enqueuedAt: record.at, expiresAt: record.x ?? undefined });
      return;
    }
    case "del":
      messages.delete(record.s);
      return;
    case "dup":
      target.duplicates.restore(record.id, record.u, record.s);
      sequence.next = Math.max(sequence.next, record.s + 1);
      return;
    case "seq":
      sequence.next = Math.max(sequence.next, record.s);
      return;
  }
}
