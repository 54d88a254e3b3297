// Service Bus queue semantics, independent of the wire: sequence numbers, peek-lock with delivery
// counts, dead-lettering, TTL, scheduled and deferred messages, duplicate detection; all journaled.
import { parseIsoDuration, type QueueDefinition } from "../../shared/queueDefinitions.js";
import {
  newLockToken,
  newMessageId,
  parseMessage,
  storedBytes,
  withApplicationProperties,
  withMessageId,
  type BrokerAnnotations,
  type ParsedMessage,
} from "./amqpEncoding.js";
import { DeadlineQueue, MinHeap } from "./deadlines.js";
import type { Journal, JournalRecord } from "./journal.js";

export type ReceiveMode = "peekLock" | "receiveAndDelete";
type MessageState = "active" | "deferred" | "scheduled";

type AppProperties = Readonly<Record<string, unknown>>;

export type Disposition =
  | { readonly kind: "complete" }
  | { readonly kind: "abandon"; readonly properties?: AppProperties }
  | { readonly kind: "defer"; readonly properties?: AppProperties }
  | { readonly kind: "deadLetter"; readonly reason?: string; readonly description?: string; readonly properties?: AppProperties };

/** A message handed to a receiver or a peeker, ready for `encodeForDelivery`. */
export interface HandedOut {
  readonly message: ParsedMessage;
  readonly annotations: BrokerAnnotations;
  readonly lockToken: string | undefined;
}

export const brokerErrorCodes = { lockLost: "lockLost", messageNotFound: "messageNotFound" } as const;
export type BrokerErrorCode = (typeof brokerErrorCodes)[keyof typeof brokerErrorCodes];

export class BrokerError extends Error {
  override readonly name = "BrokerError";
  readonly code: BrokerErrorCode;
  constructor(code: BrokerErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

interface StoredMessage {
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

type DeadlineKind = "lock" | "ttl" | "schedule";
interface Deadline {
  readonly kind: DeadlineKind;
  readonly entity: Entity;
  readonly seq: number;
}

/** What an entity needs from its broker. */
interface EntityContext {
  now(): number;
  append(records: JournalRecord[]): void;
  deadline(at: number, deadline: Deadline): void;
  available(entity: Entity): void;
}

/** A queue or its dead-letter sub-queue. */
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
  /** message id → when it may be sent again, in insertion (and so expiry) order. */
  readonly #duplicates = new Map<string, { until: number; seq: number }>();
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
        this.#pruneDuplicates(now);
        const seen = this.#duplicates.get(id);
        if (seen && seen.until > now) {
          seqs.push(seen.seq); // Service Bus accepts a duplicate and drops it silently.
          continue;
        }
      }
      const seq = this.#sequence.next++;
      if (this.definition.requiresDuplicateDetection) {
        const until = now + this.#duplicateWindow;
        this.#duplicates.set(id, { until, seq });
        records.push({ t: "dup", e: this.#key, id, u: until, s: seq });
      }
      const scheduled = message.scheduledEnqueueTime !== undefined && message.scheduledEnqueueTime > now;
      const enqueuedAt = scheduled ? (message.scheduledEnqueueTime ?? now) : now;
      const ttl = Math.min(message.header.ttl ?? Infinity, this.#defaultTtl);
      const stored: StoredMessage = {
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
      this.#messages.set(seq, stored);
      records.push(this.#putRecord(stored));
      seqs.push(seq);
      if (scheduled) this.#ctx.deadline(enqueuedAt, { kind: "schedule", entity: this, seq });
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
        this.#ctx.append(changed ? [this.#putRecord(m)] : [{ t: "unlock", e: this.#key, s: m.seq }, this.#stateRecord(m)]);
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
    this.#ctx.append([{ t: "lock", e: this.#key, s: m.seq, tok: lockToken, u: until, d: m.deliveries }]);
    this.#ctx.deadline(until, { kind: "lock", entity: this, seq: m.seq });
    return until;
  }

  /** Messages from `fromSeq` on, whatever their state, without locking them. */
  peek(fromSeq: number, count: number): HandedOut[] {
    const found = [...this.#messages.values()].filter((m) => m.seq >= fromSeq).sort((a, b) => a.seq - b.seq);
    return found.slice(0, Math.max(0, count)).map((m) => ({
      message: m.message,
      annotations: this.#annotations(m, m.deliveries, m.lock?.until),
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
      this.#ctx.append([this.#stateRecord(m)]);
      this.#watchExpiry(m);
      this.#makeAvailable(m);
    }
  }

  attachDeadLetterQueue(dlq: Entity): void {
    this.#deadLetterQueue = dlq;
  }

  restore(record: JournalRecord): void {
    switch (record.t) {
      case "put":
        this.#messages.set(record.s, {
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
        this.#sequence.next = Math.max(this.#sequence.next, record.s + 1);
        return;
      case "lock": {
        const m = this.#messages.get(record.s);
        if (m) Object.assign(m, { lock: { token: record.tok, until: record.u }, deliveries: record.d });
        return;
      }
      case "unlock": {
        const m = this.#messages.get(record.s);
        if (m) m.lock = undefined;
        return;
      }
      case "state": {
        const m = this.#messages.get(record.s);
        if (m) Object.assign(m, { state: record.st, enqueuedAt: record.at, expiresAt: record.x ?? undefined });
        return;
      }
      case "del":
        this.#messages.delete(record.s);
        return;
      case "dup":
        this.#duplicates.delete(record.id);
        this.#duplicates.set(record.id, { until: record.u, seq: record.s });
        this.#sequence.next = Math.max(this.#sequence.next, record.s + 1);
        return;
      case "seq":
        this.#sequence.next = Math.max(this.#sequence.next, record.s);
        return;
    }
  }

  /** After replay: re-arm locks and deadlines; locks that ran out while stopped expire now. */
  resume(): void {
    const now = this.#ctx.now();
    this.#pruneDuplicates(now);
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
    for (const [id, { until, seq }] of this.#duplicates) yield { t: "dup", e: this.#key, id, u: until, s: seq };
    for (const m of this.#messages.values()) yield this.#putRecord(m);
  }

  // ---- internals ----

  #handOut(m: StoredMessage, mode: ReceiveMode, now: number): HandedOut {
    const deliveryCount = m.deliveries;
    if (mode === "receiveAndDelete") {
      this.#remove(m);
      return { message: m.message, annotations: this.#annotations(m, deliveryCount, undefined), lockToken: undefined };
    }
    const token = newLockToken();
    const until = now + this.#lockDuration;
    m.deliveries += 1;
    m.lock = { token, until };
    this.#locks.set(token, m);
    this.#ctx.append([{ t: "lock", e: this.#key, s: m.seq, tok: token, u: until, d: m.deliveries }]);
    this.#ctx.deadline(until, { kind: "lock", entity: this, seq: m.seq });
    return { message: m.message, annotations: { ...this.#annotations(m, deliveryCount, until), lockToken: token }, lockToken: token };
  }

  #annotations(m: StoredMessage, deliveryCount: number, lockedUntil: number | undefined): BrokerAnnotations {
    return {
      sequenceNumber: m.seq,
      enqueuedTime: m.enqueuedAt,
      deliveryCount,
      lockedUntil,
      state: m.state === "deferred" ? 1 : m.state === "scheduled" ? 2 : undefined,
      deadLetterSource: m.deadLetterSource,
    };
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
    this.#ctx.append([changed ? this.#putRecord(m) : { t: "unlock", e: this.#key, s: m.seq }]);
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
      this.#ctx.append([this.#putRecord(m)]);
      this.#makeAvailable(m);
      return;
    }
    // Into the dead-letter queue first, out of the queue second: a crash in between duplicates, never loses.
    dlq.#admit({ ...m, message, state: "active", expiresAt: undefined, scheduledAt: undefined, lock: undefined, deadLetterSource: this.path });
    this.#remove(m);
  }

  #admit(m: StoredMessage): void {
    this.#messages.set(m.seq, m);
    this.#ctx.append([this.#putRecord(m)]);
    this.#makeAvailable(m);
  }

  #remove(m: StoredMessage): void {
    this.#messages.delete(m.seq);
    if (m.lock) this.#locks.delete(m.lock.token);
    this.#ctx.append([{ t: "del", e: this.#key, s: m.seq }]);
  }

  #pruneDuplicates(now: number): void {
    for (const [id, { until }] of this.#duplicates) {
      if (until > now) break;
      this.#duplicates.delete(id);
    }
  }

  #putRecord(m: StoredMessage): JournalRecord {
    return {
      t: "put",
      e: this.#key,
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

  #stateRecord(m: StoredMessage): JournalRecord {
    return { t: "state", e: this.#key, s: m.seq, st: m.state, at: m.enqueuedAt, x: m.expiresAt ?? null };
  }
}

export interface BrokerOptions {
  readonly queues: readonly QueueDefinition[];
  readonly journal: Journal;
  /** What the journal held at start-up, replayed before anything else happens. */
  readonly records?: readonly JournalRecord[];
  readonly now: () => number;
  readonly log: (line: string) => void;
}

// Compact a live journal once it is both long and mostly dead records.
const compactAfterRecords = 200_000;

export class Broker {
  readonly #entities = new Map<string, Entity>();
  readonly #journal: Journal;
  readonly #deadlines: DeadlineQueue<Deadline>;
  readonly #log: (line: string) => void;
  #compactionScheduled = false;
  #onAvailable: (entity: Entity) => void = () => undefined;

  constructor(options: BrokerOptions) {
    this.#journal = options.journal;
    this.#log = options.log;
    this.#deadlines = new DeadlineQueue<Deadline>((d) => d.entity.onDeadline(d.kind, d.seq), options.now);
    const ctx: EntityContext = {
      now: options.now,
      append: (records) => this.#append(records),
      deadline: (at, deadline) => this.#deadlines.add(at, deadline),
      available: (entity) => this.#onAvailable(entity),
    };
    for (const definition of options.queues) {
      const queue = new Entity(definition, undefined, ctx);
      const dlq = new Entity(definition, queue, ctx);
      queue.attachDeadLetterQueue(dlq);
      this.#entities.set(queue.key, queue);
      this.#entities.set(dlq.key, dlq);
    }
    const unknown = new Set<string>();
    for (const record of options.records ?? []) {
      const entity = this.#entities.get(record.e);
      if (entity) entity.restore(record);
      else unknown.add(record.e);
    }
    for (const e of unknown) this.#log(`journal: dropped records of ${e}, which is no longer defined`);
    this.#journal.compact(this.#snapshot());
    for (const entity of this.#entities.values()) entity.resume();
  }

  /** `listener` hears whenever an entity may have messages to hand out (the AMQP side then delivers). */
  onAvailable(listener: (entity: Entity) => void): void {
    this.#onAvailable = listener;
  }

  /** The entity an AMQP address names (case-insensitive), if it exists. */
  entity(address: string): Entity | undefined {
    return this.#entities.get(address.replace(/^\/+/, "").toLowerCase());
  }

  close(): void {
    this.#deadlines.close();
    this.#journal.close();
  }

  #append(records: JournalRecord[]): void {
    this.#journal.append(records);
    if (this.#compactionScheduled || this.#journal.appendedSinceCompaction < compactAfterRecords) return;
    let live = 0;
    for (const e of this.#entities.values()) live += e.messageCount;
    if (this.#journal.appendedSinceCompaction < 4 * live) return;
    this.#compactionScheduled = true;
    // After the current operation, so the snapshot never sees a half-applied change.
    setImmediate(() => {
      this.#compactionScheduled = false;
      this.#journal.compact(this.#snapshot());
    });
  }

  *#snapshot(): Generator<JournalRecord> {
    for (const entity of this.#entities.values()) yield* entity.snapshot();
  }
}
