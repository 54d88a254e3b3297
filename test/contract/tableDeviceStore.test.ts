// The Table device store against Azurite with the real @azure/data-tables SDK: record and
// index rows change together, racing writers converge, and every list query shape pages
// through exactly the devices (and order) a brute-force filter of all devices gives, with a
// bounded number of Table queries per page.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { odata, type TableClient } from "@azure/data-tables";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables, tableNames, type Tables } from "../../shared/adapters/tables/tables.js";
import { TableDeviceStore } from "../../shared/adapters/tables/tableDeviceStore.js";
import { encodeSortValue, filterFingerprint, foldCase, maxIndexedTags } from "../../shared/adapters/tables/deviceIndex.js";
import { platformOf, type Device, type Platform } from "../../shared/domain/device.js";
import { applyRemoval, applyUpsert, type DeviceFacts } from "../../shared/domain/deviceInventory.js";
import { evaluateEligibility } from "../../shared/domain/eligibility.js";
import { inScope, type Scope } from "../../shared/domain/permissions.js";
import type { DeviceListQuery } from "../../shared/app/devices/ports.js";

let azurite: AzuriteTables;
let tables: Tables;
let store: TableDeviceStore;
let deviceTable: TableClient;
let requests = 0;
/** Entities the devices table's queries returned. */
let entitiesRead = 0;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  deviceTable = tables.client(tableNames.devices);
  // Counts every HTTP request the store sends to the devices table.
  deviceTable.pipeline.addPolicy({
    name: "countRequests",
    sendRequest: async (req, next) => {
      requests++;
      const res = await next(req);
      if (req.method === "GET" && res.bodyAsText) entitiesRead += (JSON.parse(res.bodyAsText) as { value?: unknown[] }).value?.length ?? 0;
      return res;
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

const upsert = (tenantId: string, f: DeviceFacts, at: string) =>
  store.update(tenantId, f.id, (current) => {
    const next = applyUpsert(current, tenantId, f, at);
    return next && { kind: "device", device: next };
  });

describe("writes", () => {
  it("writes the record and its index rows together, and a rename removes the old index rows", async () => {
    // Prepare
    const tenantId = randomUUID();
    await upsert(tenantId, facts("d1", { roleScopeTagIds: ["0", "berlin"] }), "2026-11-20T08:00:00Z");

    // Act
    const renamed = await upsert(tenantId, facts("d1", { deviceName: "NEW-NAME", roleScopeTagIds: ["paris"] }), "2026-11-20T09:00:00Z");

    // Assess
    expect(renamed.written).toBe(true);
    const rows = await rowsOf(tenantId);
    expect(rows.filter((k) => k.includes("diego-laptop"))).toEqual([]);
    expect(rows).toEqual(
      [
        "d|d1",
        "i|*|n|new-name!d1",
        "i|*|u|diego@contoso.example!d1",
        "i|*|d|diego%20siciliani!d1",
        "i|t|paris|n|new-name!d1",
        "i|*|p|windows|new-name!d1",
        "i|*|e|yes|new-name!d1",
        "i|*|pe|windows|yes|new-name!d1",
      ].sort(),
    );
  });

  it("ignores an older event and writes nothing", async () => {
    const tenantId = randomUUID();
    await upsert(tenantId, facts("d1", { deviceName: "NEWER" }), "2026-11-20T09:00:00Z");
    const before = await rowsOf(tenantId);

    const older = await upsert(tenantId, facts("d1", { deviceName: "OLDER" }), "2026-11-20T08:00:00Z");

    expect(older.written).toBe(false);
    expect(await rowsOf(tenantId)).toEqual(before);
    expect(await store.get(tenantId, "d1")).toMatchObject({ kind: "device", device: { deviceName: "NEWER" } });
  });

  it("converges when many writers race on one device: newest details, one set of index rows", async () => {
    // Prepare: 12 events for one device, each with a different name and time
    const tenantId = randomUUID();
    const events = Array.from({ length: 12 }, (_, i) => ({
      name: `RACE-${String(i).padStart(2, "0")}`,
      at: `2026-11-20T08:${String(i).padStart(2, "0")}:00Z`,
    }));

    // Act: all at once, in reverse order of time
    await Promise.all(events.reverse().map((e) => upsert(tenantId, facts("d1", { deviceName: e.name }), e.at)));

    // Assess
    expect(await store.get(tenantId, "d1")).toMatchObject({ kind: "device", device: { deviceName: "RACE-11" } });
    const nameRows = (await rowsOf(tenantId)).filter((k) => k.startsWith("i|*|n|"));
    expect(nameRows).toEqual(["i|*|n|race-11!d1"]);
  });

  it("keeps a removal of an unknown device as a tombstone that lists nothing", async () => {
    const tenantId = randomUUID();

    await store.update(tenantId, "ghost", (current) => applyRemoval(current, tenantId, "ghost", "2026-11-20T08:00:00Z"));

    expect(await store.get(tenantId, "ghost")).toEqual({ kind: "tombstone", tenantId, id: "ghost", removedAt: "2026-11-20T08:00:00.000Z" });
    expect(await rowsOf(tenantId)).toEqual(["d|ghost"]);
  });

  it("writes and lists a device whose fields and scope tag are as long as the message contract allows", async () => {
    // A device name and a scope tag at their contract limits (256 and 64 characters), not
    // ASCII: each character is several escaped bytes in a RowKey, whose limit is 1 KiB.
    const tenantId = randomUUID();
    const id = randomUUID();
    const tag = "É".repeat(64);
    const long = facts(id, { deviceName: "Ü".repeat(256), userPrincipalName: `${"ö".repeat(300)}@x.example`, roleScopeTagIds: [tag] });

    const written = await upsert(tenantId, long, "2026-11-20T08:00:00Z");
    const page = await store.list({ tenantId, top: 10, scope: scoped(tag), settings: { allowPossiblyUnsupportedWindowsEditions: false } });
    const found = await store.list({ tenantId, top: 10, scope: scoped(tag), settings: { allowPossiblyUnsupportedWindowsEditions: false }, search: "ÜÜ" });

    expect(written.written).toBe(true);
    expect(page.value.map((d) => d.id)).toEqual([id]);
    expect(found.value.map((d) => d.id)).toEqual([id]);
    for (const key of await rowsOf(tenantId)) expect(key.length).toBeLessThanOrEqual(512);
  });

  it("refuses to bulk-create a device that exists", async () => {
    const tenantId = randomUUID();
    await upsert(tenantId, facts("d1"), "2026-11-20T08:00:00Z");
    const d = applyUpsert(undefined, tenantId, facts("d1"), "2026-11-20T08:00:00Z")!;

    await expect(store.createMany(tenantId, [d])).rejects.toMatchObject({ code: "conflict" });
  });
});

// --- listing, checked against a brute-force filter of the same devices ---

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const oses: readonly (readonly [string, string, string?])[] = [
  ["Windows", "10.0.26100.1", "desktop"],
  ["Windows Holographic for Business", "10.0.20348.1", "holoLens"],
  ["Windows 10 S", "10.0.19045.1"],
  ["iOS", "18.1", "iPhone"],
  ["macOS", "15.1", "macMDM"],
  ["Android", "14", "androidForWork"],
  ["Linux", "24.04", "linux"],
  ["ChromeOS", "129"],
];
const names = ["DIEGO-", "Diego ", "lab-", "LAB|", "Zoë-", "kiosk", "Ωmega", "a"];
const people = [
  null,
  { upn: "diego@contoso.example", name: "Diego Siciliani" },
  { upn: "adele@contoso.example", name: "Adele Vance" },
  { upn: "labadmin@contoso.example", name: "Lab Admin" },
  { upn: "zoe@contoso.example", name: "Zoë Diego" },
];
const tagSets = [["0"], ["0", "berlin"], ["paris"], [], ["berlin", "Paris"], Array.from({ length: maxIndexedTags + 2 }, (_, i) => `bulk${i}`).concat("berlin")];

function makeDevices(tenantId: string, count: number, seed: number): Device[] {
  const r = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  return Array.from({ length: count }, (_, i) => {
    const [os, osVersion, deviceType] = pick(oses);
    const person = pick(people);
    const f = facts(`dev-${String(i).padStart(5, "0")}`, {
      deviceName: `${pick(names)}${Math.floor(r() * 60)}`,
      operatingSystem: os,
      osVersion,
      ...(deviceType ? { deviceType } : {}),
      managedDeviceOwnerType: pick(["personal", "personal", "personal", "company", "unknown"]),
      deviceEnrollmentType: pick(["windowsAzureADJoin", "userEnrollment", "androidEnterpriseFullyManaged", "windowsBulkUserless", "quantum"]),
      userId: person ? `u-${person.upn.split("@")[0]}` : null,
      userPrincipalName: person?.upn ?? null,
      userDisplayName: person?.name ?? null,
      roleScopeTagIds: pick(tagSets),
    });
    const d = applyUpsert(undefined, tenantId, f, "2026-11-20T08:00:00Z")!;
    return r() < 0.1 ? { ...d, removed: true, removedAt: "2026-11-20T09:00:00.000Z" } : d;
  });
}

const everywhere: Scope = { all: true };
const scoped = (...tags: string[]): Scope => ({ all: false, tags: new Set(tags) });

/** What the store must return: every matching device once, in the order of its merge key. */
function expected(devices: readonly Device[], q: Omit<DeviceListQuery, "tenantId" | "top">): string[] {
  const folded = q.search === undefined ? undefined : foldCase(q.search);
  const rows: { key: string; id: string }[] = [];
  for (const d of devices) {
    if (!inScope(q.scope, d.roleScopeTagIds)) continue;
    if (q.platform !== undefined && platformOf(d) !== q.platform) continue;
    if (q.eligible !== undefined && evaluateEligibility(d, q.settings).eligible !== q.eligible) continue;
    const values =
      folded === undefined
        ? [d.deviceName]
        : [d.deviceName, d.userPrincipalName, d.userDisplayName].filter((v): v is string => !!v && foldCase(v).startsWith(folded));
    if (values.length === 0) continue;
    const key = values.map((v) => `${encodeSortValue(v)}!${d.id}`).sort()[0];
    rows.push({ key, id: d.id });
  }
  return rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((r) => r.id);
}

describe("listing", () => {
  const tenantId = randomUUID();
  let devices: Device[] = [];
  const off = { allowPossiblyUnsupportedWindowsEditions: false };
  const on = { allowPossiblyUnsupportedWindowsEditions: true };

  beforeAll(async () => {
    devices = makeDevices(tenantId, 900, 42);
    await store.createMany(tenantId, devices);
  });

  const cases: readonly [string, Omit<DeviceListQuery, "tenantId" | "top">][] = [
    ["everything", { scope: everywhere, settings: off }],
    ["platform", { scope: everywhere, settings: off, platform: "android" }],
    ["eligible, setting off", { scope: everywhere, settings: off, eligible: true }],
    ["eligible, setting on", { scope: everywhere, settings: on, eligible: true }],
    ["not eligible, setting off", { scope: everywhere, settings: off, eligible: false }],
    ["not eligible, setting on", { scope: everywhere, settings: on, eligible: false }],
    ["platform and eligible", { scope: everywhere, settings: on, platform: "windows" as Platform, eligible: true }],
    ["search by name prefix", { scope: everywhere, settings: off, search: "lab" }],
    ["search by user, another case", { scope: everywhere, settings: off, search: "DIEGO" }],
    ["search with escaped characters", { scope: everywhere, settings: off, search: "zoë" }],
    ["search by display name with a space", { scope: everywhere, settings: off, search: "diego s" }],
    ["search and platform", { scope: everywhere, settings: off, search: "d", platform: "iOS" }],
    ["search that matches nothing", { scope: everywhere, settings: off, search: "nobody-here" }],
    ["scoped to one tag", { scope: scoped("berlin"), settings: off }],
    ["scoped to two tags (devices carrying both appear once)", { scope: scoped("berlin", "0"), settings: off }],
    ["scoped, tag case matters", { scope: scoped("Paris"), settings: off }],
    ["scoped and eligible", { scope: scoped("paris", "berlin"), settings: off, eligible: true }],
    ["scoped search", { scope: scoped("berlin"), settings: off, search: "lab" }],
    ["scoped to a tag only wide devices carry", { scope: scoped("bulk3"), settings: off }],
  ];

  it.each(cases)("%s: every matching device exactly once, in order, at most 2 x top entities and a bounded number of queries per page", async (_what, q) => {
    // Prepare
    const want = expected(devices, q);
    const got: string[] = [];
    let token: string | undefined;
    let pages = 0;
    const rangesPerPage = q.scope.all ? (q.search ? 3 : 2) : (q.scope.tags.size + 1) * (q.search ? 3 : 1);

    // Act
    do {
      requests = 0;
      entitiesRead = 0;
      const page = await store.list({ tenantId, top: 37, continuationToken: token, ...q });
      expect(requests).toBeLessThanOrEqual(2 * rangesPerPage + 8);
      expect(entitiesRead).toBeLessThanOrEqual(2 * 37);
      expect(page.value.length).toBeLessThanOrEqual(37);
      got.push(...page.value.map((d) => d.id));
      token = page.continuationToken;
      pages++;
    } while (token && pages < 200);

    // Assess
    expect(got).toEqual(want);
    // The generated inventory gives every query shape but the last search something to find.
    if (q.search !== "nobody-here") expect(want.length).toBeGreaterThan(40);
  });

  it("serves an unfiltered page with one Table query", async () => {
    requests = 0;

    const page = await store.list({ tenantId, top: 50, scope: everywhere, settings: off });

    expect(page.value).toHaveLength(50);
    expect(requests).toBe(1);
  });

  it("refuses a token from another query, and a token it did not issue", async () => {
    const first = await store.list({ tenantId, top: 5, scope: everywhere, settings: off });

    await expect(
      store.list({ tenantId, top: 5, scope: everywhere, settings: off, eligible: true, continuationToken: first.continuationToken }),
    ).rejects.toMatchObject({ code: "validationFailed" });
    await expect(store.list({ tenantId, top: 5, scope: everywhere, settings: off, continuationToken: "bm90LWEtdG9rZW4" })).rejects.toMatchObject({
      code: "validationFailed",
    });
    // Well-formed, for this query, but with a key this store never issues.
    const crafted = Buffer.from(JSON.stringify({ v: 1, k: "a\u0001' or true", f: filterFingerprint({}) })).toString("base64url");
    await expect(store.list({ tenantId, top: 5, scope: everywhere, settings: off, continuationToken: crafted })).rejects.toMatchObject({
      code: "validationFailed",
    });
  });

  it("seals its tokens: a scoped page that ends on an out-of-scope row tells nothing of it, and an altered token is refused", async () => {
    // Prepare: one device in the caller's scope (paris), six outside it (board) whose users' UPNs start with "ceo".
    const tenantId = randomUUID();
    await upsert(
      tenantId,
      facts("paris-1", { userPrincipalName: "anna@contoso.example", userDisplayName: "Anna", roleScopeTagIds: ["paris"] }),
      "2026-11-20T08:00:00Z",
    );
    for (let i = 0; i < 6; i++) {
      const upn = `ceo${i}@contoso.example`;
      await upsert(
        tenantId,
        facts(`board-${i}`, { userPrincipalName: upn, userDisplayName: `Chief ${i}`, roleScopeTagIds: ["board"] }),
        "2026-11-20T08:00:00Z",
      );
    }

    // Act: a scoped search whose page reads the tenant-wide UPN range and drops the board devices.
    const page = await store.list({ tenantId, top: 1, scope: scoped("paris"), settings: off, search: "c" });

    // Assess: nothing of the dropped rows in the answer or in its token, and the token still resumes.
    expect(page.value).toEqual([]);
    expect(page.continuationToken).toBeDefined();
    const token = page.continuationToken!;
    for (const text of [token, Buffer.from(token, "base64url").toString("latin1")]) expect(text).not.toMatch(/ceo|board|chief/i);
    const next = await store.list({ tenantId, top: 50, scope: scoped("paris"), settings: off, search: "c", continuationToken: token });
    expect(next.value.every((d) => d.roleScopeTagIds.includes("paris"))).toBe(true);
    const altered = Buffer.from(token, "base64url");
    altered[altered.length - 20] ^= 1;
    await expect(
      store.list({ tenantId, top: 1, scope: scoped("paris"), settings: off, search: "c", continuationToken: altered.toString("base64url") }),
    ).rejects.toMatchObject({ code: "validationFailed" });
  });

  it("shows a device removed after loading as removed, in the same place", async () => {
    const target = devices.find((d) => !d.removed)!;
    await store.update(tenantId, target.id, (current) => applyRemoval(current, tenantId, target.id, "2026-11-21T00:00:00Z"));

    const stored = await store.get(tenantId, target.id);
    const page = await store.list({ tenantId, top: 200, scope: everywhere, settings: off, search: target.deviceName });

    expect(stored).toMatchObject({ kind: "device", device: { removed: true } });
    expect(page.value.find((d) => d.id === target.id)).toMatchObject({ removed: true, removedAt: "2026-11-21T00:00:00.000Z" });
  });
});
