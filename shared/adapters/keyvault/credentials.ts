// Credentials for the Azure SDKs: DefaultAzureCredential (managed identity) in Azure, a
// fixed development token for the local emulators, which accept any bearer token.
import { DefaultAzureCredential } from "@azure/identity";
import type { AccessToken, TokenCredential } from "@azure/core-auth";

export const localDevelopmentCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: "local-development-token", expiresOnTimestamp: Date.now() + 3_600_000 }),
};

export function azureCredential(managedIdentityClientId?: string): TokenCredential {
  return managedIdentityClientId ? new DefaultAzureCredential({ managedIdentityClientId }) : new DefaultAzureCredential();
}
