// Identity provider emulator (stands in for Microsoft Entra ID locally): OIDC discovery,
// a JWKS of RS256 keys made at start (tokenSigner.ts), a dev-only POST /token that signs the
// claims it is given (JSON body), and the authorization-code flow with PKCE that MSAL.js uses
// (oauth.ts: GET/POST /authorize, form-encoded POST /token, GET /logout), and app
// registrations with the client-credentials grant a tenant's automation uses
// (clientCredentials.ts: dev-only POST /apps, POST /{tenant}/oauth2/v2.0/token). MSAL talks only
// to an https authority, so with `tlsPort` the emulator also listens with HTTPS on a
// self-signed certificate made at start, and that origin is then its issuer.
// Loopback only: anyone who can reach it can mint tokens.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { generate as generateCertificate } from "selfsigned";
import type { z } from "zod";
import { BodyTooLarge, closeServer, readBody, send as sendText, sendJson, sendOAuthError } from "../http.js";
import { isLoopbackHost, listen, urlHost } from "../loopback.js";
import { OAuthFlows, type OAuthAnswer, type SignInUser } from "./oauth.js";
import { AppRegistrations, appRegistrationSchema } from "./clientCredentials.js";
import { claimsSchema, TokenSigner, type TokenClaims } from "./tokenSigner.js";

export type { SignInUser } from "./oauth.js";
export type { TokenClaims } from "./tokenSigner.js";

export const defaultIdentityPort = 7074;
export const defaultAudience = "api://remote-assistance-connector";

export interface IdentityEmulatorOptions {
  /** Default 7074; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1; must be a loopback address. */
  host?: string;
  /** Default: the emulator's own base URL, without a trailing slash. */
  issuer?: string;
  audience?: string;
  /** Who can sign in at GET /authorize (the portal's "Sign in with Microsoft" path). */
  users?: readonly SignInUser[];
  /**
   * Also listen with HTTPS on this port (0 picks a free one), with a self-signed certificate
   * made at start. MSAL.js accepts only an https authority. The HTTPS origin becomes the
   * issuer unless `issuer` is given.
   */
  tlsPort?: number;
  log?: (line: string) => void;
}

export interface IdentityEmulator {
  readonly port: number;
  readonly url: string;
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string;
  /** The HTTPS origin (the MSAL authority) when `tlsPort` was given. */
  readonly tlsUrl?: string;
  /** The self-signed certificate (PEM) the HTTPS listener presents. */
  readonly certificate?: string;
  issueToken(claims: TokenClaims): Promise<string>;
  /** Signs with a new key (new kid); the previous keys stay in the JWKS. */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

/** Authorities that name no one tenant; their discovery keeps the tenant-less /token. */
const multiTenantAuthorities = new Set(["organizations", "common", "consumers"]);
const tenantDiscoveryPath = /^\/([A-Za-z0-9.-]{1,64})\/v2\.0\/\.well-known\/openid-configuration$/;
const tenantTokenPath = /^\/([A-Za-z0-9.-]{1,64})\/oauth2\/v2\.0\/token$/;

const maxBodyBytes = 64 * 1024;
/** The emulator's JSON answers: no charset in the content type, never cached. */
const jsonHeaders = { "content-type": "application/json", "cache-control": "no-store" };

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, { ...jsonHeaders, ...headers });
}

function oauthError(res: ServerResponse, status: number, error: string, description: string, headers: Record<string, string> = {}): void {
  sendOAuthError(res, status, error, description, { ...jsonHeaders, ...headers });
}

/** A form body; undefined once it has answered 413. */
async function readForm(req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams | undefined> {
  try {
    return new URLSearchParams(await readBody(req, maxBodyBytes));
  } catch (e) {
    if (e instanceof BodyTooLarge) oauthError(res, 413, "invalid_request", e.message);
    else throw e;
    return undefined;
  }
}

/** A JSON body that `schema` accepts; undefined once it has answered 413 or 400 (`hint`: what to send). */
async function readJson<S extends z.ZodType>(req: IncomingMessage, res: ServerResponse, schema: S, hint: string): Promise<z.output<S> | undefined> {
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req, maxBodyBytes)) as unknown;
  } catch (e) {
    if (e instanceof BodyTooLarge) oauthError(res, 413, "invalid_request", e.message);
    else oauthError(res, 400, "invalid_request", hint);
    return undefined;
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    send(res, 400, {
      error: "invalid_request",
      error_description: parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
      errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });
    return undefined;
  }
  return parsed.data;
}

/** What oauth.ts and clientCredentials.ts decided, on the wire. */
function answer(res: ServerResponse, a: OAuthAnswer): void {
  if (a.kind === "json") return send(res, a.status, a.body);
  if (a.kind === "redirect") return sendText(res, 302, undefined, { location: a.location, "cache-control": "no-store" });
  sendText(res, a.status, a.html, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // The sign-in page has no script and must not be framed by another site.
    "content-security-policy":
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:* http://localhost:* https://127.0.0.1:* https://localhost:*; frame-ancestors 'none'",
  });
}

const isForm = (req: IncomingMessage): boolean => (req.headers["content-type"] ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded");

export async function startIdentityEmulator(options: IdentityEmulatorOptions = {}): Promise<IdentityEmulator> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host)) {
    throw new Error(`the identity emulator only listens on a loopback address (127.0.0.1, ::1, localhost), not ${host}: anyone who reaches it can mint tokens`);
  }
  const log = options.log ?? (() => undefined);
  const audience = options.audience ?? defaultAudience;
  const signer = await TokenSigner.create(audience);
  signer.issuer = options.issuer?.replace(/\/+$/, "") ?? "";
  let baseUrl = "";
  let tlsBaseUrl = "";
  const flows = new OAuthFlows(options.users ?? [], log);
  const apps = new AppRegistrations(audience, log);

  /** Where the OAuth endpoints are: the HTTPS origin when there is one (MSAL needs it). */
  const endpointBase = (): string => tlsBaseUrl || baseUrl;
  /**
   * A tenant's own authority (`/{tenant}/v2.0/…`, what ClientSecretCredential asks for) names
   * its tenant's token endpoint, as Entra's does; the multi-tenant authorities the portal's
   * MSAL.js uses (`/organizations`, `/common`) and the bare origin keep `/token`.
   */
  const discovery = (tenant?: string): Record<string, unknown> => ({
    issuer: signer.issuer,
    authorization_endpoint: `${endpointBase()}/authorize`,
    token_endpoint: tenant && !multiTenantAuthorities.has(tenant.toLowerCase()) ? `${endpointBase()}/${tenant}/oauth2/v2.0/token` : `${endpointBase()}/token`,
    end_session_endpoint: `${endpointBase()}/logout`,
    jwks_uri: `${endpointBase()}/.well-known/jwks.json`,
    id_token_signing_alg_values_supported: ["RS256"],
    token_endpoint_auth_methods_supported: ["none", "client_secret_post", "client_secret_basic"],
    response_types_supported: ["code"],
    response_modes_supported: ["query", "fragment"],
    grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
    code_challenge_methods_supported: ["S256"],
    scopes_supported: ["openid", "profile", "offline_access"],
    subject_types_supported: ["public"],
    claims_supported: [
      "iss",
      "aud",
      "sub",
      "iat",
      "nbf",
      "exp",
      "tid",
      "oid",
      "name",
      "preferred_username",
      "roles",
      "groups",
      "nonce",
      "scp",
      "idtyp",
      "azp",
      "app_displayname",
    ],
  });

  const routes: Record<string, Partial<Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void>>> = {
    "/.well-known/openid-configuration": { GET: (_req, res, url) => send(res, 200, discovery(tenantDiscoveryPath.exec(url.pathname)?.[1])) },
    "/.well-known/jwks.json": { GET: (_req, res) => send(res, 200, { keys: signer.publicKeys }) },
    "/health": { GET: (_req, res) => send(res, 200, { status: "healthy" }) },
    "/authorize": {
      GET: (_req, res, url) => answer(res, flows.authorize(url.searchParams)),
      POST: async (req, res) => {
        const form = await readForm(req, res);
        if (form) answer(res, flows.submit(form));
      },
    },
    "/logout": { GET: (_req, res, url) => answer(res, flows.logout(url.searchParams)) },
    "/apps": {
      // Dev-only, like POST /token: registers a tenant's app and answers its secret once.
      POST: async (req, res) => {
        const registration = await readJson(
          req,
          res,
          appRegistrationSchema,
          'the body must be JSON: {"tenantId":"…","displayName":"…","roles":["RemoteAssistance.Automation"]}',
        );
        if (!registration) return;
        const app = apps.register(registration);
        if (!app) return oauthError(res, 409, "too_many_apps", "this emulator holds at most 10000 apps; restart it");
        send(res, 201, app);
      },
    },
    "/token": {
      POST: async (req, res) => {
        if (isForm(req)) {
          const form = await readForm(req, res);
          if (form) answer(res, await flows.token(form, signer.signGrant));
          return;
        }
        const claims = await readJson(
          req,
          res,
          claimsSchema,
          'the body must be a JSON object of claims, e.g. {"tid":"…","oid":"…","roles":["…"]} (or a form-encoded OAuth grant)',
        );
        if (!claims) return;
        const { token, expiresIn } = await signer.signClaims(claims);
        log(`issued a token for ${claims.oid} in tenant ${claims.tid} (roles: ${(claims.roles ?? []).join(", ") || "none"})`);
        send(res, 200, { access_token: token, token_type: "Bearer", expires_in: expiresIn });
      },
    },
  };

  /** A tenant's token endpoint: client credentials, and the user grants /token serves. */
  const tenantTokenGrant = async (req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> => {
    if (!isForm(req)) {
      req.resume();
      return oauthError(res, 400, "invalid_request", "the token endpoint takes a form-encoded body (application/x-www-form-urlencoded)");
    }
    const form = await readForm(req, res);
    if (!form) return;
    if (form.get("grant_type") === "client_credentials")
      return answer(res, await apps.clientCredentials(tenant, form, req.headers.authorization, signer.signApp));
    answer(res, await flows.token(form, signer.signGrant));
  };

  const handle: RequestListener = (req, res) => {
    // A browser page asks for tokens from another origin (MSAL sends its own x-client-* headers).
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-allow-headers", req.headers["access-control-request-headers"] ?? "content-type, authorization");
    res.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
    res.setHeader("access-control-max-age", "600");
    const url = new URL(req.url ?? "/", "http://emulator");
    // Entra-style authorities put discovery under a tenant path (/{tenant}/v2.0/.well-known/…).
    const path = url.pathname.endsWith("/.well-known/openid-configuration") ? "/.well-known/openid-configuration" : url.pathname;
    const method = req.method ?? "GET";
    if (method === "OPTIONS") return sendText(res, 204);
    const tenantToken = tenantTokenPath.exec(url.pathname);
    if (tenantToken) {
      if (method !== "POST") {
        req.resume();
        return oauthError(res, 405, "method_not_allowed", `${method} is not supported on ${url.pathname}`, { allow: "POST" });
      }
      tenantTokenGrant(req, res, tenantToken[1]).catch((e: unknown) => {
        log(`POST ${url.pathname} failed: ${e instanceof Error ? e.message : String(e)}`);
        if (!res.headersSent) send(res, 500, { error: "server_error" });
      });
      return;
    }
    const methods = routes[path];
    const handler = methods?.[method];
    if (!handler) {
      req.resume();
      if (methods) return oauthError(res, 405, "method_not_allowed", `${method} is not supported on ${path}`, { allow: Object.keys(methods).join(", ") });
      return oauthError(res, 404, "not_found", `nothing at ${path}`);
    }
    Promise.resolve(handler(req, res, url)).catch((e: unknown) => {
      log(`${method} ${path} failed: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) send(res, 500, { error: "server_error" });
    });
  };

  const servers: Server[] = [createServer(handle)];
  const port = await listen(servers[0], options.port ?? defaultIdentityPort, host);
  baseUrl = `http://${urlHost(host)}:${port}`;
  let certificate: string | undefined;
  if (options.tlsPort !== undefined) {
    const names = [
      { type: 2 as const, value: "localhost" },
      { type: 7 as const, ip: "127.0.0.1" },
      { type: 7 as const, ip: "::1" },
    ];
    const pems = await generateCertificate([{ name: "commonName", value: "identity emulator (localhost)" }], {
      keySize: 2048,
      algorithm: "sha256",
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "subjectAltName", altNames: names },
      ],
    });
    certificate = pems.cert;
    const tls = createTlsServer({ key: pems.private, cert: pems.cert }, handle);
    servers.push(tls as unknown as Server);
    const tlsPort = await listen(tls as unknown as Server, options.tlsPort, host);
    tlsBaseUrl = `https://${urlHost(host)}:${tlsPort}`;
  }
  signer.issuer ||= tlsBaseUrl || baseUrl;
  return {
    port,
    url: baseUrl,
    issuer: signer.issuer,
    audience,
    jwksUri: `${baseUrl}/.well-known/jwks.json`,
    tlsUrl: tlsBaseUrl || undefined,
    certificate,
    issueToken: async (claims: TokenClaims) => (await signer.signClaims(claimsSchema.parse(claims))).token,
    rotateKeys: async () => {
      log(`rotated signing keys; now signing with ${await signer.rotate()}`);
    },
    close: () => Promise.all(servers.map(closeServer)).then(() => undefined),
  };
}
