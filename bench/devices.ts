// `npm run bench:devices`: a platform's inventory sync through the real queue path, and what
// a list page costs. On the local stack (local/stack.ts: host, Azurite, Service Bus emulator):
// 1. The floor: plain Table upserts of the same devices (one entity each, no index, no
//    queue), `--concurrency` at a time, into a table of their own.
// 2. The load: the devices sent as device.upserted events to automation-events with the real
//    Service Bus SDK, in one burst, consumed by the host in batches (cardinality "many") and
//    written per tenant in Table transactions; timed from the first send until every device
//    is stored, then checked by listing them all.
// 3. List pages: latency p50/p95, Table queries and entities read per page, by query shape.
// The target (docs/cost.md, "Targets"): the load at >= 50 % of the floor's rate; a page reads at most 2 x
// its size in entities.
//   npm run bench:devices                                   10,000 devices, pages of 50
//   npm run bench:devices -- --count 3000 --samples 10
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { odata, TableClient } from "@azure/data-tables";
import { ServiceBusClient, type ServiceBusMessage } from "@azure/service-bus";
import { startStack, waitHealthy } from "../local/stack.js";
import { localDevelopmentCredential } from "../shared/adapters/keyvault/credentials.js";
import { createTables, tableNames } from "../shared/adapters/tables/tables.js";
import { TableDeviceStore } from "../shared/adapters/tables/tableDeviceStore.js";
import { recordPrefix, recordRangeEnd } from "../shared/adapters/tables/deviceIndex.js";
import { tableOperations } from "../shared/adapters/tables/tableOperations.js";
import type { DeviceListQuery } from "../shared/app/devices/ports.js";
import type { Scope } from "../shared/domain/permissions.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "20" },
    samples: { type: "string", default: "20" },
    "seconds-per-query": { type: "string", default: "10" },
    top: { type: "string", default: "50" },
  },
  strict: true,
});
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const samples = Number(values.samples);
const top = Number(values.top);
const secondsPerQuery = Number(values["seconds-per-query"]);
for (const [name, v, max] of [
  ["count", count, 50_000],
  ["concurrency", concurrency, 200],
  ["samples", samples, 1000],
  ["top", top, 200],
  ["seconds-per-query", secondsPerQuery, 600],
] as const) {
  if (!Number.isInteger(v) || v < 1 || v > max) {
    console.error(`--${name} must be an integer from 1 to ${max}`);
    process.exit(2);
  }
}

// --- a plausible tenant: mostly Windows and iOS, a fifth corporate, a few regional scope tags ---

let seed = 7;
const rand = (): number => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const first = [
  "Adele",
  "Alex",
  "Diego",
  "Megan",
  "Lee",
  "Pradeep",
  "Isaiah",
  "Johanna",
  "Lidia",
  "Nestor",
  "Grady",
  "Lynne",
  "Miriam",
  "Patti",
  "Zoë",
  "Émile",
];
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

/** A device as automation sends it (device.upserted's data). */
function makeDevice(i: number): Record<string, unknown> & { id: string } {
  const [operatingSystem, osVersion, deviceType, deviceEnrollmentType] = pick(platforms);
  const userless = rand() < 0.05;
  const f = pick(first);
  const l = pick(last);
  const u = Math.floor(rand() * 40_000);
  return {
    id: randomUUID(),
    deviceName: `${pick(prefixes)}-${((i * 2654435761) % 2 ** 32).toString(36).toUpperCase().padStart(7, "0")}`,
    operatingSystem,
    osVersion,
    deviceType,
    managedDeviceOwnerType: rand() < 0.2 ? "company" : "personal",
    deviceEnrollmentType: userless ? "windowsBulkUserless" : deviceEnrollmentType,
    userId: userless ? null : randomUUID(),
    userPrincipalName: userless ? null : `${f}.${l}${u}@contoso.example`.toLowerCase(),
    userDisplayName: userless ? null : `${f} ${l}`,
    emailAddress: userless ? null : `${f}.${l}${u}@contoso.example`.toLowerCase(),
    roleScopeTagIds: pick(tagSets),
    lastSyncDateTime: "2026-11-20T08:00:00Z",
  };
}

const appRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const dataDir = mkdtempSync(join(tmpdir(), "rac-bench-devices-"));
console.log(`Starting the local stack (data in ${dataDir})…`);
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=4096`.trim();
const stack = await startStack({ appRoot, ports: "free", dataDir, log: () => undefined, hostLogFile: join(dataDir, "host.log") });

try {
  await waitHealthy(stack.apiUrl);
  const tenantId = randomUUID();
  const devices = Array.from({ length: count }, (_, i) => makeDevice(i));
  const rate = (n: number, ms: number): number => (n * 1000) / ms;
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

  // --- 1. the floor ---
  const floorTable = TableClient.fromConnectionString(stack.tablesConnectionString, "benchFloor", { allowInsecureConnection: true });
  await floorTable.createTable();
  const floorStarted = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < devices.length) {
        const d = devices[next++];
        await floorTable.upsertEntity({ partitionKey: tenantId, rowKey: d.id, ...d, roleScopeTagIds: JSON.stringify(d.roleScopeTagIds) }, "Replace");
      }
    }),
  );
  const floorMs = performance.now() - floorStarted;
  console.log(`Floor: ${fmt(count)} plain Table upserts, ${concurrency} at a time: ${(floorMs / 1000).toFixed(1)} s, ${fmt(rate(count, floorMs))} devices/s`);

  // --- 2. the load through automation-events ---
  // The check that every device is stored uses a client outside the app's pipeline (not the app's cost).
  const devicesTable = TableClient.fromConnectionString(stack.tablesConnectionString, tableNames.devices, { allowInsecureConnection: true });
  const storedCount = async (): Promise<number> => {
    let n = 0;
    const filter = odata`PartitionKey eq ${tenantId} and RowKey ge ${recordPrefix} and RowKey lt ${recordRangeEnd}`;
    for await (const page of devicesTable.listEntities({ queryOptions: { filter, select: ["RowKey"] } }).byPage({ maxPageSize: 1000 })) n += page.length;
    return n;
  };
  tableOperations.reset();
  const client = new ServiceBusClient(stack.serviceBusConnectionString);
  const sender = client.createSender("automation-events");
  const occurredAt = new Date().toISOString();
  const loadStarted = performance.now();
  let batch = await sender.createMessageBatch();
  for (const data of devices) {
    const id = randomUUID();
    const m: ServiceBusMessage = {
      messageId: id,
      subject: "device.upserted",
      contentType: "application/json",
      body: { type: "device.upserted", version: 1, id, tenantId, occurredAt, data },
    };
    if (!batch.tryAddMessage(m)) {
      await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      batch.tryAddMessage(m);
    }
  }
  if (batch.count > 0) await sender.sendMessages(batch);
  const sentMs = performance.now() - loadStarted;
  await sender.close();
  // Done when automation-events is empty: a message leaves it only when the invocation that
  // wrote its device returned. Peeking asks the Service Bus emulator, not Azurite, so waiting
  // costs the measured path nothing (a new receiver peeks from the start; locked messages count).
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const receiver = client.createReceiver("automation-events");
    const left = await receiver.peekMessages(1);
    await receiver.close();
    if (left.length === 0) break;
    if (Date.now() > deadline) throw new Error("automation-events still holds messages after 30 minutes");
    process.stdout.write(`\r  ${((performance.now() - loadStarted) / 1000).toFixed(0)} s, still draining   `);
    await new Promise((r) => setTimeout(r, 250));
  }
  const loadMs = performance.now() - loadStarted;
  const ops = tableOperations.snapshot();
  const kinds = [...ops.byTableAndKind].filter(([k]) => k.startsWith(tableNames.devices) || k.startsWith("(one table)"));
  const invocation = ops.byInvocation.get("automationEvents");
  await client.close();
  const stored = await storedCount();
  const loadRate = rate(count, loadMs);
  const floorRate = rate(count, floorMs);
  console.log(
    `\rLoad: ${fmt(count)} device.upserted through automation-events (sent in ${(sentMs / 1000).toFixed(1)} s): ${(loadMs / 1000).toFixed(1)} s, ${fmt(loadRate)} devices/s`,
  );
  console.log(
    `  ${invocation?.invocations ?? 0} batch invocations, ${fmt(ops.total)} Table operations (${(ops.total / count).toFixed(2)} per device): ${kinds.map(([k, n]) => `${k} ${fmt(n)}`).join(", ")}`,
  );
  const durations = [
    ...readFileSync(join(dataDir, "host.log"), "utf8").matchAll(/Executed 'Functions\.automationEvents' \((\w+), Id=[^,]+, Duration=(\d+)ms\)/g),
  ];
  const busyMs = durations.reduce((n, m) => n + Number(m[2]), 0);
  const failedRuns = durations.filter((m) => m[1] !== "Succeeded").length;
  console.log(
    `  the function ran ${(busyMs / 1000).toFixed(1)} s of the ${(loadMs / 1000).toFixed(1)} s (${durations.length} invocations, ${failedRuns} failed); the rest is receiving and settling`,
  );
  const handled = [...readFileSync(join(dataDir, "host.log"), "utf8").matchAll(/(\d+) device\.upserted handled in (\d+) ms/g)].reduce(
    (n, m) => n + Number(m[2]),
    0,
  );
  console.log(`  of which writing the devices (DeviceService.recordUpserts): ${(handled / 1000).toFixed(1)} s`);
  console.log(`  device records stored: ${fmt(stored)} of ${fmt(count)}`);
  console.log(`  ratio to the floor: ${(loadRate / floorRate).toFixed(2)} (target >= 0.50) ${loadRate / floorRate >= 0.5 ? "MET" : "NOT MET"}`);

  // --- 3. list pages ---
  const tables = createTables({ kind: "connectionString", connectionString: stack.tablesConnectionString, allowInsecure: true }, localDevelopmentCredential);
  const counts = { queries: 0, rowsRead: 0 };
  tables.client(tableNames.devices).pipeline.addPolicy({
    name: "benchCounter",
    sendRequest: async (req, nextPolicy) => {
      const res = await nextPolicy(req);
      if (req.method === "GET" && req.url.includes("filter=")) {
        counts.queries++;
        counts.rowsRead += res.bodyAsText ? ((JSON.parse(res.bodyAsText) as { value?: unknown[] }).value?.length ?? 0) : 0;
      }
      return res;
    },
  });
  const store = new TableDeviceStore(tables);
  const everywhere: Scope = { all: true };
  const settings = { allowPossiblyUnsupportedWindowsEditions: false };
  let listed = 0;
  let token: string | undefined;
  do {
    const page = await store.list({ tenantId, top: 200, scope: everywhere, settings, continuationToken: token });
    listed += page.value.length;
    token = page.continuationToken;
  } while (token);
  console.log(`  listed: ${fmt(listed)} of ${fmt(count)} devices ${listed === count ? "(all)" : "(MISSING SOME)"}\n`);

  type Shape = { name: string; query: Omit<DeviceListQuery, "tenantId" | "top" | "continuationToken">; pageTwo?: boolean };
  const shapes: Shape[] = [
    { name: "first page, no filter", query: { scope: everywhere, settings } },
    { name: "second page (continuation), no filter", query: { scope: everywhere, settings }, pageTwo: true },
    { name: "search device name 'laptop-1'", query: { scope: everywhere, settings, search: "laptop-1" } },
    { name: "search user 'megan'", query: { scope: everywhere, settings, search: "megan" } },
    { name: "platform=iOS", query: { scope: everywhere, settings, platform: "iOS" } },
    { name: "eligible=true", query: { scope: everywhere, settings, eligible: true } },
    { name: "eligible=true, setting on", query: { scope: everywhere, settings: { allowPossiblyUnsupportedWindowsEditions: true }, eligible: true } },
    { name: "platform=windows & eligible=false", query: { scope: everywhere, settings, platform: "windows", eligible: false } },
    { name: "search 'lab' & platform=android (filtered)", query: { scope: everywhere, settings, search: "lab", platform: "android" } },
    { name: "scoped: berlin", query: { scope: { all: false, tags: new Set(["berlin"]) }, settings } },
    { name: "scoped: berlin+paris, eligible=true", query: { scope: { all: false, tags: new Set(["berlin", "paris"]) }, settings, eligible: true } },
    // User rows are tenant-wide only (index version 3): a scoped search filters them by scope.
    { name: "scoped: berlin, search user 'megan'", query: { scope: { all: false, tags: new Set(["berlin"]) }, settings, search: "megan" } },
  ];
  const percentile = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
  const span = (xs: readonly number[]): string => (Math.min(...xs) === Math.max(...xs) ? String(xs[0]) : `${Math.min(...xs)}–${Math.max(...xs)}`);
  console.log(`List pages of top=${top}: up to ${samples} samples per query shape (or ${secondsPerQuery} s), after one warm-up:`);
  console.log(
    `  ${"query".padEnd(44)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"requests".padStart(9)} ${"entities".padStart(9)} ${"devices".padStart(8)} ${"<= 2x".padStart(6)}`,
  );
  let worst = 0;
  for (const shape of shapes) {
    const latencies: number[] = [];
    const queries: number[] = [];
    const rowsRead: number[] = [];
    let returned = 0;
    const pageToken = shape.pageTwo ? (await store.list({ tenantId, top, ...shape.query })).continuationToken : undefined;
    const end = performance.now() + secondsPerQuery * 1000;
    for (let i = 0; i <= samples && (i < 2 || performance.now() < end); i++) {
      counts.queries = 0;
      counts.rowsRead = 0;
      const started = performance.now();
      const page = await store.list({ tenantId, top, continuationToken: pageToken, ...shape.query });
      const ms = performance.now() - started;
      if (i === 0) continue; // warm-up
      latencies.push(ms);
      queries.push(counts.queries);
      rowsRead.push(counts.rowsRead);
      returned = page.value.length;
    }
    const perEntity = Math.max(...rowsRead) / top;
    worst = Math.max(worst, perEntity);
    console.log(
      `  ${shape.name.padEnd(44)} ${percentile(latencies, 50).toFixed(1).padStart(8)} ${percentile(latencies, 95).toFixed(1).padStart(8)} ${span(queries).padStart(9)} ${span(rowsRead).padStart(9)} ${String(returned).padStart(8)} ${(perEntity <= 2 ? "yes" : "NO").padStart(6)}`,
    );
  }
  console.log(`\nSummary: load ${fmt(loadRate)} devices/s vs floor ${fmt(floorRate)}/s = ${(loadRate / floorRate).toFixed(2)} (target >= 0.50);`);
  console.log(`  a list page read at most ${worst.toFixed(2)} x its size (top=${top}) in entities (target <= 2).`);
  console.log(`Notes: "requests" are Table queries per page, "entities" the entities they returned. Azurite scans its
in-memory table for every query, so latency here grows with the table; on Azure a page's cost follows
the requests and entities columns.`);
} finally {
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
}
