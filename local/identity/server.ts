// Identity provider emulator (stands in for Microsoft Entra ID locally): OIDC discovery,
// a JWKS of RS256 keys generated at start, and a dev-only POST /token that signs the
// claims it is given. Loopback only: anyone who can reach it can mint tokens.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { z } from "zod";
import { isLoopbackHost, listen, urlHost } from "../loopback.js";

export const defaultIdentityPort = 7074;
export const defaultAudience = "api://remote-assistance-connector";

export interface IdentityEmulatorOptions {
  port?: number;
  host?: string;
  issuer?: string;
  audience?: string;
  log?: (line: string) => void;
}

export interface TokenClaims {
  tid: string;
  oid: string;
  name?: string;
  preferred_username?: string;
  roles?: string[];
  groups?: string[];
  expiresInSeconds?: number;
  /** Test-only overrides, to mint tokens the app must refuse. */
  expiresAt?: number;
  audience?: string;
  issuer?: string;
}

export interface IdentityEmulator {
  readonly port: number;
  readonly url: string;
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string;
  issueToken(claims: TokenClaims): Promise<string>;
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
  expiresAt: z.number().int().optional(),
  audience: z.string().min(1).max(512).optional(),
  issuer: z.string().min(1).max(512).optional(),
});

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: "sig", alg: "RS256" } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null") as unknown;
}

export async function startIdentityEmulator(options: IdentityEmulatorOptions = {}): Promise<IdentityEmulator> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host)) throw new Error(`the identity emulator only listens on loopback (asked for ${host}): anyone reaching it can mint tokens`);
  const log = options.log ?? (() => undefined);
  const audience = options.audience ?? defaultAudience;
  let keys: SigningKey[] = [await newKey()];
  let issuer = options.issuer ?? "";
  let baseUrl = "";

  const issue = async (c: TokenClaims): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const exp = c.expiresAt ?? now + (c.expiresInSeconds ?? 3600);
    const payload: Record<string, unknown> = { tid: c.tid, oid: c.oid, roles: c.roles ?? [], groups: c.groups ?? [] };
    if (c.name) payload.name = c.name;
    if (c.preferred_username) payload.preferred_username = c.preferred_username;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: "RS256", kid: keys[0].kid, typ: "JWT" })
      .setIssuer(c.issuer ?? issuer)
      .setAudience(c.audience ?? audience)
      .setSubject(c.oid)
      .setIssuedAt(Math.min(now, exp - 1))
      .setNotBefore(Math.min(now, exp - 1))
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(keys[0].privateKey);
  };

  const server = createServer((req, res) => {
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-allow-headers", "content-type, authorization");
    res.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
    const path = (req.url ?? "/").split("?")[0];
    void (async () => {
      if (req.method === "OPTIONS") {
        res.writeHead(204).end();
        return;
      }
      if (req.method === "GET" && path === "/.well-known/openid-configuration") {
        return send(res, 200, {
          issuer,
          jwks_uri: `${baseUrl}/.well-known/jwks.json`,
          token_endpoint: `${baseUrl}/token`,
          id_token_signing_alg_values_supported: ["RS256"],
          response_types_supported: ["token"],
          subject_types_supported: ["public"],
        });
      }
      if (req.method === "GET" && path === "/.well-known/jwks.json") return send(res, 200, { keys: keys.map((k) => k.publicJwk) });
      if (req.method === "GET" && path === "/health") return send(res, 200, { status: "healthy" });
      if (req.method === "POST" && path === "/token") {
        let body: unknown;
        try {
          body = await readJson(req);
        } catch {
          return send(res, 400, { error: "invalid_request", error_description: "the body must be JSON claims" });
        }
        const parsed = claimsSchema.safeParse(body);
        if (!parsed.success) {
          return send(res, 400, {
            error: "invalid_request",
            error_description: parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
          });
        }
        const token = await issue(parsed.data);
        log(`issued a token for ${parsed.data.oid} in tenant ${parsed.data.tid} (roles: ${(parsed.data.roles ?? []).join(", ") || "none"})`);
        return send(res, 200, { access_token: token, token_type: "Bearer", expires_in: (parsed.data.expiresAt ?? Math.floor(Date.now() / 1000) + (parsed.data.expiresInSeconds ?? 3600)) - Math.floor(Date.now() / 1000) });
      }
      send(res, 404, { error: "not_found" });
    })().catch((e: unknown) => {
      log(`request failed: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) send(res, 500, { error: "internal_error" });
    });
  });

  const port = await listen(server, options.port ?? defaultIdentityPort, host);
  baseUrl = `http://${urlHost(host)}:${port}`;
  issuer ||= baseUrl;
  return {
    port,
    url: baseUrl,
    issuer,
    audience,
    jwksUri: `${baseUrl}/.well-known/jwks.json`,
    issueToken: (claims) => issue(claimsSchema.parse(claims)),
    rotateKeys: async () => {
      // The old key stays published so tokens already issued keep verifying.
      keys = [await newKey(), ...keys].slice(0, 2);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
