// The Key Vault secrets of audit push subscriptions: their names, and what the push does
// with them. Each PUT stores its secret under a name of its own (the subscription's secret
// version in it): a PUT removes the secret of the version it replaced, a DELETE that of the
// version it deleted, so requests on one id at once never write or remove each other's
// secret. Deliveries read a subscription's secret through a small cache per instance.
import { createHash } from "node:crypto";
import type { Logger } from "../logging.js";
import type { StoredSubscription } from "./auditSubscriptionPorts.js";

/** The secrets behind the port the app already has (Key Vault). */
export interface SubscriptionSecrets {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string, contentType?: string): Promise<void>;
  remove(name: string): Promise<void>;
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const secretNameBase = (prefix: string, tenantId: string, id: string): string =>
  guid.test(tenantId) ? `${prefix}-${tenantId}-${id}` : `${prefix}-x${createHash("sha256").update(`${tenantId}\n${id}`).digest("hex")}`;

/**
 * The Key Vault secret a PUT of a subscription stored: `audit-subv-<tenantId>-<id>-<v>`,
 * `<v>` the first 24 hex digits of the PUT's secret version (at most 120 characters; Key
 * Vault allows 127). For a GUID tenant id (every Entra tenant) the fixed lengths of tenant
 * id and version leave no doubt where the id is. Tenant ids that are not GUIDs (letters,
 * digits and dashes) would make `X` + `x-sub` and `X-x` + `sub` one name, so theirs is
 * `audit-subv-x<SHA-256 of tenant and id>-<v>` ('x' is no hex digit: no GUID name can match it).
 */
export const subscriptionSecretName = (tenantId: string, id: string, secretVersion: string): string =>
  `${secretNameBase("audit-subv", tenantId, id)}-${secretVersion.replace(/-/g, "").slice(0, 24)}`;

/**
 * The one name all secrets of a subscription had before names carried the version
 * (`audit-sub-…`): read when a subscription made then has no secret of its version, and
 * removed with the subscription's own.
 */
export const unversionedSecretName = (tenantId: string, id: string): string => secretNameBase("audit-sub", tenantId, id);

const secretCacheMs = 5 * 60_000;
/** Subscription secrets an instance holds at most; past it, expired ones go first, then the oldest. */
const maxCachedSecrets = 10_000;

export class SubscriptionSecretVault {
  readonly #secrets: SubscriptionSecrets;
  readonly #log: Logger;
  /** Per subscription (`tenant|id`), its secret as of one version: a rotation replaces the entry. */
  readonly #cache = new Map<string, { value: string; version: string; until: number }>();

  constructor(secrets: SubscriptionSecrets, log: Logger) {
    this.#secrets = secrets;
    this.#log = log;
  }

  /** Secrets held in memory (for tests and metrics). */
  get cached(): number {
    return this.#cache.size;
  }

  /** Stores a PUT's secret under its version's name. */
  async store(tenantId: string, id: string, secretVersion: string, value: string): Promise<void> {
    await this.#secrets.set(subscriptionSecretName(tenantId, id, secretVersion), value, "text/plain");
  }

  /**
   * Removes the secret of a version no subscription has any more (a PUT's that wrote nothing,
   * the one a PUT replaced), and one from before names had versions. A failure leaves it
   * behind, logged: what the caller did stands.
   */
  async removeUnused(tenantId: string, id: string, secretVersion: string): Promise<void> {
    for (const name of [subscriptionSecretName(tenantId, id, secretVersion), unversionedSecretName(tenantId, id)]) {
      try {
        await this.#secrets.remove(name);
      } catch (e) {
        this.#log.warn("an audit subscription's secret that is no longer used could not be removed from Key Vault", {
          tenantId,
          secretName: name,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
  }

  /** Removes the secret of a deleted subscription's version (and an unversioned one); a failure is thrown. */
  async removeDeleted(tenantId: string, id: string, secretVersion: string): Promise<void> {
    this.#cache.delete(`${tenantId}|${id}`);
    await this.#secrets.remove(subscriptionSecretName(tenantId, id, secretVersion));
    await this.#secrets.remove(unversionedSecretName(tenantId, id));
  }

  /** The secret to sign a delivery to `sub` with; undefined when Key Vault has none. */
  async forDelivery(tenantId: string, sub: StoredSubscription): Promise<string | undefined> {
    // Keyed by subscription, not by version: keyed by version, every rotation (a PUT with a
    // new secret) added an entry that was never dropped, so old secrets stayed in memory and
    // the map grew with every rotation.
    const key = `${tenantId}|${sub.id}`;
    const cached = this.#cache.get(key);
    const now = Date.now();
    if (cached && cached.version === sub.secretVersion && cached.until > now) return cached.value;
    const value =
      (await this.#secrets.get(subscriptionSecretName(tenantId, sub.id, sub.secretVersion))) ??
      (await this.#secrets.get(unversionedSecretName(tenantId, sub.id)));
    this.#cache.delete(key);
    if (value !== undefined) {
      this.#makeRoom(now);
      this.#cache.set(key, { value, version: sub.secretVersion, until: now + secretCacheMs });
    }
    return value;
  }

  /** Keeps the cache under its bound: expired secrets go first, then the longest held. */
  #makeRoom(now: number): void {
    if (this.#cache.size < maxCachedSecrets) return;
    for (const [key, entry] of this.#cache) if (entry.until <= now) this.#cache.delete(key);
    for (const key of this.#cache.keys()) {
      if (this.#cache.size < maxCachedSecrets) break;
      this.#cache.delete(key);
    }
  }
}
