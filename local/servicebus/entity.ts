// One queue or its dead-letter sub-queue, independent of the wire: sequence numbers, peek-lock with
// delivery counts, dead-lettering, TTL, scheduled and deferred messages; every change journaled.
import { parseIsoDuration, type QueueDefinition } from "../../shared/queueDefinitions.js";
import { newLockToken, newMessageId, withApplicationProperties, withMessageId, type ParsedMessage } from "./amqpEncoding.js";
import { BrokerError, type AppProperties, type Disposition, type HandedOut, type ReceiveMode } from "./brokerTypes.js";
import { MinHeap } from "./deadlines.js";
import { DuplicateHistory } from "./duplicateDetection.js";
import type { JournalRecord } from "./journal.js";
import { annotationsOf, lockRecord, newStoredMessage, putRecord, replay, stateRecord, type StoredMessage } from "./storedMessages.js";

type DeadlineKind = "lock" | "ttl" | "schedule";
export interface Deadline {
  readonly kind: DeadlineKind;
  readonly entity: Entity;
  readonly seq: number;
}

/** What an entity needs from its broker. */
export interface EntityContext {
  now(): number;
  append(records: JournalRecord[]): void;
  deadline(at: number, deadline: Deadline): void;
  available(entity: Entity): void;
}

export class Entity {
  /** As Service Bus spells it: `orders` or `orders/$DeadLetterQueue`. */
  readonly path: string;
  readonly isDeadLetterQueue: boolean;
  readonly definition: QueueDefinition;
  readonly #key: string;
  readonly #ctx: EntityContext;
  readonly #lockDuration: number;
  readonly #defaultTtl: number;
  readonly #duplicateWindow: number;
  readonly #sequence: { next: number };
  readonly #messages = new Map<number, StoredMessage>();
  /** Sequence numbers of messages that may be handed out; stale entries are skipped on pop. */
  readonly #available = new MinHeap<number>((a, b) => a < b);
  readonly #locks = new Map<string, StoredMessage>();
  readonly #duplicates: DuplicateHistory;
  #deadLetterQueue: Entity | undefined;

  constructor(definition: QueueDefinition, deadLetterOf: Entity | undefined, ctx: EntityContext) {
    this.definition = definition;
    this.isDeadLetterQueue = deadLetterOf !== undefined;
    this.path = deadLetterOf ? `${definition.name}/$DeadLetterQueue` : definition.name;
    this.#key = this.path.toLowerCase();
    this.#ctx = ctx;
    this.#lockDuration = parseIsoDuration(definition.lockDuration);
    this.#defaultTtl = parseIsoDuration(definition.defaultMessageTimeToLive);
    this.#duplicateWindow = parseIsoDuration(definition.duplicateDetectionHistoryTimeWindow);
    this.#duplicates = new DuplicateHistory(this.#key);
    // The dead-letter queue keeps the sequence numbers its messages had in the queue.
    this.#sequence = deadLetterOf ? deadLetterOf.#sequence : { next: 1 };
  }

  get key(): string {
    return this.#key;
  }

  get messageCount(): number {
    return this.#messages.size;
  }

  /** Accepts sent or scheduled messages and returns their sequence numbers. */
  send(messages: readonly ParsedMessage[]): number[] {
    const now = this.#ctx.now();
    const records: JournalRecord[] = [];
    const seqs: number[] = [];
    let anyActive = false;
    for (const sent of messages) {
      const message = sent.messageId === undefined ? withMessageId(sent, newMessageId()) : sent;
      const id = message.messageId ?? "";
      if (this.definition.requiresDuplicateDetection) {
        const duplicateOf = this.#duplicates.duplicateOf(id, now);
        if (duplicateOf !== undefined) {
          seqs.push(duplicateOf); // Service Bus accepts a duplicate and drops it silently.
          continue;
        }
      }
      const seq = this.#sequence.next++;
      if (this.definition.requiresDuplicateDetection) records.push(this.#duplicates.remember(id, now + this.#duplicateWindow, seq));
      const stored = newStoredMessage(seq, message, now, this.#defaultTtl);
      this.#messages.set(seq, stored);
      records.push(putRecord(this.#key, stored));
      seqs.push(seq);
      if (stored.state === "scheduled") this.#ctx.deadline(stored.enqueuedAt, { kind: "schedule", entity: this, seq });
      else {
        this.#available.push(seq);
        this.#watchExpiry(stored);
        anyActive = true;
      }
    }
    this.#ctx.append(records);
    if (anyActive) this.#ctx.available(this);
    return seqs;
  }

  /** The next deliverable message, locked (peekLock) or removed (receiveAndDelete). */
  take(mode: ReceiveMode): HandedOut | undefined {
    const now = this.#ctx.now();
    for (let seq = this.#available.pop(); seq !== undefined; seq = this.#available.pop()) {
      const m = this.#messages.get(seq);
      if (!m || m.state !== "active" || m.lock) continue;
      if (m.expiresAt !== undefined && m.expiresAt <= now) {
        this.#expire(m);
        continue;
      }
      return this.#handOut(m, mode, now);
    }
    return undefined;
  }

  settle(lockToken: string, disposition: Disposition): void {
    const m = this.#locked(lockToken);
    this.#locks.delete(lockToken);
    m.lock = undefined;
    switch (disposition.kind) {
      case "complete":
        this.#remove(m);
        return;
      case "abandon":
        this.#release(m, this.#update(m, disposition.properties));
        return;
      case "defer": {
        const changed = this.#update(m, disposition.properties);
        m.state = "deferred";
        this.#ctx.append(changed ? [putRecord(this.#key, m)] : [{ t: "unlock", e: this.#key, s: m.seq }, stateRecord(this.#key, m)]);
        return;
      }
      case "deadLetter":
        this.#deadLetter(m, disposition.reason, disposition.description, disposition.properties);
        return;
    }
  }

  /** Extends a lock by the queue's lock duration and returns the new locked-until time. */
  renewLock(lockToken: string): number {
    const m = this.#locked(lockToken);
    const until = this.#ctx.now() + this.#lockDuration;
    m.lock = { token: lockToken, until };
    this.#ctx.append([lockRecord(this.#key, m, lockToken, until)]);
    this.#ctx.deadline(until, { kind: "lock", entity: this, seq: m.seq });
    return until;
  }

  /** Messages from `fromSeq` on, whatever their state, without locking them. */
  peek(fromSeq: number, count: number): HandedOut[] {
    const found = [...this.#messages.values()].filter((m) => m.seq >= fromSeq).sort((a, b) => a.seq - b.seq);
    return found.slice(0, Math.max(0, count)).map((m) => ({
      message: m.message,
      annotations: annotationsOf(m, m.deliveries, m.lock?.until),
      lockToken: undefined,
    }));
  }

  receiveDeferred(seqs: readonly number[], mode: ReceiveMode): HandedOut[] {
    const now = this.#ctx.now();
    const found = seqs.map((seq) => {
      const m = this.#messages.get(seq);
      if (!m || m.state !== "deferred") throw new BrokerError("messageNotFound", `No deferred message with sequence number ${seq} in ${this.path}.`);
      if (m.lock && m.lock.until > now) throw new BrokerError("messageNotFound", `The deferred message ${seq} in ${this.path} is locked by another receiver.`);
      return m;
    });
    return found.map((m) => this.#handOut(m, mode, now));
  }

  cancelScheduled(seqs: readonly number[]): void {
    for (const seq of seqs) {
      const m = this.#messages.get(seq);
      if (m?.state === "scheduled") this.#remove(m);
    }
  }

  // ---- broker-internal: deadlines, restore and snapshot ----

  onDeadline(kind: DeadlineKind, seq: number): void {
    const m = this.#messages.get(seq);
    if (!m) return;
    const now = this.#ctx.now();
    if (kind === "lock" && m.lock && m.lock.until <= now) this.#lockExpired(m);
    else if (kind === "ttl" && !m.lock && m.state !== "scheduled" && m.expiresAt !== undefined && m.expiresAt <= now) this.#expire(m);
    else if (kind === "schedule" && m.state === "scheduled" && (m.scheduledAt ?? 0) <= now) {
      m.state = "active";
      this.#ctx.append([stateRecord(this.#key, m)]);
      this.#watchExpiry(m);
      this.#makeAvailable(m);
    }
  }

  attachDeadLetterQueue(dlq: Entity): void {
    this.#deadLetterQueue = dlq;
  }

  restore(record: JournalRecord): void {
    replay({ messages: this.#messages, sequence: this.#sequence, duplicates: this.#duplicates }, record);
  }

  /** After replay: re-arm locks and deadlines; locks that ran out while stopped expire now. */
  resume(): void {
    const now = this.#ctx.now();
    this.#duplicates.prune(now);
    const expiredLocks: StoredMessage[] = [];
    for (const m of [...this.#messages.values()].sort((a, b) => a.seq - b.seq)) {
      if (m.lock && m.lock.until <= now) expiredLocks.push(m);
      else if (m.lock) {
        this.#locks.set(m.lock.token, m);
        this.#ctx.deadline(m.lock.until, { kind: "lock", entity: this, seq: m.seq });
      } else if (m.state === "active") this.#available.push(m.seq);
      if (m.state === "scheduled") this.#ctx.deadline(m.scheduledAt ?? now, { kind: "schedule", entity: this, seq: m.seq });
      else this.#watchExpiry(m);
    }
    for (const m of expiredLocks) this.#lockExpired(m);
    if (this.#available.size > 0) this.#ctx.available(this);
  }

  *snapshot(): Generator<JournalRecord> {
    if (!this.isDeadLetterQueue) yield { t: "seq", e: this.#key, s: this.#sequence.next };
    yield* this.#duplicates.snapshot();
    for (const m of this.#messages.values()) yield putRecord(this.#key, m);
  }

  // ---- internals ----

  #handOut(m: StoredMessage, mode: ReceiveMode, now: number): HandedOut {
    const deliveryCount = m.deliveries;
    if (mode === "receiveAndDelete") {
      this.#remove(m);
      return { message: m.message, annotations: annotationsOf(m, deliveryCount, undefined), lockToken: undefined };
    }
    const token = newLockToken();
    const until = now + this.#lockDuration;
    m.deliveries += 1;
    m.lock = { token, until };
    this.#locks.set(token, m);
    this.#ctx.append([lockRecord(this.#key, m, token, until)]);
    this.#ctx.deadline(until, { kind: "lock", entity: this, seq: m.seq });
    return { message: m.message, annotations: { ...annotationsOf(m, deliveryCount, until), lockToken: token }, lockToken: token };
  }

  #locked(lockToken: string): StoredMessage {
    const m = this.#locks.get(lockToken);
    if (!m || m.lock?.token !== lockToken) {
      throw new BrokerError("lockLost", `The lock supplied is invalid. Either the lock expired, or the message has already been removed from ${this.path}.`);
    }
    if (m.lock.until <= this.#ctx.now()) {
      this.#lockExpired(m);
      throw new BrokerError("lockLost", `The lock on the message in ${this.path} expired.`);
    }
    return m;
  }

  /** Applies a settlement's property changes; true when the message bytes changed. */
  #update(m: StoredMessage, properties: AppProperties | undefined): boolean {
    if (!properties || Object.keys(properties).length === 0) return false;
    m.message = withApplicationProperties(m.message, properties);
    return true;
  }

  #lockExpired(m: StoredMessage): void {
    if (m.lock) this.#locks.delete(m.lock.token);
    m.lock = undefined;
    this.#release(m, false);
  }

  /** A lock ended without completion: back to the queue, unless the delivery budget is spent. */
  #release(m: StoredMessage, changed: boolean): void {
    const max = this.definition.maxDeliveryCount;
    if (m.state === "active" && !this.isDeadLetterQueue && m.deliveries >= max) {
      this.#deadLetter(m, "MaxDeliveryCountExceeded", `Message could not be consumed after ${max} delivery attempts.`, undefined);
      return;
    }
    this.#ctx.append([changed ? putRecord(this.#key, m) : { t: "unlock", e: this.#key, s: m.seq }]);
    if (m.state === "active") this.#makeAvailable(m);
  }

  #makeAvailable(m: StoredMessage): void {
    if (m.expiresAt !== undefined && m.expiresAt <= this.#ctx.now()) {
      this.#expire(m);
      return;
    }
    this.#available.push(m.seq);
    this.#ctx.available(this);
  }

  #watchExpiry(m: StoredMessage): void {
    if (m.expiresAt !== undefined && m.expiresAt !== Infinity) this.#ctx.deadline(m.expiresAt, { kind: "ttl", entity: this, seq: m.seq });
  }

  #expire(m: StoredMessage): void {
    if (this.definition.deadLetteringOnMessageExpiration && !this.isDeadLetterQueue) {
      this.#deadLetter(m, "TTLExpiredException", "The message expired and was dead lettered.", undefined);
    } else {
      this.#remove(m);
    }
  }

  #deadLetter(m: StoredMessage, reason: string | undefined, description: string | undefined, properties: AppProperties | undefined): void {
    const message = withApplicationProperties(m.message, { ...properties, DeadLetterReason: reason, DeadLetterErrorDescription: description });
    const dlq = this.#deadLetterQueue;
    if (!dlq) {
      // Already in a dead-letter queue: there is nowhere further to go, so keep it available.
      m.message = message;
      this.#ctx.append([putRecord(this.#key, m)]);
      this.#makeAvailable(m);
      return;
    }
    // Into the dead-letter queue first, out of the queue second: a crash in between duplicates, never loses.
    dlq.#admit({ ...m, message, state: "active", expiresAt: undefined, scheduledAt: undefined, lock: undefined, deadLetterSource: this.path });
    this.#remove(m);
  }

  #admit(m: StoredMessage): void {
    this.#messages.set(m.seq, m);
    this.#ctx.append([putRecord(this.#key, m)]);
    this.#makeAvailable(m);
  }

  #remove(m: StoredMessage): void {
    this.#messages.delete(m.seq);
    if (m.lock) this.#locks.delete(m.lock.token);
    this.#ctx.append([{ t: "del", e: this.#key, s: m.seq }]);
  }
}
