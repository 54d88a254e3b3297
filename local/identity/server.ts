// Identity provider emulator (stands in for Microsoft Entra ID locally): OIDC discovery,
// a JWKS of RS256 keys made at start, a dev-only POST /token that signs the claims it is
// given (JSON body), and the authorization-code flow with PKCE that MSAL.js uses
// (oauth.ts: GET/POST /authorize, form-encoded POST /token, GET /logout), and app
// registrations with the client-credentials grant a tenant's automation uses
// (clientCredentials.ts: dev-only POST /apps, POST /{tenant}/oauth2/v2.0/token). MSAL talks only
// to an https authority, so with `tlsPort` the emulator also listens with HTTPS on a
// self-signed certificate made at start, and that origin is then its issuer.
// Loopback only: anyone who can reach it can mint tokens.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { generate as generateCertificate } from "selfsigned";
import { z } from "zod";
import { isLoopbackHost, listen, urlHost } from "../loopback.js";
import { OAuthFlows, type OAuthAnswer, type SignInUser, type TokenToSign } from "./oauth.js";
import { AppRegistrations, appRegistrationSchema, type AppTokenToSign } from "./clientCredentials.js";

export type { SignInUser } from "./oauth.js";

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

export interface TokenClaims {
  tid: string;
  oid: string;
  name?: string;
  preferred_username?: string;
  roles?: string[];
  groups?: string[];
  /** 1..86400, default 3600. */
  expiresInSeconds?: number;
  /** Test-only overrides, to mint tokens the app must refuse. */
  expiresAt?: number;
  audience?: string;
  issuer?: string;
  /** `"app"` for an app-only token (client credentials), as Entra's optional claim says. */
  idtyp?: "app" | "user";
  /** The calling app's client id, and its display name (Entra's v1 `app_displayname`). */
  azp?: string;
  app_displayname?: string;
  /** A groups overage: Entra leaves `groups` out and says so with `hasgroups: true`. */
  hasgroups?: boolean;
  /** Test-only: mint a token without `exp`, which the app must refuse. */
  omitExp?: boolean;
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

const id = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and dashes, at most 64");
const claimsSchema = z.strictObject({
  tid: id,
  oid: id,
  name: z.string().max(256).optional(),
  preferred_username: z.string().max(256).optional(),
  roles: z.array(z.string().max(128)).max(100).optional(),
  groups: z.array(z.string().max(128)).max(500).optional(),
  expiresInSeconds: z.number().int().min(1).max(86_400).optional(),
  expiresAt: z.number().int().nonnegative().optional(),
  audience: z.string().min(1).max(512).optional(),
  issuer: z.string().min(1).max(512).optional(),
  idtyp: z.enum(["app", "user"]).optional(),
  azp: z.string().min(1).max(128).optional(),
  app_displayname: z.string().min(1).max(256).optional(),
  hasgroups: z.boolean().optional(),
  omitExp: z.boolean().optional(),
}) satisfies z.ZodType<TokenClaims>;

/** Authorities that name no one tenant; their discovery keeps the tenant-less /token. */
const multiTenantAuthorities = new Set(["organizations", "common", "consumers"]);
const tenantDiscoveryPath = /^\/([A-Za-z0-9.-]{1,64})\/v2\.0\/\.well-known\/openid-configuration$/;
const tenantTokenPath = /^\/([A-Za-z0-9.-]{1,64})\/oauth2\/v2\.0\/token$/;

/** Keys published at once: the signing key and the ones before it, for tokens still in flight. */
const publishedKeys = 3;
const maxBodyBytes = 64 * 1024;

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const kid = randomUUID();
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: "sig", alg: "RS256" } };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new BodyTooLarge(`the body exceeds ${maxBodyBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function startIdentityEmulator(options: IdentityEmulatorOptions = {}): Promise<IdentityEmulator> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host)) {
    throw new Error(`the identity emulator only listens on a loopback address (127.0.0.1, ::1, localhost), not ${host}: anyone who reaches it can mint tokens`);
  }
  const log = options.log ?? (() => undefined);
  const audience = options.audience ?? defaultAudience;
  let keys: SigningKey[] = [await newKey()];
  let issuer = options.issuer?.replace(/\/+$/, "") ?? "";
  let baseUrl = "";
  let tlsBaseUrl = "";

  type ToSign = z.infer<typeof claimsSchema> & { nonce?: string; scp?: string };
  const issue = async (c: ToSign): Promise<{ token: string; expiresIn: number }> => {
    const now = Math.floor(Date.now() / 1000);
    const exp = c.expiresAt ?? now + (c.expiresInSeconds ?? 3600);
    // Entra leaves out roles and groups when there are none; so does this.
    const payload: Record<string, unknown> = { tid: c.tid, oid: c.oid, ver: "2.0" };
    if (c.name !== undefined) payload.name = c.name;
    if (c.preferred_username !== undefined) payload.preferred_username = c.preferred_username;
    if (c.roles !== undefined) payload.roles = c.roles;
    if (c.groups !== undefined) payload.groups = c.groups;
    if (c.nonce !== undefined) payload.nonce = c.nonce;
    if (c.scp !== undefined) payload.scp = c.scp;
    if (c.idtyp !== undefined) payload.idtyp = c.idtyp;
    if (c.azp !== undefined) payload.azp = c.azp;
    if (c.app_displayname !== undefined) payload.app_displayname = c.app_displayname;
    if (c.hasgroups !== undefined) payload.hasgroups = c.hasgroups;
    const signing = keys[0];
    // An already-expired override still gets iat/nbf before exp, so only `exp` is wrong with it.
    const issuedAt = Math.min(now, exp - 1);
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: "RS256", kid: signing.kid, typ: "JWT" })
      .setIssuer(c.issuer ?? issuer)
      .setAudience(c.audience ?? audience)
      .setSubject(c.oid)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setJti(randomUUID());
    if (!c.omitExp) jwt.setExpirationTime(exp);
    const token = await jwt.sign(signing.privateKey);
    return { token, expiresIn: Math.max(0, exp - now) };
  };

  const flows = new OAuthFlows(options.users ?? [], log);
  const signGrant = async (t: TokenToSign): Promise<string> =>
    (
      await issue({
        ...t.user.claims,
        // Entra leaves out roles and groups when there are none.
        roles: t.user.claims.roles.length > 0 ? [...t.user.claims.roles] : undefined,
        groups: t.user.claims.groups.length > 0 ? [...t.user.claims.groups] : undefined,
        audience: t.audience,
        nonce: t.nonce,
        scp: t.scp,
        expiresInSeconds: t.expiresInSeconds,
      })
    ).token;
  const apps = new AppRegistrations(audience, log);
  const signApp = async (t: AppTokenToSign): Promise<string> =>
    (
      await issue({
        tid: t.tenantId,
        oid: t.objectId,
        idtyp: "app",
        azp: t.clientId,
        app_displayname: t.displayName,
        // Entra leaves out roles when none are assigned.
        roles: t.roles.length > 0 ? [...t.roles] : undefined,
        expiresInSeconds: t.expiresInSeconds,
      })
    ).token;
  const answer = (res: ServerResponse, a: OAuthAnswer): void => {
    if (a.kind === "json") return send(res, a.status, a.body);
    if (a.kind === "redirect") {
      res.writeHead(302, { location: a.location, "cache-control": "no-store" }).end();
      return;
    }
    res.writeHead(a.status, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // The sign-in page has no script and must not be framed by another site.
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:* http://localhost:* https://127.0.0.1:* https://localhost:*; frame-ancestors 'none'",
    });
    res.end(a.html);
  };
  const readForm = async (req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams | undefined> => {
    try {
      return new URLSearchParams(await readBody(req));
    } catch (e) {
      if (e instanceof BodyTooLarge) send(res, 413, { error: "invalid_request", error_description: e.message });
      else throw e;
      return undefined;
    }
  };
  const isForm = (req: IncomingMessage): boolean => (req.headers["content-type"] ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded");

  /** Where the OAuth endpoints are: the HTTPS origin when there is one (MSAL needs it). */
  const endpointBase = (): string => tlsBaseUrl || baseUrl;
  /**
   * A tenant's own authority (`/{tenant}/v2.0/…`, what ClientSecretCredential asks for) names
   * its tenant's token endpoint, as Entra's does; the multi-tenant authorities the portal's
   * MSAL.js uses (`/organizations`, `/common`) and the bare origin keep `/token`.
   */
  const discovery = (tenant?: string): Record<string, unknown> => ({
    issuer,
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
    claims_supported: ["iss", "aud", "sub", "iat", "nbf", "exp", "tid", "oid", "name", "preferred_username", "roles", "groups", "nonce", "scp", "idtyp", "azp", "app_displayname"],
  });

  const routes: Record<string, Partial<Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void>>> = {
    "/.well-known/openid-configuration": { GET: (_req, res, url) => send(res, 200, discovery(tenantDiscoveryPath.exec(url.pathname)?.[1])) },
    "/.well-known/jwks.json": { GET: (_req, res) => send(res, 200, { keys: keys.map((k) => k.publicJwk) }) },
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
        let body: unknown;
        try {
          body = JSON.parse(await readBody(req)) as unknown;
        } catch (e) {
          if (e instanceof BodyTooLarge) return send(res, 413, { error: "invalid_request", error_description: e.message });
          return send(res, 400, { error: "invalid_request", error_description: 'the body must be JSON: {"tenantId":"…","displayName":"…","roles":["RemoteAssistance.Automation"]}' });
        }
        const parsed = appRegistrationSchema.safeParse(body);
        if (!parsed.success) {
          return send(res, 400, {
            error: "invalid_request",
            error_description: parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
            errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
          });
        }
        const app = apps.register(parsed.data);
        if (!app) return send(res, 409, { error: "too_many_apps", error_description: "this emulator holds at most 10000 apps; restart it" });
        send(res, 201, app);
      },
    },
    "/token": {
      POST: async (req, res) => {
        if (isForm(req)) {
          const form = await readForm(req, res);
          if (form) answer(res, await flows.token(form, signGrant));
          return;
        }
        let body: unknown;
        try {
          body = JSON.parse(await readBody(req)) as unknown;
        } catch (e) {
          if (e instanceof BodyTooLarge) return send(res, 413, { error: "invalid_request", error_description: e.message });
          return send(res, 400, { error: "invalid_request", error_description: 'the body must be a JSON object of claims, e.g. {"tid":"…","oid":"…","roles":["…"]} (or a form-encoded OAuth grant)' });
        }
        const parsed = claimsSchema.safeParse(body);
        if (!parsed.success) {
          return send(res, 400, {
            error: "invalid_request",
            error_description: parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
            errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
          });
        }
        const { token, expiresIn } = await issue(parsed.data);
        log(`issued a token for ${parsed.data.oid} in tenant ${parsed.data.tid} (roles: ${(parsed.data.roles ?? []).join(", ") || "none"})`);
        send(res, 200, { access_token: token, token_type: "Bearer", expires_in: expiresIn });
      },
    },
  };

  /** A tenant's token endpoint: client credentials, and the user grants /token serves. */
  const tenantTokenGrant = async (req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> => {
    if (!isForm(req)) {
      req.resume();
      return send(res, 400, { error: "invalid_request", error_description: "the token endpoint takes a form-encoded body (application/x-www-form-urlencoded)" });
    }
    const form = await readForm(req, res);
    if (!form) return;
    if (form.get("grant_type") === "client_credentials") return answer(res, await apps.clientCredentials(tenant, form, req.headers.authorization, signApp));
    answer(res, await flows.token(form, signGrant));
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
    if (method === "OPTIONS") {
      res.writeHead(204).end();
      return;
    }
    const tenantToken = tenantTokenPath.exec(url.pathname);
    if (tenantToken) {
      if (method !== "POST") {
        req.resume();
        return send(res, 405, { error: "method_not_allowed", error_description: `${method} is not supported on ${url.pathname}` }, { allow: "POST" });
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
      if (methods) return send(res, 405, { error: "method_not_allowed", error_description: `${method} is not supported on ${path}` }, { allow: Object.keys(methods).join(", ") });
      return send(res, 404, { error: "not_found", error_description: `nothing at ${path}` });
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
    const names = [{ type: 2 as const, value: "localhost" }, { type: 7 as const, ip: "127.0.0.1" }, { type: 7 as const, ip: "::1" }];
    const pems = await generateCertificate([{ name: "commonName", value: "identity emulator (localhost)" }], {
      keySize: 2048,
      algorithm: "sha256",
      extensions: [{ name: "basicConstraints", cA: false }, { name: "subjectAltName", altNames: names }],
    });
    certificate = pems.cert;
    const tls = createTlsServer({ key: pems.private, cert: pems.cert }, handle);
    servers.push(tls as unknown as Server);
    const tlsPort = await listen(tls as unknown as Server, options.tlsPort, host);
    tlsBaseUrl = `https://${urlHost(host)}:${tlsPort}`;
  }
  issuer ||= tlsBaseUrl || baseUrl;
  return {
    port,
    url: baseUrl,
    issuer,
    audience,
    jwksUri: `${baseUrl}/.well-known/jwks.json`,
    tlsUrl: tlsBaseUrl || undefined,
    certificate,
    issueToken: async (claims) => (await issue(claimsSchema.parse(claims))).token,
    rotateKeys: async () => {
      keys = [await newKey(), ...keys].slice(0, publishedKeys);
      log(`rotated signing keys; now signing with ${keys[0].kid}`);
    },
    close: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve, reject) => {
              server.close((e) => (e ? reject(e) : resolve()));
              server.closeAllConnections();
            }),
        ),
      ).then(() => undefined),
  };
}
