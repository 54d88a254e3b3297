// Sign-in with Microsoft Entra ID, for the portal deployed in Azure. It needs
// @azure/msal-browser, which this project does not install yet (docs/deploy.md, "Portal"):
// add it, then implement `signIn` with PublicClientApplication.loginRedirect and
// `accessToken` with acquireTokenSilent({ scopes: [config.apiScope] }). Until then the
// portal says so plainly instead of failing somewhere else.
import type { EntraAuthConfig } from "../config.js";
import { ApiProblem } from "../api.js";
import type { AuthProvider, SignedInUser } from "./authProvider.js";

export class EntraAuth implements AuthProvider {
  readonly kind = "entra" as const;
  readonly config: EntraAuthConfig;

  constructor(config: EntraAuthConfig) {
    this.config = config;
  }

  current(): SignedInUser | undefined {
    return undefined;
  }

  async accessToken(): Promise<string | undefined> {
    return undefined;
  }

  async signIn(): Promise<never> {
    throw new ApiProblem({
      title: "Microsoft Entra ID sign-in is not built into this portal yet",
      detail:
        "This build signs in with the local identity emulator only. Add @azure/msal-browser and complete portal/src/auth/entraAuth.ts (see docs/deploy.md, section Portal).",
    });
  }

  signOut(): void {
    // Nothing kept yet.
  }
}
