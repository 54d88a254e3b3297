// A request's first end-user notification, sent by the creation worker (sessionCreation.ts)
// instead of a separate notification.send: the inbox entry is written with the claim on
// the session (the same round trip), the push goes out as soon as TeamViewer answered,
// and the save that makes the session `awaitingEndUser` records it as sent. That saves the notification worker's read, write and message per
// session (docs/cost.md). Whatever fails here is not lost: the save then carries a
// notification.send in its outbox and the notification worker retries it as before.
//
// The inbox entry exists a moment before the session is `awaitingEndUser`: the Company
// Portal's list skips (and keeps) entries of sessions still `requested` (endUserRequests.ts).
// If the request ends while TeamViewer creates the session, the push may already be out;
// the user then finds nothing in the Company Portal, as for any request that ended.
import { notifiesEndUser, type Session } from "../../domain/session.js";
import { inboxEntryOf, pushOf } from "./notificationWorker.js";
import type { InboxStore, OutboxEntry, PushGateway } from "./ports.js";
import { messageTypes } from "../../contracts/messages.js";
import { outboxEntry, sessionMessageIds } from "./sessionMessages.js";

export type FirstNotification = { readonly kind: "notNeeded" } | { readonly kind: "sent" } | { readonly kind: "failed"; readonly reason: string };

const reasonOf = (where: string, e: unknown): string => `${where}: ${(e instanceof Error ? e.message : String(e)).slice(0, 300)}`;

/** Starts the inbox write for a session that notifies its end user; never rejects. */
export function putInInbox(inbox: InboxStore, s: Session): Promise<FirstNotification> {
  if (!notifiesEndUser(s) || !s.endUser) return Promise.resolve({ kind: "notNeeded" });
  return inbox.put(inboxEntryOf(s, s.endUser)).then(
    () => ({ kind: "sent" }),
    (e: unknown) => ({ kind: "failed", reason: reasonOf("inbox", e) }),
  );
}

/** Pushes once the inbox entry is in; what happened, never a rejection. */
export async function pushAfterInbox(push: PushGateway, s: Session, inbox: Promise<FirstNotification>): Promise<FirstNotification> {
  const put = await inbox;
  if (put.kind !== "sent" || !s.endUser) return put;
  try {
    await push.push(pushOf(s, s.endUser));
    return { kind: "sent" };
  } catch (e) {
    return { kind: "failed", reason: reasonOf("push", e) };
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
