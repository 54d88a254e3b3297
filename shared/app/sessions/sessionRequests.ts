// Requesting a session: one command whoever asks — an admin (HTTP), a tenant's app (the
// automation door) or the principal a trusted producer's remoteAssistance.requested names
// (a queue event) — and one path: the checks (requestChecks.ts), then the session row and
// its session.create message in one transaction. A refusal is a result, not an exception.
// An HTTP entry point answers it as an error (it was audited here). On the queue nobody is
// there to answer: the consumer has `recordRefusal` keep it as a failed session, or, for a
// device outside the named principal's scope, as an audited refusal with no session, so
// nothing an automation asks for is dropped without a trace.
import { ulid } from "ulid";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Access } from "../access.js";
import type { SettingsStore } from "../admin/ports.js";
import type { AutomationCaller, UserCaller } from "../../domain/caller.js";
import type { Device } from "../../domain/device.js";
import { conflict, DomainError, forbidden, notFound } from "../../domain/errors.js";
import type { Eligibility } from "../../domain/eligibility.js";
import { inScope } from "../../domain/permissions.js";
import type { TenantSettings } from "../../domain/tenantSettings.js";
import { applyEvent, sessionFailureCodes, type Session, type SessionFailure } from "../../domain/session.js";
import type { ConnectorGate, DeviceDirectory } from "./ports.js";
import type { Idempotency } from "./idempotency.js";
import type { SessionWriter } from "./sessionWriter.js";
import { check, deviceBusy, type RequesterScope } from "./requestChecks.js";
import { buildSession, createMessages, withReservedCreate, type Requester } from "./newSession.js";

export interface SessionRequestsDeps {
  readonly writer: SessionWriter;
  readonly devices: DeviceDirectory;
  readonly connector: ConnectorGate;
  readonly settings: SettingsStore;
  readonly access: Access;
  readonly idempotency: Idempotency;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** The creation worker's claim lease: a request reserves its first claim (newSession.ts). */
  readonly createLeaseMs: number;
}

export interface RequestContext {
  readonly correlationId?: string;
  readonly log: Logger;
}

/** A request for a session, built by its entry point (functions/) with its ids folded. */
export type SessionRequestCommand = {
  readonly tenantId: string;
  readonly deviceId: string;
  readonly description?: string;
  readonly ticketId?: string;
  readonly acknowledgeWarnings?: readonly string[];
} & (
  | {
      /** An admin at POST /devices/{deviceId}/remoteAssistanceSessions. */
      readonly source: "user";
      readonly caller: UserCaller;
      /** The Idempotency-Key header: a repeat with the same key and body answers the first session. */
      readonly idempotencyKey?: string;
    }
  | {
      /** A tenant's app at the automation door, POST /automation/events. */
      readonly source: "app";
      readonly caller: AutomationCaller;
      /** The event id: the same id twice is one request and one session, through the door or the queue. */
      readonly eventId: string;
    }
  | QueuedRequest
);

/** A trusted producer's remoteAssistance.requested (automation-events): nobody is there to answer. */
export interface QueuedRequest {
  readonly source: "queue";
  /** The automation principal the event names. */
  readonly requestedBy: { readonly id: string; readonly displayName: string };
  readonly eventId: string;
}

/** Why a request made no session. */
export interface Refusal {
  /** The answer an HTTP caller gets. */
  readonly error: DomainError;
  /** What a queued request records as its failed session; absent = refused without one. */
  readonly failure?: SessionFailure;
  /** The device's open session, when that is the reason. */
  readonly existingSessionId?: string;
  /** The session the request would have made: what a recorded refusal keeps (with `failure`). */
  readonly draft?: Session;
}

export type SessionRequestResult =
  { readonly ok: true; readonly session: Session; readonly replayed: boolean } | { readonly ok: false; readonly refusal: Refusal };

export class SessionRequests {
  readonly #d: SessionRequestsDeps;

  constructor(deps: SessionRequestsDeps) {
    this.#d = deps;
  }

  /**
   * The one path for a session request, whoever asks. A repeat answers the session the
   * first made (`replayed`): for a user the same Idempotency-Key and body, for automation
   * the same event id.
   */
  async request(command: SessionRequestCommand, ctx: RequestContext): Promise<SessionRequestResult> {
    if (command.source === "user" && command.idempotencyKey !== undefined) return this.#requestOnce(command, command.idempotencyKey, ctx);
    return this.#request(command, ctx);
  }

  /**
   * What a queued request's refusal becomes, since nobody is there to answer: a failed
   * session (holding no lock) under the event's dedupe key, so it is seen; redelivery finds
   * it. A device outside the principal's scope is an audited refusal with no session.
   */
  async recordRefusal(command: SessionRequestCommand & QueuedRequest, refusal: Refusal, ctx: RequestContext): Promise<Session | undefined> {
    if (!refusal.failure || !refusal.draft) {
      ctx.log.warn("remoteAssistance.requested refused: the principal it names may not request for this device", {
        deviceId: command.deviceId,
        code: refusal.error.code,
      });
      await this.#auditRefusal(command, refusal.error, ctx);
      return undefined;
    }
    const { draft, failure } = refusal;
    const failed: Session = { ...applyEvent(draft, "fail", new Date(draft.requestedAt), failure.message), failure };
    const result = await this.#d.writer.create(failed, [], ctx.log, dedupeKey(command));
    if (!result.created) return this.#existing(command, result.existingSessionId, ctx);
    if (refusal.existingSessionId !== undefined) {
      await this.#auditRefusal(command, refusal.error, ctx);
    } else {
      await this.#d.audit.record({
        tenantId: command.tenantId,
        actor: requesterOf(command),
        activity: "session.requested",
        target: { type: "session", id: failed.id },
        result: "failure",
        detail: `refused for device ${command.deviceId}: ${failure.code}: ${failure.message}`,
        correlationId: ctx.correlationId,
      });
    }
    return failed;
  }

  async #request(command: SessionRequestCommand, ctx: RequestContext): Promise<SessionRequestResult> {
    // Four independent reads at once; the checks still decide in their order.
    const [scope, device, onboarded, settings] = await Promise.all([
      this.#scopeOf(command),
      this.#d.devices.get(command.tenantId, command.deviceId),
      this.#d.connector.isOnboarded(command.tenantId),
      this.#d.settings.get(command.tenantId),
    ]);
    const checked = check(command.source === "user" ? "user" : "app", scope, device, onboarded, settings, command);
    if (!checked.ok) {
      const { error, failure } = checked;
      return this.#refused(
        command,
        failure ? { error, failure, draft: this.#draft(command, { device, eligibility: undefined, acknowledged: [] }, settings) } : { error },
        ctx,
      );
    }
    const draft = this.#draft(command, checked, settings);
    const session = withReservedCreate(draft, this.#d.createLeaseMs);
    const result = await this.#d.writer.create(session, createMessages(session, ctx.correlationId), ctx.log, dedupeKey(command));
    if (!result.created && result.reason === "deviceBusy") {
      const { existingSessionId } = result;
      const error = deviceBusy(existingSessionId);
      const failure = { code: sessionFailureCodes.deviceHasOpenSession, message: `${error.detail} (session ${existingSessionId})` };
      return this.#refused(command, { error, failure, existingSessionId, draft }, ctx);
    }
    if (!result.created) return this.#replayEvent(command, result.existingSessionId, ctx);
    await this.#auditCreated(session, command, createdDetail(command, checked.device), ctx);
    return { ok: true, session, replayed: false };
  }

  /** A user's request with an Idempotency-Key: run once per key and body, replayed after. */
  async #requestOnce(command: SessionRequestCommand & { readonly source: "user" }, key: string, ctx: RequestContext): Promise<SessionRequestResult> {
    const { tenantId, caller, deviceId } = command;
    let created: Session | undefined;
    let refusal: Refusal | undefined;
    let outcome;
    try {
      const payload = {
        deviceId,
        description: command.description ?? null,
        ticketId: command.ticketId ?? null,
        acknowledgeWarnings: [...(command.acknowledgeWarnings ?? [])].sort(),
      };
      outcome = await this.#d.idempotency.run(tenantId, caller.userId, key, payload, async () => {
        const result = await this.#request(command, ctx);
        // Thrown only so the key is forgotten (the client may retry with it); answered below.
        if (!result.ok) throw (refusal = result.refusal).error;
        created = result.session;
        return created.id;
      });
    } catch (e) {
      if (refusal) return { ok: false, refusal };
      // The key's own conflicts (used with another body, still in progress).
      if (e instanceof DomainError) return { ok: false, refusal: { error: e } };
      throw e;
    }
    if (outcome.kind === "fresh" && created) return { ok: true, session: created, replayed: false };
    const [stored, permissions, device] = await Promise.all([
      this.#d.writer.store.get(tenantId, outcome.sessionId),
      this.#d.access.permissionsOf(caller),
      this.#d.devices.get(tenantId, deviceId),
    ]);
    // A replay is judged like a new request: a permission or scope removed since the
    // first answer is a refusal, not the stored answer.
    const scopeTags = device?.roleScopeTagIds ?? stored?.session.device.scopeTags ?? [];
    if (!inScope(permissions.request, scopeTags)) {
      return {
        ok: false,
        refusal: { error: forbidden("Requesting remote assistance for this device needs the Request Remote Assistance permission in its scope.") },
      };
    }
    if (!stored) return { ok: false, refusal: { error: notFound("The session this Idempotency-Key produced") } };
    return { ok: true, session: stored.session, replayed: true };
  }

  /**
   * An automation's event id was used before: its session, if this is the same request (same
   * app, device, ticket and description, as the first request stored them). Anything else
   * would be answered with a session that is not what was asked for.
   */
  async #replayEvent(command: SessionRequestCommand, sessionId: string, ctx: RequestContext): Promise<SessionRequestResult> {
    const session = await this.#existing(command, sessionId, ctx);
    const same =
      session.deviceId === command.deviceId &&
      (session.ticketId ?? null) === (command.ticketId ?? null) &&
      session.description === (command.description?.trim() || null);
    if (command.source === "app" && (!same || session.requestedBy.id !== command.caller.userId)) {
      return { ok: false, refusal: { error: conflict("This event id was already used for another request; send a new id for a new request.") } };
    }
    return { ok: true, session, replayed: true };
  }

  async #existing(command: SessionRequestCommand, sessionId: string, ctx: RequestContext): Promise<Session> {
    const existing = await this.#d.writer.store.get(command.tenantId, sessionId);
    if (!existing) throw new Error("an automation request's session vanished");
    if (command.source === "queue") ctx.log.info("remoteAssistance.requested was delivered again; the session exists", { sessionId: existing.session.id });
    return existing.session;
  }

  /** An answered refusal is audited now; a queued one where `recordRefusal` records it. */
  async #refused(command: SessionRequestCommand, refusal: Refusal, ctx: RequestContext): Promise<SessionRequestResult> {
    if (command.source !== "queue") await this.#auditRefusal(command, refusal.error, ctx);
    return { ok: false, refusal };
  }

  #scopeOf(command: SessionRequestCommand): Promise<RequesterScope> {
    switch (command.source) {
      case "user":
        return this.#d.access.permissionsOf(command.caller);
      case "app":
        return this.#d.access.automationScopeOf(command.tenantId, command.caller.userId);
      case "queue":
        return this.#d.access.automationScopeOf(command.tenantId, command.requestedBy.id);
    }
  }

  #draft(
    command: SessionRequestCommand,
    checked: { device: Device | undefined; eligibility: Eligibility | undefined; acknowledged: readonly string[] },
    settings: TenantSettings,
  ): Session {
    const now = this.#d.clock.now();
    return buildSession({
      tenantId: command.tenantId,
      id: ulid(now.getTime()),
      deviceId: command.deviceId,
      device: checked.device,
      eligibility: checked.eligibility,
      requestedBy: requesterOf(command),
      description: command.description?.trim() || null,
      ticketId: command.ticketId ?? null,
      acknowledgedWarnings: checked.acknowledged,
      now,
      timeoutMinutes: settings.sessionTimeoutMinutes,
      approval: { scopeTags: settings.approvalRequiredScopeTags, timeoutMinutes: settings.approvalTimeoutMinutes },
    });
  }

  async #auditRefusal(command: SessionRequestCommand, error: DomainError, ctx: RequestContext): Promise<void> {
    await this.#d.audit.record({
      tenantId: command.tenantId,
      actor: requesterOf(command),
      activity: "session.requested",
      target: { type: "device", id: command.deviceId },
      result: "failure",
      detail: `${error.code}: ${error.detail}`,
      correlationId: ctx.correlationId,
    });
  }

  async #auditCreated(session: Session, command: SessionRequestCommand, detail: string, ctx: RequestContext): Promise<void> {
    await this.#d.audit.record({
      tenantId: session.tenantId,
      actor: requesterOf(command),
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
}

const requesterOf = (c: SessionRequestCommand): Requester =>
  c.source === "queue"
    ? { id: c.requestedBy.id, displayName: c.requestedBy.displayName, type: "automation" }
    : { id: c.caller.userId, displayName: c.caller.displayName, type: c.source === "user" ? "user" : "automation" };

const createdDetail = (c: SessionRequestCommand, device: Device): string =>
  c.source === "user"
    ? `requested for device ${device.deviceName} (${c.deviceId})`
    : c.source === "app"
      ? `requested for device ${device.deviceName} (${c.deviceId}) by automation (app ${c.caller.clientId})`
      : `requested for device ${c.deviceId} by automation`;

/** The same event id twice is one session, whether it came through the door or the queue. */
const dedupeKey = (c: SessionRequestCommand): string | undefined => (c.source === "user" ? undefined : `msg-${c.eventId}`);
