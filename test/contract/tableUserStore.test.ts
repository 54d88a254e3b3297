// TableUserStore's search (GET /api/users?search=) against Azurite. Table storage cannot
// match part of a name, so a search page reads up to 1,000 users and matches them here. A
// user's groups can be 2,000 ids (about 80,000 characters of JSON for GUIDs, more for
// longer ids): a search that read whole users held up to a thousand of those, for a match
// on a name. Measured here as the characters storage sent for one search page.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { TableUserStore } from "../../shared/adapters/tables/tableAdminStores.js";
import { createTables, tableNames, type Tables } from "../../shared/adapters/tables/tables.js";
import type { UserRecord } from "../../shared/app/admin/ports.js";

let azurite: AzuriteTables;
let tables: Tables;
let watched: TableUserStore;
let charactersRead = 0;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  const connect = (): Tables =>
    createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  tables = connect();
  await tables.ensureAll();
  const counted = connect();
  counted.client(tableNames.users).pipeline.addPolicy({
    name: "countCharacters",
    sendRequest: async (req, next) => {
      const res = await next(req);
      if (req.method === "GET") charactersRead += res.bodyAsText?.length ?? 0;
      return res;
    },
  });
  watched = new TableUserStore(counted);
});

afterAll(async () => {
  await azurite?.close();
});

const groups = (n: number): string[] => Array.from({ length: n }, () => randomUUID());

function user(i: number, over: Partial<UserRecord> = {}): UserRecord {
  return {
    id: `user-${String(i).padStart(4, "0")}`,
    userPrincipalName: `person${i}@contoso.example`,
    displayName: `Person ${i}`,
    intuneLicensed: true,
    groups: groups(2000),
    updatedAt: "2026-12-01T00:00:00.000Z",
    ...over,
  };
}

describe("a search of the users", () => {
  it("reads the names of the users it scans, and only the matches whole", async () => {
    // Prepare: 150 users in 2,000 groups each, one of them named Nestor.
    const tenantId = randomUUID();
    const store = new TableUserStore(tables);
    const users = Array.from({ length: 150 }, (_, i) => user(i, i === 77 ? { displayName: "Nestor Wilke", userPrincipalName: "nestor@contoso.example" } : {}));
    for (let i = 0; i < users.length; i += 10) await Promise.all(users.slice(i, i + 10).map((u) => store.upsertIfNewer(tenantId, u)));
    const oneUser = JSON.stringify(users[77]).length;
    charactersRead = 0;

    // Act
    const page = await watched.list({ tenantId, search: "nestor", top: 100 });

    // Assess: Nestor whole, groups and all; for the others, at most a few hundred characters each.
    expect(page.value.map((u) => u.id)).toEqual(["user-0077"]);
    expect(page.value[0]).toEqual(users[77]);
    expect(page.continuationToken).toBeUndefined();
    expect(charactersRead).toBeLessThan(oneUser * 1.5 + users.length * 500);
  });

  it("still pages: a full page of matches ends with a token, and the next resumes after it", async () => {
    // Prepare
    const tenantId = randomUUID();
    const store = new TableUserStore(tables);
    const users = Array.from({ length: 5 }, (_, i) => user(i, { groups: groups(2) }));
    for (const u of users) await store.upsertIfNewer(tenantId, u);

    // Act
    const first = await watched.list({ tenantId, search: "PERSON", top: 3 });
    const second = await watched.list({ tenantId, search: "PERSON", top: 3, continuationToken: first.continuationToken });

    // Assess
    expect(first.value).toEqual(users.slice(0, 3));
    expect(first.continuationToken).toBeDefined();
    expect(second.value).toEqual(users.slice(3));
    expect(second.continuationToken).toBeUndefined();
  });
});
