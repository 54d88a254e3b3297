// `npm run bench:devices`: loads a large tenant into the device store (Azurite, real Tables
// SDK) and measures list pages: latency p50/p95 and Table queries per page, by query shape.
//   npm run bench:devices                      100,000 devices, in-memory Azurite
//   npm run bench:devices -- --count 20000 --samples 50 --data-dir /tmp/azurite-bench
// Loading is Azurite-bound and slows as its table grows (it keeps a sorted RowKey array that
// every insert splices): 20,000 devices take about 2 minutes, 100,000 about half an hour on
// a 2-core machine. Azure Table storage has no such growth; use --count for a quick run.
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { startAzuriteTables } from "../local/azurite.js";
import { freePort } from "../local/ports.js";
import { localDevelopmentCredential } from "../shared/adapters/keyvault/credentials.js";
import { createTables, tableNames } from "../shared/adapters/tables/tables.js";
import { TableDeviceStore } from "../shared/adapters/tables/tableDeviceStore.js";
import { indexKeysOf } from "../shared/adapters/tables/deviceIndex.js";
import type { DeviceListQuery } from "../shared/app/devices/ports.js";
import type { Device } from "../shared/domain/device.js";
import type { Scope } from "../shared/domain/permissions.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "100000" },
    samples: { type: "string", default: "20" },
    "seconds-per-query": { type: "string", default: "10" },
    top: { type: "string", default: "50" },
    chunk: { type: "string", default: "2000" },
    "data-dir": { type: "string" },
  },
  strict: true,
});
const count = Number(values.count);
const samples = Number(values.samples);
const top = Number(values.top);
const chunk = Number(values.chunk);
const secondsPerQuery = Number(values["seconds-per-query"]);
for (const [name, v] of Object.entries({ count, samples, top, chunk, secondsPerQuery })) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}

// Azurite keeps every entity in memory; 100,000 devices are about a million rows.
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=8192`.trim();
const azurite = await startAzuriteTables({ port: await freePort(), dataDir: values["data-dir"] });
const tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
await tables.ensureAll();

// Counts what the store sends: GET with $filter = a range query (and the rows it returned),
// GET of one entity = a point read, POST $batch = a transaction.
const counts = { queries: 0, rowsRead: 0, reads: 0, transactions: 0 };
tables.client(tableNames.devices).pipeline.addPolicy({
  name: "benchCounter",
  sendRequest: async (req, next) => {
    const res = await next(req);
    if (req.method === "POST" && req.url.includes("$batch")) counts.transactions++;
    else if (req.method === "GET" && req.url.includes("filter=")) {
      counts.queries++;
      counts.rowsRead += res.bodyAsText ? ((JSON.parse(res.bodyAsText) as { value?: unknown[] }).value?.length ?? 0) : 0;
    } else if (req.method === "GET") counts.reads++;
    return res;
  },
});
const store = new TableDeviceStore(tables);
const tenantId = randomUUID();

// --- a plausible tenant: mostly Windows and iOS, a fifth corporate, a few regional scope tags ---

let seed = 7;
const rand = (): number => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const first = ["Adele", "Alex", "Diego", "Megan", "Lee", "Pradeep", "Isaiah", "Johanna", "Lidia", "Nestor", "Grady", "Lynne", "Miriam", "Patti", "Zoë", "Émile"];
const last = ["Vance", "Wilber", "Siciliani", "Bowen", "Gu", "Gupta", "Langer", "Lauer", "Holloway", "Wilke", "Archie", "Robbins", "Graham", "Fernandez"];
const platforms: readonly (readonly [string, string, string, string])[] = [
  ["Windows", "10.0.26100.2314", "windowsRT", "windowsAzureADJoin"],
  ["Windows", "10.0.22631.4460", "desktop", "windowsAutoEnrollment"],
  ["iOS", "18.1", "iPhone", "appleUserEnrollment"],
  ["iPadOS", "18.1", "iPad", "userEnrollment"],
  ["Android", "14", "androidForWork", "userEnrollment"],
  ["Android", "14", "androidEnterprise", "androidEnterpriseFullyManaged"],
  ["macOS", "15.1", "macMDM", "userEnrollment"],
  ["Windows Holographic for Business", "10.0.20348.1000", "holoLens", "windowsAzureADJoin"],
  ["Linux", "24.04", "linux", "userEnrollment"],
];
const prefixes = ["DESKTOP", "LAPTOP", "IPHONE", "IPAD", "PIXEL", "GALAXY", "MACBOOK", "KIOSK", "LAB"];
const tagSets = [["0"], ["0"], ["0"], ["0", "berlin"], ["0", "paris"], ["0", "seattle"], ["berlin", "paris"]];

function makeDevice(i: number): Device {
  const [operatingSystem, osVersion, deviceType, deviceEnrollmentType] = pick(platforms);
  const userless = rand() < 0.05;
  const f = pick(first);
  const l = pick(last);
  const u = Math.floor(rand() * 40_000);
  return {
    tenantId,
    id: randomUUID(),
    deviceName: `${pick(prefixes)}-${(i * 2654435761 % 2 ** 32).toString(36).toUpperCase().padStart(7, "0")}`,
    operatingSystem,
    osVersion,
    deviceType,
    managedDeviceOwnerType: rand() < 0.2 ? "company" : "personal",
    deviceEnrollmentType: userless ? "windowsBulkUserless" : deviceEnrollmentType,
    userId: userless ? null : `user-${u}`,
    userPrincipalName: userless ? null : `${f}.${l}${u}@contoso.example`.toLowerCase(),
    userDisplayName: userless ? null : `${f} ${l}`,
    emailAddress: userless ? null : `${f}.${l}${u}@contoso.example`.toLowerCase(),
    roleScopeTagIds: pick(tagSets),
    lastSyncDateTime: "2026-11-20T08:00:00Z",
    removed: rand() < 0.02,
    updatedAt: "2026-11-20T08:00:00.000Z",
  };
}

// --- load ---

console.log(`Loading ${count.toLocaleString("en-US")} devices into one tenant (Azurite ${values["data-dir"] ? `at ${values["data-dir"]}` : "in memory"})…`);
const loadStarted = performance.now();
let rows = 0;
for (let done = 0; done < count; ) {
  const devices = Array.from({ length: Math.min(chunk, count - done) }, (_, i) => makeDevice(done + i));
  rows += devices.reduce((n, d) => n + 1 + indexKeysOf(d).length, 0);
  await store.createMany(tenantId, devices);
  done += devices.length;
  const s = (performance.now() - loadStarted) / 1000;
  process.stdout.write(
    `\r  ${done.toLocaleString("en-US").padStart(9)} devices  ${rows.toLocaleString("en-US").padStart(10)} rows  ${counts.transactions.toLocaleString("en-US").padStart(7)} transactions  ${Math.round(done / s).toLocaleString("en-US")} devices/s  ${Math.round(s)} s   `,
  );
}
const loadSeconds = (performance.now() - loadStarted) / 1000;
console.log(`\n  loaded in ${loadSeconds.toFixed(1)} s (${(rows / count).toFixed(1)} rows per device)\n`);

// --- measure ---

const everywhere: Scope = { all: true };
const settings = { allowPossiblyUnsupportedWindowsEditions: false };
type Shape = { name: string; query: Omit<DeviceListQuery, "tenantId" | "top" | "continuationToken">; pageTwo?: boolean };
const shapes: Shape[] = [
  { name: "first page, no filter", query: { scope: everywhere, settings } },
  { name: "second page (continuation), no filter", query: { scope: everywhere, settings }, pageTwo: true },
  { name: "search device name 'laptop-1'", query: { scope: everywhere, settings, search: "laptop-1" } },
  { name: "search user 'megan'", query: { scope: everywhere, settings, search: "megan" } },
  { name: "search 'zoë g' (display name)", query: { scope: everywhere, settings, search: "zoë g" } },
  { name: "platform=iOS", query: { scope: everywhere, settings, platform: "iOS" } },
  { name: "eligible=true", query: { scope: everywhere, settings, eligible: true } },
  { name: "eligible=true, setting on", query: { scope: everywhere, settings: { allowPossiblyUnsupportedWindowsEditions: true }, eligible: true } },
  { name: "platform=windows & eligible=false", query: { scope: everywhere, settings, platform: "windows", eligible: false } },
  { name: "search 'lab' & platform=android (filtered)", query: { scope: everywhere, settings, search: "lab", platform: "android" } },
  { name: "scoped: berlin", query: { scope: { all: false, tags: new Set(["berlin"]) }, settings } },
  { name: "scoped: berlin+paris, eligible=true", query: { scope: { all: false, tags: new Set(["berlin", "paris"]) }, settings, eligible: true } },
  { name: "scoped: seattle, search 'desktop'", query: { scope: { all: false, tags: new Set(["seattle"]) }, settings, search: "desktop" } },
];

const percentile = (xs: readonly number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

const range = (xs: readonly number[]): string => (Math.min(...xs) === Math.max(...xs) ? String(xs[0]) : `${Math.min(...xs)}–${Math.max(...xs)}`);

console.log(`Pages of top=${top}: up to ${samples} samples per query shape (or ${secondsPerQuery} s), after one warm-up:`);
console.log(
  `  ${"query".padEnd(44)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"queries/page".padStart(13)} ${"rows read".padStart(10)} ${"devices".padStart(8)} ${"n".padStart(3)}`,
);
for (const shape of shapes) {
  const latencies: number[] = [];
  const queries: number[] = [];
  const rowsRead: number[] = [];
  let returned = 0;
  const token = shape.pageTwo ? (await store.list({ tenantId, top, ...shape.query })).continuationToken : undefined;
  const deadline = performance.now() + secondsPerQuery * 1000;
  for (let i = 0; i <= samples && (i < 2 || performance.now() < deadline); i++) {
    counts.queries = 0;
    counts.rowsRead = 0;
    const started = performance.now();
    const page = await store.list({ tenantId, top, continuationToken: token, ...shape.query });
    const ms = performance.now() - started;
    if (i === 0) continue; // warm-up
    latencies.push(ms);
    queries.push(counts.queries);
    rowsRead.push(counts.rowsRead);
    returned = page.value.length;
  }
  console.log(
    `  ${shape.name.padEnd(44)} ${percentile(latencies, 50).toFixed(1).padStart(8)} ${percentile(latencies, 95).toFixed(1).padStart(8)} ${range(queries).padStart(13)} ${range(rowsRead).padStart(10)} ${String(returned).padStart(8)} ${String(latencies.length).padStart(3)}`,
  );
}

console.log(`
Notes: queries/page counts range queries on the devices table, rows read the entities they
returned (point reads during the run: ${counts.reads}). Azurite evaluates every query by scanning
its whole in-memory table, so here latency grows with the table (${rows.toLocaleString("en-US")} rows); Table
storage serves the same RowKey ranges from its index, so on Azure a page's cost follows the
queries/page and rows-read columns, not the tenant's size.`);
await azurite.close();
