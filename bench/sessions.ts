// `npm run bench:sessions`: N session requests (C at a time) through the whole local stack
// (host, Azurite, Service Bus, Key Vault and TeamViewer emulators), from onboarding to every
// session awaiting its end user with the notification sent. Reports request latency and
// time to awaitingEndUser (p50/p95/p99), sessions per second, and what each session cost:
// TeamViewer calls, Key Vault reads, Table operations, Service Bus messages.
// It also reports how many requests waited for the tenant's TeamViewer quota, and the longest wait,
// and the run half a second at a time (sessions requested, sessions that reached awaitingEndUser).
//   npm run bench:sessions                     200 sessions, 50 at a time
//   npm run bench:sessions -- --concurrency 1 --count 20   the latency of one request alone
//   npm run bench:sessions -- --count 500 --keep-data
//   npm run bench:sessions -- --count 40 --calls-per-minute 20   (the quota holds half of them back a minute)
//
// How the costs are counted. The stack runs in this process (local/stack.ts startStack, the
// same host and emulators `npm start` uses), so the app's outgoing traffic is visible here:
// - Table operations: the app's own counter, a pipeline policy on every TableClient
//   (shared/adapters/tables/tableOperations.ts), per table and kind, and per function
//   invocation with its sequential round trips. A transaction ($batch) counts as one
//   operation, as Azure bills it.
// - Key Vault requests: Node's `http.client.request.start` diagnostics channel (the Azure
//   SDKs use node:http), by the emulator's port.
// - The floor: the same requests, each doing only what a session cannot do without (one
//   TeamViewer create and one Table write, no queues, no checks), at the same concurrency
//   in the same run; the ratio of the two rates is what the pipeline costs.
// - TeamViewer calls: the fake's own call log (and the undici channel, which must agree).
// - Service Bus messages: ServiceBusClient.prototype.createSender is wrapped before the app
//   loads, counting every message passed to sendMessages/scheduleMessages (by subject);
//   deliveries are the "<type> received" lines of the host log.
// The load generator runs in a worker thread (its own event loop, its own diagnostics
// channels), and the bench polls progress by reading the sessions table with a client whose
// requests carry a marker header, so neither is counted as the app's work.
import { randomUUID } from "node:crypto";
import { subscribe } from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { odata, TableClient } from "@azure/data-tables";
import { ServiceBusClient, type ServiceBusSender } from "@azure/service-bus";
import type { SessionDataParts } from "../shared/adapters/tables/sessionDataParts.js";
import type { Session } from "../shared/domain/session.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "200" },
    concurrency: { type: "string", default: "50" },
    // The tenant's teamViewerCallsPerMinute: the highest by default, so the figures measure the service.
    "calls-per-minute": { type: "string", default: "600" },
    "keep-data": { type: "boolean", default: false },
  },
  strict: true,
});
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1 || count > 5000) {
  console.error("--count must be an integer from 1 to 5000");
  process.exit(2);
}
const concurrency = Number(values.concurrency);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 500) {
  console.error("--concurrency must be an integer from 1 to 500");
  process.exit(2);
}
const callsPerMinute = Number(values["calls-per-minute"]);
if (!Number.isInteger(callsPerMinute) || callsPerMinute < 1 || callsPerMinute > 600) {
  console.error("--calls-per-minute must be an integer from 1 to 600");
  process.exit(2);
}

// ---------------------------------------------------------------- counters (before the app loads)

const sbSent = new Map<string, number>();
// The invocation's storage round trips at the points that end each step of the path: the
// request's when it sent session.create, session.create's when its save made the session
// awaitingEndUser. Their sum is the path from the POST to awaitingEndUser.
const roundTripsBeforeSend = new Map<string, number[]>();
/** Set once the app's Table counter is loaded (below): the invocation running here. */
let currentInvocation: () => { label: string; roundTrips: number } | undefined = () => undefined;
const markSend = (subject: string): void => {
  const here = currentInvocation();
  if (!here) return;
  const key = `${here.label} → ${subject}`;
  roundTripsBeforeSend.set(key, [...(roundTripsBeforeSend.get(key) ?? []), here.roundTrips]);
};
const originalCreateSender = ServiceBusClient.prototype.createSender;
ServiceBusClient.prototype.createSender = function (this: ServiceBusClient, ...args: Parameters<ServiceBusClient["createSender"]>): ServiceBusSender {
  const sender = originalCreateSender.apply(this, args);
  const countOf = (messages: unknown): void => {
    const list = Array.isArray(messages)
      ? messages
      : messages && typeof (messages as { count?: unknown }).count === "number"
        ? Array((messages as { count: number }).count).fill({})
        : [messages];
    for (const m of list) {
      const subject = (m as { subject?: string }).subject ?? "(batch)";
      sbSent.set(subject, (sbSent.get(subject) ?? 0) + 1);
      markSend(subject);
    }
  };
  const send = sender.sendMessages.bind(sender);
  const schedule = sender.scheduleMessages.bind(sender);
  sender.sendMessages = (messages, options) => (countOf(messages), send(messages, options));
  sender.scheduleMessages = (messages, at, options) => (countOf(messages), schedule(messages, at, options));
  return sender;
};

let ports = { keyVault: "", teamViewer: "" };
let keyVaultRequests = 0;
let keyVaultReads = 0;
let teamViewerRequestsSeen = 0;
subscribe("http.client.request.start", (message) => {
  const request = (message as { request: ClientRequest }).request;
  const host = String(request.getHeader("host") ?? "");
  if (host.split(":")[1] !== ports.keyVault) return;
  keyVaultRequests++;
  if (request.method === "GET" && request.path.includes("/secrets/")) keyVaultReads++;
});
subscribe("undici:request:create", (message) => {
  const { origin, path } = (message as { request: { origin: string; path: string } }).request;
  // The fake's control API is the bench talking to the fake, not the app.
  if (ports.teamViewer && String(origin).endsWith(`:${ports.teamViewer}`) && !path.startsWith("/_control")) teamViewerRequestsSeen++;
});

// ---------------------------------------------------------------- the stack

const { startStack, waitHealthy } = await import("../local/stack.js");
const { tableOperations } = await import("../shared/adapters/tables/tableOperations.js");
currentInvocation = () => tableOperations.current();
const { TableSessionStore } = await import("../shared/adapters/tables/tableSessionStore.js");
const { sessionOf } = await import("../shared/adapters/tables/sessionDataParts.js");
const originalUpdate = TableSessionStore.prototype.update;
TableSessionStore.prototype.update = async function (this: InstanceType<typeof TableSessionStore>, current, next, outbox, consumed) {
  const written = await originalUpdate.call(this, current, next, outbox, consumed);
  if (written && next.status === "awaitingEndUser" && current.session.status !== "awaitingEndUser") markSend("saved awaitingEndUser");
  return written;
};
const { KeyVaultSecretStore } = await import("../shared/adapters/keyvault/secretStore.js");
const { KeyVaultTokenVault } = await import("../shared/adapters/keyvault/keyVaultTokenVault.js");
const { localDevelopmentCredential } = await import("../shared/adapters/keyvault/credentials.js");
const { TeamViewerClient } = await import("../shared/adapters/teamviewer/teamViewerClient.js");
const { systemClock } = await import("../shared/app/clock.js");
const { TeamViewerFakeControl } = await import("../local/teamviewer/control.js");

const appRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const dataDir = mkdtempSync(join(tmpdir(), "rac-bench-sessions-"));
const hostLogFile = join(dataDir, "host.log");
console.log(`Starting the local stack (data in ${dataDir})…`);
// The per-caller rate limit would refuse one help-desk caller's burst: the bench measures the pipeline, not the limiter.
const stack = await startStack({
  appRoot,
  ports: "free",
  dataDir,
  log: () => undefined,
  hostLogFile,
  settings: { RATE_LIMIT_CALLER_PER_MINUTE: "1000000", RATE_LIMIT_CALLER_BURST: "1000000" },
});
const portOf = (url: string): string => new URL(url).port;
ports = {
  keyVault: portOf(stack.keyVaultUrl),
  teamViewer: portOf(stack.teamViewerUrl),
};
const fake = new TeamViewerFakeControl(stack.teamViewerUrl);

try {
  await waitHealthy(stack.apiUrl);
  const tenantId = randomUUID();
  const adminToken = await stack.identity.issueToken({ tid: tenantId, oid: randomUUID(), name: "Bench Admin", roles: ["Intune.Administrator"] });
  const helpdeskToken = await stack.identity.issueToken({ tid: tenantId, oid: randomUUID(), name: "Bench Help Desk", roles: ["RemoteAssistance.Request"] });
  const call = async (path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${stack.apiUrl}${path}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${init.token ?? adminToken}`, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      redirect: "manual",
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
  };
  const until = async <T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  // --- onboard, as an admin would: connect → TeamViewer sign-in (the fake) → callback
  console.log("Onboarding a fresh tenant through the connector flow…");
  const patched = await call("/settings", { method: "PATCH", body: { allowUnlicensedAdmins: true, teamViewerCallsPerMinute: callsPerMinute } });
  if (patched.status !== 200) throw new Error(`PATCH /settings answered ${patched.status}`);
  const connect = await call("/connector/connect", { method: "POST", body: { acceptLicenseAgreement: true } });
  if (connect.status !== 200) throw new Error(`connect answered ${connect.status}: ${JSON.stringify(connect.json)}`);
  const redirect = await fake.signIn((connect.json as { authorizeUrl: string }).authorizeUrl, "allow");
  await fetch(redirect, { redirect: "manual" }).then((r) => r.arrayBuffer());
  await until("the connector to be onboarded", 30_000, async () =>
    ((await call("/connector")).json as { onboardingStatus: string }).onboardingStatus === "onboarded" ? true : undefined,
  );

  // --- devices, through automation events
  console.log(`Creating ${count} devices through device.upserted events…`);
  const devices = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    deviceName: `BENCH-${String(i).padStart(4, "0")}`,
    operatingSystem: i % 3 === 0 ? "iOS" : "Windows",
    osVersion: i % 3 === 0 ? "18.1" : "10.0.26100.2314",
    managedDeviceOwnerType: "personal",
    deviceEnrollmentType: i % 3 === 0 ? "appleUserEnrollment" : "windowsAzureADJoin",
    userId: randomUUID(),
    userPrincipalName: `user${i}@bench.example`,
    userDisplayName: `Bench User ${i}`,
    emailAddress: `user${i}@bench.example`,
    roleScopeTagIds: ["0"],
    lastSyncDateTime: "2026-11-20T08:00:00Z",
  }));
  const sb = new ServiceBusClient(stack.serviceBusConnectionString);
  const sender = originalCreateSender.call(sb, "automation-events");
  let batch = await sender.createMessageBatch();
  for (const d of devices) {
    const id = randomUUID();
    const m = {
      messageId: id,
      subject: "device.upserted",
      contentType: "application/json",
      body: { type: "device.upserted", version: 1, id, tenantId, occurredAt: new Date().toISOString(), data: d },
    };
    if (!batch.tryAddMessage(m)) {
      await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      batch.tryAddMessage(m);
    }
  }
  if (batch.count > 0) await sender.sendMessages(batch);
  await sender.close();
  await sb.close();
  await until(`${count} devices`, 120_000, async () => {
    let seen = 0;
    let token: string | undefined;
    do {
      const page = await call(`/devices?top=200${token ? `&continuationToken=${token}` : ""}`);
      const body = page.json as { value: unknown[]; continuationToken?: string };
      seen += body.value.length;
      token = body.continuationToken;
    } while (token);
    return seen >= count ? true : undefined;
  });

  // --- the floor: per request one TeamViewer create and one Table write, nothing else, same concurrency
  const vault = new KeyVaultTokenVault(new KeyVaultSecretStore(stack.keyVaultUrl, localDevelopmentCredential, { allowInsecure: true }));
  const stored = await vault.read(tenantId);
  if (!stored) throw new Error("the tenant's TeamViewer token is not in Key Vault");
  const teamViewer = new TeamViewerClient({
    apiBaseUrl: stack.teamViewerApiBaseUrl,
    loginBaseUrl: stack.teamViewerUrl,
    clientId: "bench",
    clientSecret: () => Promise.resolve("bench"),
    redirectUri: "http://127.0.0.1/unused",
    timeoutMs: 30_000,
    clock: systemClock,
    // The local fake serves http links, as the app on the local stack accepts (LOCAL_ALLOW_INSECURE_LINKS).
    allowInsecureLinks: true,
  });
  // A client of its own, without the app's counting policy: the floor is not the app's work.
  const floorTable = TableClient.fromConnectionString(stack.tablesConnectionString, "benchFloor", { allowInsecureConnection: true });
  await floorTable.createTable();
  const pool = async <T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> => {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, items.length) }, async () => {
        while (next < items.length) await work(items[next++]);
      }),
    );
  };
  console.log(`Floor: ${count} TeamViewer creates + one Table write each, ${concurrency} at a time…`);
  const floorStarted = performance.now();
  await pool(devices, async (d) => {
    const id = randomUUID();
    const info = await teamViewer.createSession(stored.accessToken, {
      groupName: `Floor ${tenantId}`,
      description: "floor",
      customApi: id,
      validUntil: new Date(Date.now() + 3_600_000),
    });
    await floorTable.createEntity({ partitionKey: tenantId, rowKey: id, code: info.code, data: JSON.stringify(d) });
  });
  const floorRate = count / ((performance.now() - floorStarted) / 1000);

  // --- the run
  await new Promise((r) => setTimeout(r, 1_000)); // let the device events' own work settle
  await fake.clearCalls();
  sbSent.clear();
  tableOperations.reset();
  keyVaultRequests = 0;
  keyVaultReads = 0;
  teamViewerRequestsSeen = 0;
  const hostLogOffset = readFileSync(hostLogFile, "utf8").length;

  console.log(`Sending ${count} session requests, ${concurrency} at a time…`);
  const runStarted = Date.now();
  const worker = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
     (async () => {
       const { apiUrl, token, deviceIds, concurrency } = workerData;
       const results = [];
       let next = 0;
       await Promise.all(Array.from({ length: Math.min(concurrency, deviceIds.length) }, async () => {
         while (next < deviceIds.length) {
           const id = deviceIds[next++];
           const started = performance.now();
           const res = await fetch(apiUrl + "/devices/" + id + "/remoteAssistanceSessions", {
             method: "POST",
             headers: { authorization: "Bearer " + token, "content-type": "application/json" },
             body: JSON.stringify({ description: "bench" }),
           });
           const body = await res.json();
           results.push({ status: res.status, id: body.id, ms: performance.now() - started });
         }
       }));
       parentPort.postMessage(results);
     })().catch((e) => parentPort.postMessage({ error: String(e) }));`,
    { eval: true, workerData: { apiUrl: stack.apiUrl, token: helpdeskToken, deviceIds: devices.map((d) => d.id), concurrency } },
  );
  const results = await new Promise<{ status: number; id: string; ms: number }[]>((resolvePromise, reject) => {
    worker.once("message", (m: unknown) =>
      (m as { error?: string }).error ? reject(new Error((m as { error: string }).error)) : resolvePromise(m as { status: number; id: string; ms: number }[]),
    );
    worker.once("error", reject);
  });
  await worker.terminate();
  const refused = results.filter((r) => r.status !== 202);
  if (refused.length > 0) throw new Error(`${refused.length} requests were not accepted: ${[...new Set(refused.map((r) => r.status))].join(", ")}`);

  // Progress is read straight from the table, by a client without the app's counting policy.
  const table = TableClient.fromConnectionString(stack.tablesConnectionString, "sessions", { allowInsecureConnection: true });
  const sessions = await until("every session to await its end user, notified", 600_000, async () => {
    const rows: Session[] = [];
    const filter = odata`PartitionKey eq ${tenantId} and RowKey gt ${"s|"} and RowKey lt ${"s|~"}`;
    for await (const e of table.listEntities<SessionDataParts>({ queryOptions: { filter } })) rows.push(sessionOf(e));
    const failed = rows.filter((r) => r.status === "failed");
    if (failed.length > 0)
      throw new Error(
        `${failed.length} sessions failed: ${failed
          .slice(0, 3)
          .map((r) => r.failure?.message)
          .join("; ")}`,
      );
    const done = rows.filter((r) => r.status === "awaitingEndUser" && r.endUserNotification.status === "sent");
    return done.length === count ? done : undefined;
  });
  const settledAt = Date.now();
  await new Promise((r) => setTimeout(r, 500)); // the last audit writes after the last status change
  const ops = tableOperations.snapshot();
  const perRequest = new Map<string, number>();
  for (const x of await fake.sessions()) if (x.custom_api) perRequest.set(x.custom_api, (perRequest.get(x.custom_api) ?? 0) + 1);
  const sessionIds = new Set(results.map((r) => r.id));
  const oneEach = [...sessionIds].every((id) => perRequest.get(id) === 1);

  // --- results
  // A request that found no room in the quota has one "waitingForTeamViewerQuota" history entry per wait.
  const waits = sessions.flatMap((s) => {
    const entry = s.history.find((h) => h.detail?.startsWith("waitingForTeamViewerQuota"));
    const created = s.history.find((h) => h.status === "awaitingEndUser");
    return entry && created ? [Date.parse(created.at) - Date.parse(entry.at)] : [];
  });
  const toAwaiting = sessions.map((s) => Date.parse(s.history.find((h) => h.status === "awaitingEndUser")!.at) - Date.parse(s.requestedAt));
  const toNotified = sessions.map((s) => Date.parse(s.endUserNotification.sentAt ?? s.requestedAt) - Date.parse(s.requestedAt));
  const lastAwaiting = Math.max(...sessions.map((s) => Date.parse(s.history.find((h) => h.status === "awaitingEndUser")!.at)));
  // Where the run's time went, half a second at a time: sessions requested (their POST
  // recorded) and sessions that reached awaitingEndUser.
  const slot = (at: string): number => Math.max(0, Math.floor((Date.parse(at) - runStarted) / 500));
  const requestedBySlot: number[] = [];
  const awaitingBySlot: number[] = [];
  const tally = (xs: number[], at: number): void => {
    xs[at] = (xs[at] ?? 0) + 1;
  };
  for (const s of sessions) {
    tally(requestedBySlot, slot(s.requestedAt));
    tally(awaitingBySlot, slot(s.history.find((h) => h.status === "awaitingEndUser")!.at));
  }
  const slots = Math.max(requestedBySlot.length, awaitingBySlot.length);
  const row = (xs: number[]): string => Array.from({ length: slots }, (_, i) => String(xs[i] ?? 0).padStart(4)).join("");
  const calls = await fake.calls();
  const hostLog = readFileSync(hostLogFile, "utf8").slice(hostLogOffset);
  const deliveries = new Map<string, number>();
  for (const m of hostLog.matchAll(/\b(session\.create|session\.close|notification\.send) received/g)) deliveries.set(m[1], (deliveries.get(m[1]) ?? 0) + 1);

  const pct = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  };
  const ms = (v: number): string => `${Math.round(v).toLocaleString("en-US")} ms`;
  const per = (n: number): string => (n / count).toFixed(2);
  const line = (label: string, xs: number[]): string =>
    `${label.padEnd(34)} p50 ${ms(pct(xs, 50)).padStart(9)}   p95 ${ms(pct(xs, 95)).padStart(9)}   p99 ${ms(pct(xs, 99)).padStart(9)}`;
  const byCall = new Map<string, number>();
  for (const c of calls) {
    const key = `${c.method} ${c.path.replace(/\/sessions\/[^/]+$/i, "/sessions/{code}")}`;
    byCall.set(key, (byCall.get(key) ?? 0) + 1);
  }
  const invocation = (label: string): string => {
    const c = ops.byInvocation.get(label);
    return c && c.invocations > 0
      ? `${(c.operations / c.invocations).toFixed(2)} operations, ${(c.roundTrips / c.invocations).toFixed(2)} round trips per invocation (${c.invocations})`
      : "none";
  };
  const roundTrips = (label: string): number => {
    const c = ops.byInvocation.get(label);
    return c && c.invocations > 0 ? c.roundTrips / c.invocations : 0;
  };
  // The path to awaitingEndUser, as the invocations' totals: the POST, then the session.create
  // delivery (each with its audit write, which comes after, so an upper bound).
  const criticalPath = roundTrips("requestSession") + (ops.byInvocation.get("sessionCommands")?.roundTrips ?? 0) / count;
  // The same path up to the points that end it: the request's round trips before it sent
  // session.create, then session.create's up to the save that made the session awaitingEndUser.
  const meanBefore = (key: string): number | undefined => {
    const xs = roundTripsBeforeSend.get(key);
    return xs && xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  };
  const beforeCreate = meanBefore("requestSession → session.create");
  const beforeNotify = meanBefore("sessionCommands → saved awaitingEndUser");
  const measuredPath =
    beforeCreate === undefined || beforeNotify === undefined
      ? "not measured (no such sends seen)"
      : `${(beforeCreate + beforeNotify).toFixed(2)}   (the request ${beforeCreate.toFixed(2)} before sending session.create + session.create ${beforeNotify.toFixed(2)} up to the save that made it awaitingEndUser; target <= 6)`;
  const rate = count / ((lastAwaiting - runStarted) / 1000);
  const sbTotal = [...sbSent.values()].reduce((a, b) => a + b, 0);

  console.log(`
Sessions benchmark: ${count} requests, ${concurrency} at a time, one tenant (${callsPerMinute} TeamViewer calls a minute), local stack (in-process host + emulators)

${line(
  "request latency (POST → 202)",
  results.map((r) => r.ms),
)}
${line("time to awaitingEndUser", toAwaiting)}
${line("time to notification sent", toNotified)}
waited for TeamViewer quota       ${waits.length} of ${count} requests${waits.length > 0 ? `; longest wait ${ms(Math.max(...waits))} (from the wait's history entry to awaitingEndUser)` : ""}
throughput                         ${(count / ((lastAwaiting - runStarted) / 1000)).toFixed(1)} sessions/s reached awaitingEndUser (${((lastAwaiting - runStarted) / 1000).toFixed(1)} s for all; all notified after ${((settledAt - runStarted) / 1000).toFixed(1)} s)
floor                              ${floorRate.toFixed(1)} requests/s (one TeamViewer create + one Table write each, ${concurrency} at a time, same run)
ratio to the floor                 ${(rate / floorRate).toFixed(2)}
progress every 0.5 s: requested        ${row(requestedBySlot)}
                      awaitingEndUser  ${row(awaitingBySlot)}
TeamViewer sessions per request    ${oneEach ? "exactly one for every request" : `NOT one each: ${[...sessionIds].filter((id) => perRequest.get(id) !== 1).length} requests differ`}

Per session (totals / ${count}):
  TeamViewer calls                 ${per(calls.length)}   (${[...byCall].map(([k, v]) => `${k}: ${v}`).join(", ")}; undici saw ${teamViewerRequestsSeen})
  Key Vault reads                  ${per(keyVaultReads)}   (${keyVaultReads} secret reads, ${keyVaultRequests} requests in all; the token is cached per instance)
  Table operations                 ${per(ops.total)}   (${[...ops.byTableAndKind]
    .sort()
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ")}; a transaction is one operation)
  storage round trips, POST → awaitingEndUser   ${measuredPath}
    whole invocations               ${criticalPath.toFixed(2)}   (requestSession ${roundTrips("requestSession").toFixed(2)} + sessionCommands deliveries, audit writes included)
    requestSession                 ${invocation("requestSession")}
    sessionCommands                ${invocation("sessionCommands")}
    deviceNotifications            ${invocation("deviceNotifications")}
  Service Bus messages sent        ${per(sbTotal)}   (${[...sbSent].map(([k, v]) => `${k}: ${v}`).join(", ")})
  Service Bus deliveries           ${per([...deliveries.values()].reduce((a, b) => a + b, 0))}   (${[...deliveries].map(([k, v]) => `${k}: ${v}`).join(", ")})
(Counts include whatever the app's timers did during the run; each session also writes 3 audit events.)`);
} finally {
  await stack.close();
  if (!values["keep-data"]) rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
