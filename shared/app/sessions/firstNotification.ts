// A request's first end-user push, sent by the creation worker (sessionCreation.ts)
// instead of a separate notification.send: the push goes out as soon as TeamViewer
// answered, and the save that makes the session `awaitingEndUser` records it as sent, in
// the same transaction as the user's inbox entry (the session store keeps that entry with
// the status, ports.ts `inboxEntryOf`). That saves the notification worker's read, writes
// and message per session (docs/cost.md). A push that fails here is not lost: the save
// then carries a notification.send in its outbox and the notification worker retries it.
//
// The push leaves a moment before the save: if the request ends in that moment, the user
// finds nothing in the Company Portal, as for any request that ended; if the worker dies
// in it, the redelivery pushes again.
import { notifiesEndUser, type Session } from "../../domain/session.js";
import { pushOf } from "./notificationWorker.js";
import type { OutboxEntry, PushGateway } from "./ports.js";
import { messageTypes } from "../../contracts/messages.js";
import { outboxEntry, sessionMessageIds } from "./sessionMessages.js";

export type FirstNotification = { readonly kind: "notNeeded" } | { readonly kind: "sent" } | { readonly kind: "failed"; readonly reason: string };

/** Pushes to the end user of a session that notifies them; what happened, never a rejection. */
export async function pushFirst(push: PushGateway, s: Session): Promise<FirstNotification> {
  if (!notifiesEndUser(s) || !s.endUser) return { kind: "notNeeded" };
  try {
    await push.push(pushOf(s, s.endUser));
    return { kind: "sent" };
  } catch (e) {
    return { kind: "failed", reason: `push: ${(e instanceof Error ? e.message : String(e)).slice(0, 300)}` };
  }
}

/** The notification.send that hands a notification to the notification worker. */
export function notificationMessage(s: Session, now: Date, correlationId: string | undefined): OutboxEntry {
  return outboxEntry(
    messageTypes.notificationSend,
    s.tenantId,
    { sessionId: s.id, userId: s.endUser!.id },
    {
      id: sessionMessageIds.notification(s.id, s.endUserNotification.dispatches),
      now,
      correlationId,
    },
  );
}
