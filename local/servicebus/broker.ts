// The broker: every queue and its dead-letter queue, replayed from the journal at start-up, one
// timer for all their deadlines, and compaction of the journal once it is mostly dead records.
import type { QueueDefinition } from "../../shared/queueDefinitions.js";
import { DeadlineQueue } from "./deadlines.js";
import { Entity, type Deadline, type EntityContext } from "./entity.js";
import type { Journal, JournalRecord } from "./journal.js";

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
