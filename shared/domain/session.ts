// A remote assistance session as the service keeps it, and the one way its status moves:
// `applyEvent` runs the state machine and writes the history entry in the same step, so
// no code path can change a status without the history (and the machine) knowing.
import type { Actor } from "./caller.js";
import type { NotificationChannel } from "./eligibility.js";
import type { Platform } from "./device.js";
import { transition, type SessionEvent, type SessionStatus } from "./sessionState.js";

export const notificationStatuses = {
  pending: "pending",
  sent: "sent",
  notSupported: "notSupported",
  failed: "failed",
} as const;
export type NotificationStatus = (typeof notificationStatuses)[keyof typeof notificationStatuses];

/** `failure.code` values: what went wrong, in terms an admin can act on. */
export const sessionFailureCodes = {
  deviceNotFound: "deviceNotFound",
  deviceNotEligible: "deviceNotEligible",
  forbidden: "forbidden",
  connectorNotOnboarded: "connectorNotOnboarded",
  teamViewerRejected: "teamViewerRejected",
  teamViewerUnavailable: "teamViewerUnavailable",
  teamViewerThrottled: "teamViewerThrottled",
  teamViewerAuthorization: "teamViewerAuthorization",
  teamViewerCloseFailed: "teamViewerCloseFailed",
  notificationFailed: "notificationFailed",
  deadLettered: "deadLettered",
} as const;
export type SessionFailureCode = (typeof sessionFailureCodes)[keyof typeof sessionFailureCodes];

export interface SessionFailure {
  readonly code: string;
  readonly message: string;
}

export interface HistoryEntry {
  readonly status: SessionStatus;
  readonly at: string;
  readonly detail?: string;
}

/** The device as it was when the session was requested: the session keeps telling the truth after the device changes. */
export interface SessionDevice {
  readonly deviceName: string;
  readonly operatingSystem: string;
  readonly osVersion: string;
  readonly platform: Platform | "unknown";
  readonly userDisplayName: string | null;
  readonly userPrincipalName: string | null;
  readonly scopeTags: readonly string[];
}

/** The device's primary user at request time: the only person who may see and answer the request. */
export interface SessionEndUser {
  readonly id: string;
  readonly displayName: string | null;
  readonly email: string | null;
}

export interface TeamViewerDetails {
  readonly code: string;
  readonly supporterLink: string;
  readonly validUntil: string;
  readonly groupId: string;
  /** When this service closed it at TeamViewer. */
  readonly closedAt: string | null;
}

export interface EndUserNotification {
  readonly channel: NotificationChannel;
  readonly status: NotificationStatus;
  readonly sentAt?: string;
  /** How many times it was (re)dispatched: part of the notification message id, so a resend is a new message. */
  readonly dispatches: number;
}

/** Bookkeeping of the session worker: the exactly-once claim on TeamViewer session creation. */
export interface WorkerState {
  /** Whoever holds the claim may call TeamViewer; nobody else may. */
  readonly claimId: string | null;
  readonly claimedUntil: string | null;
  /** The Service Bus message (and delivery) that holds the claim. */
  readonly claimMessageId: string | null;
  readonly claimDelivery: number | null;
  /** Claims taken so far: after the first, a TeamViewer session may exist already. */
  readonly createAttempts: number;
  /** Re-schedules after transient TeamViewer failures, for the backoff. */
  readonly retries: number;
  readonly lastError: string | null;
}

export type SessionCloseReason = "admin" | "expired" | "declined" | "disconnected";

export interface Session {
  readonly tenantId: string;
  readonly id: string;
  readonly deviceId: string;
  readonly device: SessionDevice;
  readonly endUser: SessionEndUser | null;
  readonly requestedBy: { readonly id: string; readonly displayName: string; readonly type: "user" | "automation" };
  readonly requestedAt: string;
  readonly description: string | null;
  readonly status: SessionStatus;
  readonly history: readonly HistoryEntry[];
  /** When an unanswered request expires (requestedAt + the tenant's sessionTimeoutMinutes). */
  readonly expiresAt: string;
  readonly teamViewer: TeamViewerDetails | null;
  /** Always kept; shown to admins only when the end user cannot be notified. */
  readonly endUserLink: string | null;
  readonly endUserNotification: EndUserNotification;
  readonly endUserResponse: { readonly response: "accepted" | "declined"; readonly at: string } | null;
  readonly closedAt: string | null;
  readonly closedBy: Actor | null;
  readonly closeReason: SessionCloseReason | null;
  readonly failure: SessionFailure | null;
  readonly warnings: readonly string[];
  /**
   * While a request waits for the tenant's TeamViewer quota: when it is expected to go on.
   * Absent (rows written before quotas existed) means null.
   */
  readonly waitingForTeamViewerQuotaUntil?: string | null;
  readonly worker: WorkerState;
}

export const initialWorkerState: WorkerState = {
  claimId: null,
  claimedUntil: null,
  claimMessageId: null,
  claimDelivery: null,
  createAttempts: 0,
  retries: 0,
  lastError: null,
};

/**
 * The session after `event`: status from the state machine (a `conflict` DomainError when
 * the move is impossible) and one history entry. Terminal statuses set `closedAt`.
 */
export function applyEvent(session: Session, event: SessionEvent, at: Date, detail?: string): Session {
  const status = transition(session.status, event);
  const when = at.toISOString();
  const terminal = status === "closed" || status === "declined" || status === "expired" || status === "failed";
  return {
    ...session,
    status,
    history: [...session.history, detail === undefined ? { status, at: when } : { status, at: when, detail }],
    closedAt: terminal ? (session.closedAt ?? when) : session.closedAt,
  };
}

/** A history note that is not a status change (e.g. "closed at TeamViewer"): keeps the current status. */
export function noteHistory(session: Session, at: Date, detail: string): Session {
  return { ...session, history: [...session.history, { status: session.status, at: at.toISOString(), detail }] };
}

/** True when the end user could be asked in the Company Portal. */
export const notifiesEndUser = (s: Pick<Session, "endUserNotification">): boolean => s.endUserNotification.channel === "companyPortal";
