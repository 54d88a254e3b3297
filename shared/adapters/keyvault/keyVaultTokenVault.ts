// Tenants' TeamViewer tokens in Key Vault: secret `teamviewer-token-<tenantId>`, content
// type application/json, value `{ accessToken, refreshToken, expiresAt, generation }`: the
// generation is the connector's at the time the token was stored (docs/security.md).
import { z } from "zod";
import { UnreadableStoredToken, type StoredToken, type TokenVault } from "../../app/connector/ports.js";
import type { SecretStore } from "./secretStore.js";

export const tokenSecretName = (tenantId: string): string => `teamviewer-token-${tenantId}`;

const storedTokenSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1),
  expiresAt: z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
  // Secrets stored before generations existed belong to generation 0, like their connector rows.
  generation: z.number().int().nonnegative().default(0),
});

export function serializeToken(token: StoredToken): string {
  return JSON.stringify({
    accessToken: token.accessToken,
    refreshToken: token.refreshToken,
    expiresAt: token.expiresAt.toISOString(),
    generation: token.generation,
  });
}

export function parseToken(value: string): StoredToken | undefined {
  try {
    const parsed = storedTokenSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export class KeyVaultTokenVault implements TokenVault {
  readonly #secrets: SecretStore;

  constructor(secrets: SecretStore) {
    this.#secrets = secrets;
  }

  async read(tenantId: string): Promise<StoredToken | undefined> {
    const value = await this.#secrets.get(tokenSecretName(tenantId));
    if (value === undefined) return undefined;
    const token = parseToken(value);
    // The message names the secret, never its value.
    if (!token) throw new UnreadableStoredToken(`the Key Vault secret ${tokenSecretName(tenantId)} does not hold a TeamViewer token in the expected format`);
    return token;
  }

  async write(tenantId: string, token: StoredToken): Promise<void> {
    await this.#secrets.set(tokenSecretName(tenantId), serializeToken(token), "application/json");
  }

  async remove(tenantId: string): Promise<void> {
    await this.#secrets.remove(tokenSecretName(tenantId));
  }
}
