// OAuth states against Azurite with the real @azure/data-tables SDK: the sweep's purge of
// expired states. A state whose code was exchanged names a token in Key Vault that only its
// connector.authorize message (or the dead letter) discards, and that message may wait up to
// a day for TeamViewer quota, far past the hour a state is otherwise kept: it is not purged.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables } from "../../shared/adapters/tables/tables.js";
import { TableOAuthStateStore } from "../../shared/adapters/tables/tableOAuthStateStore.js";
import { oauthStateStatuses, type OAuthStateStatus } from "../../shared/app/connector/ports.js";

let azurite: AzuriteTables;
let store: TableOAuthStateStore;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  const tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  store = new TableOAuthStateStore(tables);
});

afterAll(async () => {
  await azurite?.close();
});

/** A state that went issued → … → `status`, expiring at `expiresAt`. */
async function stateIn(status: OAuthStateStatus, expiresAt: string): Promise<string> {
  const id = randomUUID();
  const tenantId = randomUUID();
  await store.create({
    id,
    tenantId,
    status: oauthStateStatuses.issued,
    createdBy: "admin",
    createdByName: "Admin",
    createdAt: expiresAt,
    expiresAt,
    generation: 1,
  });
  const path: OAuthStateStatus[] = [oauthStateStatuses.issued, oauthStateStatuses.redeemed, oauthStateStatuses.exchanged, oauthStateStatuses.completed];
  for (let i = 1; i <= path.indexOf(status); i++) expect(await store.transition(id, path[i - 1], path[i])).toBe(true);
  return id;
}

describe("OAuth states", () => {
  it("purges the expired states but those whose code was exchanged, and none that has not expired", async () => {
    // Prepare: one expired state in each status, one that has not expired
    const expired = "2026-12-06T07:00:00.000Z";
    const ids = {
      issued: await stateIn(oauthStateStatuses.issued, expired),
      redeemed: await stateIn(oauthStateStatuses.redeemed, expired),
      exchanged: await stateIn(oauthStateStatuses.exchanged, expired),
      completed: await stateIn(oauthStateStatuses.completed, expired),
      current: await stateIn(oauthStateStatuses.redeemed, "2026-12-06T09:00:00.000Z"),
    };

    // Act
    const purged = await store.purgeExpired(new Date("2026-12-06T08:00:00.000Z"));

    // Assess
    expect(purged).toBe(3);
    const left = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([name, id]) => [name, (await store.get(id))?.status ?? null])));
    expect(left).toEqual({ issued: null, redeemed: null, exchanged: "exchanged", completed: null, current: "redeemed" });
  });
});
