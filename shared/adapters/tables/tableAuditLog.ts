// Audit events in Table storage, written twice:
// - the list view: partition `tenant|yyyy-mm`, row = inverted time + id, so a month's
//   events read newest first and a time range touches only its months;
// - the tenant's stream, behind the export: partition `tenant|log` holds a counter row
//   and one row per event, `seq|<16-digit sequence>`. Recording reads the counter
//   (cached per instance, so usually no read at all) and in ONE Table transaction
//   advances it (etag-guarded) and creates the event's row. Two recorders racing for the
//   same number: one transaction wins, the other gets 412 and takes the next number. A
//   number is therefore never taken without its event, and event N+1 can only commit
//   after event N did: whatever a reader sees is always the gap-free prefix 1..N, so
//   "everything after the last number I read" is exactly once, in recorded order, even
//   with many instances whose clocks disagree. Events recorded on one instance while a
//   write is under way are committed together (group commit: one stream transaction and
//   one list transaction per batch of up to 99), so a busy tenant costs far less than two
//   operations per event and its recorders no longer fight over the counter row.
// Events recorded before the stream existed have no sequence number: the list shows
// them, the export starts with the first event recorded after the upgrade.
import { randomUUID } from "node:crypto";
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import type { AuditEvent, AuditEventInput, AuditLog, AuditQuery, AuditStream, RecordedAuditEvent, SequencedAuditEvent } from "../../app/audit/auditLog.js";
import type { Clock } from "../../app/clock.js";
import { keyRange, type KeyRange } from "./keyBudget.js";
import { decodeContinuation, encodeContinuation, getOrUndefined, invertedTime, isStatus, tableNames, type Tables } from "./tables.js";

interface AuditEntity {
  at: string;
  actorId: string;
  actorDisplayName: string;
  actorType: string;
  activity: string;
  targetType: string;
  targetId: string;
  result: "success" | "failure";
  detail?: string;
  correlationId?: string;
}

/** The stream row also names the event (the list row keeps its id in the RowKey). */
interface StreamEntity extends AuditEntity {
  eventId: string;
}

/** The tenant's counter: the newest sequence number and how many push subscriptions exist. */
export interface CounterEntity {
  last: number;
  subscriptions: number;
}

/** The partition of a tenant's stream; push subscriptions live there too (same transaction as the counter). */
export const streamPartition = (tenantId: string): string => `${tenantId}|log`;
export const counterRow = "counter";
const sequenceRow = (sequence: number): string => `seq|${String(sequence).padStart(16, "0")}`;
const lastSequenceRow = `seq|${"9".repeat(16)}`;

const month = (d: Date): string => d.toISOString().slice(0, 7);

function monthsNewestFirst(from: Date, to: Date): string[] {
  const out: string[] = [];
  const cursor = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), 1));
  const stop = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1);
  while (cursor.getTime() >= stop) {
    out.push(month(cursor));
    cursor.setUTCMonth(cursor.getUTCMonth() - 1);
  }
  return out;
}

/** Events a page filtered by activity reads at most (their keys), whether they match or not. */
export const auditPageReadBudget = (top: number): number => Math.max(500, 20 * top);

/** Recorders of one tenant that keep losing the counter race still finish well within a second. */
const maxAppendAttempts = 60;

/** Tries of a batch's list rows (after the SDK's own retries) before its events are reported as not recorded. */
const maxListAttempts = 3;

/** A transaction holds at most 100 entities: the counter and 99 events. */
const maxBatch = 99;

interface PendingEvent {
  readonly id: string;
  readonly fields: (now: Date) => AuditEntity;
  readonly resolve: (recorded: RecordedAuditEvent) => void;
  readonly reject: (error: unknown) => void;
}

interface CachedCounter extends CounterEntity {
  readonly etag: string;
}

export class TableAuditLog implements AuditLog, AuditStream {
  readonly #table: TableClient;
  readonly #clock: Clock;
  readonly #counters = new Map<string, CachedCounter>();
  readonly #onRecorded: (recorded: RecordedAuditEvent) => Promise<void>;
  /** Per tenant, events waiting for the batch being written (group commit). */
  readonly #pending = new Map<string, PendingEvent[]>();
  readonly #flushing = new Set<string>();

  /** `onRecorded` runs after an event of a tenant with push subscriptions is recorded (the export's fan-out). */
  constructor(tables: Tables, clock: Clock, onRecorded: (recorded: RecordedAuditEvent) => Promise<void> = () => Promise.resolve()) {
    this.#table = tables.client(tableNames.auditEvents);
    this.#clock = clock;
    this.#onRecorded = onRecorded;
  }

  async record(e: AuditEventInput): Promise<void> {
    const fields = (now: Date): AuditEntity => ({
      at: now.toISOString(),
      actorId: e.actor.id,
      actorDisplayName: e.actor.displayName,
      actorType: e.actor.type,
      activity: e.activity,
      targetType: e.target.type,
      targetId: e.target.id,
      result: e.result,
      detail: e.detail?.slice(0, 2000),
      correlationId: e.correlationId,
    });
    const recorded = await new Promise<RecordedAuditEvent>((resolve, reject) => {
      const queue = this.#pending.get(e.tenantId) ?? [];
      queue.push({ id: randomUUID(), fields, resolve, reject });
      this.#pending.set(e.tenantId, queue);
      if (!this.#flushing.has(e.tenantId)) void this.#flush(e.tenantId);
    });
    if (recorded.subscriptions > 0) await this.#onRecorded(recorded);
  }

  /**
   * Group commit: while one batch of a tenant's events is being written, the events
   * recorded meanwhile on this instance wait and go together into the next batch (one
   * stream transaction, one list transaction, however many events). Each `record` still
   * resolves only after its own event is stored, and rejects if its batch failed.
   */
  async #flush(tenantId: string): Promise<void> {
    this.#flushing.add(tenantId);
    try {
      // Events recorded together (Promise.all of several `record`s) join the first batch.
      await Promise.resolve();
      for (;;) {
        const queue = this.#pending.get(tenantId) ?? [];
        if (queue.length === 0) break;
        const batch = queue.splice(0, maxBatch);
        try {
          const { sequences, at, subscriptions } = await this.#append(tenantId, batch);
          await this.#list(tenantId, batch, at);
          batch.forEach((p, i) => p.resolve({ tenantId, sequence: sequences[i], subscriptions }));
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.#pending.delete(tenantId);
      this.#flushing.delete(tenantId);
    }
  }

  /** Takes the next sequence numbers and writes the batch's events under them, in one transaction. */
  async #append(tenantId: string, batch: readonly PendingEvent[]): Promise<{ sequences: number[]; at: Date; subscriptions: number }> {
    const partitionKey = streamPartition(tenantId);
    for (let attempt = 1; ; attempt++) {
      const counter = this.#counters.get(tenantId) ?? (await this.#readCounter(tenantId));
      const first = (counter?.last ?? 0) + 1;
      const last = first + batch.length - 1;
      const subscriptions = counter?.subscriptions ?? 0;
      // The time is taken per attempt, so `at` follows the sequence closely on one instance.
      const at = this.#clock.now();
      const advance: TransactionAction = counter
        ? ["update", { partitionKey, rowKey: counterRow, last }, "Merge", { etag: counter.etag }]
        : ["create", { partitionKey, rowKey: counterRow, last, subscriptions: 0 }];
      const rows = batch.map((p, i): TransactionAction => {
        const row: StreamEntity = { ...p.fields(at), eventId: p.id };
        return ["create", { partitionKey, rowKey: sequenceRow(first + i), ...row }];
      });
      const recorded = { sequences: batch.map((_, i) => first + i), at, subscriptions };
      try {
        const result = await this.#table.submitTransaction([advance, ...rows]);
        const etag = result.subResponses[0]?.etag;
        if (etag) this.#counters.set(tenantId, { last, subscriptions, etag });
        else this.#counters.delete(tenantId);
        return recorded;
      } catch (error) {
        this.#counters.delete(tenantId);
        // The transaction may have committed all the same: the SDK sends it again when its
        // answer is lost (a reset connection, a 5xx after the commit), and that second try
        // finds the counter moved, by the first. Taking the next numbers then would record
        // the batch twice; its first row says whether it is there.
        if (await this.#holds(tenantId, first, batch[0].id)) return recorded;
        // 412: another recorder advanced the counter first; 409: it created the counter first.
        if (!(isStatus(error, 412) || isStatus(error, 409)) || attempt >= maxAppendAttempts) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
      }
    }
  }

  /** Whether the stream row of `sequence` is the event `eventId` (false when it cannot tell). */
  async #holds(tenantId: string, sequence: number, eventId: string): Promise<boolean> {
    try {
      return (await getOrUndefined<StreamEntity>(this.#table, streamPartition(tenantId), sequenceRow(sequence)))?.eventId === eventId;
    } catch {
      return false;
    }
  }

  /**
   * The batch's list rows, in one transaction (one `at`, so one month partition). Tried
   * again after a failure: the events are in the stream already, and a caller that retried
   * the whole record would put them there twice. A 409 means a try whose answer was lost
   * wrote them (their keys hold the events' own ids).
   */
  async #list(tenantId: string, batch: readonly PendingEvent[], at: Date): Promise<void> {
    const actions = batch.map((p): TransactionAction => [
      "create",
      { partitionKey: `${tenantId}|${month(at)}`, rowKey: `${invertedTime(at.getTime())}|${p.id}`, ...p.fields(at) },
    ]);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#table.submitTransaction(actions);
        return;
      } catch (error) {
        if (isStatus(error, 409)) return;
        if (attempt >= maxListAttempts) throw error;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  async #readCounter(tenantId: string): Promise<CachedCounter | undefined> {
    const c = await getOrUndefined<CounterEntity>(this.#table, streamPartition(tenantId), counterRow);
    return c?.etag ? { last: c.last ?? 0, subscriptions: c.subscriptions ?? 0, etag: c.etag } : undefined;
  }

  async last(tenantId: string): Promise<number> {
    return (await this.#readCounter(tenantId))?.last ?? 0;
  }

  async readAfter(tenantId: string, afterSequence: number, max: number): Promise<SequencedAuditEvent[]> {
    const filter = odata`PartitionKey eq ${streamPartition(tenantId)} and RowKey gt ${sequenceRow(afterSequence)} and RowKey le ${lastSequenceRow}`;
    const out: SequencedAuditEvent[] = [];
    const pages = this.#table.listEntities<StreamEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(1000, max) });
    for await (const page of pages) {
      for (const e of page) {
        out.push({ sequence: Number(e.rowKey!.slice(4)), event: toEvent(e.eventId, e) });
        if (out.length === max) return out;
      }
    }
    return out;
  }

  async get(tenantId: string, sequence: number): Promise<AuditEvent | undefined> {
    const e = await getOrUndefined<StreamEntity>(this.#table, streamPartition(tenantId), sequenceRow(sequence));
    return e ? toEvent(e.eventId, e) : undefined;
  }

  async query(q: AuditQuery): Promise<{ value: AuditEvent[]; continuationToken?: string }> {
    const months = monthsNewestFirst(q.from, q.to);
    const resume = decodeContinuation<{ v: 1; m: string; rk: string }>(
      q.continuationToken,
      (v): v is { v: 1; m: string; rk: string } => typeof v.m === "string" && typeof v.rk === "string" && months.includes(v.m),
    );
    const value: AuditEvent[] = [];
    // Newest first: RowKeys grow as time goes back. `to` bounds the smallest key, `from` the largest.
    const lowest = invertedTime(q.to.getTime());
    const highest = `${invertedTime(q.from.getTime())}|~`;
    // Without an activity, every row storage reads comes back (at most top). With one,
    // storage checks it row by row: the page reads the keys of at most the budget's events
    // first, over the months in turn, and filters only those (keyBudget.ts).
    let budget = auditPageReadBudget(q.top);
    for (const m of months.slice(resume ? months.indexOf(resume.m) : 0)) {
      let filter = odata`PartitionKey eq ${`${q.tenantId}|${m}`} and RowKey ge ${lowest} and RowKey le ${highest}`;
      if (resume?.m === m) filter += odata` and RowKey gt ${resume.rk}`;
      let range: KeyRange | undefined;
      if (q.activity) {
        range = await keyRange(this.#table, filter, budget);
        if (range.last === undefined) continue;
        budget -= range.count;
        filter += odata` and RowKey le ${range.last} and activity eq ${q.activity}`;
      }
      const pages = this.#table.listEntities<AuditEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: q.top - value.length });
      for await (const page of pages) {
        for (const e of page) {
          value.push(toEvent(e.rowKey!.split("|")[1], e));
          // A full page: there may be more in this month or the ones before it.
          if (value.length === q.top) return { value, continuationToken: encodeContinuation({ m, rk: e.rowKey! }) };
        }
      }
      // The budget ran out within this month: the next page resumes after the last key read.
      if (range && !range.exhausted) return { value, continuationToken: encodeContinuation({ m, rk: range.last! }) };
    }
    return { value };
  }
}

function toEvent(id: string, e: AuditEntity): AuditEvent {
  return {
    id,
    at: e.at,
    actor: { id: e.actorId, displayName: e.actorDisplayName, type: e.actorType as AuditEvent["actor"]["type"] },
    activity: e.activity,
    target: { type: e.targetType, id: e.targetId },
    result: e.result,
    ...(e.detail ? { detail: e.detail } : {}),
    ...(e.correlationId ? { correlationId: e.correlationId } : {}),
  };
}
