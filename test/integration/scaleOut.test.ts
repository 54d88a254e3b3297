// Several instances of the app at once, as Flex Consumption runs them: each instance is built
// here as the composition builds it (its own caches, its own copy of the quota row, its own
// audit group commit) against the stack's one Azurite. Time is a clock the test moves, so
// "two seconds later" takes no two seconds; the rows, their etags and Azurite are real.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { TableRoleAssignmentStore, TableSettingsStore, TableUserStore } from "../../shared/adapters/tables/tableAdminStores.js";
import { TableAuditLog } from "../../shared/adapters/tables/tableAuditLog.js";
import { TableConnectionReportCursorStore } from "../../shared/adapters/tables/tableConnectionReportCursorStore.js";
import { TableConnectorStore } from "../../shared/adapters/tables/tableConnectorStore.js";
import { TableDeviceStore } from "../../shared/adapters/tables/tableDeviceStore.js";
import { TableIdempotencyStore } from "../../shared/adapters/tables/tableIdempotencyStore.js";
import { TableInboxStore } from "../../shared/adapters/tables/tableInboxStore.js";
import { TableSessionStore } from "../../shared/adapters/tables/tableSessionStore.js";
import { noFaultPoints } from "../../shared/adapters/faults/fileFaultPoints.js";
import { Access } from "../../shared/app/access.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { KeyVaultTokenVault } from "../../shared/adapters/keyvault/keyVaultTokenVault.js";
import { KeyVaultSecretStore } from "../../shared/adapters/keyvault/secretStore.js";
import { ConnectorWorker } from "../../shared/app/connector/connectorWorker.js";
import { CachedConnectorStore } from "../../shared/app/connector/cachedConnectorStore.js";
import { createLogger } from "../../shared/app/logging.js";
import type { OutgoingMessage } from "../../shared/app/messageBus.js";
import { createSessionsArea, type SessionsArea } from "../../shared/app/sessions/sessionsArea.js";
import type { SessionRequestResult } from "../../shared/app/sessions/sessionRequests.js";
import type { AutomationCaller, UserCaller } from "../../shared/domain/caller.js";
import { DomainError } from "../../shared/domain/errors.js";
import { TableQuotaLimiter } from "../../shared/adapters/tables/tableQuotaLimiter.js";
import { CachedSettingsStore } from "../../shared/app/admin/cachedSettingsStore.js";
import { systemClock, type Clock } from "../../shared/app/clock.js";
import { isQuotaExhausted, TeamViewerQuota, type TeamViewerWebApi } from "../../shared/app/quota/teamViewerQuota.js";
import { ShortCache } from "../../shared/app/shortCache.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { tenantStateCacheMs } from "../../shared/composition.js";
import { systemActor } from "../../shared/domain/caller.js";
import { api, stack } from "../support/api.js";
import {
  connectorStore,
  fake,
  newTenant,
  oauthStateStore,
  onboard,
  tables,
  teamViewerClient,
  tokenProviderInstance,
  type TestTenant,
} from "./connectorSupport.js";
import { createDevices, eventuallySession, managedDevice, requestSession } from "./sessionsSupport.js";

/** A clock tests move by hand. */
function manualClock(start = Date.parse("2026-12-07T10:00:00Z")): Clock & { advance(ms: number): void } {
  let at = start;
  return { now: () => new Date(at), advance: (ms) => void (at += ms) };
}

/** One instance's settings and TeamViewer quota, wired as shared/composition.ts wires them. */
function quotaInstance(clock: Clock) {
  const t = tables();
  const settings = new CachedSettingsStore(new TableSettingsStore(t), new ShortCache({ ttlMs: tenantStateCacheMs, now: () => clock.now().getTime() }));
  const made: number[] = [];
  let throttleNext = false;
  const notUsed = (): never => {
    throw new Error("not used here");
  };
  const web: TeamViewerWebApi = {
    ping: async () => {
      if (throttleNext) {
        throttleNext = false;
        throw new TeamViewerError("throttled", "GET /ping: 429", { status: 429, retryAfterMs: 30_000 });
      }
      made.push(clock.now().getTime());
      return { tokenValid: true };
    },
    createSession: notUsed,
    listSessions: notUsed,
    closeSession: notUsed,
    getAccount: notUsed,
    listConnections: notUsed,
  };
  const quota = new TeamViewerQuota({
    teamViewer: web,
    limiter: new TableQuotaLimiter(t, clock),
    callsPerMinute: async (tenantId) => (await settings.get(tenantId)).teamViewerCallsPerMinute,
    clock,
  });
  /** Tries `n` calls at once for the tenant; answers how many TeamViewer got. */
  const spend = async (tenantId: string, n: number): Promise<number> => {
    const outcomes = await Promise.allSettled(Array.from({ length: n }, () => quota.forTenant(tenantId).ping("token")));
    for (const o of outcomes) if (o.status === "rejected" && !isQuotaExhausted(o.reason)) throw o.reason;
    return outcomes.filter((o) => o.status === "fulfilled").length;
  };
  return {
    settings,
    made,
    spend,
    throttleNextCall: () => void (throttleNext = true),
  };
}

describe("the TeamViewer quota across instances", () => {
  it("two instances spending one tenant's calls at once never pass the setting together", async () => {
    const tenantId = randomUUID();
    const clock = manualClock();
    const [a, b] = [quotaInstance(clock), quotaInstance(clock)];
    await a.settings.update(tenantId, { teamViewerCallsPerMinute: 7 });

    const [fromA, fromB] = await Promise.all([a.spend(tenantId, 10), b.spend(tenantId, 10)]);

    expect(fromA + fromB).toBe(7);
    expect(a.made.length + b.made.length).toBe(7);
  });

  it("a lowered setting applies at once on the instance that changed it, and within 2 s on the other", async () => {
    const tenantId = randomUUID();
    const clock = manualClock();
    const [a, b] = [quotaInstance(clock), quotaInstance(clock)];
    await a.settings.update(tenantId, { teamViewerCallsPerMinute: 20 });
    // Both instances have made a call under the old setting, so both have read it.
    expect(await a.spend(tenantId, 1)).toBe(1);
    expect(await b.spend(tenantId, 1)).toBe(1);

    // Act: instance A lowers the setting to 5; its own next calls find 3 places left
    await a.settings.update(tenantId, { teamViewerCallsPerMinute: 5 });
    clock.advance(1_000);
    const onA = await a.spend(tenantId, 10);
    // …and instance B, once its copy of the settings is older than the documented 2 s
    clock.advance(tenantStateCacheMs + 1);
    const onB = await b.spend(tenantId, 10);

    // Assess: the minute holds 5 calls, not 20
    expect(onA).toBe(3);
    expect(onB).toBe(0);
    expect(a.made.length + b.made.length).toBe(5);
  });

  it("TeamViewer throttling seen by one instance holds the other back until its Retry-After", async () => {
    const tenantId = randomUUID();
    const clock = manualClock();
    const [a, b] = [quotaInstance(clock), quotaInstance(clock)];
    await a.settings.update(tenantId, { teamViewerCallsPerMinute: 20 });
    expect(await b.spend(tenantId, 1)).toBe(1);

    // Act: TeamViewer answers A with 429, Retry-After 30 s
    a.throttleNextCall();
    expect(await a.spend(tenantId, 1)).toBe(0);
    clock.advance(29_000);
    const duringBlock = await b.spend(tenantId, 3);
    clock.advance(1_001);
    const afterBlock = await b.spend(tenantId, 3);

    // Assess
    expect(duringBlock).toBe(0);
    expect(afterBlock).toBe(3);
  });
});

interface ListedEvent {
  id: string;
  at: string;
  activity: string;
  detail?: string;
}

/** Every event of GET /api/auditEvents (answered by the stack's host: a third instance), all pages. */
async function listedEvents(token: string): Promise<ListedEvent[]> {
  const out: ListedEvent[] = [];
  let continuation: string | undefined;
  do {
    const res = await api<{ value: ListedEvent[]; continuationToken?: string }>(
      `/auditEvents?top=200${continuation ? `&continuationToken=${encodeURIComponent(continuation)}` : ""}`,
      { token },
    );
    expect(res.status, res.text).toBe(200);
    out.push(...res.body.value);
    continuation = res.body.continuationToken;
  } while (continuation);
  return out;
}

describe("the audit log across instances", () => {
  it("events recorded on two instances at the same moment: each once in the list and the delta, in each instance's order", async () => {
    const tenant = await newTenant();
    const [a, b] = [new TableAuditLog(tables(), systemClock), new TableAuditLog(tables(), systemClock)];
    const rounds = 12;
    const perRound = 8;
    const record = (log: TableAuditLog, name: string, round: number, i: number) =>
      log.record({
        tenantId: tenant.tenantId,
        actor: systemActor,
        activity: "test.scaleOut",
        target: { type: "test", id: name },
        result: "success",
        detail: `${name}-${round}-${i}`,
      });

    // Act: in each round both instances record a burst at once (each burst is one group commit
    // racing the other instance's for the counter); the next round starts when both are stored.
    const reader = (async () => {
      const read: ListedEvent[] = [];
      let deltaToken: string | undefined;
      for (;;) {
        const res = await api<{ value: ListedEvent[]; deltaToken: string }>(
          `/auditEvents/delta${deltaToken ? `?deltaToken=${encodeURIComponent(deltaToken)}` : ""}`,
          { token: tenant.admin },
        );
        expect(res.status, res.text).toBe(200);
        read.push(...res.body.value);
        deltaToken = res.body.deltaToken;
        if (read.filter((e) => e.activity === "test.scaleOut").length >= 2 * rounds * perRound) return read;
      }
    })();
    for (let round = 0; round < rounds; round++) {
      await Promise.all([
        ...Array.from({ length: perRound }, (_, i) => record(a, "a", round, i)),
        ...Array.from({ length: perRound }, (_, i) => record(b, "b", round, i)),
      ]);
    }
    const delta = (await reader).filter((e) => e.activity === "test.scaleOut");
    const listed = (await listedEvents(tenant.admin)).filter((e) => e.activity === "test.scaleOut");

    // Assess: every event once in both; in the delta, an instance's round comes after its
    // previous one (recorded after it was stored), and the whole is the counter's order.
    const details = delta.map((e) => e.detail!);
    expect(new Set(details).size).toBe(details.length);
    expect(details).toHaveLength(2 * rounds * perRound);
    expect(new Set(listed.map((e) => e.id))).toEqual(new Set(delta.map((e) => e.id)));
    expect(listed).toHaveLength(delta.length);
    for (const name of ["a", "b"]) {
      const rounds = details.filter((d) => d.startsWith(`${name}-`)).map((d) => Number(d.split("-")[1]));
      expect(rounds).toEqual([...rounds].sort((x, y) => x - y));
    }
    const last = await a.last(tenant.tenantId);
    const stream = await a.readAfter(tenant.tenantId, 0, 10_000);
    expect(stream.map((e) => e.sequence)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  });
});

const quiet = createLogger(() => undefined);

/**
 * One instance's sessions area, wired as shared/composition.ts wires it (its own settings and
 * connector caches, token provider, quota copy and audit group commit). The message bus only
 * records: these tests are about what the requests store, not what the workers do after.
 */
function sessionsInstance(
  name: string,
  clock: Clock = systemClock,
  onlyTenant?: string,
): { area: SessionsArea; settings: CachedSettingsStore; store: TableSessionStore; sent: OutgoingMessage[] } {
  const t = tables();
  const store = new TableSessionStore(t);
  // The timers see only the test's tenant: other tests' sessions share the stack's Azurite.
  if (onlyTenant !== undefined) store.listTenants = async () => [onlyTenant];
  const cache = <V>() => new ShortCache<V>({ ttlMs: tenantStateCacheMs, now: () => clock.now().getTime() });
  const settings = new CachedSettingsStore(new TableSettingsStore(t), cache());
  const connectors = new CachedConnectorStore(new TableConnectorStore(t), cache());
  const deviceStore = new TableDeviceStore(t);
  const sent: OutgoingMessage[] = [];
  const area = createSessionsArea({
    store,
    inbox: new TableInboxStore(t),
    idempotency: new TableIdempotencyStore(t),
    push: { push: async () => undefined },
    faults: noFaultPoints,
    devices: { get: async (tenantId, id) => ((r) => (r?.kind === "device" ? r.device : undefined))(await deviceStore.get(tenantId, id)) },
    connector: { isOnboarded: (tenantId) => connectors.isOnboarded(tenantId) },
    tokens: tokenProviderInstance(`${name}-${randomUUID()}`),
    teamViewer: new TeamViewerQuota({
      teamViewer: teamViewerClient(),
      limiter: new TableQuotaLimiter(t, clock),
      callsPerMinute: async (tenantId) => (await settings.get(tenantId)).teamViewerCallsPerMinute,
      clock,
    }),
    teamViewerTimeoutMs: 10_000,
    resendMinIntervalSeconds: 60,
    connectionReports: { onboardedTenants: async () => [], cursors: new TableConnectionReportCursorStore(t) },
    settings,
    access: new Access(new TableRoleAssignmentStore(t), new TableUserStore(t)),
    bus: { send: async (m) => void sent.push(m), ping: async () => undefined, close: async () => undefined },
    audit: new TableAuditLog(t, clock),
    clock,
    log: quiet,
  });
  return { area, settings, store, sent };
}

const helpDesk = (tenantId: string): UserCaller => ({
  type: "user",
  tenantId,
  userId: randomUUID(),
  displayName: "Help Desk",
  roles: ["RemoteAssistance.Request"],
  groups: [],
});

/** A request's outcome as an HTTP caller would see it: the session, or the refusal's code; anything else is a 500. */
async function outcome(request: Promise<SessionRequestResult>): Promise<{ sessionId?: string; code?: string }> {
  try {
    const r = await request;
    return r.ok ? { sessionId: r.session.id } : { code: r.refusal.error.code };
  } catch (e) {
    if (e instanceof DomainError) return { code: e.code };
    throw e;
  }
}

describe("session requests racing on two instances", () => {
  let tenant: TestTenant;
  let devices: { id: string }[];
  const [a, b] = [sessionsInstance("a"), sessionsInstance("b")];

  beforeAll(async () => {
    tenant = await newTenant();
    await onboard(tenant);
    devices = Array.from({ length: 3 }, (_, i) => managedDevice({ deviceName: `SCALE-${i}` }));
    await createDevices(tenant.tenantId, tenant.admin, devices);
  });

  it("one device, two requests at once on two instances, ten rounds: one session a round, the other told the device is busy", async () => {
    const caller = helpDesk(tenant.tenantId);
    const ask = (area: SessionsArea) =>
      outcome(area.requests.request({ source: "user", caller, tenantId: tenant.tenantId, deviceId: devices[0].id, description: "race" }, { log: quiet }));

    for (let round = 0; round < 10; round++) {
      const results = await Promise.all([ask(a.area), ask(b.area)]);
      const made = results.filter((r) => r.sessionId !== undefined);
      expect(made, `round ${round}: ${JSON.stringify(results)}`).toHaveLength(1);
      expect(results.filter((r) => r.code !== undefined).map((r) => r.code)).toEqual(["conflict"]);
      // Closed on the instance that did not make it: the next round finds the device free.
      const closer = results[0].sessionId ? b : a;
      await closer.area.admin.close(caller, made[0].sessionId!, { log: quiet });
    }
  });

  it("one Idempotency-Key sent to two instances at once: one session; the other answers it or 409, never a second one", async () => {
    const caller = helpDesk(tenant.tenantId);
    for (let round = 0; round < 5; round++) {
      const key = randomUUID();
      const ask = (area: SessionsArea) =>
        outcome(
          area.requests.request(
            { source: "user", caller, tenantId: tenant.tenantId, deviceId: devices[1].id, description: "once", idempotencyKey: key },
            { log: quiet },
          ),
        );
      const results = await Promise.all([ask(a.area), ask(b.area)]);
      const ids = new Set(results.map((r) => r.sessionId).filter((id) => id !== undefined));
      expect(ids.size, JSON.stringify(results)).toBe(1);
      for (const r of results) if (r.code !== undefined) expect(r.code).toBe("conflict");
      // A retry after both answered replays the one session, on either instance.
      const replay = await ask(round % 2 === 0 ? a.area : b.area);
      expect(replay.sessionId).toBe([...ids][0]);
      await a.area.admin.close(caller, [...ids][0]!, { log: quiet });
    }
  });

  it("one automation event id sent to two instances at once: one session, both told about it", async () => {
    const app: AutomationCaller = {
      type: "automation",
      tenantId: tenant.tenantId,
      userId: randomUUID(),
      displayName: "Ticketing",
      clientId: randomUUID(),
      roles: ["RemoteAssistance.Request"],
    };
    const closer = helpDesk(tenant.tenantId);
    for (let round = 0; round < 5; round++) {
      const eventId = randomUUID();
      const ask = (area: SessionsArea) =>
        outcome(area.requests.request({ source: "app", caller: app, eventId, tenantId: tenant.tenantId, deviceId: devices[2].id }, { log: quiet }));
      const results = await Promise.all([ask(a.area), ask(b.area)]);
      expect(results.map((r) => r.code)).toEqual([undefined, undefined]);
      expect(results[0].sessionId).toBe(results[1].sessionId);
      await a.area.admin.close(closer, results[0].sessionId!, { log: quiet });
    }
  });
});

describe("a settings change on one instance, a request on another", () => {
  it("requireTicketId set through instance A refuses a request without a ticket on A at once and on B within 2 s", async () => {
    const tenant = await newTenant();
    await onboard(tenant);
    const devices = [managedDevice({ deviceName: "TICKET-0" }), managedDevice({ deviceName: "TICKET-1" })];
    await createDevices(tenant.tenantId, tenant.admin, devices);
    const clock = manualClock(Date.now());
    const [a, b] = [sessionsInstance("a", clock), sessionsInstance("b", clock)];
    const caller = helpDesk(tenant.tenantId);
    const ask = (i: { area: SessionsArea }, device: { id: string }) =>
      outcome(i.area.requests.request({ source: "user", caller, tenantId: tenant.tenantId, deviceId: device.id, description: "no ticket" }, { log: quiet }));
    // B has the settings from a request of its own.
    const before = await ask(b, devices[0]);
    expect(before.sessionId).toBeDefined();

    // Act
    await a.settings.update(tenant.tenantId, { requireTicketId: true });
    const onA = await ask(a, devices[1]);
    clock.advance(tenantStateCacheMs);
    const onB = await ask(b, devices[1]);

    // Assess
    expect(onA).toEqual({ code: "validationFailed" });
    expect(onB).toEqual({ code: "validationFailed" });
  });
});

describe("the session timer on two instances at once", () => {
  it("expires each due request once: one audit event and one session.close each, no row skipped, no outbox row left", async () => {
    const tenant = await newTenant();
    await onboard(tenant);
    const devices = Array.from({ length: 6 }, (_, i) => managedDevice({ deviceName: `TIMER-${i}` }));
    await createDevices(tenant.tenantId, tenant.admin, devices);
    const clock = manualClock(Date.now());
    const [a, b] = [sessionsInstance("a", clock, tenant.tenantId), sessionsInstance("b", clock, tenant.tenantId)];
    const caller = helpDesk(tenant.tenantId);
    const ids: string[] = [];
    for (const [i, device] of devices.entries()) {
      const made = await outcome(
        (i % 2 === 0 ? a : b).area.requests.request({ source: "user", caller, tenantId: tenant.tenantId, deviceId: device.id }, { log: quiet }),
      );
      ids.push(made.sessionId!);
    }
    const from = await new TableAuditLog(tables(), clock).last(tenant.tenantId);
    a.sent.length = 0;
    b.sent.length = 0;

    // Act: an hour and more later (the default timeout is 60 minutes), both instances' timers run at once
    clock.advance(61 * 60_000);
    const [ranA, ranB] = await Promise.all([a.area.maintenance.runTimers(quiet), b.area.maintenance.runTimers(quiet)]);

    // Assess
    expect(ranA.skipped + ranB.skipped).toBe(0);
    const events = await new TableAuditLog(tables(), clock).readAfter(tenant.tenantId, from, 1000);
    const expired = events.filter((e) => e.event.activity === "session.expired").map((e) => e.event.target.id);
    expect(expired.sort()).toEqual([...ids].sort());
    expect(events.filter((e) => e.event.activity.endsWith("maintenanceSkipped"))).toEqual([]);
    const closes = [...a.sent, ...b.sent].filter((m) => m.type === "session.close");
    const closeIdsBySession = new Map<string, Set<string>>();
    for (const m of closes) {
      const sessionId = (m.body as { data: { sessionId: string } }).data.sessionId;
      closeIdsBySession.set(sessionId, (closeIdsBySession.get(sessionId) ?? new Set()).add(m.id));
    }
    expect([...closeIdsBySession.keys()].sort()).toEqual([...ids].sort());
    for (const messageIds of closeIdsBySession.values()) expect(messageIds.size).toBe(1);
    for (const id of ids) expect((await a.store.get(tenant.tenantId, id))?.session.status).toBe("expired");
    expect((await a.store.listOutbox(tenant.tenantId, new Date(clock.now().getTime() + 60 * 60_000), { limit: 1_000 })).entries).toEqual([]);
  });
});

describe("the connection report timer on two instances at once", () => {
  it("records a reported connection on its session once: one history entry, one session.connected", async () => {
    // Prepare: a session the stack made (so TeamViewer has it), and a supporter connected to it
    const tenant = await newTenant();
    await onboard(tenant);
    const device = managedDevice({ deviceName: "REPORT-0" });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const requested = await requestSession(tenant.helpdesk, device.id);
    expect(requested.status, requested.text).toBe(202);
    const waiting = await eventuallySession(tenant.admin, requested.body.id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
    const start = Date.now() - 20 * 60_000;
    const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
    await fake().addConnection({
      session_code: waiting.teamViewer!.code,
      userid: "u7001",
      username: "Sam Supporter",
      start_date: iso(start),
      end_date: iso(start + 12 * 60_000),
    });
    const [a, b] = [sessionsInstance("a", systemClock, tenant.tenantId), sessionsInstance("b", systemClock, tenant.tenantId)];
    const from = await new TableAuditLog(tables(), systemClock).last(tenant.tenantId);

    // Act
    await Promise.all([a.area.connectionReports.readTenant(tenant.tenantId, quiet), b.area.connectionReports.readTenant(tenant.tenantId, quiet)]);

    // Assess
    const stored = (await a.store.get(tenant.tenantId, requested.body.id))!.session;
    expect((stored.connections ?? []).map((c) => c.supporter.userId)).toEqual(["u7001"]);
    expect(stored.history.filter((h) => h.detail?.includes("Sam Supporter"))).toHaveLength(1);
    const events = await new TableAuditLog(tables(), systemClock).readAfter(tenant.tenantId, from, 1000);
    expect(events.filter((e) => e.event.activity === "session.connected").map((e) => e.event.target.id)).toEqual([requested.body.id]);
  });
});

describe("a disconnect on one instance, a request on another", () => {
  it("a session requested while the disconnect is under way is closed with the others, not left open", async () => {
    // Prepare: an onboarded tenant with an open session on instance B (B has the connector as onboarded)
    const tenant = await newTenant();
    await onboard(tenant);
    const devices = [0, 1, 2].map((i) => managedDevice({ deviceName: `DISCONNECT-${i}` }));
    await createDevices(tenant.tenantId, tenant.admin, devices);
    const [a, b] = [sessionsInstance("a", systemClock, tenant.tenantId), sessionsInstance("b", systemClock, tenant.tenantId)];
    const caller = helpDesk(tenant.tenantId);
    const request = async (device: { id: string }): Promise<string> => {
      const made = await outcome(b.area.requests.request({ source: "user", caller, tenantId: tenant.tenantId, deviceId: device.id }, { log: quiet }));
      expect(made.code).toBeUndefined();
      // …and its session.create, delivered at once to instance B
      const create = b.sent.find((m) => m.type === "session.create" && (m.body as { data: { sessionId: string } }).data.sessionId === made.sessionId)!;
      await b.area.creation.create({ tenantId: tenant.tenantId, sessionId: made.sessionId!, messageId: create.id, deliveryCount: 1, log: quiet });
      return made.sessionId!;
    };
    const before = await request(devices[0]);
    expect((await b.store.get(tenant.tenantId, before))?.session.status).toBe("awaitingEndUser");

    // Act: instance A disconnects. While it revokes the token at TeamViewer (which fails: the
    // token stays good there), a request reaches instance B; another one reaches B just after
    // the connector row says notOnboarded (B still has it as onboarded, for up to 2 s).
    let during: string | undefined;
    let justAfter: string | undefined;
    await fake().failNext({ method: "POST", path: "/api/v1/oauth2/revoke", status: 503, body: { error: "internal_error" } });
    const connectors = connectorStore();
    const update = connectors.update.bind(connectors);
    connectors.update = async (tenantId, change) => {
      const updated = await update(tenantId, change);
      if (updated.onboardingStatus === "notOnboarded" && justAfter === undefined) justAfter = await request(devices[2]);
      return updated;
    };
    const teamViewer = teamViewerClient();
    const vault = new KeyVaultTokenVault(new KeyVaultSecretStore(stack().keyVaultUrl, localDevelopmentCredential, { allowInsecure: true }));
    const tokens = tokenProviderInstance(`disconnect-a-${randomUUID()}`);
    const worker = new ConnectorWorker({
      connectors,
      states: oauthStateStore(),
      vault,
      tokens,
      teamViewer: {
        exchangeCode: (code) => teamViewer.exchangeCode(code),
        revoke: async (token) => {
          during = await request(devices[1]);
          return teamViewer.revoke(token);
        },
      },
      webApi: { forTenant: () => teamViewer },
      openSessions: a.area.maintenance,
      bus: { send: async (m) => void a.sent.push(m), ping: async () => undefined, close: async () => undefined },
      audit: new TableAuditLog(tables(), systemClock),
      clock: systemClock,
    });
    await worker.disconnect(
      { tenantId: tenant.tenantId, requestedBy: { id: "admin", displayName: "Connector Admin", type: "user" }, correlationId: undefined },
      quiet,
    );

    // Assess: once the disconnect is done, the tenant has no open session
    expect(during).toBeDefined();
    expect((await connectorStore().get(tenant.tenantId))?.onboardingStatus).toBe("notOnboarded");
    expect((await b.store.get(tenant.tenantId, before))?.session.status).toBe("closed");
    expect((await b.store.get(tenant.tenantId, during!))?.session.status).toBe("closed");
    expect((await b.store.get(tenant.tenantId, justAfter!))?.session.status).toBe("closed");
    expect((await b.store.listOpenPage(tenant.tenantId, 1000)).sessionIds).toEqual([]);
  });
});
