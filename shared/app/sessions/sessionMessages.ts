// The messages the sessions area sends, with ids derived from what they are about: the
// same command about the same session always has the same id, so an outbox re-send or a
// retried handler is a Service Bus duplicate (dropped), while a deliberate new attempt
// (a re-scheduled create, a resent notification) gets a new id on purpose.
import { createHash } from "node:crypto";
import { makeEnvelope, messageQueue, messageTypes, type MessageData, type MessageType, type SessionCloseData } from "../../contracts/messages.js";
import type { Logger } from "../logging.js";
import type { OutboxEntry } from "./ports.js";

/** An RFC 9562 version-8 (name-based, SHA-256) UUID: stable for the same name. */
export function nameBasedUuid(name: string): string {
  const h = createHash("sha256").update(name).digest("hex");
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const sessionMessageIds = {
  /** attempt 0 is the request's own message; later attempts are re-schedules after a transient failure or a busy claim. */
  create: (sessionId: string, attempt = 0, reason = "retry"): string =>
    nameBasedUuid(attempt === 0 ? `session.create|${sessionId}` : `session.create|${sessionId}|${reason}|${attempt}`),
  /** `variant` tells apart a second, different close of the same session (e.g. of an orphaned TeamViewer session). */
  close: (sessionId: string, variant?: string): string =>
    nameBasedUuid(variant === undefined ? `session.close|${sessionId}` : `session.close|${sessionId}|${variant}`),
  notification: (sessionId: string, dispatch: number): string => nameBasedUuid(`notification.send|${sessionId}|${dispatch}`),
} as const;

/** A message as an outbox entry: written with the state change, sent after it. */
export function outboxEntry<T extends MessageType>(
  type: T,
  tenantId: string,
  data: MessageData<T>,
  options: { readonly id: string; readonly correlationId?: string | undefined; readonly now: Date },
): OutboxEntry {
  const envelope = makeEnvelope(type, tenantId, data, options);
  return {
    id: envelope.id,
    queue: messageQueue[type],
    type,
    ...(envelope.correlationId === undefined ? {} : { correlationId: envelope.correlationId }),
    body: envelope,
    createdAt: options.now.toISOString(),
  };
}

/**
 * The `session.close` command for a session, as an outbox entry. Its id is the session's
 * close id, so every path that closes the same session (admin, decline, expiry, failure)
 * sends one message; `variant` marks a second, different close (an orphaned TeamViewer session).
 */
export function sessionCloseEntry(
  session: { readonly id: string; readonly tenantId: string },
  close: Omit<SessionCloseData, "sessionId">,
  options: { readonly now: Date; readonly correlationId: string | undefined; readonly variant?: string },
): OutboxEntry {
  return outboxEntry(
    messageTypes.sessionClose,
    session.tenantId,
    { sessionId: session.id, ...close },
    {
      id: sessionMessageIds.close(session.id, options.variant),
      now: options.now,
      correlationId: options.correlationId,
    },
  );
}

/**
 * The `session.close` a close decided by the service itself (an expiry, a removed device)
 * puts in its outbox: none while nothing can exist at TeamViewer (no session there and no
 * create attempted, so no lookup is owed either).
 */
export function systemCloseEntries(
  s: { readonly id: string; readonly tenantId: string; readonly teamViewer: unknown; readonly worker: { readonly createAttempts: number } },
  reason: SessionCloseData["reason"],
  options: { readonly now: Date; readonly correlationId: string | undefined },
): OutboxEntry[] {
  return s.teamViewer !== null || s.worker.createAttempts > 0 ? [sessionCloseEntry(s, { reason }, options)] : [];
}

/** A session command being handled (session.create, session.close), as the queue delivered it. */
export interface CommandContext {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly messageId: string;
  readonly deliveryCount: number;
  readonly correlationId?: string;
  readonly log: Logger;
  /** Set when this delivery has not written yet: the message whose outbox row its write deletes. */
  readonly consumed?: string;
}
