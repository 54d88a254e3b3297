// The Table device store's list after devices change, and with searches made of characters
// that are special in OData, in RowKeys or outside ASCII: every page sequence returns exactly
// what a brute-force filter of the current devices gives, none missing, none twice.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { odata } from "@azure/data-tables";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables, tableNames, type Tables } from "../../shared/adapters/tables/tables.js";
import { TableDeviceStore } from "../../shared/adapters/tables/tableDeviceStore.js";
import { encodeSortValue, foldCase, indexKeysOf } from "../../shared/adapters/tables/deviceIndex.js";
import { platformOf, type Device } from "../../shared/domain/device.js";
import { applyRemoval, applyUpsert, type DeviceFacts } from "../../shared/domain/deviceInventory.js";
import { evaluateEligibility } from "../../shared/domain/eligibility.js";
import { inScope, type Scope } from "../../shared/domain/permissions.js";
import type { DeviceListQuery } from "../../shared/app/devices/ports.js";

let azurite: AzuriteTables;
let tables: Tables;
let store: TableDeviceStore;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  store = new TableDeviceStore(tables);
});

afterAll(async () => {
  await azurite?.close();
});

const facts = (id: string, overrides: Partial<DeviceFacts> = {}): DeviceFacts => ({
  id,
  deviceName: "DIEGO-LAPTOP",
  operatingSystem: "Windows",
  osVersion: "10.0.26100.1",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  userId: "u1",
  userPrincipalName: "diego@contoso.example",
  userDisplayName: "Diego Siciliani",
  emailAddress: "diego@contoso.example",
  roleScopeTagIds: ["0"],
  ...overrides,
});

let clock = Date.parse("2026-11-20T08:00:00Z");
const nextTime = (): string => new Date((clock += 60_000)).toISOString();

async function upsert(tenantId: string, f: DeviceFacts): Promise<void> {
  await store.update(tenantId, f.id, (current) => {
    const next = applyUpsert(current, tenantId, f, nextTime());
    return next && { kind: "device", device: next };
  });
}

async function remove(tenantId: string, id: string): Promise<void> {
  await store.update(tenantId, id, (current) => applyRemoval(current, tenantId, id, nextTime()));
}

const everywhere: Scope = { all: true };
const scoped = (...tags: string[]): Scope => ({ all: false, tags: new Set(tags) });
const off = { allowPossiblyUnsupportedWindowsEditions: false };
const on = { allowPossiblyUnsupportedWindowsEditions: true };

type Query = Omit<DeviceListQuery, "tenantId" | "top" | "continuationToken">;

/** Every matching device of the tenant as it is stored now, in merge-key order. */
async function expected(tenantId: string, ids: readonly string[], q: Query): Promise<string[]> {
  const folded = q.search === undefined ? undefined : foldCase(q.search);
  const rows: { key: string; id: string }[] = [];
  for (const id of ids) {
    const r = await store.get(tenantId, id);
    if (r?.kind !== "device") continue;
    const d: Device = r.device;
    if (!inScope(q.scope, d.roleScopeTagIds)) continue;
    if (q.platform !== undefined && platformOf(d) !== q.platform) continue;
    if (q.eligible !== undefined && evaluateEligibility(d, q.settings).eligible !== q.eligible) continue;
    const values =
      folded === undefined
        ? [d.deviceName]
        : [d.deviceName, d.userPrincipalName, d.userDisplayName].filter((v): v is string => !!v && foldCase(v).startsWith(folded));
    if (values.length === 0) continue;
    rows.push({ key: values.map((v) => `${encodeSortValue(v)}!${d.id}`).sort()[0], id: d.id });
  }
  return rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((r) => r.id);
}

async function listAll(tenantId: string, q: Query, top: number): Promise<string[]> {
  const got: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await store.list({ tenantId, top, continuationToken: token, ...q });
    got.push(...page.value.map((d) => d.id));
    token = page.continuationToken;
    pages++;
  } while (token && pages < 500);
  return got;
}

const specialNames = [
  "a|b",
  "a'b",
  "a%b",
  "a/b",
  "a#b",
  "a?b",
  "a\\b",
  "a!b",
  "a~b",
  "É-laptop",
  "é-laptop",
  "東京-01",
  "😀-phone",
  "ſtrange",
  "İstanbul",
  "ΣΑΣ",
  "a",
  "a b",
  "",
];

describe("search with special characters", () => {
  const tenantId = randomUUID();
  const ids: string[] = [];

  beforeAll(async () => {
    for (const [i, name] of specialNames.entries()) {
      const id = `dev-${i}`;
      ids.push(id);
      await upsert(
        tenantId,
        facts(id, { deviceName: name, userPrincipalName: `${name}@x.example`, userDisplayName: name, roleScopeTagIds: [i % 2 ? "odd" : "even"] }),
      );
    }
  });

  const searches = [
    ...specialNames.filter((n) => n !== ""),
    "a",
    "É",
    "é",
    "東",
    "😀",
    "\u0001",
    "'",
    "%",
    "|",
    "\\",
    "/",
    "#",
    "?",
    "a".repeat(100),
    "ß",
    "σ",
    "s",
  ];
  it.each(searches)("search %j: every match once, in order, tenant-wide and scoped", async (search) => {
    for (const q of [
      { scope: everywhere, settings: off, search },
      { scope: scoped("odd"), settings: off, search },
      { scope: everywhere, settings: on, search, eligible: true },
    ] as Query[]) {
      expect(await listAll(tenantId, q, 2)).toEqual(await expected(tenantId, ids, q));
    }
  });
});

describe("listing after devices change", () => {
  const tenantId = randomUUID();
  const ids = Array.from({ length: 30 }, (_, i) => `dev-${String(i).padStart(2, "0")}`);

  const queries: Query[] = [
    { scope: everywhere, settings: off },
    { scope: everywhere, settings: on },
    { scope: everywhere, settings: off, platform: "windows" },
    { scope: everywhere, settings: off, eligible: true },
    { scope: everywhere, settings: on, eligible: true },
    { scope: everywhere, settings: off, eligible: false },
    { scope: everywhere, settings: on, eligible: false },
    { scope: everywhere, settings: on, platform: "windows", eligible: true },
    { scope: everywhere, settings: off, platform: "windows", eligible: false },
    { scope: everywhere, settings: off, search: "d" },
    { scope: everywhere, settings: off, search: "new" },
    { scope: scoped("paris"), settings: off },
    { scope: scoped("paris", "berlin"), settings: on, eligible: true },
    { scope: scoped("berlin"), settings: off, search: "d" },
    { scope: scoped("berlin"), settings: off, platform: "iOS" },
  ];

  async function check(): Promise<void> {
    for (const q of queries)
      for (const top of [1, 3, 50]) expect({ q, top, got: await listAll(tenantId, q, top) }).toEqual({ q, top, got: await expected(tenantId, ids, q) });
  }

  it("follows renames, user, platform, tag, compliance changes, removals and restores", async () => {
    for (const [i, id] of ids.entries())
      await upsert(
        tenantId,
        facts(id, {
          deviceName: `DEV-${i % 7}`,
          roleScopeTagIds: [["0"], ["paris"], ["berlin"], ["paris", "berlin"], []][i % 5],
          ...(i % 4 === 0 ? { operatingSystem: "Windows Holographic for Business", deviceType: "holoLens" } : {}),
        }),
      );
    await check();

    for (const [i, id] of ids.entries()) {
      if (i % 3 === 0) await upsert(tenantId, facts(id, { deviceName: `NEW-${i}`, roleScopeTagIds: ["berlin"] }));
      if (i % 3 === 1)
        await upsert(tenantId, facts(id, { userPrincipalName: `new${i}@x.example`, userDisplayName: `Dora ${i}`, operatingSystem: "iOS", osVersion: "18" }));
      if (i % 5 === 2) await remove(tenantId, id);
      if (i % 7 === 3)
        await upsert(
          tenantId,
          facts(id, { complianceState: "noncompliant", managedDeviceOwnerType: "company", userId: null, userPrincipalName: null, userDisplayName: null }),
        );
    }
    await check();

    for (const [i, id] of ids.entries()) if (i % 5 === 2) await upsert(tenantId, facts(id, { deviceName: `BACK-${i}`, roleScopeTagIds: ["paris"] }));
    await check();
  });
});

describe("re-index pages", () => {
  async function makeOld(tenantId: string, id: string, dropRows: boolean): Promise<void> {
    const table = tables.client(tableNames.devices);
    const record = await table.getEntity<Record<string, unknown>>(tenantId, `d|${id}`);
    const { etag: _e, timestamp: _t, indexVersion: _v, ["odata.metadata"]: _m, ...rest } = record as Record<string, unknown>;
    await table.updateEntity({ ...rest, partitionKey: tenantId, rowKey: `d|${id}` }, "Replace");
    if (dropRows) for (const k of JSON.parse(rest.indexKeys as string) as string[]) await table.deleteEntity(tenantId, k).catch(() => undefined);
  }

  async function allRows(tenantId: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const e of tables.client(tableNames.devices).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${tenantId}`, select: ["RowKey"] } }))
      keys.push(e.rowKey!);
    return keys.sort();
  }

  async function reindexAll(tenantId: string): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await store.reindexPage(tenantId, after, 7);
      expect(page.failed).toEqual([]);
      if (page.last !== undefined) after = page.last;
      if (page.done) return;
    }
  }

  it("rewrites old devices while events arrive and a second run goes on at once: current rows only, lists exact", async () => {
    const tenantId = randomUUID();
    const ids = Array.from({ length: 40 }, (_, i) => `dev-${String(i).padStart(2, "0")}`);
    for (const [i, id] of ids.entries()) await upsert(tenantId, facts(id, { deviceName: `OLD-${i}`, roleScopeTagIds: [i % 2 ? "paris" : "berlin"] }));
    for (const [i, id] of ids.entries()) await makeOld(tenantId, id, i % 2 === 0);

    // An event whose write keeps losing to the re-index runs fails as transient, and Service Bus delivers it again.
    const redelivered = async (op: () => Promise<void>): Promise<void> => {
      for (let delivery = 1; ; delivery++) {
        try {
          return await op();
        } catch (e) {
          if (delivery >= 10 || !/kept changing/.test(String(e))) throw e;
        }
      }
    };
    const events = (async () => {
      for (const [i, id] of ids.entries())
        if (i % 3 === 0) await redelivered(() => upsert(tenantId, facts(id, { deviceName: `NEW-${i}`, roleScopeTagIds: ["paris"] })));
      for (const [i, id] of ids.entries()) if (i % 5 === 0) await redelivered(() => remove(tenantId, id));
    })();
    await Promise.all([reindexAll(tenantId), reindexAll(tenantId), events]);

    const want: string[] = [];
    for (const id of ids) {
      const r = await store.get(tenantId, id);
      want.push(`d|${id}`);
      if (r?.kind === "device") want.push(...indexKeysOf(r.device));
    }
    expect(await allRows(tenantId)).toEqual(want.sort());
    for (const q of [
      { scope: everywhere, settings: off },
      { scope: scoped("paris"), settings: off, search: "n" },
    ] as Query[])
      expect(await listAll(tenantId, q, 4)).toEqual(await expected(tenantId, ids, q));
  });
});

describe("a settings change between pages", () => {
  it("resumes where the last page ended, with today's eligibility: nothing twice, nothing skipped", async () => {
    // Prepare: personal Windows devices, every other one a HoloLens (eligible only with the setting on)
    const tenantId = randomUUID();
    const ids = Array.from({ length: 12 }, (_, i) => `dev-${String(i).padStart(2, "0")}`);
    for (const [i, id] of ids.entries())
      await upsert(
        tenantId,
        facts(id, {
          deviceName: `DEV-${String(i).padStart(2, "0")}`,
          ...(i % 2 ? { operatingSystem: "Windows Holographic for Business", deviceType: "holoLens" } : {}),
        }),
      );
    const first = await store.list({ tenantId, top: 2, scope: everywhere, settings: off, eligible: true });

    // Act: the tenant turns the setting on, the admin follows the token
    const rest = await (async () => {
      const got: string[] = [];
      let token = first.continuationToken;
      while (token) {
        const page = await store.list({ tenantId, top: 2, scope: everywhere, settings: on, eligible: true, continuationToken: token });
        got.push(...page.value.map((d) => d.id));
        token = page.continuationToken;
      }
      return got;
    })();

    // Assess: the first page under the old setting, then every device eligible now that sorts after it
    expect(first.value.map((d) => d.id)).toEqual(["dev-00", "dev-02"]);
    expect(rest).toEqual((await expected(tenantId, ids, { scope: everywhere, settings: on, eligible: true })).filter((id) => id > "dev-02"));
  });
});

describe("the page budget when a query merges more ranges than 2 × top", () => {
  it("reads one row per range, no more, and still moves on", async () => {
    // Prepare: a scoped search over six tags (6 name ranges + the wide range + the UPN and
    // display-name ranges = 9), each tag's range with a matching device.
    const tenantId = randomUUID();
    const tags = ["a", "b", "c", "d", "e", "f"];
    for (const [i, tag] of tags.entries()) await upsert(tenantId, facts(`dev-${i}`, { deviceName: `DX-${i}`, roleScopeTagIds: [tag] }));
    const counted = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
    let entitiesRead = 0;
    counted.client(tableNames.devices).pipeline.addPolicy({
      name: "countEntities",
      sendRequest: async (req, next) => {
        const res = await next(req);
        if (req.method === "GET" && res.bodyAsText) entitiesRead += (JSON.parse(res.bodyAsText) as { value?: unknown[] }).value?.length ?? 0;
        return res;
      },
    });
    const q: Query = { scope: scoped(...tags), settings: off, search: "d" };
    const ranges = tags.length + 3;

    // Act
    const got: string[] = [];
    const pages: number[] = [];
    let token: string | undefined;
    do {
      entitiesRead = 0;
      const page = await new TableDeviceStore(counted).list({ tenantId, top: 1, continuationToken: token, ...q });
      pages.push(entitiesRead);
      got.push(...page.value.map((d) => d.id));
      token = page.continuationToken;
    } while (token && pages.length < 50);

    // Assess: more than 2 × top on a page (a merge needs a row from every range), never more than one per range
    expect(got).toEqual(
      await expected(
        tenantId,
        tags.map((_, i) => `dev-${i}`),
        q,
      ),
    );
    expect(got).toHaveLength(tags.length);
    expect(Math.max(...pages)).toBeGreaterThan(2);
    for (const n of pages) expect(n).toBeLessThanOrEqual(Math.max(2, ranges));
  });
});

describe("a device whose listed index rows are already gone (a manual repair, a partial restore)", () => {
  it("is written by the next change, which drops those rows from its record", async () => {
    // Prepare: a device written, then every index row its record lists deleted behind the store's back.
    const tenantId = randomUUID();
    await upsert(tenantId, facts("dev-1", { deviceName: "OLD-NAME" }));
    const client = tables.client(tableNames.devices);
    const record = await client.getEntity<{ indexKeys: string }>(tenantId, "d|dev-1");
    for (const k of JSON.parse(record.indexKeys) as string[]) await client.deleteEntity(tenantId, k);

    // Act: a rename, whose write deletes the old name's rows (Table storage fails a transaction whose delete finds no row).
    const result = await store.update(tenantId, "dev-1", (current) => {
      const next = applyUpsert(current, tenantId, facts("dev-1", { deviceName: "NEW-NAME" }), nextTime());
      return next && { kind: "device", device: next };
    });

    // Assess: written, and the record lists exactly the index rows the table holds.
    expect(result.written).toBe(true);
    const after = await client.getEntity<{ indexKeys: string; deviceName: string }>(tenantId, "d|dev-1");
    expect(after.deviceName).toBe("NEW-NAME");
    expect((await allRowKeys(tenantId)).filter((k) => k !== "d|dev-1")).toEqual((JSON.parse(after.indexKeys) as string[]).sort());
  });
});

async function allRowKeys(tenantId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of tables.client(tableNames.devices).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${tenantId}`, select: ["RowKey"] } }))
    keys.push(e.rowKey!);
  return keys.sort();
}
