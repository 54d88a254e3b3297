// A page's read budget when its query compares a column other than the keys (a session's
// device or status, an audit event's activity). Storage checks such a condition row by row
// over the query's whole key range and hands back only the rows that pass, so counting what
// comes back does not bound what storage reads: a condition that matches few rows scans all
// of them in one request. The list reads the keys of the next budget's worth of rows first
// (keys only, no data) and hands the condition that range alone.
import type { TableClient } from "@azure/data-tables";

export interface KeyRange {
  /** The RowKey of the last row read (undefined: none matched `filter`). */
  readonly last?: string;
  /** How many rows were read (at most the limit). */
  readonly count: number;
  /** Whether the rows ran out before the limit: past `last` there are none. */
  readonly exhausted: boolean;
}

/** The first `limit` rows' keys that `filter` (keys only) selects, in key order. */
export async function keyRange(table: TableClient, filter: string, limit: number): Promise<KeyRange> {
  let last: string | undefined;
  let count = 0;
  const pages = table.listEntities({ queryOptions: { filter, select: ["RowKey"] } }).byPage({ maxPageSize: Math.min(1000, limit) });
  for await (const page of pages) {
    for (const e of page) {
      last = e.rowKey!;
      // The limit reached is not the end, even on the last row: the next page finds out.
      if (++count === limit) return { last, count, exhausted: false };
    }
  }
  return { ...(last === undefined ? {} : { last }), count, exhausted: true };
}
