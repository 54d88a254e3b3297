// The audit list's activity filter against Azurite: a page's budget bounds the events storage
// looks at, not only the ones it hands back. `activity` is a column, not a key: storage checks
// it row by row over every month partition of the range, so a rare activity over a year made
// one page scan the tenant's whole log. Each query a page sends is recorded and the rows
// storage had to look at to answer it are counted (test/support/examinedRows.ts).
import { randomUUID } from "node:crypto";
import { odata } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { auditPageReadBudget, TableAuditLog } from "../../shared/adapters/tables/tableAuditLog.js";
import { createTables, tableNames, type Tables } from "../../shared/adapters/tables/tables.js";
import type { AuditEventInput } from "../../shared/app/audit/auditLog.js";
import { ManualClock } from "../support/memoryPorts.js";
import { examinedRows, recordQueries, type RecordedQuery } from "../support/examinedRows.js";

let azurite: AzuriteTables;
let tables: Tables;
let watched: Tables;
let queries: RecordedQuery[];

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  const connect = (): Tables =>
    createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  tables = connect();
  await tables.ensureAll();
  watched = connect();
  queries = recordQueries(watched.client(tableNames.auditEvents));
});

afterAll(async () => {
  await azurite?.close();
});

const admin = { id: "admin-1", displayName: "Adele Vance", type: "user" as const };
const event = (tenantId: string, activity: string, n: number): AuditEventInput => ({
  tenantId,
  actor: admin,
  activity,
  target: { type: "settings", id: String(n) },
  result: "success",
});

async function rowKeysOf(partition: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of tables
    .client(tableNames.auditEvents)
    .listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ["RowKey"] } }))
    keys.push(e.rowKey!);
  return keys;
}

/** The list's events storage examined for the queries sent since the last call (the stream's rows are not the list's). */
async function examined(): Promise<number> {
  const looked = await examinedRows(queries, rowKeysOf);
  queries.length = 0;
  return [...looked].filter((k) => !k.split("/")[0].endsWith("|log")).length;
}

/**
 * A tenant whose one `rare` event is its oldest (October), followed by `newer` others spread
 * over November and December, recorded 50 at a time.
 */
async function tenantWith(rare: string, newer: number): Promise<{ tenantId: string; log: TableAuditLog }> {
  const tenantId = randomUUID();
  const clock = new ManualClock("2026-10-15T08:00:00.000Z");
  const writer = new TableAuditLog(tables, clock);
  await writer.record(event(tenantId, rare, 0));
  clock.advance(20 * 86_400_000);
  for (let i = 0; i < newer; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, newer - i) }, (_, j) => writer.record(event(tenantId, "settings.update", i + j + 1))));
    clock.advance(Math.floor((40 * 86_400_000) / Math.ceil(newer / 50)));
  }
  queries.length = 0;
  return { tenantId, log: new TableAuditLog(watched, clock) };
}

describe("a page of the audit list filtered by activity", () => {
  it("looks at no more events than its budget when the activity is rare, across months, and the tokens lead to it", async () => {
    // Prepare
    const budget = auditPageReadBudget(10);
    const { tenantId, log } = await tenantWith("connector.verify", budget + 5);
    const range = { tenantId, from: new Date("2026-10-01T00:00:00.000Z"), to: new Date("2026-12-31T00:00:00.000Z"), top: 10 };

    // Act
    const pages: { targets: string[]; examined: number; token: boolean }[] = [];
    let token: string | undefined;
    do {
      const page = await log.query({ ...range, activity: "connector.verify", ...(token === undefined ? {} : { continuationToken: token }) });
      pages.push({ targets: page.value.map((e) => e.target.id), examined: await examined(), token: page.continuationToken !== undefined });
      token = page.continuationToken;
    } while (token && pages.length < 20);

    // Assess: each page looked at no more than the budget; following the tokens finds the event, once.
    for (const p of pages) expect(p.examined).toBeLessThanOrEqual(budget);
    expect(pages.flatMap((p) => p.targets)).toEqual(["0"]);
    expect(pages.at(-1)?.token).toBe(false);
  });

  it("still fills pages of top with the matches, newest first, across months", async () => {
    // Prepare: every other event matches.
    const tenantId = randomUUID();
    const clock = new ManualClock("2026-10-30T08:00:00.000Z");
    const writer = new TableAuditLog(tables, clock);
    for (let i = 0; i < 10; i++) {
      await writer.record(event(tenantId, i % 2 === 0 ? "session.closed" : "settings.update", i));
      clock.advance(86_400_000);
    }
    const log = new TableAuditLog(watched, clock);
    const range = { tenantId, from: new Date("2026-10-01T00:00:00.000Z"), to: clock.now(), top: 2, activity: "session.closed" };

    // Act
    const got: string[][] = [];
    let token: string | undefined;
    do {
      const page = await log.query({ ...range, ...(token === undefined ? {} : { continuationToken: token }) });
      got.push(page.value.map((e) => e.target.id));
      token = page.continuationToken;
    } while (token && got.length < 20);

    // Assess: full pages until the last (a full page may be followed by an empty one).
    expect(got.flat()).toEqual(["8", "6", "4", "2", "0"]);
    expect(got.slice(0, 3)).toEqual([["8", "6"], ["4", "2"], ["0"]]);
  });
});
