// Requesting a session: the same checks for an admin (HTTP) and for automation (a queue
// event) — scope, connector onboarded, eligibility — then the session row and its
// session.create message in one transaction. An admin's refusal is an error answer; an
// automation's refusal becomes a failed session, so nothing an automation asks for is
// ever dropped without a trace.
import { ulid } from "ulid";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Access } from "../access.js";
import type { SettingsStore } from "../admin/ports.js";
import { actorOf, type Actor, type UserCaller } from "../../domain/caller.js";
import { platformOf, type Device } from "../../domain/device.js";
import { DomainError, errorCodes, forbidden, notFound } from "../../domain/errors.js";
import { eligibilityReasonText, evaluateEligibility, type Eligibility } from "../../domain/eligibility.js";
import { inScope } from "../../domain/permissions.js";
import {
  applyEvent,
  initialWorkerState,
  sessionFailureCodes,
  type Session,
  type SessionDevice,
  type SessionFailure,
} from "../../domain/session.js";
import { messageTypes, type RemoteAssistanceRequestedData } from "../../contracts/messages.js";
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

export const connectorNotOnboardedDetail =
  "The TeamViewer connector is not onboarded for this tenant. An admin with Update Remote Assistance must connect it first.";

interface Requester {
  readonly id: string;
  readonly displayName: string;
  readonly type: "user" | "automation";
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
    const outcome = await this.#d.idempotency.run(caller.tenantId, caller.userId, idempotencyKey, { deviceId, description: body.description ?? null }, async () => {
      created = await this.#requestAsUser(caller, deviceId, body, ctx);
      return created.id;
    });
    if (outcome.kind === "fresh" && created) return { session: created, replayed: false };
    const stored = await this.#d.writer.store.get(caller.tenantId, outcome.sessionId);
    if (!stored) throw notFound("The session this Idempotency-Key produced");
    return { session: stored.session, replayed: true };
  }

  /** An automation's request (remoteAssistance.requested). Redelivery of the same message yields the same session. */
  async requestByAutomation(
    message: { readonly tenantId: string; readonly messageId: string; readonly data: RemoteAssistanceRequestedData },
    ctx: RequestContext,
  ): Promise<Session> {
    const { tenantId, data } = message;
    const requester: Requester = { id: data.requestedBy.id.toLowerCase(), displayName: data.requestedBy.displayName, type: "automation" };
    const actor: Actor = { id: requester.id, displayName: requester.displayName, type: "automation" };
    const deviceId = data.deviceId.toLowerCase();
    const now = this.#d.clock.now();
    const description = data.description?.trim() || null;

    const [device, onboarded, settings] = await Promise.all([
      this.#d.devices.get(tenantId, deviceId),
      this.#d.connector.isOnboarded(tenantId),
      this.#d.settings.get(tenantId),
    ]);
    let refusal: SessionFailure | undefined;
    let eligibility: Eligibility | undefined;
    if (!device) {
      refusal = { code: sessionFailureCodes.deviceNotFound, message: "No device with this id is known to the service (it may not have been synced yet)." };
    } else if (!onboarded) {
      refusal = { code: sessionFailureCodes.connectorNotOnboarded, message: connectorNotOnboardedDetail };
    } else {
      eligibility = evaluateEligibility(device, settings);
      if (!eligibility.eligible) {
        refusal = { code: sessionFailureCodes.deviceNotEligible, message: `${eligibility.reason}: ${eligibilityReasonText[eligibility.reason]}` };
      }
    }

    const timeoutMinutes = settings.sessionTimeoutMinutes;
    let session = buildSession({
      tenantId,
      id: ulid(now.getTime()),
      deviceId,
      device,
      eligibility,
      requestedBy: requester,
      description,
      now,
      timeoutMinutes,
    });
    const outbox = [];
    if (refusal) {
      session = { ...applyEvent(session, "fail", now, refusal.message), failure: refusal };
    } else {
      outbox.push(createMessage(session, now, ctx.correlationId));
    }
    const result = await this.#d.writer.create(session, outbox, ctx.log, `msg-${message.messageId}`);
    if (!result.created) {
      const existing = await this.#d.writer.store.get(tenantId, result.existingSessionId);
      if (!existing) throw new Error("an automation request's session vanished");
      ctx.log.info("remoteAssistance.requested was delivered again; the session exists", { sessionId: existing.session.id });
      return existing.session;
    }
    await this.#d.audit.record({
      tenantId,
      actor,
      activity: "session.requested",
      target: { type: "session", id: session.id },
      result: refusal ? "failure" : "success",
      detail: refusal ? `refused for device ${deviceId}: ${refusal.code}: ${refusal.message}` : `requested for device ${deviceId} by automation`,
      correlationId: ctx.correlationId,
    });
    return session;
  }

  async #requestAsUser(caller: UserCaller, deviceId: string, body: SessionRequestBody, ctx: RequestContext): Promise<Session> {
    const tenantId = caller.tenantId;
    const refuse = async (error: DomainError): Promise<never> => {
      await this.#d.audit.record({
        tenantId,
        actor: actorOf(caller),
        activity: "session.requested",
        target: { type: "device", id: deviceId },
        result: "failure",
        detail: `${error.code}: ${error.detail}`,
        correlationId: ctx.correlationId,
      });
      throw error;
    };

    // Four independent reads at once; the checks below still decide in their order.
    const [permissions, device, onboarded, settings] = await Promise.all([
      this.#d.access.permissionsOf(caller),
      this.#d.devices.get(tenantId, deviceId),
      this.#d.connector.isOnboarded(tenantId),
      this.#d.settings.get(tenantId),
    ]);
    if (!permissions.request) {
      return refuse(forbidden("Requesting remote assistance needs the Request Remote Assistance permission."));
    }
    // A device outside what the caller may read is as good as absent (no existence leak);
    // one they may read but not request for is a plain "no".
    if (!device || !inScope(permissions.read, device.roleScopeTagIds)) return refuse(notFound("The device"));
    if (!inScope(permissions.request, device.roleScopeTagIds)) {
      return refuse(
        forbidden("This device is outside the scope of your Request Remote Assistance permission (its scope tags are not among those of your role assignments)."),
      );
    }
    if (!onboarded) {
      return refuse(new DomainError(errorCodes.connectorNotOnboarded, connectorNotOnboardedDetail));
    }
    const eligibility = evaluateEligibility(device, settings);
    if (!eligibility.eligible) {
      return refuse(
        new DomainError(errorCodes.deviceNotEligible, eligibilityReasonText[eligibility.reason], { extensions: { reason: eligibility.reason } }),
      );
    }

    const now = this.#d.clock.now();
    const session = buildSession({
      tenantId,
      id: ulid(now.getTime()),
      deviceId,
      device,
      eligibility,
      requestedBy: { id: caller.userId, displayName: caller.displayName, type: "user" },
      description: body.description?.trim() || null,
      now,
      timeoutMinutes: settings.sessionTimeoutMinutes,
    });
    await this.#d.writer.create(session, [createMessage(session, now, ctx.correlationId)], ctx.log);
    await this.#d.audit.record({
      tenantId,
      actor: actorOf(caller),
      activity: "session.requested",
      target: { type: "session", id: session.id },
      result: "success",
      detail: `requested for device ${device.deviceName} (${deviceId})${eligibility.warnings.length > 0 ? `; warnings: ${eligibility.warnings.join(" ")}` : ""}`,
      correlationId: ctx.correlationId,
    });
    return session;
  }
}

function createMessage(session: Session, now: Date, correlationId: string | undefined) {
  return outboxEntry(messageTypes.sessionCreate, session.tenantId, { sessionId: session.id }, {
    id: sessionMessageIds.create(session.id),
    now,
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

/** A new session in `requested`, from the device as it is now. */
export function buildSession(args: {
  readonly tenantId: string;
  readonly id: string;
  readonly deviceId: string;
  readonly device: Device | undefined;
  readonly eligibility: Eligibility | undefined;
  readonly requestedBy: Requester;
  readonly description: string | null;
  readonly now: Date;
  readonly timeoutMinutes: number;
}): Session {
  const { device, eligibility, now } = args;
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
    status: "requested",
    history: [{ status: "requested", at, detail: `Requested by ${args.requestedBy.displayName}.` }],
    expiresAt: new Date(now.getTime() + args.timeoutMinutes * 60_000).toISOString(),
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
