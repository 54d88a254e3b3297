// The sessions list's device and status filters against Azurite: a page's budget bounds the
// sessions storage looks at, not only the ones it hands back. A condition on a column other
// than the keys (deviceId, status) is checked by storage row by row over the query's whole
// key range, so a filter that matches few sessions used to make one page scan the tenant's
// whole history. Each query a page sends is recorded and the rows storage had to look at to
// answer it are counted (test/support/examinedRows.ts).
import { randomUUID } from "node:crypto";
import { odata } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables, tableNames, type Tables } from "../../shared/adapters/tables/tables.js";
import { sessionListReadBudget } from "../../shared/adapters/tables/sessionListing.js";
import { TableSessionStore } from "../../shared/adapters/tables/tableSessionStore.js";
import type { Session } from "../../shared/domain/session.js";
import type { SessionListQuery } from "../../shared/app/sessions/ports.js";
import { requestedSession } from "../support/sessionWorkerHarness.js";
import { examinedRows, recordQueries, type RecordedQuery } from "../support/examinedRows.js";

let azurite: AzuriteTables;
let tables: Tables;
let sessions: TableSessionStore;
/** The queries the watched store sent since the last page. */
let queries: RecordedQuery[];

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  const connect = (): Tables =>
    createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  tables = connect();
  await tables.ensureAll();
  const watched = connect();
  queries = recordQueries(watched.client(tableNames.sessions));
  sessions = new TableSessionStore(watched);
});

afterAll(async () => {
  await azurite?.close();
});

/** A partition's RowKeys, read without being recorded. */
async function rowKeysOf(partition: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of tables.client(tableNames.sessions).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ["RowKey"] } }))
    keys.push(e.rowKey!);
  return keys;
}

/** The sessions storage examined for the queries sent since the last call. */
async function examined(): Promise<number> {
  const looked = await examinedRows(queries, rowKeysOf);
  queries.length = 0;
  return [...looked].filter((k) => k.split("/")[1].startsWith("s|")).length;
}

/** A tenant with `newer` sessions of other devices, all newer than `old` (written first, oldest). */
async function tenantWith(old: Partial<Session>[], newer: number): Promise<{ tenantId: string; old: Session[] }> {
  const tenantId = randomUUID();
  const start = Date.parse("2026-11-01T08:00:00.000Z");
  const at = (i: number) => new Date(start + i * 1_000);
  const oldOnes = old.map((over, i) => ({ ...requestedSession(at(i), over), tenantId }));
  const others = Array.from({ length: newer }, (_, i) => ({ ...requestedSession(at(old.length + i), { deviceId: `other-${i}` }), tenantId }));
  const all = [...oldOnes, ...others];
  for (let i = 0; i < all.length; i += 25) await Promise.all(all.slice(i, i + 25).map((s) => sessions.create(s, [])));
  queries.length = 0;
  return { tenantId, old: oldOnes };
}

/** Every page of a query, with the rows storage looked at for each. */
async function pagesOf(q: Omit<SessionListQuery, "visible" | "continuationToken">) {
  const pages: { ids: string[]; examined: number; token: boolean }[] = [];
  let token: string | undefined;
  do {
    const page = await sessions.list({ ...q, visible: () => true, ...(token === undefined ? {} : { continuationToken: token }) });
    pages.push({ ids: page.value.map((s) => s.id), examined: await examined(), token: page.continuationToken !== undefined });
    token = page.continuationToken;
  } while (token && pages.length < 20);
  return pages;
}

describe("a filtered page of the sessions list", () => {
  it("looks at no more sessions than its budget when the device filter matches one old session, and the tokens lead to it", async () => {
    // Prepare: the device's one session is the oldest; more than a page's budget of other devices' are newer.
    const budget = sessionListReadBudget(10);
    const { tenantId, old } = await tenantWith([{ deviceId: "lonely-device" }], budget + 5);

    // Act
    const pages = await pagesOf({ tenantId, deviceId: "lonely-device", top: 10 });

    // Assess: each page looked at no more than the budget; following the tokens finds the session, once.
    for (const p of pages) expect(p.examined).toBeLessThanOrEqual(budget);
    expect(pages.flatMap((p) => p.ids)).toEqual([old[0].id]);
    expect(pages.at(-1)?.token).toBe(false);
  });

  it("looks at no more sessions than its budget when the status filter matches one old session, and the tokens lead to it", async () => {
    // Prepare
    const budget = sessionListReadBudget(10);
    const { tenantId, old } = await tenantWith([{ deviceId: "denied-device", status: "denied" }], budget + 5);

    // Act
    const pages = await pagesOf({ tenantId, status: "denied", top: 10 });

    // Assess
    for (const p of pages) expect(p.examined).toBeLessThanOrEqual(budget);
    expect(pages.flatMap((p) => p.ids)).toEqual([old[0].id]);
    expect(pages.at(-1)?.token).toBe(false);
  });

  it("still fills pages of top with the matches, newest first, and ends without a token", async () => {
    // Prepare: five closed sessions of one device (one open at a time), older than a few of others.
    const { tenantId, old } = await tenantWith(
      Array.from({ length: 5 }, () => ({ deviceId: "busy-device", status: "closed" as const })),
      7,
    );

    // Act
    const pages = await pagesOf({ tenantId, deviceId: "busy-device", top: 2 });

    // Assess
    expect(pages.map((p) => p.ids.length)).toEqual([2, 2, 1]);
    expect(pages.flatMap((p) => p.ids)).toEqual(old.map((s) => s.id).reverse());
    expect(pages.at(-1)?.token).toBe(false);
  });
});

describe("the approval queue's page (status pendingApproval, requested since)", () => {
  it("ends without a token at the oldest session that could still be waiting, however long the history behind it", async () => {
    // Prepare: one request waiting for approval, newer than more than a page's budget of closed sessions.
    const budget = sessionListReadBudget(100);
    const tenantId = randomUUID();
    const start = Date.parse("2026-11-01T08:00:00.000Z");
    const closed = Array.from({ length: budget + 5 }, (_, i) => ({
      ...requestedSession(new Date(start + i * 1_000), { deviceId: `old-${i}`, status: "closed" as const }),
      tenantId,
    }));
    for (let i = 0; i < closed.length; i += 25) await Promise.all(closed.slice(i, i + 25).map((s) => sessions.create(s, [])));
    const since = new Date(start + 86_400_000);
    const waiting = { ...requestedSession(new Date(since.getTime() + 60_000), { deviceId: "tagged-device", status: "pendingApproval" as const }), tenantId };
    await sessions.create(waiting, []);
    queries.length = 0;

    // Act
    const pages = await pagesOf({ tenantId, status: "pendingApproval", top: 100, requestedSince: since });

    // Assess: one page, the waiting request, and no token to follow through the history.
    expect(pages).toEqual([{ ids: [waiting.id], examined: 1, token: false }]);
  });
});
