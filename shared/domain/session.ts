// A remote assistance session as the service keeps it, and the one way its status moves:
// `applyEvent` runs the state machine and writes the history entry in the same step, so
// no code path can change a status without the history (and the machine) knowing.
import type { Actor } from "./caller.js";
import { conflict, rateLimited } from "./errors.js";
import type { NotificationChannel } from "./eligibility.js";
import type { Device, Platform } from "./device.js";
import { sameTags } from "./deviceInventory.js";
import { isOpen, transition, type SessionEvent, type SessionStatus } from "./sessionState.js";

export const notificationStatuses = {
  pending: "pending",
  sent: "sent",
  /** The Company Portal showed the request to the end user (they may still ignore it). */
  seen: "seen",
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
  ticketIdRequired: "ticketIdRequired",
  acknowledgementRequired: "acknowledgementRequired",
  deviceHasOpenSession: "deviceHasOpenSession",
} as const;

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
  /** Who may see and act on the session is judged on these; an open session follows its device's (followDeviceScope). */
  readonly scopeTags: readonly string[];
  /** The device's `updatedAt` these scope tags come from; absent when unknown (sessions older than it). */
  readonly scopeTagsAsOf?: string;
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
  /** When the Company Portal first showed the request (status `seen`). */
  readonly seenAt?: string;
  /** How many times it was (re)dispatched: part of the notification message id, so a resend is a new message. */
  readonly dispatches: number;
  /** Resends an admin asked for, and when the last one was (absent on sessions stored before resends were counted). */
  readonly resends?: number;
  readonly lastResentAt?: string;
  /** The dispatches whose notification.send pushed (a redelivery of one pushes nothing more). */
  readonly pushedDispatches?: readonly number[];
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
  /** Re-schedules of session.close after transient TeamViewer failures (absent on older rows: none). */
  readonly closeRetries?: number;
}

export type SessionCloseReason = "admin" | "expired" | "declined" | "disconnected" | "denied" | "deviceRemoved";

/** A second person's decision on a request that needed approval. */
export interface ApprovalDecision {
  readonly decision: "approved" | "denied";
  readonly by: Actor;
  readonly at: string;
  readonly comment: string | null;
}

export interface Session {
  readonly tenantId: string;
  readonly id: string;
  readonly deviceId: string;
  readonly device: SessionDevice;
  readonly endUser: SessionEndUser | null;
  readonly requestedBy: { readonly id: string; readonly displayName: string; readonly type: "user" | "automation" };
  readonly requestedAt: string;
  readonly description: string | null;
  /** The help-desk ticket named with the request (absent on rows written before tickets). */
  readonly ticketId?: string | null;
  /** Whether the request needed approval, and the decision once made (absent on older rows = not needed). */
  readonly approval?: { readonly required: boolean; readonly decision: ApprovalDecision | null };
  /** Warnings the requester acknowledged (absent on older rows = none). */
  readonly acknowledgedWarnings?: readonly string[];
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
  /** Supporters' connections TeamViewer reported (absent on rows written before they were read: none). */
  readonly connections?: readonly SessionConnection[];
  readonly worker: WorkerState;
}

/** One supporter's connection to the session's device, from TeamViewer's connection report. */
export interface SessionConnection {
  /** TeamViewer's id of the connection. */
  readonly id: string;
  readonly supporter: { readonly userId: string; readonly name: string };
  readonly startedAt: string;
  /** Null while the connection is open. */
  readonly endedAt: string | null;
  readonly durationSeconds: number | null;
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

/** A session keeps at most this many history entries (the first, a marker, and the newest). */
export const maxHistoryEntries = 50;
/** History details are cut to this length: they quote names and error messages. */
export const maxHistoryDetailLength = 300;

const droppedMarker = /^(\d+) earlier (?:entry was|entries were) dropped\b/;
const droppedDetail = (n: number): string => `${n} earlier ${n === 1 ? "entry was" : "entries were"} dropped (a session keeps ${maxHistoryEntries}).`;

/**
 * The first `max` UTF-16 units of a text, or one fewer where the cut would fall between the
 * two halves of a character outside the BMP (an emoji): half a character is an unpaired
 * surrogate, which free text may not contain, and would be stored, exported or sent on.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const splitsPair = /[\ud800-\udbff]/.test(text.charAt(max - 1)) && /[\udc00-\udfff]/.test(text.charAt(max));
  return text.slice(0, splitsPair ? max - 1 : max);
}

/** Cuts a text to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${cutText(text, max - 1)}…`;
}

/**
 * `history` with `entry` appended, bounded to `maxHistoryEntries`: the first entry (who
 * requested it, when) stays, then one marker entry counting what was dropped, then the
 * newest entries. Whatever callers do, a session's history cannot outgrow its row.
 */
export function appendHistory(history: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const bounded: HistoryEntry = entry.detail === undefined ? entry : { ...entry, detail: truncate(entry.detail, maxHistoryDetailLength) };
  const all = [...history, bounded];
  if (all.length <= maxHistoryEntries) return all;
  const [first, ...rest] = all;
  const previous = rest[0]?.detail !== undefined ? droppedMarker.exec(rest[0].detail) : null;
  // The entries after the first, the old marker excluded, of which the newest are kept.
  const candidates = previous ? rest.slice(1) : rest;
  const keep = maxHistoryEntries - 2;
  const dropped = candidates.slice(0, candidates.length - keep);
  const lastDropped = dropped[dropped.length - 1];
  const marker: HistoryEntry = {
    status: lastDropped.status,
    at: lastDropped.at,
    detail: droppedDetail((previous ? Number(previous[1]) : 0) + dropped.length),
  };
  return [first, marker, ...candidates.slice(candidates.length - keep)];
}

/**
 * The session after `event`: status from the state machine (a `conflict` DomainError when
 * the move is impossible) and one history entry. Terminal statuses set `closedAt`.
 */
export function applyEvent(session: Session, event: SessionEvent, at: Date, detail?: string): Session {
  const status = transition(session.status, event);
  const when = at.toISOString();
  const terminal = status === "closed" || status === "denied" || status === "declined" || status === "expired" || status === "failed";
  return {
    ...session,
    status,
    history: appendHistory(session.history, detail === undefined ? { status, at: when } : { status, at: when, detail }),
    closedAt: terminal ? (session.closedAt ?? when) : session.closedAt,
  };
}

/** A history note that is not a status change (e.g. "closed at TeamViewer"): keeps the current status. */
export function noteHistory(session: Session, at: Date, detail: string): Session {
  return { ...session, history: appendHistory(session.history, { status: session.status, at: at.toISOString(), detail }) };
}

/**
 * The session once it follows its device to the scope tags the inventory now gives it. Reads
 * and actions judge a session on its recorded tags, and an open session is its device's own
 * (its supporter link takes control of the device): it belongs to the scope the device is in
 * now, not to the one it left. Undefined when nothing changes: the session ended (its history
 * stays with the tags it had), or its tags come from inventory details as new or newer (an
 * older event, or a slower writer of one, never moves it back).
 */
export function followDeviceScope(session: Session, device: Pick<Device, "roleScopeTagIds" | "updatedAt">, at: Date): Session | undefined {
  if (!isOpen(session.status)) return undefined;
  const asOf = session.device.scopeTagsAsOf;
  if (asOf !== undefined && Date.parse(asOf) >= Date.parse(device.updatedAt)) return undefined;
  const scopeTags = [...device.roleScopeTagIds];
  const next: Session = { ...session, device: { ...session.device, scopeTags, scopeTagsAsOf: device.updatedAt } };
  return sameTags(scopeTags, session.device.scopeTags)
    ? next
    : noteHistory(next, at, "The inventory moved the device to other scope tags; the session moved with it.");
}

/** Resends of the end-user notification an admin may ask for per session. */
export const maxResendsPerSession = 10;

/**
 * Whether the notification may be resent now: at most `maxResendsPerSession` per session
 * (then `conflict`), and not within `minIntervalSeconds` of the last one (then
 * `rateLimited` with the seconds left).
 */
export function checkResend(notification: EndUserNotification, now: Date, minIntervalSeconds: number): void {
  const resends = notification.resends ?? 0;
  if (resends >= maxResendsPerSession) {
    throw conflict(
      `The notification was already resent ${resends} times, the most a session allows. Pass the request on to the user another way, or close it and request a new session.`,
    );
  }
  if (notification.lastResentAt === undefined || minIntervalSeconds <= 0) return;
  const nextAt = Date.parse(notification.lastResentAt) + minIntervalSeconds * 1000;
  if (now.getTime() < nextAt) {
    // Never more than the interval, even if the clock went back since the last resend.
    const seconds = Math.min(minIntervalSeconds, Math.ceil((nextAt - now.getTime()) / 1000));
    throw rateLimited(`The notification was resent less than ${minIntervalSeconds} s ago. Try again in ${seconds} s.`, seconds);
  }
}

/** The notification after a resend: pending again, one more dispatch and one more resend. */
export function resentNotification(notification: EndUserNotification, now: Date): EndUserNotification {
  return {
    channel: notification.channel,
    status: "pending",
    dispatches: notification.dispatches + 1,
    resends: (notification.resends ?? 0) + 1,
    lastResentAt: now.toISOString(),
    ...(notification.pushedDispatches ? { pushedDispatches: notification.pushedDispatches } : {}),
  };
}

/** True when the end user could be asked in the Company Portal. */
/**
 * Whether a string can name a session: a ULID as this service writes it (Crockford
 * base32, upper case, 26 characters, a first character of 0–7 so the 48-bit time fits).
 * Anything else names no session and has no storage key.
 */
export const isSessionId = (id: string): boolean => /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(id);

export const notifiesEndUser = (s: Pick<Session, "endUserNotification">): boolean => s.endUserNotification.channel === "companyPortal";
