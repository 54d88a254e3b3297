// Counts what the app asks of Table storage, from inside the SDK's pipeline (a policy every
// TableClient of createTables carries). In Azure every request is a billed operation and a
// sequential network round trip, so these counts are the cost model (docs/cost.md):
// - an operation is one HTTP request: a point read, a query page, a write, a delete, or a
//   transaction ($batch, billed as one however many entities it holds);
// - a round trip is counted per invocation (an HTTP function or a queue message, see
//   `withinInvocation`): requests that overlap in time (Promise.all) share one round trip, a
//   request started while none of the invocation's others is in flight starts a new one.
// Counting is a few integer increments per request; nothing is logged or stored. Benchmarks
// and tests read `tableOperations.snapshot()`.
import { AsyncLocalStorage } from "node:async_hooks";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";

export type OperationKind = "read" | "query" | "write" | "delete" | "transaction";

export interface InvocationCount {
  /** How many invocations with this label ran (finished or not). */
  invocations: number;
  operations: number;
  roundTrips: number;
}

export interface TableOperationsSnapshot {
  readonly total: number;
  /** `<table> <kind>` → count. */
  readonly byTableAndKind: ReadonlyMap<string, number>;
  /** Invocation label (function name or message type) → totals of its invocations. */
  readonly byInvocation: ReadonlyMap<string, Readonly<InvocationCount>>;
}

interface Scope {
  readonly label: string;
  inFlight: number;
  /** This invocation's sequential round trips so far. */
  roundTrips: number;
}

// One set of counters per process, even if this module were loaded twice (a benchmark and
// the local host it starts import it separately).
const state = ((globalThis as Record<symbol, unknown>)[Symbol.for("remote-assistance-connector.tableOperations")] ??= {
  scopes: new AsyncLocalStorage<Scope>(),
  total: 0,
  byTableAndKind: new Map<string, number>(),
  byInvocation: new Map<string, InvocationCount>(),
}) as { scopes: AsyncLocalStorage<Scope>; total: number; byTableAndKind: Map<string, number>; byInvocation: Map<string, InvocationCount> };
const { scopes, byTableAndKind, byInvocation } = state;

function kindOf(method: string, url: string): OperationKind {
  if (method === "POST" && url.includes("$batch")) return "transaction";
  // A point read names its entity: /<table>(PartitionKey='…',RowKey='…').
  if (method === "GET") return /\(PartitionKey=/i.test(decodeURIComponent(new URL(url).pathname)) ? "read" : "query";
  if (method === "DELETE") return "delete";
  return "write";
}

/** The table a request names: `/<table>(...)`, `/<account>/<table>…` (Azurite) or `$batch`. */
function tableOf(url: string): string {
  const path = new URL(url).pathname.split("/").filter(Boolean);
  // A transaction's URL names no table (its parts do): all of one table and partition.
  if (path.includes("$batch")) return "(one table)";
  const last = path.find((p) => /^[A-Za-z][A-Za-z0-9]*(\(|$)/.test(p) && p !== "devstoreaccount1") ?? "?";
  return last.replace(/\(.*$/, "");
}

function invocationCount(label: string): InvocationCount {
  let c = byInvocation.get(label);
  if (!c) byInvocation.set(label, (c = { invocations: 0, operations: 0, roundTrips: 0 }));
  return c;
}

export const tableOperations = {
  /** The pipeline policy that counts; createTables adds it to every TableClient. */
  policy: {
    name: "tableOperationCounter",
    async sendRequest(request, next) {
      state.total++;
      const key = `${tableOf(request.url)} ${kindOf(request.method, request.url)}`;
      byTableAndKind.set(key, (byTableAndKind.get(key) ?? 0) + 1);
      const scope = scopes.getStore();
      if (!scope) return next(request);
      const c = invocationCount(scope.label);
      c.operations++;
      if (scope.inFlight === 0) {
        c.roundTrips++;
        scope.roundTrips++;
      }
      scope.inFlight++;
      try {
        return await next(request);
      } finally {
        scope.inFlight--;
      }
    },
  } satisfies PipelinePolicy,

  /** Runs `fn` as one invocation named `label`: its Table requests are counted under that label. */
  withinInvocation<T>(label: string, fn: () => Promise<T>): Promise<T> {
    invocationCount(label).invocations++;
    return scopes.run({ label, inFlight: 0, roundTrips: 0 }, fn);
  },

  /** The invocation running here (its label and round trips so far), if any: lets a benchmark mark a point of its path. */
  current(): { readonly label: string; readonly roundTrips: number } | undefined {
    const scope = scopes.getStore();
    return scope ? { label: scope.label, roundTrips: scope.roundTrips } : undefined;
  },

  snapshot(): TableOperationsSnapshot {
    return {
      total: state.total,
      byTableAndKind: new Map(byTableAndKind),
      byInvocation: new Map([...byInvocation].map(([k, v]) => [k, { ...v }])),
    };
  },

  reset(): void {
    state.total = 0;
    byTableAndKind.clear();
    byInvocation.clear();
  },
};
