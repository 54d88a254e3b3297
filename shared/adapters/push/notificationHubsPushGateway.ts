// Push through Azure Notification Hubs: one template notification per request, addressed
// by the tag `user:<oid>` the Company Portal registers its installations with, so every
// device of that user gets it whatever its platform.
import { NotificationHubsClient, createTemplateNotification } from "@azure/notification-hubs";
import type { SecretStore } from "../keyvault/secretStore.js";
import type { PushGateway, PushNotification } from "../../app/sessions/ports.js";

export const userTag = (userId: string): string => `user:${userId}`;

export class NotificationHubsPushGateway implements PushGateway {
  readonly #hubName: string;
  readonly #connectionSecretName: string;
  readonly #secrets: SecretStore;
  #client: Promise<NotificationHubsClient> | undefined;

  /** The hub's connection string (a SAS key) lives in Key Vault, never in app settings. */
  constructor(options: { hubName: string; connectionSecretName: string; secrets: SecretStore }) {
    this.#hubName = options.hubName;
    this.#connectionSecretName = options.connectionSecretName;
    this.#secrets = options.secrets;
  }

  async push(n: PushNotification): Promise<void> {
    const client = await this.#connect();
    const notification = createTemplateNotification({
      // Template parameters: the Company Portal's registered templates place them per platform.
      body: { kind: "remoteAssistanceRequest", title: n.title, body: n.body, sessionId: n.sessionId, tenantId: n.tenantId },
    });
    const result = await client.sendNotification(notification, { tagExpression: userTag(n.userId) });
    // A user with no registered installation is not an error of ours: the inbox still has the request.
    if (result.failureCount > 0 && result.successCount === 0) {
      throw new Error(`Notification Hubs could not deliver to any of the user's ${result.failureCount} device(s)`);
    }
  }

  #connect(): Promise<NotificationHubsClient> {
    this.#client ??= this.#secrets
      .get(this.#connectionSecretName)
      .then((connectionString) => {
        if (!connectionString) throw new Error(`Key Vault has no secret ${this.#connectionSecretName} (the Notification Hubs connection string)`);
        return new NotificationHubsClient(connectionString, this.#hubName);
      })
      .catch((e: unknown) => {
        this.#client = undefined;
        throw e;
      });
    return this.#client;
  }
}
