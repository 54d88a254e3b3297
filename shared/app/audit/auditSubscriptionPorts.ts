// Ports of the audit push: where subscriptions are kept and how a receiver is called.
import type { Actor } from "../../domain/caller.js";

export interface StoredSubscription {
  readonly id: string;
  readonly url: string;
  /** New on every create: deliveries queued for a deleted subscription of the same id are dropped. */
  readonly generation: string;
  /**
   * New on every PUT: names the Key Vault secret that PUT stored (so concurrent PUTs and
   * DELETEs each touch only their own) and keys the in-memory secret cache.
   */
  readonly secretVersion: string;
  readonly createdAt: string;
  readonly createdBy: Actor;
  /** The last sequence number handed to the queue. */
  readonly cursor: number;
  readonly lastDeliveredAt: string | null;
  /** The last failure, while no delivery made after it succeeded (then null: it is history, in the log). */
  readonly lastError: { readonly message: string; readonly at: string } | null;
  readonly etag: string;
}

export type NewSubscription = Omit<StoredSubscription, "cursor" | "lastDeliveredAt" | "lastError" | "etag">;

export interface AuditSubscriptionStore {
  list(tenantId: string): Promise<StoredSubscription[]>;
  get(tenantId: string, id: string): Promise<StoredSubscription | undefined>;
  /** Creates it with the cursor at the tenant's newest event; "limit" when the tenant already has `limit`. */
  create(tenantId: string, sub: NewSubscription, limit: number): Promise<"created" | "exists" | "limit">;
  /** Changes url and secret version; false when the subscription changed meanwhile (412) or is gone. */
  replace(tenantId: string, current: StoredSubscription, change: { url: string; secretVersion: string }): Promise<boolean>;
  /**
   * Deletes it; the secret version it had when it was deleted (its secret is that version's
   * to remove), or undefined when there was none.
   */
  delete(tenantId: string, id: string): Promise<{ readonly secretVersion: string } | undefined>;
  /** The new etag, or undefined when another writer changed the subscription first. */
  advanceCursor(tenantId: string, current: StoredSubscription, cursor: number): Promise<string | undefined>;
  /**
   * The outcome of a delivery made to `sub` as it was read before the POST. It shows only while
   * the subscription still has that secret version: a PUT (new URL and secret) or a delete and
   * a create of the same id while the POST was under way makes it the old receiver's, not this one's.
   */
  recordOutcome(
    tenantId: string,
    sub: Pick<StoredSubscription, "id" | "secretVersion">,
    outcome: { deliveredAt: string } | { error: { message: string; at: string } },
  ): Promise<void>;
  /** Tenants that have (or recently had) a subscription: what the sweep walks. */
  tenants(): Promise<string[]>;
}

export type ReceiverOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface AuditReceiverClient {
  post(url: string, body: string, headers: Record<string, string>): Promise<ReceiverOutcome>;
}
