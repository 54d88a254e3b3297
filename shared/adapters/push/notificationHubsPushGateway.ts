// Push through Azure Notification Hubs: one template notification per request, addressed
// by the tag `tenant:<tenantId>:user:<oid>` the Company Portal registers its installations
// with, so every device of that user gets it whatever its platform, and nobody else's.
import { NotificationHubsClient, createTemplateNotification } from "@azure/notification-hubs";
import type { SecretStore } from "../keyvault/secretStore.js";
import type { PushGateway, PushNotification } from "../../app/sessions/ports.js";
import { ShortCache } from "../../app/shortCache.js";

/**
 * How long an instance keeps the connection string before reading Key Vault again: after
 * the rule's keys are regenerated and `azd provision` writes the new one, pushes use it
 * within this time, without a restart (docs/operations.md, Secrets).
 */
export const connectionStringCacheMs = 60_000;

/** What the gateway needs of a NotificationHubsClient (tests hand in their own). */
export interface NotificationHubsSender {
  sendNotification(
    notification: Parameters<NotificationHubsClient["sendNotification"]>[0],
    options: { tagExpression: string },
  ): Promise<{ readonly successCount: number; readonly failureCount: number }>;
}

/** Notification Hubs tags: at most 120 of these characters (no `|`, which is why `:` separates). */
const tagPattern = /^[A-Za-z0-9_@#.:-]{1,120}$/;

/**
 * The tag a user's devices are registered with. Object ids are unique only within a tenant
 * (and a guest or a test tenant may repeat one), so the tenant is part of the tag: a user
 * of another tenant with the same object id never matches. An id a tag cannot hold throws.
 */
export function userTag(tenantId: string, userId: string): string {
  const tag = `tenant:${tenantId}:user:${userId}`;
  if (!tagPattern.test(tag) || tenantId === "" || userId === "" || tenantId.includes(":") || userId.includes(":")) {
    throw new Error("the tenant or user id cannot be put in a push tag (letters, digits and _@#.- only, 120 characters in all)");
  }
  return tag;
}

export class NotificationHubsPushGateway implements PushGateway {
  readonly #hubName: string;
  readonly #connectionSecretName: string;
  readonly #secrets: SecretStore;
  readonly #createClient: (connectionString: string, hubName: string) => NotificationHubsSender;
  readonly #connectionString: ShortCache<string>;
  /** The client of the connection string last read: a new one only when the string changed. */
  #client: { readonly connectionString: string; readonly sender: NotificationHubsSender } | undefined;

  /** The hub's connection string (a SAS key) lives in Key Vault, never in app settings. */
  constructor(options: {
    hubName: string;
    connectionSecretName: string;
    secrets: SecretStore;
    now?: () => number;
    createClient?: (connectionString: string, hubName: string) => NotificationHubsSender;
  }) {
    this.#hubName = options.hubName;
    this.#connectionSecretName = options.connectionSecretName;
    this.#secrets = options.secrets;
    this.#createClient = options.createClient ?? ((connectionString, hubName) => new NotificationHubsClient(connectionString, hubName));
    this.#connectionString = new ShortCache<string>({ ttlMs: connectionStringCacheMs, now: options.now ?? Date.now, maxEntries: 1 });
  }

  async push(n: PushNotification): Promise<void> {
    const client = await this.#connect();
    const notification = createTemplateNotification({
      // Template parameters: the Company Portal's registered templates place them per platform.
      body: { kind: "remoteAssistanceRequest", title: n.title, body: n.body, sessionId: n.sessionId, tenantId: n.tenantId },
    });
    const result = await client.sendNotification(notification, { tagExpression: userTag(n.tenantId, n.userId) });
    // A user with no registered installation is not an error of ours: the inbox still has the request.
    if (result.failureCount > 0 && result.successCount === 0) {
      throw new Error(`Notification Hubs could not deliver to any of the user's ${result.failureCount} device(s)`);
    }
  }

  async #connect(): Promise<NotificationHubsSender> {
    const name = this.#connectionSecretName;
    const connectionString = await this.#connectionString.get(name, async () => {
      const value = await this.#secrets.get(name);
      if (!value) throw new Error(`Key Vault has no secret ${name} (the Notification Hubs connection string)`);
      return value;
    });
    if (this.#client?.connectionString !== connectionString) {
      this.#client = { connectionString, sender: this.#createClient(connectionString, this.#hubName) };
    }
    return this.#client.sender;
  }
}
