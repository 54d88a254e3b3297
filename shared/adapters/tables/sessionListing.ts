// The sessions list (GET /api/sessions) over the sessions table: newest first, narrowed by
// device and status in the query itself, and by the caller's scope here, row by row. A page
// reads at most `sessionListReadBudget(top)` sessions: a filter that matches few (a scoped
// admin in a large tenant, a rare status, a device's history) would otherwise read the
// tenant's whole history in one request. A page that reaches the budget ends early with a
// token, as the paging rule allows. That token can point at a session the caller may not
// see, so it is sealed (sealedContinuation.ts) like the device list's.
//
// The scope is checked here, so every session read counts. The device and status filters
// are checked by storage, row by row, and the rows they skip would never be counted here: a
// device with one old session made storage scan every newer one. So a filtered page first
// reads the keys of the next budget's worth of sessions and filters that range alone
// (keyBudget.ts).
import { odata, type TableClient } from "@azure/data-tables";
import type { Session } from "../../domain/session.js";
import type { SessionListQuery } from "../../app/sessions/ports.js";
import { sessionOf, type SessionDataParts } from "./sessionDataParts.js";
import { openContinuation, sealContinuation } from "./sealedContinuation.js";
import { invertedTime, type Tables } from "./tables.js";
import { keyRange, type KeyRange } from "./keyBudget.js";

/** Sessions read for one page at most, whether the caller may see them or not. */
export const sessionListReadBudget = (top: number): number => Math.max(500, 20 * top);

/** `s|<13-digit inverted time>|<ULID>`: the RowKey of a session (tableSessionStore.ts). */
const isCursor = (v: Record<string, unknown>): v is { v: 1; rk: string } => typeof v.rk === "string" && /^s\|\d{13}\|[0-9A-HJKMNP-TV-Z]{26}$/.test(v.rk);

/** Past every session's RowKey. */
const endOfSessions = "s|~";

export async function listSessions(table: TableClient, tables: Tables, q: SessionListQuery): Promise<{ value: Session[]; continuationToken?: string }> {
  const cursor = await openContinuation(tables, q.continuationToken, isCursor);
  const after = cursor?.rk ?? "s|";
  const budget = sessionListReadBudget(q.top);
  const filtered = q.deviceId !== undefined || q.status !== undefined;
  // Newest first: a session requested before `requestedSince` has a larger key than this.
  const end = q.requestedSince === undefined ? endOfSessions : `s|${invertedTime(q.requestedSince.getTime())}|~`;
  // Unfiltered, every row storage reads comes back and is counted below.
  const range: KeyRange = filtered
    ? await keyRange(table, odata`PartitionKey eq ${q.tenantId} and RowKey gt ${after} and RowKey lt ${end}`, budget)
    : { count: 0, exhausted: true };
  if (filtered && range.last === undefined) return { value: [] };
  let filter =
    range.last === undefined
      ? odata`PartitionKey eq ${q.tenantId} and RowKey gt ${after} and RowKey lt ${end}`
      : odata`PartitionKey eq ${q.tenantId} and RowKey gt ${after} and RowKey le ${range.last}`;
  if (q.deviceId !== undefined) filter += odata` and deviceId eq ${q.deviceId}`;
  if (q.status !== undefined) filter += odata` and status eq ${q.status}`;
  const value: Session[] = [];
  let read = 0;
  const pages = table.listEntities<SessionDataParts>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(1000, q.top * 2) });
  for await (const page of pages) {
    for (const e of page) {
      read++;
      const s = sessionOf(e);
      if (q.visible(s)) value.push(s);
      if (value.length === q.top || read === budget) return { value, continuationToken: await sealContinuation(tables, { rk: e.rowKey! }) };
    }
  }
  // A filtered page that used up its range before the sessions ran out resumes after it.
  if (!range.exhausted && range.last !== undefined) return { value, continuationToken: await sealContinuation(tables, { rk: range.last }) };
  return { value };
}
