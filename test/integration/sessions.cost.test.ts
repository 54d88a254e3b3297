// What one session costs in Table storage, counted (not timed): the request and the
// session.create delivery (which also sends the first notification), each run as one invocation
// under the app's own counter (shared/adapters/tables/tableOperations.ts, an SDK pipeline
// policy). The sessions area is built here from the real adapters against the stack's
// Azurite, Key Vault emulator and TeamViewer fake. Two stand-ins, on purpose: the message
// bus records what would be sent and the test delivers it (the stack's own consumers
// would otherwise take the messages, and their work could not be told apart), and the
// push gateway accepts every push (the local one writes a file, which is not the point).
import { randomUUID } from "node:crypto";
import { odata } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { TableConnectionReportCursorStore } from "../../shared/adapters/tables/tableConnectionReportCursorStore.js";
import { TableAuditLog } from "../../shared/adapters/tables/tableAuditLog.js";
import { TableConnectorStore } from "../../shared/adapters/tables/tableConnectorStore.js";
import { TableDeviceStore } from "../../shared/adapters/tables/tableDeviceStore.js";
import { TableIdempotencyStore } from "../../shared/adapters/tables/tableIdempotencyStore.js";
import { TableInboxStore } from "../../shared/adapters/tables/tableInboxStore.js";
import { tableOperations } from "../../shared/adapters/tables/tableOperations.js";
import { TableQuotaLimiter } from "../../shared/adapters/tables/tableQuotaLimiter.js";
import { TableRoleAssignmentStore, TableSettingsStore, TableUserStore } from "../../shared/adapters/tables/tableAdminStores.js";
import { TableSessionStore } from "../../shared/adapters/tables/tableSessionStore.js";
import { tableNames } from "../../shared/adapters/tables/tables.js";
import { noFaultPoints } from "../../shared/adapters/faults/fileFaultPoints.js";
import { Access } from "../../shared/app/access.js";
import { CachedSettingsStore } from "../../shared/app/admin/cachedSettingsStore.js";
import { systemClock } from "../../shared/app/clock.js";
import { createLogger } from "../../shared/app/logging.js";
import type { OutgoingMessage } from "../../shared/app/messageBus.js";
import { TeamViewerQuota } from "../../shared/app/quota/teamViewerQuota.js";
import { createSessionsArea } from "../../shared/app/sessions/sessionsArea.js";
import { ShortCache } from "../../shared/app/shortCache.js";
import { tenantStateCacheMs } from "../../shared/composition.js";
import type { UserCaller } from "../../shared/domain/caller.js";
import { newTenant, onboard, tables, teamViewerClient, tokenProviderInstance } from "./connectorSupport.js";
import { createDevices, managedDevice } from "./sessionsSupport.js";

const quiet = createLogger(() => undefined);

describe("the Table operations of one session", () => {
  it("request → awaitingEndUser → notified: counted per step, no notification.send, no outbox row left and no delete of its own", async () => {
    // Prepare: an onboarded tenant with one eligible device, and the sessions area on the real adapters.
    const tenant = await newTenant();
    await onboard(tenant);
    const device = managedDevice({ deviceName: "COST-01" });
    const warmUpDevice = managedDevice({ deviceName: "COST-00" });
    await createDevices(tenant.tenantId, tenant.admin, [device, warmUpDevice]);
    const t = tables();
    // Kept 2 s per instance, as shared/composition.ts keeps it: the request reads it, the quota reuses it.
    const settings = new CachedSettingsStore(new TableSettingsStore(t), new ShortCache({ ttlMs: tenantStateCacheMs, now: () => Date.now() }));
    const connectors = new TableConnectorStore(t);
    const deviceStore = new TableDeviceStore(t);
    const audit = new TableAuditLog(t, systemClock);
    const sent: OutgoingMessage[] = [];
    const sentAfter = new Map<string, number>();
    // Where session.create's path ends: the save that makes the session awaitingEndUser.
    let beforeAwaiting: number | undefined;
    const sessionStore = new TableSessionStore(t);
    const update = sessionStore.update.bind(sessionStore);
    sessionStore.update = async (current, next, outbox, consumed) => {
      const written = await update(current, next, outbox, consumed);
      if (written && next.status === "awaitingEndUser" && current.session.status !== "awaitingEndUser") beforeAwaiting = tableOperations.current()?.roundTrips;
      return written;
    };
    const pushed: string[] = [];
    const area = createSessionsArea({
      store: sessionStore,
      inbox: new TableInboxStore(t),
      idempotency: new TableIdempotencyStore(t),
      push: {
        push: async (n) => {
          pushed.push(n.sessionId);
        },
      },
      faults: noFaultPoints,
      devices: { get: async (tenantId, id) => ((r) => (r?.kind === "device" ? r.device : undefined))(await deviceStore.get(tenantId, id)) },
      connector: { isOnboarded: async (tenantId) => (await connectors.get(tenantId))?.onboardingStatus === "onboarded" },
      tokens: tokenProviderInstance(`cost-${randomUUID()}`),
      teamViewer: new TeamViewerQuota({
        teamViewer: teamViewerClient(),
        limiter: new TableQuotaLimiter(t, systemClock),
        callsPerMinute: async (tenantId) => (await settings.get(tenantId)).teamViewerCallsPerMinute,
        clock: systemClock,
      }),
      teamViewerTimeoutMs: 10_000,
      resendMinIntervalSeconds: 60,
      connectionReports: { onboardedTenants: async () => [], cursors: new TableConnectionReportCursorStore(t) },
      settings,
      access: new Access(new TableRoleAssignmentStore(t), new TableUserStore(t)),
      bus: {
        send: async (m) => {
          sent.push(m);
          // Where on its invocation's path each message left: the round trips made before it.
          const here = tableOperations.current();
          if (here) sentAfter.set(`${here.label} ${m.type}`, here.roundTrips);
        },
        ping: async () => undefined,
        close: async () => undefined,
      },
      audit,
      clock: systemClock,
      log: quiet,
    });
    const caller: UserCaller = {
      type: "user",
      tenantId: tenant.tenantId,
      userId: randomUUID(),
      displayName: "Help Desk",
      roles: ["RemoteAssistance.Request"],
      groups: [],
    };
    // One session first, so the per-process one-time work (tenant registration, counter reads,
    // the instance's first read of the quota row) is not in the count.
    const warmUp = await area.requests.request(
      { source: "user", caller, tenantId: caller.tenantId, deviceId: warmUpDevice.id, description: "warm-up" },
      { log: quiet },
    );
    if (!warmUp.ok) throw warmUp.refusal.error;
    const warmUpCreate = sent.find((m) => m.type === "session.create");
    await area.creation.create({ tenantId: tenant.tenantId, sessionId: warmUp.session.id, messageId: warmUpCreate!.id, deliveryCount: 1, log: quiet });
    sent.length = 0;
    tableOperations.reset();

    // Act: the request, then each message it leads to, delivered as the queues would.
    const label = `cost-${randomUUID()}`;
    const requested = await tableOperations.withinInvocation(`${label} request`, () =>
      area.requests.request({ source: "user", caller, tenantId: caller.tenantId, deviceId: device.id, description: "counted" }, { log: quiet }),
    );
    if (!requested.ok) throw requested.refusal.error;
    const { session } = requested;
    const create = sent.find((m) => m.type === "session.create");
    expect(create).toBeDefined();
    await tableOperations.withinInvocation(`${label} create`, () =>
      area.creation.create({ tenantId: tenant.tenantId, sessionId: session.id, messageId: create!.id, deliveryCount: 1, log: quiet }),
    );
    // The first notification went out from session.create itself: no message for it.
    expect(sent.filter((m) => m.type === "notification.send")).toEqual([]);
    expect(pushed).toContain(session.id);
    const counted = tableOperations.snapshot();

    // Assess: the session got there, its outbox rows went with the handlers' own writes.
    const stored = await new TableSessionStore(t).get(tenant.tenantId, session.id);
    expect(stored?.session.status).toBe("awaitingEndUser");
    expect(stored?.session.endUserNotification.status).toBe("sent");
    const outboxRows: string[] = [];
    const filter = odata`PartitionKey eq ${tenant.tenantId} and RowKey ge ${"outbox|"} and RowKey lt ${"outbox|~"}`;
    for await (const e of t.client(tableNames.sessions).listEntities({ queryOptions: { filter } })) outboxRows.push(e.rowKey!);
    expect(outboxRows).not.toContain(`outbox|${create!.id}`);
    expect(outboxRows.filter((r) => r.includes(session.id))).toEqual([]);
    expect(counted.byTableAndKind.get("sessions delete") ?? 0).toBe(0);

    const step = (name: string) => counted.byInvocation.get(`${label} ${name}`)!;
    const [request, created] = [step("request"), step("create")];
    console.log(
      `one session: request ${request.operations} operations / ${request.roundTrips} round trips, ` +
        `session.create ${created.operations} / ${created.roundTrips}; ` +
        `${[...counted.byTableAndKind]
          .sort()
          .map(([k, v]) => `${k}: ${v}`)
          .join(", ")}`,
    );
    // The request: 4 reads at once (permissions, device, connector, settings), the session
    // transaction (taking the free device's lock without reading it), the audit event (2).
    expect(request.operations).toBeLessThanOrEqual(7);
    expect(request.roundTrips).toBeLessThanOrEqual(4);
    // session.create, whose claim the request reserved: read, the quota write (one write on
    // the instance's copy of the row; the tenant's calls-per-minute setting is the request's
    // copy of the settings, kept 2 s), save (with the end user's inbox entry, recording the push as sent,
    // deleting the outbox row), audit (2 events, one batch: 2).
    expect(created.operations).toBeLessThanOrEqual(5);
    expect(request.operations + created.operations).toBeLessThanOrEqual(12);
    // The inbox entry went with the save: no write of its own.
    expect([...counted.byTableAndKind.keys()].filter((k) => k.startsWith("inbox"))).toEqual([]);
    // The path from the POST to awaitingEndUser: the request's round trips before it sent
    // session.create (the reads at once, the session transaction with the reserved claim), then
    // session.create's up to the save that made the session awaitingEndUser (read, quota, save).
    // The audit writes come after both.
    const beforeCreate = sentAfter.get(`${label} request session.create`);
    console.log(`path to awaitingEndUser: ${beforeCreate} round trips in the request + ${beforeAwaiting} in session.create`);
    expect(beforeCreate).toBeLessThanOrEqual(2);
    expect(beforeAwaiting).toBeLessThanOrEqual(3);
    expect(beforeCreate! + beforeAwaiting!).toBeLessThanOrEqual(5);
  }, 120_000);
});
