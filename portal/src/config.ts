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

/** Azure: Microsoft Entra ID (needs @azure/msal-browser, see portal/src/auth/entraAuth.ts). */
export interface EntraAuthConfig {
  readonly kind: "entra";
  readonly clientId: string;
  /** e.g. https://login.microsoftonline.com/organizations */
  readonly authority: string;
  /** e.g. api://<api app id>/access_as_user */
  readonly apiScope: string;
}

export interface PortalConfig {
  /** Base of the HTTP API, e.g. "/api" (same origin) or "https://<app>.azurewebsites.net/api". */
  readonly apiBaseUrl: string;
  readonly auth: LocalAuthConfig | EntraAuthConfig;
}
