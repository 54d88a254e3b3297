// Ports of the connector area: connector state, OAuth states, leases, the token vault,
// the TeamViewer OAuth/account calls it makes, and the sessions it closes on disconnect.
import type { ConnectorState } from "../../domain/connector.js";

export interface ConnectorStore {
  get(tenantId: string): Promise<ConnectorState | undefined>;
  /**
   * Applies `change` to the current state (the initial state when none is stored) with
   * optimistic concurrency, re-reading and re-applying on a lost race. `change` returns
   * undefined to leave the state as it is. Answers the state afterwards.
   */
  update(tenantId: string, change: (current: ConnectorState) => ConnectorState | undefined): Promise<ConnectorState>;
  /** Tenants whose connector is onboarded (one filtered query). */
  listOnboarded(): Promise<string[]>;
  /** Tenants with an onboarding whose expiry is at or before `now`. */
  listExpiredOnboardings(now: Date): Promise<string[]>;
}

export const oauthStateStatuses = {
  /** Handed out by connect, waiting for the browser to come back. */
  issued: "issued",
  /** The callback accepted it and queued connector.authorize. */
  redeemed: "redeemed",
  /** The worker exchanged the code and stored the token, but has not finished. */
  exchanged: "exchanged",
  /** Done (onboarded, denied, or failed): only kept so a redelivered message does nothing. */
  completed: "completed",
} as const;
export type OAuthStateStatus = (typeof oauthStateStatuses)[keyof typeof oauthStateStatuses];

export interface OAuthStateRecord {
  /** SHA-256 of the state (base64url): the state itself is a credential and is never stored. */
  readonly id: string;
  readonly tenantId: string;
  readonly status: OAuthStateStatus;
  /** The admin who started the onboarding: the callback acts on their behalf. */
  readonly createdBy: string;
  readonly createdByName: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /**
   * The connector's generation this connect attempt created. The worker stores the token
   * only while the connector is still at it, so an older attempt never touches a newer
   * one's token. Absent on states issued before generations existed.
   */
  readonly generation?: number;
}

export interface OAuthStateStore {
  create(record: OAuthStateRecord): Promise<void>;
  get(id: string): Promise<OAuthStateRecord | undefined>;
  /**
   * Moves the state from `from` to `to` only if nobody else did since it was read
   * (etag-guarded): the single-use guarantee. False when the state is missing, not in
   * `from`, or another caller won the race.
   */
  transition(id: string, from: OAuthStateStatus, to: OAuthStateStatus): Promise<boolean>;
  /**
   * Deletes states that expired before `before`, except those still `exchanged`: their
   * token is in Key Vault, and only their connector.authorize message (which may wait a day
   * for TeamViewer quota) or its dead letter uses or discards it, by the state. Answers how many.
   */
  purgeExpired(before: Date): Promise<number>;
}

export interface Lease {
  readonly owner: string;
  readonly expiresAt: Date;
  /** Grows by one with every acquisition: a holder whose lease was taken over holds an old fence. */
  readonly fence: number;
}

/** A short mutual-exclusion lease per tenant and name, shared by every instance. */
export interface LeaseStore {
  /** The lease, now held by `owner`, when it was free, expired or already ours; undefined when someone else holds it. */
  tryAcquire(tenantId: string, name: string, owner: string, durationMs: number): Promise<Lease | undefined>;
  /** Extends the lease if `owner` still holds it with this fence; false when it was lost (expired and taken, or released). */
  renew(tenantId: string, name: string, owner: string, fence: number, durationMs: number): Promise<boolean>;
  /** Releases the lease if `owner` still holds it (with this fence, when given). */
  release(tenantId: string, name: string, owner: string, fence?: number): Promise<void>;
  /** The current holder; undefined when the lease is free. */
  get(tenantId: string, name: string): Promise<Lease | undefined>;
}

/** Tokens as TeamViewer issues them (code exchange, refresh). */
export interface IssuedToken {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: Date;
}

/**
 * A tenant's TeamViewer tokens as stored in Key Vault (`teamviewer-token-<tenantId>`),
 * with the connector generation they belong to: a token of another generation is left
 * over from a connection that has ended and is never used.
 */
export interface StoredToken extends IssuedToken {
  readonly generation: number;
}

export interface TokenVault {
  /** Throws `UnreadableStoredToken` when the secret exists but does not hold a token. */
  read(tenantId: string): Promise<StoredToken | undefined>;
  write(tenantId: string, token: StoredToken): Promise<void>;
  /** Deletes (and purges) the secret; a missing secret is fine. */
  remove(tenantId: string): Promise<void>;
}

/**
 * The tenant's token secret exists but does not hold a token in the stored format (edited
 * by hand, or written by something else). No retry reads it better: only a new sign-in
 * (which overwrites it) or a disconnect (which deletes it) ends this.
 */
export class UnreadableStoredToken extends Error {
  override readonly name = "UnreadableStoredToken";
}

export interface TeamViewerAccountInfo {
  readonly userId: string;
  readonly name: string;
  readonly email?: string;
  readonly companyName?: string;
  readonly licenseType?: string;
}

/**
 * The TeamViewer calls the connector makes. Implemented by the TeamViewer client
 * (shared/adapters/teamviewer); failures are `TeamViewerError`s.
 */
export interface TeamViewerAuthApi {
  authorizeUrl(state: string): string;
  exchangeCode(code: string): Promise<IssuedToken>;
  refresh(refreshToken: string): Promise<IssuedToken>;
  revoke(accessToken: string): Promise<void>;
  ping(accessToken: string): Promise<{ tokenValid: boolean }>;
  getAccount(accessToken: string): Promise<TeamViewerAccountInfo>;
}

/**
 * Closes a tenant's open remote assistance sessions when the connector is disconnected, a
 * page at a time (a big tenant has thousands; one message closes a page and hands the rest
 * on). The sessions area implements it. It closes what it can at TeamViewer (best effort:
 * a TeamViewer failure must not make it throw) and always closes the sessions locally; it
 * throws only when local state cannot be written, which the disconnect worker treats as
 * transient. Answers how many sessions it closed and, when there may be more, the place
 * the next page starts after.
 */
export interface OpenSessionsCloser {
  closeOpen(tenantId: string, reason: "disconnected", page: { readonly limit: number; readonly after?: string }): Promise<ClosedSessionsPage>;
}

export interface ClosedSessionsPage {
  readonly closed: number;
  readonly next?: string;
}
