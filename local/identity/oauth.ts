// The identity emulator's OAuth 2.0 authorization-code flow with PKCE: what MSAL.js
// (@azure/msal-browser) speaks to Microsoft Entra ID, so the portal's Entra sign-in runs
// locally too. GET /authorize shows a sign-in page (plain HTML, no script) listing the
// configured users; choosing one redirects back with a single-use code; POST /token
// (form-encoded) redeems it for an access token (the API's audience), an ID token (the
// client's) and a rotating refresh token. Codes and refresh tokens are kept hashed, in
// memory only; nothing secret is logged.
import { createHash, randomBytes } from "node:crypto";
import type { DemoUserConfig } from "../../portal/src/config.js";
import { escapeHtml } from "../html.js";
import { isLoopbackHost } from "../loopback.js";

/** A user the emulator signs in: the same shape the portal's config.json lists for local sign-in. */
export type SignInUser = DemoUserConfig;

/** What the server signs for a grant; `audience` undefined means the API's. */
export interface TokenToSign {
  readonly user: SignInUser;
  readonly audience?: string;
  readonly nonce?: string;
  readonly scp?: string;
  readonly expiresInSeconds: number;
}

export type OAuthAnswer =
  | { readonly kind: "page"; readonly status: number; readonly html: string }
  | { readonly kind: "redirect"; readonly location: string }
  | { readonly kind: "json"; readonly status: number; readonly body: Record<string, unknown> };

interface AuthorizeRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly responseMode: "query" | "fragment";
  readonly scope: string;
  readonly state?: string;
  readonly nonce?: string;
  readonly codeChallenge: string;
  readonly loginHint?: string;
}

interface Grant {
  readonly user: SignInUser;
  readonly clientId: string;
  readonly scope: string;
  readonly expiresAt: number;
}

interface PendingCode extends Grant {
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly nonce?: string;
}

const codeLifetimeMs = 10 * 60_000;
const refreshLifetimeMs = 24 * 3600_000;
const accessLifetimeSeconds = 3600;
/** Scopes that ask for sign-in itself, not for an API. */
const oidcScopes = new Set(["openid", "profile", "offline_access", "email"]);
/** Parameters the sign-in page carries through its form. */
const carried = [
  "client_id",
  "redirect_uri",
  "response_type",
  "response_mode",
  "scope",
  "state",
  "nonce",
  "code_challenge",
  "code_challenge_method",
  "login_hint",
] as const;

const hash = (secret: string): string => createHash("sha256").update(secret).digest("hex");
const newSecret = (): string => randomBytes(32).toString("base64url");

function loopbackRedirect(raw: string | null): URL | undefined {
  if (!raw || raw.length > 2048) return undefined;
  try {
    const url = new URL(raw);
    return (url.protocol === "http:" || url.protocol === "https:") && isLoopbackHost(url.hostname) && !url.hash ? url : undefined;
  } catch {
    return undefined;
  }
}

function withResponse(redirectUri: string, mode: "query" | "fragment", params: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) p.set(k, v);
  if (mode === "fragment") return `${redirectUri}#${p.toString()}`;
  const url = new URL(redirectUri);
  for (const [k, v] of p) url.searchParams.set(k, v);
  return url.toString();
}

function page(status: number, title: string, body: string): OAuthAnswer {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – identity emulator</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;color:#1b1b1b;background:#f3f2f1;margin:0}
main{max-width:34rem;margin:3rem auto;background:#fff;padding:2rem;border:1px solid #8a8886}
.note{color:#323130;font-size:.9rem;border-left:4px solid #0058ad;padding-left:.75rem}
ul{list-style:none;padding:0}li{margin:.5rem 0}label{cursor:pointer}.upn{color:#484644;font-size:.9rem}
button{font:inherit;padding:.5rem 1.25rem;margin-right:.5rem;border:1px solid #0058ad;background:#fff;color:#0058ad;cursor:pointer}
button.primary{background:#0058ad;color:#fff}button:focus-visible,input:focus-visible{outline:3px solid #1b1b1b;outline-offset:2px}
.error{color:#a4262c;font-weight:600}
</style></head>
<body><main>${body}</main></body></html>`;
  return { kind: "page", status, html };
}

function errorPage(detail: string): OAuthAnswer {
  return page(
    400,
    "Sign-in request refused",
    `<h1>The sign-in request was refused</h1><p class="error" role="alert">${escapeHtml(detail)}</p>
<p class="note">The identity emulator does not send you back to an address it cannot trust. Check the application's client id and redirect URI.</p>`,
  );
}

export class OAuthFlows {
  readonly #users: readonly SignInUser[];
  readonly #log: (line: string) => void;
  readonly #codes = new Map<string, PendingCode>();
  readonly #refreshTokens = new Map<string, Grant>();

  constructor(users: readonly SignInUser[], log: (line: string) => void) {
    this.#users = users;
    this.#log = log;
  }

  /** GET /authorize: the sign-in page, or a redirect with an error the client can read. */
  authorize(query: URLSearchParams): OAuthAnswer {
    const parsed = this.#parse(query);
    if ("answer" in parsed) return parsed.answer;
    if (query.get("prompt") === "none") {
      // No sign-in session is kept, so a silent request cannot be answered without the page.
      return this.#redirectError(parsed.request, "login_required", "The identity emulator keeps no sign-in session; sign in interactively.");
    }
    return this.#signInPage(parsed.request, query, undefined);
  }

  /** POST /authorize: the sign-in page's form. */
  submit(form: URLSearchParams): OAuthAnswer {
    const parsed = this.#parse(form);
    if ("answer" in parsed) return parsed.answer;
    const request = parsed.request;
    if (form.get("action") === "cancel") return this.#redirectError(request, "access_denied", "The user cancelled the sign-in.");
    const user = this.#users.find((u) => u.key === form.get("user"));
    if (!user) return this.#signInPage(request, form, "Choose one of the users below.");
    const code = newSecret();
    this.#sweep();
    this.#codes.set(hash(code), {
      user,
      clientId: request.clientId,
      scope: request.scope,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      nonce: request.nonce,
      expiresAt: Date.now() + codeLifetimeMs,
    });
    this.#log(`signed in ${user.claims.preferred_username} for client ${request.clientId}`);
    return {
      kind: "redirect",
      location: withResponse(request.redirectUri, request.responseMode, { code, state: request.state, client_info: clientInfo(user) }),
    };
  }

  /** POST /token with a form body: the authorization_code and refresh_token grants. */
  async token(form: URLSearchParams, sign: (t: TokenToSign) => Promise<string>): Promise<OAuthAnswer> {
    const clientId = form.get("client_id");
    if (!clientId) return oauthError(400, "invalid_request", "client_id is required");
    const grantType = form.get("grant_type");
    let grant: Grant & { nonce?: string };
    if (grantType === "authorization_code") {
      const code = form.get("code");
      const verifier = form.get("code_verifier");
      if (!code || !verifier) return oauthError(400, "invalid_request", "code and code_verifier are required (PKCE)");
      const pending = this.#codes.get(hash(code));
      // Single use: a code is gone once presented, right or wrong.
      this.#codes.delete(hash(code));
      if (!pending || pending.expiresAt <= Date.now()) return oauthError(400, "invalid_grant", "the code is unknown, used or expired");
      if (pending.clientId !== clientId) return oauthError(400, "invalid_grant", "the code was issued to another client");
      if (pending.redirectUri !== form.get("redirect_uri")) return oauthError(400, "invalid_grant", "redirect_uri differs from the authorization request's");
      if (createHash("sha256").update(verifier).digest("base64url") !== pending.codeChallenge) {
        return oauthError(400, "invalid_grant", "code_verifier does not match the code_challenge");
      }
      grant = pending;
    } else if (grantType === "refresh_token") {
      const presented = form.get("refresh_token");
      if (!presented) return oauthError(400, "invalid_request", "refresh_token is required");
      const found = this.#refreshTokens.get(hash(presented));
      // Rotation: the presented token is spent either way.
      this.#refreshTokens.delete(hash(presented));
      if (!found || found.expiresAt <= Date.now()) return oauthError(400, "invalid_grant", "the refresh token is unknown, used or expired");
      if (found.clientId !== clientId) return oauthError(400, "invalid_grant", "the refresh token was issued to another client");
      grant = { ...found, scope: form.get("scope") || found.scope };
    } else {
      return oauthError(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token");
    }
    const apiScopes = grant.scope.split(" ").filter((s) => s && !oidcScopes.has(s));
    const refreshToken = newSecret();
    this.#sweep();
    this.#refreshTokens.set(hash(refreshToken), { user: grant.user, clientId, scope: grant.scope, expiresAt: Date.now() + refreshLifetimeMs });
    const [accessToken, idToken] = await Promise.all([
      sign({ user: grant.user, scp: apiScopes.map((s) => s.split("/").pop() ?? s).join(" ") || undefined, expiresInSeconds: accessLifetimeSeconds }),
      sign({ user: grant.user, audience: clientId, nonce: grant.nonce, expiresInSeconds: accessLifetimeSeconds }),
    ]);
    this.#log(`issued tokens (${grantType}) for ${grant.user.claims.preferred_username} to client ${clientId}`);
    return {
      kind: "json",
      status: 200,
      body: {
        token_type: "Bearer",
        scope: grant.scope,
        expires_in: accessLifetimeSeconds,
        ext_expires_in: accessLifetimeSeconds,
        access_token: accessToken,
        id_token: idToken,
        refresh_token: refreshToken,
        refresh_token_expires_in: refreshLifetimeMs / 1000,
        client_info: clientInfo(grant.user),
      },
    };
  }

  /** GET /logout: no session is kept; go back to the application when it asks. */
  logout(query: URLSearchParams): OAuthAnswer {
    const back = loopbackRedirect(query.get("post_logout_redirect_uri"));
    if (back) return { kind: "redirect", location: back.toString() };
    return page(200, "Signed out", "<h1>You are signed out</h1><p>You can close this window.</p>");
  }

  #parse(params: URLSearchParams): { request: AuthorizeRequest } | { answer: OAuthAnswer } {
    const clientId = params.get("client_id") ?? "";
    if (!/^[A-Za-z0-9-]{1,64}$/.test(clientId)) return { answer: errorPage("client_id is missing or malformed.") };
    const redirect = loopbackRedirect(params.get("redirect_uri"));
    if (!redirect) return { answer: errorPage("redirect_uri must be an http(s) address on this machine (127.0.0.1, ::1 or localhost), without a fragment.") };
    const mode = params.get("response_mode") ?? "query";
    const base = { clientId, redirectUri: redirect.toString(), state: params.get("state") ?? undefined };
    if (mode !== "query" && mode !== "fragment") {
      return { answer: this.#redirectError({ ...base, responseMode: "query" }, "invalid_request", "response_mode must be query or fragment") };
    }
    const sendBack = (error: string, description: string): { answer: OAuthAnswer } => ({
      answer: this.#redirectError({ ...base, responseMode: mode }, error, description),
    });
    if (params.get("response_type") !== "code") return sendBack("unsupported_response_type", "response_type must be code");
    const challenge = params.get("code_challenge") ?? "";
    if (params.get("code_challenge_method") !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
      return sendBack("invalid_request", "PKCE is required: code_challenge (43 characters) with code_challenge_method S256");
    }
    const scope = (params.get("scope") ?? "").trim();
    if (!scope || scope.length > 1024) return sendBack("invalid_scope", "scope is required");
    if ((base.state?.length ?? 0) > 2048 || (params.get("nonce")?.length ?? 0) > 512) return sendBack("invalid_request", "state or nonce is too long");
    return {
      request: {
        ...base,
        responseMode: mode,
        scope,
        nonce: params.get("nonce") ?? undefined,
        codeChallenge: challenge,
        loginHint: params.get("login_hint") ?? undefined,
      },
    };
  }

  #redirectError(request: Pick<AuthorizeRequest, "redirectUri" | "responseMode" | "state">, error: string, description: string): OAuthAnswer {
    return {
      kind: "redirect",
      location: withResponse(request.redirectUri, request.responseMode, { error, error_description: description, state: request.state }),
    };
  }

  #signInPage(request: AuthorizeRequest, params: URLSearchParams, problem: string | undefined): OAuthAnswer {
    const hidden = carried
      .flatMap((name) => {
        const value = params.get(name);
        return value === null ? [] : [`<input type="hidden" name="${name}" value="${escapeHtml(value)}">`];
      })
      .join("\n");
    const hinted = this.#users.findIndex((u) => u.claims.preferred_username === request.loginHint);
    const choices = this.#users
      .map((u, i) => {
        const roles = u.claims.roles.length > 0 ? `roles: ${u.claims.roles.join(", ")}` : "no app roles";
        return `<li><input type="radio" name="user" id="user-${escapeHtml(u.key)}" value="${escapeHtml(u.key)}"${i === Math.max(hinted, 0) ? " checked" : ""}>
<label for="user-${escapeHtml(u.key)}"><strong>${escapeHtml(u.claims.name)}</strong> — ${escapeHtml(u.label)}<br><span class="upn">${escapeHtml(u.claims.preferred_username)} · ${escapeHtml(roles)}</span></label></li>`;
      })
      .join("\n");
    const body = `<h1>Sign in</h1>
<p class="note">Identity emulator: it stands in for Microsoft Entra ID on this machine. Application <code>${escapeHtml(request.clientId)}</code> asks you to sign in.</p>
${problem ? `<p class="error" role="alert">${escapeHtml(problem)}</p>` : ""}
${this.#users.length === 0 ? '<p class="error" role="alert">No users are configured in this emulator.</p>' : ""}
<form method="post" action="authorize">
${hidden}
<fieldset><legend>Pick an account</legend><ul>${choices}</ul></fieldset>
<p><button type="submit" class="primary" name="action" value="signIn" id="idp-sign-in">Sign in</button>
<button type="submit" name="action" value="cancel" id="idp-cancel">Cancel</button></p>
</form>`;
    return page(problem ? 400 : 200, "Sign in", body);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.#codes) if (v.expiresAt <= now) this.#codes.delete(k);
    for (const [k, v] of this.#refreshTokens) if (v.expiresAt <= now) this.#refreshTokens.delete(k);
  }
}

/** Entra's client_info: which account this is, for MSAL's cache (uid = object id, utid = tenant id). */
function clientInfo(user: SignInUser): string {
  return Buffer.from(JSON.stringify({ uid: user.claims.oid, utid: user.claims.tid })).toString("base64url");
}

function oauthError(status: number, error: string, description: string): OAuthAnswer {
  return { kind: "json", status, body: { error, error_description: description } };
}
