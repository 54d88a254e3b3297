// Ports of the sessions area: where sessions, inbox entries and idempotency records live,
// how the end user is pushed to, what the area needs from the devices and connector areas
// and from TeamViewer, and the fault points that let tests crash a worker on purpose.
import type { Device } from "../../domain/device.js";
import type { Session } from "../../domain/session.js";
import type { SessionStatus } from "../../domain/sessionState.js";

/** A message waiting to be sent, kept beside its session until the send succeeded. */
export interface OutboxEntry {
  /** The message id (also the Service Bus messageId). */
  readonly id: string;
  readonly queue: string;
  readonly type: string;
  readonly correlationId?: string;
  readonly body: unknown;
  readonly createdAt: string;
  /** Deliver no earlier than this (a re-scheduled attempt). */
  readonly notBefore?: string;
}

export interface StoredSession {
  readonly session: Session;
  /** The optimistic-concurrency token of the stored row. */
  readonly etag: string;
}

export type CreateSessionResult =
  | { readonly created: true; readonly stored: StoredSession }
  /** `dedupeKey` was used before: nothing was written; this is the session it produced. */
  | { readonly created: false; readonly reason: "duplicate"; readonly existingSessionId: string }
  /** The device already has an open session (this one): nothing was written. */
  | { readonly created: false; readonly reason: "deviceBusy"; readonly existingSessionId: string };

export interface SessionListQuery {
  readonly tenantId: string;
  readonly deviceId?: string;
  readonly status?: SessionStatus;
  /** Sessions requested before this are not listed: the list ends there (newest first). */
  readonly requestedSince?: Date;
  readonly top: number;
  readonly continuationToken?: string;
  /** Sessions the caller may not see are skipped (their scope is checked here, not in a filter string). */
  readonly visible: (s: Session) => boolean;
}

export interface SessionStore {
  /**
   * Writes a new session, its outbox entries and its index rows in one transaction.
   * With `dedupeKey` (e.g. an automation message id) a second create under the same key
   * writes nothing and answers the first session's id. An open session takes its device's
   * lock row in the same transaction: while another open session holds it, nothing is
   * written and the answer names that session. The lock goes with the session's last open
   * status (`update`); a lock whose session is gone or no longer open is taken over.
   */
  create(session: Session, outbox: readonly OutboxEntry[], options?: { readonly dedupeKey?: string }): Promise<CreateSessionResult>;
  get(tenantId: string, sessionId: string): Promise<StoredSession | undefined>;
  /** The tenant's session TeamViewer gave this code (compared without the `s` prefix, dashes or case). */
  findByTeamViewerCode(tenantId: string, code: string): Promise<StoredSession | undefined>;
  /**
   * Replaces `current` with `next` if nobody wrote since `current` was read (its etag),
   * together with new outbox entries and the index rows the new status needs, in one
   * transaction. Answers the stored result, or undefined when someone else wrote first.
   * `consumed`: the id of the message being handled; its outbox row (if still there) is
   * deleted in the same transaction, since a message that arrived was sent.
   * The end user's inbox entry is one of those index rows (`inboxEntryOf`): written with the
   * status that lists the request in the Company Portal, deleted with the one that ends it.
   */
  update(current: StoredSession, next: Session, outbox?: readonly OutboxEntry[], consumed?: string): Promise<StoredSession | undefined>;
  /** The device's open session, found through its lock; undefined when it has none. */
  openOfDevice(tenantId: string, deviceId: string): Promise<StoredSession | undefined>;
  /** Newest first, one page. */
  list(q: SessionListQuery): Promise<{ value: Session[]; continuationToken?: string }>;
  /** Sessions requested in [from, to), newest first (for reports). */
  requestedBetween(tenantId: string, from: Date, to: Date): AsyncIterable<Session>;
  /**
   * Ids of up to `page.limit` open sessions whose deadline (expiry for unanswered ones) is at
   * or before `now`, earliest deadline first, after the place `page.after` (undefined: from
   * the first). `next` is the place after the last of them, set when there may be more.
   */
  listDue(tenantId: string, now: Date, page: RowsPage): Promise<OpenSessionsPage>;
  /**
   * Ids of up to `limit` open sessions of the tenant, in the store's order, after the place
   * `after` (undefined: from the first). `next` is the place after the last of them, set
   * when there may be more. Sessions closed meanwhile drop out; a place stays valid.
   */
  listOpenPage(tenantId: string, limit: number, after?: string): Promise<OpenSessionsPage>;
  /** Deletes an outbox entry after its message was sent; a missing one is fine. */
  deleteOutbox(tenantId: string, entryId: string): Promise<void>;
  /**
   * Outbox entries created before `olderThan` (messages whose send may have been lost), and
   * the ids of rows that cannot be read (skipped by the timer): up to `page.limit` rows in
   * all, in id order, after the id `page.after`; `next` (the last id) when there may be more.
   */
  listOutbox(tenantId: string, olderThan: Date, page: RowsPage): Promise<OutboxPage>;
  /** Every tenant that has ever had a session (for the timers). */
  listTenants(): Promise<string[]>;
}

/** Which rows a timer reads: at most `limit`, after the place `after` a page before ended at. */
export interface RowsPage {
  readonly limit: number;
  readonly after?: string;
}

/** One page of a tenant's outbox (SessionStore.listOutbox). */
export interface OutboxPage {
  readonly entries: OutboxEntry[];
  readonly unreadable: string[];
  readonly next?: string;
}

/** One page of a tenant's open sessions (SessionStore.listOpenPage, listDue). */
export interface OpenSessionsPage {
  readonly sessionIds: string[];
  readonly next?: string;
}

/** What the Company Portal shows as a flag: one entry per open request, per user. */
export interface InboxEntry {
  readonly tenantId: string;
  readonly userId: string;
  readonly sessionId: string;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly requestedBy: { readonly displayName: string };
  readonly requestedAt: string;
  readonly description: string | null;
}

/** The end users' inboxes, as the session store keeps them (`SessionStore.update`). */
export interface InboxStore {
  /** Removes an entry whose session is over; a missing one is fine. */
  remove(tenantId: string, userId: string, sessionId: string): Promise<void>;
  list(tenantId: string, userId: string): Promise<InboxEntry[]>;
}

export const idempotencyStatuses = { inProgress: "INPROGRESS", completed: "COMPLETED" } as const;
export type IdempotencyStatus = (typeof idempotencyStatuses)[keyof typeof idempotencyStatuses];

/** Powertools-style idempotency record; EXPIRED is not stored, it is `expiresAt` in the past. */
export interface IdempotencyRecord {
  readonly status: IdempotencyStatus;
  readonly payloadHash: string;
  /** Epoch ms after which the record no longer counts (EXPIRED). */
  readonly expiresAt: number;
  /** Epoch ms after which an INPROGRESS record is presumed abandoned (its request crashed). */
  readonly inProgressExpiresAt: number;
  readonly sessionId?: string;
}

export interface IdempotencyStore {
  /** The new record's etag, or undefined when a record with this key exists already. */
  tryCreate(tenantId: string, key: string, record: IdempotencyRecord): Promise<string | undefined>;
  get(tenantId: string, key: string): Promise<{ readonly record: IdempotencyRecord; readonly etag: string } | undefined>;
  /** The new etag, or undefined when someone else replaced or deleted it first. */
  replace(tenantId: string, key: string, record: IdempotencyRecord, etag: string): Promise<string | undefined>;
  delete(tenantId: string, key: string): Promise<void>;
  /**
   * Deletes records of the tenant that expired before `before` (they no longer answer: a
   * request with their key takes them over), looking at no more than `max` of them; one
   * changed meanwhile (etag) is left alone. Answers how many it deleted.
   */
  purgeExpired(tenantId: string, before: Date, max: number): Promise<number>;
}

export interface PushNotification {
  readonly tenantId: string;
  readonly userId: string;
  readonly sessionId: string;
  readonly title: string;
  readonly body: string;
}

/** Pushes to a user's Company Portal apps (tag `tenant:<tenantId>:user:<oid>`). Throws when the push was not accepted. */
export interface PushGateway {
  push(notification: PushNotification): Promise<void>;
}

export const faultPointNames = {
  /** The session worker, after TeamViewer created (or found) the session, before saving it. */
  afterTeamViewerCreate: "sessionWorker.afterTeamViewerCreate",
} as const;
export type FaultPointName = (typeof faultPointNames)[keyof typeof faultPointNames];

/**
 * Places where tests may crash a handler on purpose. In production it never throws;
 * locally it throws a `SimulatedCrash` for a configured fraction of calls.
 */
export interface FaultPoints {
  hit(point: FaultPointName, context: FaultPointContext): Promise<void>;
}

/** What the call at a fault point is about, so a test can aim a fault at one tenant or session. */
export interface FaultPointContext {
  readonly tenantId: string;
  readonly sessionId: string;
}

export class SimulatedCrash extends Error {
  constructor(point: FaultPointName) {
    super(`simulated crash at fault point ${point}`);
    this.name = "SimulatedCrash";
  }
}

/** The devices area's store, as far as sessions need it. */
export interface DeviceDirectory {
  get(tenantId: string, deviceId: string): Promise<Device | undefined>;
}

/** The connector area, as far as sessions need it. */
export interface ConnectorGate {
  isOnboarded(tenantId: string): Promise<boolean>;
}

/** Runs `fn` with the tenant's TeamViewer access token (refreshing it on token_expired). */
export interface TeamViewerTokens {
  /** `requireOnboarded: false` is for closing sessions while the connector is being disconnected. */
  withAccessToken<T>(tenantId: string, fn: (accessToken: string) => Promise<T>, options?: { readonly requireOnboarded?: boolean }): Promise<T>;
}

export interface TeamViewerSessionInfo {
  readonly code: string;
  readonly groupId: string;
  readonly supporterLink?: string;
  readonly endCustomerLink?: string;
  readonly validUntil?: Date;
  readonly customApi?: string;
}

export interface NewTeamViewerSession {
  readonly groupName: string;
  readonly description: string;
  readonly endCustomer?: { readonly name?: string; readonly email?: string };
  readonly validUntil: Date;
  readonly customApi: string;
}

/**
 * The TeamViewer session calls this area makes; implemented by the TeamViewer client.
 * Failures are `TeamViewerError`s (transient or not, with `retryAfterMs` when throttled).
 */
export interface TeamViewerSessionsApi {
  createSession(accessToken: string, request: NewTeamViewerSession): Promise<TeamViewerSessionInfo>;
  findOpenSessionByCustomApi(accessToken: string, customApi: string, groupId?: string): Promise<TeamViewerSessionInfo | undefined>;
  closeSession(accessToken: string, code: string): Promise<void>;
}

/** Statuses in which the Company Portal lists a request (and may answer it). */
export const listedForEndUser = (s: Pick<Session, "status">): boolean => s.status === "awaitingEndUser" || s.status === "accepted";

/**
 * The inbox entry a session has in this state, if any: while it is listed for its end user
 * and notifies them through the Company Portal. The session store writes and deletes it
 * with the session (one transaction), so it never outlives or precedes the status.
 */
export function inboxEntryOf(s: Session): InboxEntry | undefined {
  if (!s.endUser || s.endUserNotification.channel !== "companyPortal" || !listedForEndUser(s)) return undefined;
  return {
    tenantId: s.tenantId,
    userId: s.endUser.id,
    sessionId: s.id,
    deviceId: s.deviceId,
    deviceName: s.device.deviceName,
    requestedBy: { displayName: s.requestedBy.displayName },
    requestedAt: s.requestedAt,
    description: s.description,
  };
}
