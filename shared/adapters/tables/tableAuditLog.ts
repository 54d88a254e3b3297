// Audit events in Table storage: partition `tenant|yyyy-mm`, row = inverted time + id, so
// a month's events read newest first and a time range touches only its months.
import { randomUUID } from "node:crypto";
import { odata, type TableClient } from "@azure/data-tables";
import type { AuditEvent, AuditEventInput, AuditLog, AuditQuery } from "../../app/audit/auditLog.js";
import type { Clock } from "../../app/clock.js";
import { decodeContinuation, encodeContinuation, invertedTime, tableNames, type Tables } from "./tables.js";

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

export class TableAuditLog implements AuditLog {
  readonly #table: TableClient;
  readonly #clock: Clock;
  constructor(tables: Tables, clock: Clock) {
    this.#table = tables.client(tableNames.auditEvents);
    this.#clock = clock;
  }

  async record(e: AuditEventInput): Promise<void> {
    const now = this.#clock.now();
    const id = randomUUID();
    const entity: AuditEntity & { partitionKey: string; rowKey: string } = {
      partitionKey: `${e.tenantId}|${month(now)}`,
      rowKey: `${invertedTime(now.getTime())}|${id}`,
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
    };
    await this.#table.createEntity(entity);
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
    for (const m of months.slice(resume ? months.indexOf(resume.m) : 0)) {
      let filter = odata`PartitionKey eq ${`${q.tenantId}|${m}`} and RowKey ge ${lowest} and RowKey le ${highest}`;
      if (resume?.m === m) filter += odata` and RowKey gt ${resume.rk}`;
      if (q.activity) filter += odata` and activity eq ${q.activity}`;
      const pages = this.#table.listEntities<AuditEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: q.top - value.length });
      for await (const page of pages) {
        for (const e of page) {
          value.push(toEvent(e.rowKey!, e));
          // A full page: there may be more in this month or the ones before it.
          if (value.length === q.top) return { value, continuationToken: encodeContinuation({ m, rk: e.rowKey! }) };
        }
      }
    }
    return { value };
  }
}

function toEvent(rowKey: string, e: AuditEntity): AuditEvent {
  return {
    id: rowKey.split("|")[1],
    at: e.at,
    actor: { id: e.actorId, displayName: e.actorDisplayName, type: e.actorType as AuditEvent["actor"]["type"] },
    activity: e.activity,
    target: { type: e.targetType, id: e.targetId },
    result: e.result,
    ...(e.detail ? { detail: e.detail } : {}),
    ...(e.correlationId ? { correlationId: e.correlationId } : {}),
  };
}
