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

/**
 * Checks a config.json (read by the portal in the browser, and by `portal/build.ts --config`
 * before it ships one): every problem named, so a deployer sees what to fix.
 */
export function readPortalConfig(value: unknown): { config: PortalConfig } | { problems: string[] } {
  const problems: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const text = (o: Record<string, unknown>, key: string, where: string): string => {
    const v = o[key];
    if (typeof v !== "string" || v.trim() === "") {
      problems.push(`${where}${key} must be a non-empty string`);
      return "";
    }
    return v;
  };
  const url = (v: string, where: string, https: boolean): void => {
    if (!v) return;
    try {
      const u = new URL(v);
      if (https && u.protocol !== "https:") problems.push(`${where} must be an https address (MSAL.js accepts no other), not ${v}`);
      else if (!https && u.protocol !== "http:" && u.protocol !== "https:") problems.push(`${where} must be an http(s) address, not ${v}`);
    } catch {
      problems.push(`${where} must be an absolute address, not ${v}`);
    }
  };
  if (!isObject(value)) return { problems: ["config.json must be a JSON object with apiBaseUrl and auth"] };
  const apiBaseUrl = text(value, "apiBaseUrl", "");
  if (apiBaseUrl && !apiBaseUrl.startsWith("/")) url(apiBaseUrl, "apiBaseUrl", false);
  const auth = value.auth;
  if (!isObject(auth)) {
    problems.push('auth must be an object with kind "local" or "entra"');
  } else if (auth.kind === "entra") {
    // The portal sends the API Entra ID access tokens: never in the clear, except to this machine.
    const api = URL.canParse(apiBaseUrl) ? new URL(apiBaseUrl) : undefined;
    if (api?.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(api.hostname)) {
      problems.push(`apiBaseUrl must be an https address: the portal sends it Entra ID access tokens, not ${apiBaseUrl}`);
    }
    text(auth, "clientId", "auth.");
    url(text(auth, "authority", "auth."), "auth.authority", true);
    const apiScope = text(auth, "apiScope", "auth.");
    if (apiScope && !isApiScope(apiScope)) {
      problems.push(`auth.apiScope must name the API's delegated scope, e.g. api://<API app id>/access_as_user, not ${apiScope}`);
    }
    if (
      auth.knownAuthorities !== undefined &&
      !(Array.isArray(auth.knownAuthorities) && auth.knownAuthorities.every((h) => typeof h === "string" && h !== ""))
    ) {
      problems.push("auth.knownAuthorities must be a list of host names");
    }
    if (auth.redirectUri !== undefined) url(typeof auth.redirectUri === "string" ? auth.redirectUri : "", "auth.redirectUri", false);
  } else if (auth.kind === "local") {
    url(text(auth, "identityUrl", "auth."), "auth.identityUrl", false);
    if (!Array.isArray(auth.users) || auth.users.length === 0) problems.push("auth.users must list the demo users");
  } else {
    problems.push(`auth.kind must be "local" or "entra", not ${JSON.stringify(auth.kind)}`);
  }
  return problems.length > 0 ? { problems } : { config: value as unknown as PortalConfig };
}

/**
 * A scope of an API, `<app id URI or app id>/<scope>`: the token Entra ID issues for it has the
 * API's audience and the delegated scope (`scp`) the API requires of a user's token. A bare
 * resource, an OpenID scope or Graph's `User.Read` gets a token the API refuses at every request.
 */
function isApiScope(scope: string): boolean {
  const slash = scope.lastIndexOf("/");
  const resource = scope.slice(0, slash);
  const name = scope.slice(slash + 1);
  if (slash <= 0 || name === "" || /\s/.test(scope)) return false;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(resource)) return true;
  return URL.canParse(resource) && new URL(resource).host !== "";
}
