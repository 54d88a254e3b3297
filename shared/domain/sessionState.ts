// The session state machine: one pure function decides every status change.
//   [pendingApproval →] requested → awaitingEndUser → accepted → closed
//   with exits to denied (from pendingApproval), declined, expired, failed and closed from
//   the open states.
import { DomainError, errorCodes } from "./errors.js";

export const sessionStatuses = ["pendingApproval", "requested", "awaitingEndUser", "accepted", "denied", "declined", "expired", "failed", "closed"] as const;
export type SessionStatus = (typeof sessionStatuses)[number];

export const openStatuses: readonly SessionStatus[] = ["pendingApproval", "requested", "awaitingEndUser", "accepted"];
export const isOpen = (s: SessionStatus): boolean => openStatuses.includes(s);

export const sessionEvents = ["approve", "deny", "teamViewerSessionCreated", "endUserAccepted", "endUserDeclined", "expire", "fail", "close"] as const;
export type SessionEvent = (typeof sessionEvents)[number];

const table: Record<SessionEvent, { readonly from: readonly SessionStatus[]; readonly to: SessionStatus }> = {
  // A second person's decision on a request that needs approval; nothing exists at TeamViewer yet.
  approve: { from: ["pendingApproval"], to: "requested" },
  deny: { from: ["pendingApproval"], to: "denied" },
  teamViewerSessionCreated: { from: ["requested"], to: "awaitingEndUser" },
  endUserAccepted: { from: ["awaitingEndUser"], to: "accepted" },
  endUserDeclined: { from: ["awaitingEndUser"], to: "declined" },
  // Expiry is for sessions nobody accepted in time; an accepted session is closed instead.
  expire: { from: ["pendingApproval", "requested", "awaitingEndUser"], to: "expired" },
  fail: { from: ["pendingApproval", "requested", "awaitingEndUser", "accepted"], to: "failed" },
  close: { from: ["pendingApproval", "requested", "awaitingEndUser", "accepted"], to: "closed" },
};

export function canTransition(from: SessionStatus, event: SessionEvent): boolean {
  return table[event].from.includes(from);
}

/** The next status, or a `conflict` error naming the impossible transition. */
export function transition(from: SessionStatus, event: SessionEvent): SessionStatus {
  if (!canTransition(from, event)) {
    throw new DomainError(errorCodes.conflict, `A session that is ${from} cannot take '${event}'.`, {
      extensions: { currentStatus: from },
    });
  }
  return table[event].to;
}
