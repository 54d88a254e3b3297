// The sessions area's use cases, built from its ports in one place so the composition
// root only chooses adapters.
import type { MessageBus } from "../messageBus.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Access } from "../access.js";
import type { SettingsStore } from "../admin/ports.js";
import type { ConnectorGate, DeviceDirectory, FaultPoints, IdempotencyStore, InboxStore, PushGateway, SessionStore, TeamViewerTokens } from "./ports.js";
import { SessionWriter } from "./sessionWriter.js";
import { Idempotency } from "./idempotency.js";
import { SessionRequests } from "./sessionRequests.js";
import { SessionCreation } from "./sessionCreation.js";
import { claimLeaseMs } from "./retryPolicy.js";
import { SessionClosing } from "./sessionClosing.js";
import { NotificationWorker } from "./notificationWorker.js";
import { EndUserRequests } from "./endUserRequests.js";
import { SessionAdministration } from "./sessionAdministration.js";
import { SessionMaintenance } from "./sessionMaintenance.js";
import { SessionExpiry } from "./expiry.js";
import { SessionApprovals } from "./sessionApprovals.js";
import { SessionScopes } from "./deviceScope.js";
import { RemovedDeviceSessions } from "./removedDevices.js";
import type { TeamViewerByTenant } from "../quota/teamViewerQuota.js";
import { ConnectionReports } from "./connectionReports.js";
import type { ConnectionReportCursorStore } from "./connectionPorts.js";

export interface SessionsAreaDeps {
  readonly store: SessionStore;
  readonly inbox: InboxStore;
  readonly idempotency: IdempotencyStore;
  readonly push: PushGateway;
  readonly faults: FaultPoints;
  readonly devices: DeviceDirectory;
  readonly connector: ConnectorGate;
  readonly tokens: TeamViewerTokens;
  readonly teamViewer: TeamViewerByTenant;
  readonly teamViewerTimeoutMs: number;
  /** Least time between two resends of a session's notification (0 = no throttle; the cap stays). */
  readonly resendMinIntervalSeconds: number;
  readonly settings: SettingsStore;
  readonly access: Access;
  readonly bus: MessageBus;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly log: Logger;
  /** Connection reporting: the tenants to read and where each one's reading stands. */
  readonly connectionReports: { readonly onboardedTenants: () => Promise<string[]>; readonly cursors: ConnectionReportCursorStore };
}

export interface SessionsArea {
  readonly requests: SessionRequests;
  /** session.create: the TeamViewer session for a request. */
  readonly creation: SessionCreation;
  /** session.close: the TeamViewer session of a session that ended. */
  readonly closing: SessionClosing;
  readonly notifications: NotificationWorker;
  readonly endUser: EndUserRequests;
  readonly admin: SessionAdministration;
  readonly approvals: SessionApprovals;
  /** Inventory moved a device to other scope tags: its open session follows. */
  readonly scopes: SessionScopes;
  readonly maintenance: SessionMaintenance;
  /** device.removed: the removed device's open session is closed. */
  readonly removedDevices: RemovedDeviceSessions;
  readonly connectionReports: ConnectionReports;
}

export function createSessionsArea(d: SessionsAreaDeps): SessionsArea {
  const writer = new SessionWriter({ store: d.store, bus: d.bus, clock: d.clock });
  // TeamViewer group per tenant: learned by the creation worker, narrows both workers' custom_api lookups.
  const groups = new Map<string, string>();
  const expiry = new SessionExpiry({ writer, audit: d.audit, clock: d.clock });
  return {
    requests: new SessionRequests({
      writer,
      devices: d.devices,
      connector: d.connector,
      settings: d.settings,
      access: d.access,
      idempotency: new Idempotency({ store: d.idempotency, clock: d.clock, log: d.log }),
      audit: d.audit,
      clock: d.clock,
      createLeaseMs: claimLeaseMs(d.teamViewerTimeoutMs),
    }),
    creation: new SessionCreation({
      writer,
      devices: d.devices,
      approvalScopeTags: async (tenantId) => (await d.settings.get(tenantId)).approvalRequiredScopeTags,
      tokens: d.tokens,
      teamViewer: d.teamViewer,
      faults: d.faults,
      audit: d.audit,
      clock: d.clock,
      teamViewerTimeoutMs: d.teamViewerTimeoutMs,
      groups,
      push: d.push,
    }),
    closing: new SessionClosing({ writer, tokens: d.tokens, teamViewer: d.teamViewer, audit: d.audit, clock: d.clock, groups }),
    notifications: new NotificationWorker({ writer, push: d.push, devices: d.devices, audit: d.audit, clock: d.clock }),
    endUser: new EndUserRequests({ writer, inbox: d.inbox, devices: d.devices, expiry, audit: d.audit, clock: d.clock }),
    admin: new SessionAdministration({
      writer,
      access: d.access,
      devices: d.devices,
      expiry,
      audit: d.audit,
      clock: d.clock,
      resendMinIntervalSeconds: d.resendMinIntervalSeconds,
    }),
    approvals: new SessionApprovals({ writer, access: d.access, settings: d.settings, expiry, audit: d.audit, clock: d.clock }),
    scopes: new SessionScopes({ writer, clock: d.clock }),
    maintenance: new SessionMaintenance({
      writer,
      expiry,
      idempotency: d.idempotency,
      tokens: d.tokens,
      teamViewer: d.teamViewer,
      audit: d.audit,
      clock: d.clock,
      log: d.log,
    }),
    removedDevices: new RemovedDeviceSessions({ writer, audit: d.audit, clock: d.clock }),
    connectionReports: new ConnectionReports({
      callsPerMinute: async (tenantId) => (await d.settings.get(tenantId)).teamViewerCallsPerMinute,
      onboardedTenants: d.connectionReports.onboardedTenants,
      cursors: d.connectionReports.cursors,
      writer,
      tokens: d.tokens,
      teamViewer: d.teamViewer,
      audit: d.audit,
      clock: d.clock,
    }),
  };
}
