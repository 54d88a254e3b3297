// DeviceStore.updateMany against Azurite with the real @azure/data-tables SDK: a bulk sync
// leaves exactly the rows that one update() per event would, whether its devices are new,
// stored, or mixed, in few transactions, and with events for one device in either order.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { odata, type TableClient } from "@azure/data-tables";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables, tableNames, type Tables } from "../../shared/adapters/tables/tables.js";
import { TableDeviceStore } from "../../shared/adapters/tables/tableDeviceStore.js";
import { recordKey } from "../../shared/adapters/tables/deviceIndex.js";
import { applyRemoval, applyUpsert, type DeviceFacts, type DeviceRecord } from "../../shared/domain/deviceInventory.js";
import type { DeviceChange } from "../../shared/app/devices/ports.js";

let azurite: AzuriteTables;
let tables: Tables;
let store: TableDeviceStore;
let deviceTable: TableClient;
const sent = { transactions: 0, reads: 0 };

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  deviceTable = tables.client(tableNames.devices);
  deviceTable.pipeline.addPolicy({
    name: "countRequests",
    sendRequest: (req, next) => {
      if (req.url.includes("$batch")) sent.transactions++;
      else if (req.method === "GET" && !req.url.includes("filter=")) sent.reads++;
      return next(req);
    },
  });
  store = new TableDeviceStore(tables);
});

afterAll(async () => {
  await azurite?.close();
});

async function rowsOf(tenantId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of deviceTable.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${tenantId}`, select: ["RowKey"] } })) keys.push(e.rowKey!);
  return keys.sort();
}

const facts = (i: number, overrides: Partial<DeviceFacts> = {}): DeviceFacts => ({
  id: `device-${String(i).padStart(4, "0")}`,
  deviceName: `PC-${i}`,
  operatingSystem: "Windows",
  osVersion: "10.0.26100.1",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  userId: `u${i}`,
  userPrincipalName: `user${i}@contoso.example`,
  userDisplayName: `User ${i}`,
  emailAddress: `user${i}@contoso.example`,
  roleScopeTagIds: ["0"],
  ...overrides,
});

const upsert = (tenantId: string, f: DeviceFacts, at: string): DeviceChange => ({
  deviceId: f.id,
  change: (current: DeviceRecord | undefined) => {
    const next = applyUpsert(current, tenantId, f, at);
    return next && { kind: "device", device: next };
  },
});

/** The same events, one update() each: the reference the bulk write must match. */
async function oneByOne(tenantId: string, changes: readonly DeviceChange[]): Promise<void> {
  for (const c of changes) await store.update(tenantId, c.deviceId, c.change);
}

describe("updateMany", () => {
  it("writes a first sync of 300 devices in a transaction per several devices, the rows one update() each would leave", async () => {
    // Prepare
    const bulk = randomUUID();
    const single = randomUUID();
    const at = "2026-11-20T10:00:00Z";
    const all = Array.from({ length: 300 }, (_, i) => facts(i, { roleScopeTagIds: i % 3 === 0 ? ["0", "berlin"] : ["0"] }));
    sent.transactions = 0;
    sent.reads = 0;

    // Act
    const results = await store.updateMany(
      bulk,
      all.map((f) => upsert(bulk, f, at)),
    );
    const bulkSent = { ...sent };
    await oneByOne(
      single,
      all.map((f) => upsert(single, f, at)),
    );

    // Assess: the same rows, every device reported written and new, no reads, ~10 devices a transaction
    expect(await rowsOf(bulk)).toEqual(await rowsOf(single));
    expect([...results.values()].every((r) => r.written && r.before === undefined && r.after?.kind === "device")).toBe(true);
    expect(results.size).toBe(300);
    expect(bulkSent.reads).toBe(0);
    expect(bulkSent.transactions).toBeLessThanOrEqual(300 / 5);
  });

  it("updates stored devices and creates new ones in one call, ignoring stale events, in either order for one device", async () => {
    // Prepare: 50 devices stored at 10:00
    const tenantId = randomUUID();
    const reference = randomUUID();
    const stored = Array.from({ length: 50 }, (_, i) => facts(i));
    for (const t of [tenantId, reference])
      await store.updateMany(
        t,
        stored.map((f) => upsert(t, f, "2026-11-20T10:00:00Z")),
      );
    // New names and tags for the first 20 (their index rows move), a stale event for the next 10,
    // 20 new devices, and two events in each order for two devices.
    const events = (t: string): DeviceChange[] => [
      ...stored.slice(0, 20).map((f) => upsert(t, { ...f, deviceName: `${f.deviceName}-NEW`, roleScopeTagIds: ["paris"] }, "2026-11-20T11:00:00Z")),
      ...stored.slice(20, 30).map((f) => upsert(t, { ...f, deviceName: "STALE" }, "2026-11-20T09:00:00Z")),
      ...Array.from({ length: 20 }, (_, i) => upsert(t, facts(100 + i), "2026-11-20T11:00:00Z")),
      upsert(t, facts(200, { deviceName: "OLD" }), "2026-11-20T09:00:00Z"),
      upsert(t, facts(200, { deviceName: "NEW" }), "2026-11-20T11:00:00Z"),
      upsert(t, facts(201, { deviceName: "NEW" }), "2026-11-20T11:00:00Z"),
      upsert(t, facts(201, { deviceName: "OLD" }), "2026-11-20T09:00:00Z"),
    ];

    // Act
    const results = await store.updateMany(tenantId, events(tenantId));
    await oneByOne(reference, events(reference));

    // Assess
    expect(await rowsOf(tenantId)).toEqual(await rowsOf(reference));
    const name = async (id: string) => {
      const r = await store.get(tenantId, id);
      return r?.kind === "device" ? r.device.deviceName : undefined;
    };
    expect(await name(facts(0).id)).toBe("PC-0-NEW");
    expect(await name(facts(20).id)).toBe("PC-20");
    expect(await name(facts(200).id)).toBe("NEW");
    expect(await name(facts(201).id)).toBe("NEW");
    expect(results.get(facts(20).id)?.written).toBe(false);
    expect(results.get(facts(0).id)).toMatchObject({ written: true, before: { kind: "device" } });
    expect(results.get(facts(100).id)).toMatchObject({ written: true, before: undefined });
  });

  it("writes a device whose index rows outlived its record (a create would fail): through the read path", async () => {
    // Prepare: a stored device, then its record row deleted by hand (a partial restore)
    const tenantId = randomUUID();
    const f = facts(7);
    await store.updateMany(tenantId, [upsert(tenantId, f, "2026-11-20T10:00:00Z")]);
    await deviceTable.deleteEntity(tenantId, recordKey(f.id));

    // Act
    const results = await store.updateMany(tenantId, [upsert(tenantId, f, "2026-11-20T11:00:00Z"), upsert(tenantId, facts(8), "2026-11-20T11:00:00Z")]);

    // Assess
    expect(results.get(f.id)).toMatchObject({ written: true });
    expect(await store.get(tenantId, f.id)).toMatchObject({ kind: "device", device: { updatedAt: "2026-11-20T11:00:00.000Z" } });
    expect(await store.get(tenantId, facts(8).id)).toMatchObject({ kind: "device" });
  });

  it("keeps a tombstone's device removed when an older upsert comes in bulk", async () => {
    // Prepare: removed at 10:00, never seen before
    const tenantId = randomUUID();
    const f = facts(1);
    await store.update(tenantId, f.id, (c) => applyRemoval(c, tenantId, f.id, "2026-11-20T10:00:00Z"));

    // Act
    await store.updateMany(tenantId, [upsert(tenantId, f, "2026-11-20T09:00:00Z")]);

    // Assess
    const record = await store.get(tenantId, f.id);
    expect(record).toMatchObject({ kind: "device", device: { removed: true, deviceName: "PC-1" } });
  });
});
