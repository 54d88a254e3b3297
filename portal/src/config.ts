// What the portal reads from `config.json` beside its index.html: where the API is and
// how users sign in. Locally the stack writes it; in Azure the deployer does (docs/deploy.md).
// Types only, no DOM: portal/build.ts (Node) imports them too.

export interface DemoUserConfig {
  readonly key: string;
  readonly label: string;
  readonly claims: {
    readonly tid: string;
    readonly oid: string;
    readonly name: string;
    readonly preferred_username: string;
    readonly roles: readonly string[];
    readonly groups: readonly string[];
  };
}

/** Local development: the identity emulator issues tokens for the seeded demo users. */
export interface LocalAuthConfig {
  readonly kind: "local";
  readonly identityUrl: string;
  readonly users: readonly DemoUserConfig[];
}

/** Azure: Microsoft Entra ID through MSAL.js (portal/src/auth/entraAuth.ts). */
export interface EntraAuthConfig {
  readonly kind: "entra";
  /** The portal's (single-page application's) app registration. */
  readonly clientId: string;
  /** e.g. https://login.microsoftonline.com/organizations (must be https). */
  readonly authority: string;
  /** e.g. api://<api app id>/access_as_user */
  readonly apiScope: string;
  /** Hosts MSAL may trust besides Microsoft's (the identity emulator's, locally). */
  readonly knownAuthorities?: readonly string[];
  /** Where the sign-in page sends the reader back; default: this page without its #fragment. */
  readonly redirectUri?: string;
}

export interface PortalConfig {
  /** Base of the HTTP API, e.g. "/api" (same origin) or "https://<app>.azurewebsites.net/api". */
  readonly apiBaseUrl: string;
  readonly auth: LocalAuthConfig | EntraAuthConfig;
}
