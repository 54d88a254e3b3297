// The composition root: the one place that chooses adapters for the ports, from config.
import type { TokenCredential } from "@azure/core-auth";
import type { Config } from "./config.js";
import { systemClock, type Clock } from "./app/clock.js";
import type { AuditLog } from "./app/audit/auditLog.js";
import type { RoleAssignmentStore, SettingsStore, UserStore } from "./app/admin/ports.js";
import { JwtAuthenticator, type Authenticator } from "./adapters/auth/jwtAuthenticator.js";
import { azureCredential, localDevelopmentCredential } from "./adapters/keyvault/credentials.js";
import { KeyVaultSecretStore, type SecretStore } from "./adapters/keyvault/secretStore.js";
import { ServiceBusMessageBus } from "./adapters/servicebus/messageBus.js";
import type { MessageBus } from "./app/messageBus.js";
import { createTables, type Tables } from "./adapters/tables/tables.js";
import { TableAuditLog } from "./adapters/tables/tableAuditLog.js";
import { TableRoleAssignmentStore, TableSettingsStore, TableUserStore } from "./adapters/tables/tableAdminStores.js";
import { queueNames } from "./queueDefinitions.js";
import { Access } from "./app/access.js";
import { AdminService } from "./app/admin/adminService.js";
import { AuditDelta } from "./app/audit/auditDelta.js";
import { AuditPush } from "./app/audit/auditPush.js";
import { TableAuditSubscriptionStore } from "./adapters/tables/tableAuditSubscriptionStore.js";
import { HttpAuditReceiverClient } from "./adapters/http/auditReceiverClient.js";
import { TeamViewerClient } from "./adapters/teamviewer/teamViewerClient.js";
import { KeyVaultTokenVault } from "./adapters/keyvault/keyVaultTokenVault.js";
import { TableConnectorStore } from "./adapters/tables/tableConnectorStore.js";
import { TableOAuthStateStore } from "./adapters/tables/tableOAuthStateStore.js";
import { TableLeaseStore } from "./adapters/tables/tableLeaseStore.js";
import type { ConnectorStore, OpenSessionsCloser } from "./app/connector/ports.js";
import { TokenProvider } from "./app/connector/tokenProvider.js";
import { ConnectorService } from "./app/connector/connectorService.js";
import { ConnectorWorker } from "./app/connector/connectorWorker.js";
import { ConnectorHealthCheck } from "./app/connector/connectorHealth.js";
import { consoleSink, createLogger } from "./app/logging.js";
import type { DeviceStore } from "./app/devices/ports.js";
import { DeviceService } from "./app/devices/deviceService.js";
import { DeviceReindex } from "./app/devices/deviceReindex.js";
import { TableReindexJobStore } from "./adapters/tables/tableReindexJobStore.js";
import { TableDeviceStore } from "./adapters/tables/tableDeviceStore.js";
import { createSessionsArea, type SessionsArea } from "./app/sessions/sessionsArea.js";
import type { FaultPoints, PushGateway } from "./app/sessions/ports.js";
import { TableSessionStore } from "./adapters/tables/tableSessionStore.js";
import { TableConnectionReportCursorStore } from "./adapters/tables/tableConnectionReportCursorStore.js";
import { TableInboxStore } from "./adapters/tables/tableInboxStore.js";
import { TableIdempotencyStore } from "./adapters/tables/tableIdempotencyStore.js";
import { LocalPushGateway } from "./adapters/push/localPushGateway.js";
import { NotificationHubsPushGateway } from "./adapters/push/notificationHubsPushGateway.js";
import { FileFaultPoints, noFaultPoints } from "./adapters/faults/fileFaultPoints.js";
import { RateLimiter } from "./app/rateLimiter.js";
import { HealthProbe } from "./app/healthProbe.js";
import { TableQuotaLimiter } from "./adapters/tables/tableQuotaLimiter.js";
import { TeamViewerQuota } from "./app/quota/teamViewerQuota.js";
import { startTraceExport, type TraceExport } from "./adapters/telemetry/traceExport.js";
import { ShortCache } from "./app/shortCache.js";
import { CachedSettingsStore } from "./app/admin/cachedSettingsStore.js";
import { CachedConnectorStore } from "./app/connector/cachedConnectorStore.js";

/**
 * How long an instance keeps a tenant's settings and connector status, read by every
 * session request. A change through another instance applies here at most this late.
 */
export const tenantStateCacheMs = 2_000;

/**
 * How long a disconnect waits before closing the requests admitted after its first close:
 * other instances keep the connector as onboarded for up to `tenantStateCacheMs`, and a
 * request they admitted then still has its way to storage to go.
 */
const disconnectSettleMs = tenantStateCacheMs + 3_000;

export interface Services {
  readonly config: Config;
  readonly clock: Clock;
  readonly tables: Tables;
  readonly bus: MessageBus;
  readonly secrets: SecretStore;
  readonly authenticator: Authenticator;
  readonly audit: AuditLog;
  readonly settings: SettingsStore;
  readonly roleAssignments: RoleAssignmentStore;
  readonly users: UserStore;
  readonly access: Access;
  readonly admin: AdminService;
  readonly auditDelta: AuditDelta;
  readonly auditPush: AuditPush;
  readonly teamViewer: TeamViewerClient;
  /** The TeamViewer Web API per tenant, every call counted against the tenant's quota. */
  readonly teamViewerQuota: TeamViewerQuota;
  readonly connectors: ConnectorStore;
  /** The one way to a tenant's TeamViewer access token: `withAccessToken(tenantId, fn)`. */
  readonly teamViewerTokens: TokenProvider;
  readonly openSessions: OpenSessionsCloser;
  readonly connector: ConnectorService;
  readonly connectorWorker: ConnectorWorker;
  readonly connectorHealth: ConnectorHealthCheck;
  readonly deviceStore: DeviceStore;
  readonly devices: DeviceService;
  /** The job that rewrites device index rows stored under an older index version. */
  readonly deviceReindex: DeviceReindex;
  readonly sessions: SessionsArea;
  /** Per-instance request limits: per caller (tenant + object id) and per client address. */
  readonly rateLimits: { readonly callers: RateLimiter; readonly addresses: RateLimiter };
  /** GET /api/health's view of the dependencies, probed at most every 10 s. */
  readonly health: HealthProbe;
}

export function buildServices(config: Config): Services {
  const clock = systemClock;
  // Locally the emulators accept any bearer token; in Azure every SDK uses managed identity.
  const credential: TokenCredential = config.keyVault.allowInsecure ? localDevelopmentCredential : azureCredential(config.azureClientId);
  const tables = createTables(config.tables, credential);
  const bus = new ServiceBusMessageBus(config.serviceBus, credential, queueNames.connectorCommands);
  const secrets = new KeyVaultSecretStore(config.keyVault.uri, credential, { allowInsecure: config.keyVault.allowInsecure });
  // Read by every session request: kept per instance for a moment (shortCache.ts, docs/cost.md).
  const settings = new CachedSettingsStore(new TableSettingsStore(tables), new ShortCache({ ttlMs: tenantStateCacheMs, now: () => clock.now().getTime() }));
  const roleAssignments = new TableRoleAssignmentStore(tables);
  const users = new TableUserStore(tables);
  const access = new Access(roleAssignments, users);
  // The audit log fans new events out to push subscriptions; the push service records its own changes in the log.
  // (The callback runs only once recording starts, after both exist.)
  const audit: TableAuditLog = new TableAuditLog(tables, clock, (recorded): Promise<void> => auditPush.afterRecorded(recorded.tenantId));
  const auditPush: AuditPush = new AuditPush({
    access,
    store: new TableAuditSubscriptionStore(tables),
    stream: audit,
    audit: () => audit,
    secrets,
    bus,
    receiver: new HttpAuditReceiverClient({ allowNonPublic: config.local.allowInsecureLinks }),
    clock,
    policy: config.auditExport,
    allowInsecureLoopback: config.local.allowInsecureLinks,
    log: createLogger(consoleSink, { component: "auditPush" }),
  });
  const teamViewer = new TeamViewerClient({
    apiBaseUrl: config.teamViewer.apiBaseUrl,
    loginBaseUrl: config.teamViewer.loginBaseUrl,
    clientId: config.teamViewer.clientId,
    clientSecret: teamViewerClientSecret(config, secrets, () => clock.now().getTime()),
    redirectUri: config.teamViewer.redirectUri,
    timeoutMs: config.teamViewer.timeoutMs,
    clock,
    // The local fake's links are http://127.0.0.1; in Azure every link must be https.
    allowInsecureLinks: config.local.allowInsecureLinks,
  });
  const teamViewerQuota = new TeamViewerQuota({
    teamViewer,
    limiter: new TableQuotaLimiter(tables, clock),
    callsPerMinute: async (tenantId) => (await settings.get(tenantId)).teamViewerCallsPerMinute,
    clock,
  });
  const connectors = new CachedConnectorStore(new TableConnectorStore(tables), new ShortCache({ ttlMs: tenantStateCacheMs, now: () => clock.now().getTime() }));
  const oauthStates = new TableOAuthStateStore(tables);
  const tokenVault = new KeyVaultTokenVault(secrets);
  const leases = new TableLeaseStore(tables, clock);
  const teamViewerTokens = new TokenProvider({
    vault: tokenVault,
    leases,
    connectors,
    teamViewer,
    audit,
    clock,
    log: createLogger(consoleSink, { component: "teamViewerTokens" }),
  });
  const deviceStore = new TableDeviceStore(tables);
  const push: PushGateway =
    config.push.kind === "notificationHubs"
      ? new NotificationHubsPushGateway({ hubName: config.push.hubName, connectionSecretName: config.push.connectionSecretName, secrets })
      : config.push.kind === "none"
        ? { push: async () => undefined } // no push service: end users see requests in the Company Portal inbox
        : new LocalPushGateway({ file: config.local.pushFile, now: () => clock.now() });
  const faults: FaultPoints = config.local.faultsFile ? new FileFaultPoints(config.local.faultsFile) : noFaultPoints;
  const sessions = createSessionsArea({
    store: new TableSessionStore(tables),
    inbox: new TableInboxStore(tables),
    idempotency: new TableIdempotencyStore(tables),
    push,
    faults,
    devices: {
      get: async (tenantId, deviceId) => {
        const record = await deviceStore.get(tenantId, deviceId);
        return record?.kind === "device" ? record.device : undefined;
      },
    },
    connector: { isOnboarded: (tenantId) => connectors.isOnboarded(tenantId) },
    tokens: teamViewerTokens,
    teamViewer: teamViewerQuota,
    teamViewerTimeoutMs: config.teamViewer.timeoutMs,
    resendMinIntervalSeconds: config.limits.resendMinIntervalSeconds,
    settings,
    access,
    bus,
    audit,
    clock,
    log: createLogger(consoleSink, { component: "sessions" }),
    connectionReports: { onboardedTenants: () => connectors.listOnboarded(), cursors: new TableConnectionReportCursorStore(tables) },
  });
  const openSessions: OpenSessionsCloser = sessions.maintenance;
  return {
    config,
    clock,
    tables,
    bus,
    secrets,
    authenticator: new JwtAuthenticator(config.auth),
    audit,
    settings,
    roleAssignments,
    users,
    access,
    admin: new AdminService({ access, assignments: roleAssignments, settings, users, audit, clock }),
    auditDelta: new AuditDelta({ access, stream: audit }),
    auditPush,
    teamViewer,
    teamViewerQuota,
    connectors,
    teamViewerTokens,
    openSessions,
    connector: new ConnectorService({
      access,
      users,
      settings,
      connectors,
      states: oauthStates,
      teamViewer,
      bus,
      audit,
      clock,
      portalUrl: config.portalUrl,
    }),
    connectorWorker: new ConnectorWorker({
      connectors,
      states: oauthStates,
      vault: tokenVault,
      tokens: teamViewerTokens,
      teamViewer,
      webApi: teamViewerQuota,
      openSessions,
      bus,
      audit,
      clock,
      settleMs: disconnectSettleMs,
    }),
    connectorHealth: new ConnectorHealthCheck({
      access,
      connectors,
      tokens: teamViewerTokens,
      teamViewer: teamViewerQuota,
      audit,
      clock,
      verifyInterval: { leases, ms: config.limits.verifyMinIntervalSeconds * 1000 },
    }),
    deviceStore,
    devices: new DeviceService({
      store: deviceStore,
      users,
      access,
      settings,
      audit,
      sessions: {
        followScopeTags: (device, ctx) => sessions.scopes.followScopeTags(device, ctx),
        closeOpen: (tenantId, deviceId, ctx) => sessions.removedDevices.closeOpen(tenantId, deviceId, ctx),
      },
    }),
    deviceReindex: new DeviceReindex({ store: deviceStore, jobs: new TableReindexJobStore(tables), bus, audit, clock }),
    sessions,
    rateLimits: {
      callers: new RateLimiter({ perMinute: config.limits.callerPerMinute, burst: config.limits.callerBurst }, clock),
      addresses: new RateLimiter({ perMinute: config.limits.anonymousPerMinute, burst: config.limits.anonymousPerMinute }, clock),
    },
    health: new HealthProbe({ tables: () => tables.ping(), serviceBus: () => bus.ping(), keyVault: () => secrets.ping() }, clock),
  };
}

/**
 * Starts recording spans, once per process: to Application Insights when its connection
 * string is set (with the managed identity in Azure, where ingestion takes only Entra
 * tokens), else to the local stack's trace file, else nowhere.
 */
export function startTracing(config: Config): Promise<TraceExport> {
  const connectionString = config.applicationInsightsConnectionString;
  return startTraceExport({
    ...(connectionString
      ? { applicationInsights: { connectionString, ...(config.keyVault.allowInsecure ? {} : { credential: azureCredential(config.azureClientId) }) } }
      : {}),
    ...(config.local.tracesFile ? { file: config.local.tracesFile } : {}),
  });
}

/** How long an instance keeps the OAuth client secret read from Key Vault (a rotated version applies this late). */
export const clientSecretCacheMs = 60_000;

/**
 * The OAuth client secret: from config locally; in Azure read from Key Vault and kept a
 * minute (concurrent callers share one read; a failed read is not kept), so a version
 * written to rotate it is used within a minute, without a restart (docs/operations.md).
 */
export function teamViewerClientSecret(config: Config, secrets: SecretStore, now: () => number = Date.now): () => Promise<string> {
  const configured = config.teamViewer.clientSecret;
  if (configured !== undefined) return () => Promise.resolve(configured);
  const name = config.teamViewer.clientSecretName;
  const cache = new ShortCache<string>({ ttlMs: clientSecretCacheMs, now, maxEntries: 1 });
  return () =>
    cache.get(name, async () => {
      const value = await secrets.get(name);
      if (value === undefined) throw new Error(`Key Vault has no secret ${name} (the TeamViewer OAuth client secret)`);
      return value;
    });
}
