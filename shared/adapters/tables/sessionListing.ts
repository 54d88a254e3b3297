// The sessions list (GET /api/sessions) over the sessions table: newest first, narrowed by
// device and status in the query itself, and by the caller's scope here, row by row. A page
// reads at most `sessionListReadBudget(top)` sessions: a filter that matches few (a scoped
// admin in a large tenant, a rare status) would otherwise read the tenant's whole history in
// one request. A page that reaches the budget ends early with a token, as the paging rule
// allows. That token can point at a session the caller may not see, so it is sealed
// (sealedContinuation.ts) like the device list's.
import { odata, type TableClient } from "@azure/data-tables";
import type { Session } from "../../domain/session.js";
import type { SessionListQuery } from "../../app/sessions/ports.js";
import { sessionOf, type SessionDataParts } from "./sessionDataParts.js";
import { openContinuation, sealContinuation } from "./sealedContinuation.js";
import type { Tables } from "./tables.js";

/** Sessions read for one page at most, whether the caller may see them or not. */
export const sessionListReadBudget = (top: number): number => Math.max(500, 20 * top);

/** `s|<13-digit inverted time>|<ULID>`: the RowKey of a session (tableSessionStore.ts). */
const isCursor = (v: Record<string, unknown>): v is { v: 1; rk: string } => typeof v.rk === "string" && /^s\|\d{13}\|[0-9A-HJKMNP-TV-Z]{26}$/.test(v.rk);

export async function listSessions(table: TableClient, tables: Tables, q: SessionListQuery): Promise<{ value: Session[]; continuationToken?: string }> {
  const cursor = await openContinuation(tables, q.continuationToken, isCursor);
  let filter = odata`PartitionKey eq ${q.tenantId} and RowKey gt ${cursor?.rk ?? "s|"} and RowKey lt ${"s|~"}`;
  if (q.deviceId !== undefined) filter += odata` and deviceId eq ${q.deviceId}`;
  if (q.status !== undefined) filter += odata` and status eq ${q.status}`;
  const budget = sessionListReadBudget(q.top);
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
  return { value };
}
