// The tenant settings row against Azurite with the real @azure/data-tables SDK. The approval
// rule (approvalRequiredScopeTags, stored as JSON) fails closed: a value that cannot be read
// stops everything that reads the settings (session requests included) instead of reading as
// "no tags", which would switch approvals off; setting the tags again repairs the row.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TableClient } from "@azure/data-tables";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables, tableNames } from "../../shared/adapters/tables/tables.js";
import { TableSettingsStore, UnreadableSettingsError } from "../../shared/adapters/tables/tableAdminStores.js";

let azurite: AzuriteTables;
let store: TableSettingsStore;
let table: TableClient;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  const tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  table = tables.client(tableNames.settings);
  store = new TableSettingsStore(tables);
});

afterAll(async () => {
  await azurite?.close();
});

/** A settings row whose approval tags were written by something other than this store. */
async function tamperedTenant(value: unknown): Promise<string> {
  const tenantId = randomUUID();
  await store.update(tenantId, { approvalRequiredScopeTags: ["vip"], requireTicketId: true });
  await table.updateEntity({ partitionKey: tenantId, rowKey: "settings", approvalRequiredScopeTags: value as string }, "Merge");
  return tenantId;
}

describe("tenant settings", () => {
  it("keeps the approval tags as written", async () => {
    const tenantId = randomUUID();

    await store.update(tenantId, { approvalRequiredScopeTags: ["vip", "finance"] });

    expect((await store.get(tenantId)).approvalRequiredScopeTags).toEqual(["vip", "finance"]);
  });

  it.each([
    ["not JSON", "vip,finance"],
    ["JSON that is not an array", '{"tags":["vip"]}'],
    ["an array with a non-string", '["vip",7]'],
    ["a number", 42],
  ])("refuses to read approval tags that are %s, rather than reading no tags", async (_what, value) => {
    const tenantId = await tamperedTenant(value);

    await expect(store.get(tenantId)).rejects.toBeInstanceOf(UnreadableSettingsError);
    await expect(store.get(tenantId)).rejects.toThrow(/approvalRequiredScopeTags/);
  });

  it("refuses a change that leaves unreadable tags in place, and is repaired by setting the tags", async () => {
    const tenantId = await tamperedTenant("vip,finance");

    await expect(store.update(tenantId, { requireTicketId: false })).rejects.toBeInstanceOf(UnreadableSettingsError);
    const repaired = await store.update(tenantId, { approvalRequiredScopeTags: ["vip"] });

    expect(repaired).toMatchObject({ approvalRequiredScopeTags: ["vip"], requireTicketId: true });
    expect(await store.get(tenantId)).toEqual(repaired);
  });
});
