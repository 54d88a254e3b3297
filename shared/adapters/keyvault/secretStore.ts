// Key Vault secrets behind a small port: JSON values by name, delete-and-purge, reachability.
import { SecretClient } from "@azure/keyvault-secrets";
import { RestError } from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/core-auth";

export interface SecretStore {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string, contentType?: string): Promise<void>;
  /** Deletes and purges so the name can be reused at once; a missing secret is fine. */
  remove(name: string): Promise<void>;
  ping(): Promise<void>;
}

export class KeyVaultSecretStore implements SecretStore {
  readonly #client: SecretClient;

  constructor(vaultUrl: string, credential: TokenCredential, options: { allowInsecure: boolean }) {
    this.#client = new SecretClient(vaultUrl, credential, {
      allowInsecureConnection: options.allowInsecure,
      disableChallengeResourceVerification: options.allowInsecure,
    });
  }

  async get(name: string): Promise<string | undefined> {
    try {
      return (await this.#client.getSecret(name)).value;
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return undefined;
      throw e;
    }
  }

  async set(name: string, value: string, contentType = "application/json"): Promise<void> {
    try {
      await this.#client.setSecret(name, value, { contentType });
    } catch (e) {
      // A soft-deleted secret of the same name blocks re-creation until purged.
      if (e instanceof RestError && e.statusCode === 409) {
        // With purge protection (Azure) the purge is refused: recover the old secret
        // and write the new value as its next version instead.
        if (!(await this.#purgeIfDeleted(name))) {
          await (await this.#client.beginRecoverDeletedSecret(name, { intervalInMs: 250 })).pollUntilDone();
        }
        await this.#client.setSecret(name, value, { contentType });
        return;
      }
      throw e;
    }
  }

  async remove(name: string): Promise<void> {
    try {
      const poller = await this.#client.beginDeleteSecret(name, { intervalInMs: 250 });
      await poller.pollUntilDone();
    } catch (e) {
      if (!(e instanceof RestError && e.statusCode === 404)) throw e;
    }
    await this.#purgeIfDeleted(name);
  }

  /** True when the name is free afterwards (purged, or nothing was deleted). */
  async #purgeIfDeleted(name: string): Promise<boolean> {
    try {
      await this.#client.purgeDeletedSecret(name);
      return true;
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return true;
      // 403: purge protection is on (Azure); the deleted secret stays recoverable until
      // its retention ends and cannot be read meanwhile, which is what disconnect needs.
      if (e instanceof RestError && e.statusCode === 403) return false;
      throw e;
    }
  }

  async ping(): Promise<void> {
    await this.#client.listPropertiesOfSecrets().byPage({ maxPageSize: 1 }).next();
  }
}
