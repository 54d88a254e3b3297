// Requesting a session: one set of checks — permission and scope, connector onboarded,
// eligibility — for an admin (HTTP), a tenant's app (the automation door) and a trusted
// producer's remoteAssistance.requested (a queue event); then the session row and its
// session.create message in one transaction. An HTTP caller's refusal is an error answer
// (and an audited failure). On the queue nobody is there to answer: a device that is
// missing, not eligible or a connector not onboarded becomes a failed session, and a
// device outside the named principal's scope an audited refusal with no session, so
// nothing an automation asks for is dropped without a trace.
import { ulid } from "ulid";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Access } from "../access.js";
import type { SettingsStore } from "../admin/ports.js";
import { actorOf, type Actor, type AutomationCaller, type UserCaller } from "../../domain/caller.js";
import { complianceWarningOf, platformOf, type Device } from "../../domain/device.js";
import { conflict, DomainError, errorCodes, forbidden, notFound } from "../../domain/errors.js";
import { eligibilityReasonText, evaluateEligibility, type Eligibility } from "../../domain/eligibility.js";
import { inScope, type Scope } from "../../domain/permissions.js";
import type { TenantSettings } from "../../domain/tenantSettings.js";
import {
  appendHistory,
  applyEvent,
  initialWorkerState,
  sessionFailureCodes,
  type Session,
  type SessionDevice,
  type SessionFailure,
} from "../../domain/session.js";
import { messageTypes } from "../../contracts/messages.js";
import type { SessionRequestBody } from "../../contracts/sessions.js";
import type { ConnectorGate, DeviceDirectory } from "./ports.js";
import { Idempotency } from "./idempotency.js";
import { outboxEntry, sessionMessageIds } from "./sessionMessages.js";
import type { SessionWriter } from "./sessionWriter.js";

export interface SessionRequestsDeps {
  readonly writer: SessionWriter;
  readonly devices: DeviceDirectory;
  readonly connector: ConnectorGate;
  readonly settings: SettingsStore;
  readonly access: Access;
  readonly idempotency: Idempotency;
  readonly audit: AuditLog;
  readonly clock: Clock;
}

export interface RequestContext {
  readonly correlationId?: string;
  readonly log: Logger;
}

/** What an automation asks for, through the door or the queue. */
export interface AutomationRequest {
  readonly tenantId: string;
  /** The envelope id: the same id twice is one request and one session, whichever way it came. */
  readonly requestId: string;
  readonly requestedBy: { readonly id: string; readonly displayName: string };
  readonly deviceId: string;
  readonly description?: string;
  readonly ticketId?: string;
  readonly acknowledgeWarnings?: readonly string[];
}

/** What every request says besides the device, whoever asks. */
interface Ask {
  readonly ticketId?: string;
  readonly acknowledgeWarnings?: readonly string[];
}

export const connectorNotOnboardedDetail =
  "The TeamViewer connector is not onboarded for this tenant. An admin with Update Remote Assistance must connect it first.";

interface Requester {
  readonly id: string;
  readonly displayName: string;
  readonly type: "user" | "automation";
}

/** Where the requester may request and read; a user's Permissions or an automation's scope. */
interface RequesterScope {
  readonly request?: Scope;
  readonly read?: Scope;
}

type Checked =
  /** `acknowledged`: the warnings the request acknowledged that applied (recorded on the session). */
  | { readonly ok: true; readonly device: Device; readonly eligibility: Eligibility; readonly acknowledged: readonly string[] }
  /** `failure`: what a queue request records as a failed session; absent = refused without one. */
  | { readonly ok: false; readonly error: DomainError; readonly failure?: SessionFailure };

/** The checks every request passes, in this order, whoever asks. */
function check(
  who: "user" | "app",
  scope: RequesterScope,
  device: Device | undefined,
  onboarded: boolean,
  settings: TenantSettings,
  ask: Ask,
): Checked {
  if (!scope.request) {
    return {
      ok: false,
      error: forbidden(
        who === "user"
          ? "Requesting remote assistance needs the Request Remote Assistance permission."
          : "This app's role assignments give it no Request Remote Assistance permission.",
      ),
    };
  }
  if (!device) {
    return {
      ok: false,
      error: notFound("The device"),
      failure: { code: sessionFailureCodes.deviceNotFound, message: "No device with this id is known to the service (it may not have been synced yet)." },
    };
  }
  // A device outside what the requester may read is as good as absent (no existence leak);
  // one it may read but not request for is a plain "no".
  if (!inScope(scope.read, device.roleScopeTagIds)) return { ok: false, error: notFound("The device") };
  if (!inScope(scope.request, device.roleScopeTagIds)) {
    return {
      ok: false,
      error: forbidden(
        `This device is outside the scope of ${who === "user" ? "your" : "this app's"} Request Remote Assistance permission (its scope tags are not among those of ${who === "user" ? "your" : "its"} role assignments).`,
      ),
    };
  }
  if (settings.requireTicketId && !ask.ticketId) {
    const detail = "This tenant requires a ticket id with every remote assistance request: name the help-desk ticket in ticketId.";
    return {
      ok: false,
      error: new DomainError(errorCodes.validationFailed, detail, { errors: [{ path: who === "user" ? "body.ticketId" : "body.data.ticketId", message: "required by this tenant" }] }),
      failure: { code: sessionFailureCodes.ticketIdRequired, message: detail },
    };
  }
  if (!onboarded) {
    return {
      ok: false,
      error: new DomainError(errorCodes.connectorNotOnboarded, connectorNotOnboardedDetail),
      failure: { code: sessionFailureCodes.connectorNotOnboarded, message: connectorNotOnboardedDetail },
    };
  }
  const eligibility = evaluateEligibility(device, settings);
  if (!eligibility.eligible) {
    return {
      ok: false,
      error: new DomainError(errorCodes.deviceNotEligible, eligibilityReasonText[eligibility.reason], { extensions: { reason: eligibility.reason } }),
      failure: { code: sessionFailureCodes.deviceNotEligible, message: `${eligibility.reason}: ${eligibilityReasonText[eligibility.reason]}` },
    };
  }
  const warning = complianceWarningOf(device);
  if (warning && !(ask.acknowledgeWarnings ?? []).includes(warning)) {
    const detail = `Intune reports this device as not compliant (complianceState ${device.complianceState}). Send acknowledgeWarnings: ["${warning}"] to connect anyway.`;
    return {
      ok: false,
      error: new DomainError(errorCodes.acknowledgementRequired, detail, { extensions: { warnings: [warning] } }),
      failure: { code: sessionFailureCodes.acknowledgementRequired, message: detail },
    };
  }
  return { ok: true, device, eligibility, acknowledged: warning ? [warning] : [] };
}

/** The answer to a request for a device that already has an open session. */
export function deviceBusy(existingSessionId: string): DomainError {
  return new DomainError(errorCodes.conflict, "This device already has an open remote assistance session. Use it, or close it before requesting another.", {
    extensions: { existingSessionId },
  });
}

export class SessionRequests {
  readonly #d: SessionRequestsDeps;

  constructor(deps: SessionRequestsDeps) {
    this.#d = deps;
  }

  /**
   * An admin's request (POST /devices/{id}/remoteAssistanceSessions). With an
   * Idempotency-Key, a repeat of the same request answers the session the first created.
   */
  async requestByUser(
    caller: UserCaller,
    deviceId: string,
    body: SessionRequestBody,
    idempotencyKey: string | undefined,
    ctx: RequestContext,
  ): Promise<{ session: Session; replayed: boolean }> {
    if (idempotencyKey === undefined) return { session: await this.#requestAsUser(caller, deviceId, body, ctx), replayed: false };
    let created: Session | undefined;
    const outcome = await this.#d.idempotency.run(caller.tenantId, caller.userId, idempotencyKey, { deviceId, description: body.description ?? null, ticketId: body.ticketId ?? null, acknowledgeWarnings: [...(body.acknowledgeWarnings ?? [])].sort() }, async () => {
      created = await this.#requestAsUser(caller, deviceId, body, ctx);
      return created.id;
    });
    if (outcome.kind === "fresh" && created) return { session: created, replayed: false };
    const [stored, permissions, device] = await Promise.all([
      this.#d.writer.store.get(caller.tenantId, outcome.sessionId),
      this.#d.access.permissionsOf(caller),
      this.#d.devices.get(caller.tenantId, deviceId),
    ]);
    // A replay is judged like a new request: a permission or scope removed since the
    // first answer is a refusal, not the stored answer.
    const scopeTags = device?.roleScopeTagIds ?? stored?.session.device.scopeTags ?? [];
    if (!inScope(permissions.request, scopeTags)) {
      throw forbidden("Requesting remote assistance for this device needs the Request Remote Assistance permission in its scope.");
    }
    if (!stored) throw notFound("The session this Idempotency-Key produced");
    return { session: stored.session, replayed: true };
  }

  /**
   * A tenant's app at the automation door (POST /automation/events). The tenant and the
   * requester come from its token; the checks are a user's, and a refusal is the answer.
   */
  async requestByApp(caller: AutomationCaller, request: Omit<AutomationRequest, "tenantId" | "requestedBy">, ctx: RequestContext): Promise<{ session: Session; replayed: boolean }> {
    const r: AutomationRequest = { ...request, tenantId: caller.tenantId, requestedBy: { id: caller.userId, displayName: caller.displayName } };
    const actor = actorOf(caller);
    const gathered = await this.#gather(r);
    const checked = check("app", gathered.scope, gathered.device, gathered.onboarded, gathered.settings, r);
    if (!checked.ok) {
      await this.#auditRefusal(r.tenantId, actor, r.deviceId, checked.error, ctx);
      throw checked.error;
    }
    const session = this.#newSession(r, checked, gathered.settings);
    const result = await this.#d.writer.create(session, createMessages(session, ctx.correlationId), ctx.log, dedupeKey(r));
    if (!result.created && result.reason === "deviceBusy") {
      const error = deviceBusy(result.existingSessionId);
      await this.#auditRefusal(r.tenantId, actor, r.deviceId, error, ctx);
      throw error;
    }
    if (!result.created) {
      const existing = await this.#d.writer.store.get(r.tenantId, result.existingSessionId);
      if (!existing) throw new Error("an automation request's session vanished");
      if (existing.session.deviceId !== r.deviceId || existing.session.requestedBy.id !== r.requestedBy.id) {
        throw conflict("This event id was already used for another request; send a new id for a new request.");
      }
      return { session: existing.session, replayed: true };
    }
    await this.#auditCreated(session, actor, `requested for device ${checked.device.deviceName} (${r.deviceId}) by automation (app ${caller.clientId})`, ctx);
    return { session, replayed: false };
  }

  /**
   * A trusted producer's remoteAssistance.requested. Redelivery of the same message yields
   * the same session; undefined when the principal it names may not request for the device.
   */
  async requestByAutomation(request: AutomationRequest, ctx: RequestContext): Promise<Session | undefined> {
    const r: AutomationRequest = { ...request, requestedBy: { ...request.requestedBy, id: request.requestedBy.id.toLowerCase() }, deviceId: request.deviceId.toLowerCase() };
    const actor: Actor = { id: r.requestedBy.id, displayName: r.requestedBy.displayName, type: "automation" };
    const gathered = await this.#gather(r);
    const checked = check("app", gathered.scope, gathered.device, gathered.onboarded, gathered.settings, r);
    if (!checked.ok && !checked.failure) {
      ctx.log.warn("remoteAssistance.requested refused: the principal it names may not request for this device", { deviceId: r.deviceId, code: checked.error.code });
      await this.#auditRefusal(r.tenantId, actor, r.deviceId, checked.error, ctx);
      return undefined;
    }
    let session = this.#newSession(r, checked.ok ? checked : { device: gathered.device, eligibility: undefined, acknowledged: [] }, gathered.settings);
    const outbox = [];
    if (!checked.ok) {
      session = { ...applyEvent(session, "fail", new Date(session.requestedAt), checked.failure!.message), failure: checked.failure! };
    } else {
      outbox.push(...createMessages(session, ctx.correlationId));
    }
    let result = await this.#d.writer.create(session, outbox, ctx.log, dedupeKey(r));
    if (!result.created && result.reason === "deviceBusy") {
      // Nobody is there to answer: the refusal becomes a failed session (holding no lock), so it is seen.
      const error = deviceBusy(result.existingSessionId);
      const failure = { code: sessionFailureCodes.deviceHasOpenSession, message: `${error.detail} (session ${result.existingSessionId})` };
      session = { ...applyEvent(session, "fail", new Date(session.requestedAt), failure.message), failure };
      result = await this.#d.writer.create(session, [], ctx.log, dedupeKey(r));
      if (result.created) {
        await this.#auditRefusal(r.tenantId, actor, r.deviceId, error, ctx);
        return session;
      }
    }
    if (!result.created) {
      const existing = await this.#d.writer.store.get(r.tenantId, result.existingSessionId);
      if (!existing) throw new Error("an automation request's session vanished");
      ctx.log.info("remoteAssistance.requested was delivered again; the session exists", { sessionId: existing.session.id });
      return existing.session;
    }
    if (checked.ok) {
      await this.#auditCreated(session, actor, `requested for device ${r.deviceId} by automation`, ctx);
    } else {
      await this.#d.audit.record({
        tenantId: r.tenantId,
        actor,
        activity: "session.requested",
        target: { type: "session", id: session.id },
        result: "failure",
        detail: `refused for device ${r.deviceId}: ${checked.failure!.code}: ${checked.failure!.message}`,
        correlationId: ctx.correlationId,
      });
    }
    return session;
  }

  async #gather(r: AutomationRequest) {
    const [scope, device, onboarded, settings] = await Promise.all([
      this.#d.access.automationScopeOf(r.tenantId, r.requestedBy.id),
      this.#d.devices.get(r.tenantId, r.deviceId),
      this.#d.connector.isOnboarded(r.tenantId),
      this.#d.settings.get(r.tenantId),
    ]);
    return { scope, device, onboarded, settings };
  }

  #newSession(
    r: AutomationRequest,
    checked: { device: Device | undefined; eligibility: Eligibility | undefined; acknowledged: readonly string[] },
    settings: TenantSettings,
  ): Session {
    const now = this.#d.clock.now();
    return buildSession({
      tenantId: r.tenantId,
      id: ulid(now.getTime()),
      deviceId: r.deviceId,
      device: checked.device,
      eligibility: checked.eligibility,
      requestedBy: { id: r.requestedBy.id, displayName: r.requestedBy.displayName, type: "automation" },
      description: r.description?.trim() || null,
      ticketId: r.ticketId ?? null,
      acknowledgedWarnings: checked.acknowledged,
      now,
      timeoutMinutes: settings.sessionTimeoutMinutes,
      approval: { scopeTags: settings.approvalRequiredScopeTags, timeoutMinutes: settings.approvalTimeoutMinutes },
    });
  }

  async #auditRefusal(tenantId: string, actor: Actor, deviceId: string, error: DomainError, ctx: RequestContext): Promise<void> {
    await this.#d.audit.record({
      tenantId,
      actor,
      activity: "session.requested",
      target: { type: "device", id: deviceId },
      result: "failure",
      detail: `${error.code}: ${error.detail}`,
      correlationId: ctx.correlationId,
    });
  }

  async #auditCreated(session: Session, actor: Actor, detail: string, ctx: RequestContext): Promise<void> {
    await this.#d.audit.record({
      tenantId: session.tenantId,
      actor,
      activity: "session.requested",
      target: { type: "session", id: session.id },
      result: "success",
      detail: [
        detail,
        ...(session.ticketId ? [`ticket ${session.ticketId}`] : []),
        ...(session.warnings.length > 0 ? [`warnings: ${session.warnings.join(" ")}`] : []),
        ...((session.acknowledgedWarnings ?? []).length > 0 ? [`acknowledged: ${(session.acknowledgedWarnings ?? []).join(" ")}`] : []),
      ].join("; "),
      correlationId: ctx.correlationId,
    });
  }

  async #requestAsUser(caller: UserCaller, deviceId: string, body: SessionRequestBody, ctx: RequestContext): Promise<Session> {
    const tenantId = caller.tenantId;
    // Four independent reads at once; the checks still decide in their order.
    const [permissions, device, onboarded, settings] = await Promise.all([
      this.#d.access.permissionsOf(caller),
      this.#d.devices.get(tenantId, deviceId),
      this.#d.connector.isOnboarded(tenantId),
      this.#d.settings.get(tenantId),
    ]);
    const checked = check("user", permissions, device, onboarded, settings, body);
    if (!checked.ok) {
      await this.#auditRefusal(tenantId, actorOf(caller), deviceId, checked.error, ctx);
      throw checked.error;
    }
    const now = this.#d.clock.now();
    const session = buildSession({
      tenantId,
      id: ulid(now.getTime()),
      deviceId,
      device: checked.device,
      eligibility: checked.eligibility,
      requestedBy: { id: caller.userId, displayName: caller.displayName, type: "user" },
      description: body.description?.trim() || null,
      ticketId: body.ticketId ?? null,
      acknowledgedWarnings: checked.acknowledged,
      now,
      timeoutMinutes: settings.sessionTimeoutMinutes,
      approval: { scopeTags: settings.approvalRequiredScopeTags, timeoutMinutes: settings.approvalTimeoutMinutes },
    });
    const result = await this.#d.writer.create(session, createMessages(session, ctx.correlationId), ctx.log);
    if (!result.created) {
      const error = deviceBusy(result.existingSessionId);
      await this.#auditRefusal(tenantId, actorOf(caller), deviceId, error, ctx);
      throw error;
    }
    await this.#auditCreated(session, actorOf(caller), `requested for device ${checked.device.deviceName} (${deviceId})`, ctx);
    return session;
  }
}

/** The same envelope id twice is one session, whether it came through the door or the queue. */
const dedupeKey = (r: AutomationRequest): string => `msg-${r.requestId}`;

/** What a new session sends: session.create, unless it waits for approval (then nothing, yet). */
const createMessages = (session: Session, correlationId: string | undefined) =>
  session.status === "requested" ? [createMessage(session, session.requestedAt, correlationId)] : [];

export function createMessage(session: Session, requestedAt: string, correlationId: string | undefined) {
  return outboxEntry(messageTypes.sessionCreate, session.tenantId, { sessionId: session.id }, {
    id: sessionMessageIds.create(session.id),
    now: new Date(requestedAt),
    correlationId,
  });
}

const unknownDevice: SessionDevice = {
  deviceName: "(unknown device)",
  operatingSystem: "",
  osVersion: "",
  platform: "unknown",
  userDisplayName: null,
  userPrincipalName: null,
  scopeTags: [],
};

/** Whether a device with these scope tags needs a second person's approval. */
export const needsApprovalFor = (deviceTags: readonly string[], approvalTags: readonly string[]): boolean => deviceTags.some((t) => approvalTags.includes(t));

/** A new session in `requested` (or `pendingApproval` when its device needs approval), from the device as it is now. */
export function buildSession(args: {
  readonly tenantId: string;
  readonly id: string;
  readonly deviceId: string;
  readonly device: Device | undefined;
  readonly eligibility: Eligibility | undefined;
  readonly requestedBy: Requester;
  readonly description: string | null;
  readonly ticketId?: string | null;
  readonly acknowledgedWarnings?: readonly string[];
  readonly now: Date;
  readonly timeoutMinutes: number;
  /** The tenant's approval rule: devices with one of these tags wait this long for a decision. */
  readonly approval?: { readonly scopeTags: readonly string[]; readonly timeoutMinutes: number };
}): Session {
  const { device, eligibility, now, approval } = args;
  const needsApproval = device !== undefined && approval !== undefined && needsApprovalFor(device.roleScopeTagIds, approval.scopeTags);
  const channel = eligibility?.notificationChannel ?? "none";
  const notifiable = channel === "companyPortal" && device !== undefined && typeof device.userId === "string" && device.userId !== "";
  const at = now.toISOString();
  return {
    tenantId: args.tenantId,
    id: args.id,
    deviceId: args.deviceId,
    device: device
      ? {
          deviceName: device.deviceName,
          operatingSystem: device.operatingSystem,
          osVersion: device.osVersion,
          platform: platformOf(device),
          userDisplayName: device.userDisplayName ?? null,
          userPrincipalName: device.userPrincipalName ?? null,
          scopeTags: [...device.roleScopeTagIds],
        }
      : unknownDevice,
    endUser: notifiable ? { id: device.userId as string, displayName: device.userDisplayName ?? null, email: device.emailAddress ?? null } : null,
    requestedBy: args.requestedBy,
    requestedAt: at,
    description: args.description,
    ticketId: args.ticketId ?? null,
    acknowledgedWarnings: [...(args.acknowledgedWarnings ?? [])],
    status: needsApproval ? "pendingApproval" : "requested",
    history: appendHistory([], {
      status: needsApproval ? "pendingApproval" : "requested",
      at,
      detail: needsApproval ? `Requested by ${args.requestedBy.displayName}; waiting for approval.` : `Requested by ${args.requestedBy.displayName}.`,
    }),
    // Waiting for approval has its own deadline; the end user's starts when it is approved.
    expiresAt: new Date(now.getTime() + (needsApproval ? approval.timeoutMinutes : args.timeoutMinutes) * 60_000).toISOString(),
    approval: { required: needsApproval, decision: null },
    teamViewer: null,
    endUserLink: null,
    endUserNotification: { channel: notifiable ? "companyPortal" : "none", status: notifiable ? "pending" : "notSupported", dispatches: 0 },
    endUserResponse: null,
    closedAt: null,
    closedBy: null,
    closeReason: null,
    failure: null,
    warnings: eligibility ? [...eligibility.warnings] : [],
    waitingForTeamViewerQuotaUntil: null,
    worker: initialWorkerState,
  };
}
