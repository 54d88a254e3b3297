// Which rows Table storage had to look at to answer a list's queries, for tests of a page's
// read budget. Storage checks a condition on a column other than the keys row by row over
// the query's whole key range, and hands back only the rows that pass: counting what came
// back misses the rest. So each query a client sends is recorded, and the rows it examined
// are: every row of its partition and key range when it compares another column, the rows
// it answered when it compares only keys (then storage stops at the page size it was asked for).
import type { TableClient } from "@azure/data-tables";

export interface RecordedQuery {
  readonly filter: string;
  readonly answered: readonly { PartitionKey?: string; RowKey: string }[];
}

/** Records every query `client` sends from now on into the returned array (empty it between pages). */
export function recordQueries(client: TableClient): RecordedQuery[] {
  const queries: RecordedQuery[] = [];
  client.pipeline.addPolicy({
    name: "recordQueries",
    sendRequest: async (req, next) => {
      const res = await next(req);
      const filter = new URL(req.url).searchParams.get("$filter");
      if (req.method === "GET" && filter !== null && res.bodyAsText) {
        const body = JSON.parse(res.bodyAsText) as { value?: { PartitionKey?: string; RowKey: string }[] };
        queries.push({ filter, answered: body.value ?? [] });
      }
      return res;
    },
  });
  return queries;
}

const unquote = (v: string): string => v.replaceAll("''", "'");

/** A query's partition, key range, and whether it also compares another column. */
function partsOf(filter: string): { partition?: string; inRange: (rk: string) => boolean; otherColumns: boolean } {
  const clauses = filter.split(" and ").map((c) => c.trim());
  const partition = clauses.map((c) => /^PartitionKey eq '((?:[^']|'')*)'$/.exec(c)).find((m) => m !== null);
  const bounds = clauses.flatMap((c) => {
    const m = /^RowKey (gt|ge|lt|le) '((?:[^']|'')*)'$/.exec(c);
    return m ? [{ op: m[1], value: unquote(m[2]) }] : [];
  });
  const inRange = (rk: string): boolean =>
    bounds.every(({ op, value }) => (op === "gt" ? rk > value : op === "ge" ? rk >= value : op === "lt" ? rk < value : rk <= value));
  return {
    ...(partition ? { partition: unquote(partition[1]) } : {}),
    inRange,
    otherColumns: clauses.some((c) => !/^(PartitionKey|RowKey) /.test(c)),
  };
}

/** The rows (`partition/row`) storage examined for `queries`; `rowKeysOf` lists a partition's RowKeys. */
export async function examinedRows(queries: readonly RecordedQuery[], rowKeysOf: (partition: string) => Promise<string[]>): Promise<Set<string>> {
  const looked = new Set<string>();
  for (const q of queries) {
    const { partition, inRange, otherColumns } = partsOf(q.filter);
    // A query that selects columns answers no PartitionKey: it is the one its filter names.
    if (!otherColumns) for (const e of q.answered) looked.add(`${partition ?? e.PartitionKey}/${e.RowKey}`);
    else if (partition === undefined) throw new Error(`a query over more than one partition: ${q.filter}`);
    else for (const rk of (await rowKeysOf(partition)).filter(inRange)) looked.add(`${partition}/${rk}`);
  }
  return looked;
}
