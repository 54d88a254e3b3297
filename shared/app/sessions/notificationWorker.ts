// The notification worker (device-notifications): pushes a request to the end user's
// devices and records whether the push went out. The request is in the user's inbox (the
// Company Portal's flag) already: the session store keeps that entry with the session's
// status (ports.ts `inboxEntryOf`), so even when every push fails the user sees the request
// the next time the app opens. The first push of a request is sent by the creation worker
// itself (firstNotification.ts); this worker sends resends, and retries a first push that
// failed there.
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import { systemActor } from "../../domain/caller.js";
import { DomainError, errorCodes, notFound } from "../../domain/errors.js";
import { noteHistory, type Session } from "../../domain/session.js";
import { deviceChangedSinceRequest } from "../../domain/device.js";
import type { DeviceDirectory, PushGateway, PushNotification } from "./ports.js";
import { sessionMessageIds } from "./sessionMessages.js";
import type { SessionWriter } from "./sessionWriter.js";

/** Deliveries after which a failing push is recorded as failed instead of retried. */
export const pushAttempts = 3;

export const pushFailedWarning =
  "The push notification could not be delivered to the user's devices. The request is waiting in their Company Portal; you can resend the notification.";

/** The push to the end user's devices for a request. */
export function pushOf(s: Session, endUser: { readonly id: string }): PushNotification {
  return {
    tenantId: s.tenantId,
    userId: endUser.id,
    sessionId: s.id,
    title: "Remote assistance request",
    body: `${s.requestedBy.displayName} from your help desk asks to connect to ${s.device.deviceName}. Open Company Portal to accept or decline.`,
  };
}

/** The audit detail of a notification that went out. */
export const notificationSentDetail = "request pushed to the user's devices (and in their Company Portal inbox)";

export interface NotificationContext {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly deliveryCount: number;
  /** The message being handled: its outbox row is deleted with the session's write. */
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly log: Logger;
}

/** The dispatch a notification.send message id names (ids are derived from it), if any. */
function dispatchOf(s: Session, messageId: string | undefined): number | undefined {
  if (messageId === undefined) return undefined;
  for (let d = s.endUserNotification.dispatches; d >= 0; d--) if (sessionMessageIds.notification(s.id, d) === messageId) return d;
  return undefined;
}

export class NotificationWorker {
  readonly #d: { writer: SessionWriter; push: PushGateway; devices: DeviceDirectory; audit: AuditLog; clock: Clock };

  constructor(deps: { writer: SessionWriter; push: PushGateway; devices: DeviceDirectory; audit: AuditLog; clock: Clock }) {
    this.#d = deps;
  }

  async send(ctx: NotificationContext): Promise<void> {
    const stored = await this.#d.writer.store.get(ctx.tenantId, ctx.sessionId);
    if (!stored) throw notFound(`Session ${ctx.sessionId}`);
    const s = stored.session;
    if (s.status !== "awaitingEndUser") {
      ctx.log.info(`session is ${s.status}; no notification needed any more`, { sessionId: s.id });
      return;
    }
    if (!s.endUser || s.endUser.id !== ctx.userId) {
      throw new DomainError(errorCodes.validationFailed, "The notification names a user who is not the device's primary user.");
    }
    // A resend queued, or a first push retried, after the inventory gave the device to someone
    // else or removed it: the person it names no longer has the device (nor sees the request).
    const changed = deviceChangedSinceRequest(s, await this.#d.devices.get(s.tenantId, s.deviceId));
    if (changed) {
      ctx.log.info(`${changed} since the request; the notification is not pushed`, { sessionId: s.id });
      return;
    }
    // Which dispatch (first push or resend) this message is: its id names it.
    const dispatch = dispatchOf(s, ctx.messageId);
    if (dispatch !== undefined && s.endUserNotification.pushedDispatches?.includes(dispatch)) {
      // Delivered again after its push got through (its lock ran out before it was completed, or
      // its audit write failed): not pushed again, but audited again, at least once rather than never.
      ctx.log.info("this notification was pushed already; not pushing it again", { sessionId: s.id, dispatch });
      await this.#auditSent(s, ctx, undefined);
      return;
    }
    let pushError: string | undefined;
    try {
      await this.#d.push.push(pushOf(s, s.endUser));
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (ctx.deliveryCount < pushAttempts) throw e; // transient until proven otherwise: Service Bus redelivers
      pushError = message.slice(0, 300);
    }

    const now = this.#d.clock.now();
    await this.#d.writer.change(
      ctx.tenantId,
      ctx.sessionId,
      (cur): { next: Session } | undefined => {
        if (pushError === undefined) {
          const n = cur.endUserNotification;
          const pushedDispatches =
            dispatch === undefined || n.pushedDispatches?.includes(dispatch) ? n.pushedDispatches : [...(n.pushedDispatches ?? []), dispatch];
          // Sent already (another dispatch's push recorded it) or seen (the Company Portal showed
          // it before the push was confirmed): nothing to write. Writing only this dispatch would
          // set many concurrent resends racing for the row, and a lost race redelivers the message,
          // pushing again; so only the dispatch that makes it sent is recorded.
          if (n.status === "sent" || n.status === "seen") return undefined;
          return {
            next: { ...cur, endUserNotification: { ...n, status: "sent", sentAt: now.toISOString(), ...(pushedDispatches ? { pushedDispatches } : {}) } },
          };
        }
        // Sent already (a later resend got through while this older message was failing), failed or seen: leave it.
        if (["sent", "failed", "seen"].includes(cur.endUserNotification.status)) return undefined;
        return {
          next: noteHistory(
            {
              ...cur,
              endUserNotification: { ...cur.endUserNotification, status: "failed" },
              warnings: cur.warnings.includes(pushFailedWarning) ? cur.warnings : [...cur.warnings, pushFailedWarning],
            },
            now,
            "The push notification could not be delivered.",
          ),
        };
      },
      ctx.log,
      stored,
      ctx.messageId,
    );
    await this.#auditSent(s, ctx, pushError);
  }

  async #auditSent(s: Session, ctx: NotificationContext, pushError: string | undefined): Promise<void> {
    await this.#d.audit.record({
      tenantId: s.tenantId,
      actor: systemActor,
      activity: "session.notificationSent",
      target: { type: "session", id: s.id },
      result: pushError === undefined ? "success" : "failure",
      detail: pushError === undefined ? notificationSentDetail : `request in the user's Company Portal inbox; push failed: ${pushError}`,
      correlationId: ctx.correlationId,
    });
  }
}
