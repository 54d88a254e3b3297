// Sign-in with Microsoft Entra ID through MSAL.js (@azure/msal-browser): the
// authorization-code flow with PKCE by redirect. `EntraAuth.start` runs before the portal
// routes anything: it finishes a redirect coming back from the sign-in page (and says where
// the reader was going), or picks up the account already in this tab's cache.
// The user shown (name, app roles) comes from the API's access token, the claims the API
// itself reads; app roles are defined on the API's app registration, so the ID token
// (the portal's) would not carry them.
// Locally the identity emulator stands in for Entra ID (its HTTPS origin is the authority);
// the browser test signs in through it, so this file runs in CI against the real MSAL.
import { BrowserCacheLocation, InteractionRequiredAuthError, PublicClientApplication, type AccountInfo, type AuthenticationResult } from "@azure/msal-browser";
import type { EntraAuthConfig } from "../config.js";
import { ApiProblem } from "../api.js";
import { userFromToken, type AuthProvider, type SignedInUser } from "./authProvider.js";

/** What `start` found: the provider, where to go after a finished sign-in, or why it failed. */
export interface EntraStart {
  readonly auth: EntraAuth;
  /** The portal address (`/devices?…`) the reader was on when they signed in. */
  readonly returnTo?: string;
  readonly problem?: ApiProblem;
}

/** MSAL's error codes the reader can act on, in plain words. */
function signInProblem(e: unknown): ApiProblem {
  const code = typeof e === "object" && e !== null && "errorCode" in e ? String((e as { errorCode: unknown }).errorCode) : "";
  const message =
    typeof e === "object" && e !== null && "errorMessage" in e
      ? String((e as { errorMessage: unknown }).errorMessage)
      : e instanceof Error
        ? e.message
        : String(e);
  if (code === "access_denied" || code === "user_cancelled") {
    return new ApiProblem({ title: "Sign-in was cancelled", detail: "You cancelled the sign-in. Sign in again to go on." });
  }
  return new ApiProblem({ title: "Sign-in with Microsoft Entra ID did not complete", detail: message || code || "The sign-in service gave no reason." });
}

export class EntraAuth implements AuthProvider {
  readonly kind = "entra" as const;
  readonly config: EntraAuthConfig;
  readonly #msal: PublicClientApplication;
  #account: AccountInfo | undefined;
  #user: SignedInUser | undefined;

  private constructor(config: EntraAuthConfig, msal: PublicClientApplication) {
    this.config = config;
    this.#msal = msal;
  }

  static async start(config: EntraAuthConfig): Promise<EntraStart> {
    const here = new URL(window.location.href);
    here.hash = "";
    const msal = new PublicClientApplication({
      auth: {
        clientId: config.clientId,
        authority: config.authority,
        knownAuthorities: config.knownAuthorities ? [...config.knownAuthorities] : [],
        redirectUri: config.redirectUri ?? here.toString(),
        postLogoutRedirectUri: config.redirectUri ?? here.toString(),
      },
      // This tab only, like the local sign-in; closing the tab signs out.
      cache: { cacheLocation: BrowserCacheLocation.SessionStorage },
    });
    await msal.initialize();
    const auth = new EntraAuth(config, msal);
    let result: AuthenticationResult | null = null;
    try {
      // The portal routes with the address's #fragment; MSAL's answer arrives there too,
      // so it is read here, before any routing, and the portal then goes where `state` says.
      result = await msal.handleRedirectPromise({ navigateToLoginRequestUrl: false });
    } catch (e) {
      return { auth, problem: signInProblem(e) };
    }
    if (result) {
      auth.#remember(result);
      const returnTo = result.state && result.state.startsWith("/") ? result.state : "/";
      return { auth, returnTo };
    }
    const account = msal.getActiveAccount() ?? msal.getAllAccounts()[0];
    if (account) {
      auth.#account = account;
      // Reads the API token (and with it the user) now so `current()` can answer without waiting.
      await auth.accessToken();
    }
    return { auth };
  }

  #remember(result: AuthenticationResult): string {
    this.#account = result.account;
    this.#msal.setActiveAccount(result.account);
    this.#user = userFromToken(result.accessToken).user;
    return result.accessToken;
  }

  current(): SignedInUser | undefined {
    return this.#account ? this.#user : undefined;
  }

  async accessToken(options?: { readonly instead?: string }): Promise<string | undefined> {
    if (!this.#account) return undefined;
    try {
      // From MSAL's cache, or a refresh-token grant when it is gone or about to expire, or
      // when the API refused the one given (`instead`).
      const request = { scopes: [this.config.apiScope], account: this.#account, forceRefresh: options?.instead !== undefined };
      return this.#remember(await this.#msal.acquireTokenSilent(request));
    } catch (e) {
      // Interaction needed (refresh token gone or revoked): sign in again.
      if (!(e instanceof InteractionRequiredAuthError)) console.warn("token refresh failed", e);
      this.#forget();
      return undefined;
    }
  }

  /** Goes to the sign-in page (this page is left); comes back to `returnTo` (a portal address). */
  async signIn(returnTo: string): Promise<void> {
    try {
      await this.#msal.loginRedirect({ scopes: [this.config.apiScope], state: returnTo, prompt: "select_account" });
    } catch (e) {
      throw signInProblem(e);
    }
  }

  #forget(): void {
    this.#account = undefined;
    this.#user = undefined;
  }

  /** Forgets the account in this tab (MSAL's cache too); the Entra ID session itself is left alone. */
  signOut(): void {
    this.#forget();
    this.#msal.setActiveAccount(null);
    void this.#msal.clearCache();
  }
}
