// Idempotency-Key records against Azurite with the real @azure/data-tables SDK: the session
// timer's purge deletes the tenant's expired records (a bounded number per call) and leaves
// those still answering and other tenants' alone.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables } from "../../shared/adapters/tables/tables.js";
import { TableIdempotencyStore } from "../../shared/adapters/tables/tableIdempotencyStore.js";
import type { IdempotencyRecord } from "../../shared/app/sessions/ports.js";

let azurite: AzuriteTables;
let store: TableIdempotencyStore;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  const tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  store = new TableIdempotencyStore(tables);
});

afterAll(async () => {
  await azurite?.close();
});

const now = Date.parse("2026-12-07T10:00:00.000Z");
const record = (expiresAt: number): IdempotencyRecord => ({ status: "COMPLETED", payloadHash: "h", expiresAt, inProgressExpiresAt: expiresAt, sessionId: "s" });

describe("Idempotency-Key records", () => {
  it("purges the tenant's expired records, at most `max` per call, and no live or other tenant's record", async () => {
    // Prepare
    const [tenant, other] = [randomUUID(), randomUUID()];
    for (const k of ["a", "b", "c"]) await store.tryCreate(tenant, k, record(now - 1_000));
    await store.tryCreate(tenant, "live", record(now + 1_000));
    await store.tryCreate(other, "a", record(now - 1_000));

    // Act
    const first = await store.purgeExpired(tenant, new Date(now), 2);
    const second = await store.purgeExpired(tenant, new Date(now), 2);

    // Assess
    expect([first, second]).toEqual([2, 1]);
    expect(await Promise.all(["a", "b", "c", "live"].map(async (k) => (await store.get(tenant, k)) !== undefined))).toEqual([false, false, false, true]);
    expect(await store.get(other, "a")).toBeDefined();
  });
});
