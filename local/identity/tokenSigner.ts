// The identity emulator's tokens: RS256 signing keys made at start (rotation keeps the last
// few in the JWKS) and the JWTs it mints, shaped as Entra's v2.0 access and ID tokens.
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { z } from "zod";
import type { AppTokenToSign } from "./clientCredentials.js";
import type { TokenToSign } from "./oauth.js";

export interface TokenClaims {
  tid: string;
  oid: string;
  name?: string;
  preferred_username?: string;
  roles?: readonly string[];
  groups?: readonly string[];
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
  /**
   * The delegated scopes. A user's token (idtyp not "app") gets the API's `access_as_user`
   * unless this says otherwise, as Entra's do; an app-only token gets none unless given
   * (test-only, a token the app must refuse).
   */
  scp?: string;
  /** Test-only: mint a user's token without `scp`, which the app must refuse. */
  omitScp?: boolean;
}

/** The API's one delegated scope (the app registration's `access_as_user`). */
export const apiDelegatedScope = "access_as_user";

const id = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "letters, digits and dashes, at most 64");
export const claimsSchema = z.strictObject({
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
  scp: z.string().max(1024).optional(),
  omitScp: z.boolean().optional(),
}) satisfies z.ZodType<TokenClaims>;

type ToSign = Omit<z.infer<typeof claimsSchema>, "omitScp"> & { nonce?: string };

/** Keys published at once: the signing key and the ones before it, for tokens still in flight. */
const publishedKeys = 3;

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

export class TokenSigner {
  #keys: SigningKey[];
  readonly #audience: string;
  /** Known once the emulator listens (its own origin, unless configured). */
  issuer = "";

  private constructor(key: SigningKey, audience: string) {
    this.#keys = [key];
    this.#audience = audience;
  }

  static async create(audience: string): Promise<TokenSigner> {
    return new TokenSigner(await newKey(), audience);
  }

  /** The JWKS's keys: the signing key first. */
  get publicKeys(): JWK[] {
    return this.#keys.map((k) => k.publicJwk);
  }

  /** Signs with a new key (new kid); the previous keys stay published. Answers the new kid. */
  async rotate(): Promise<string> {
    this.#keys = [await newKey(), ...this.#keys].slice(0, publishedKeys);
    return this.#keys[0].kid;
  }

  async sign(c: ToSign): Promise<{ token: string; expiresIn: number }> {
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
    const signing = this.#keys[0];
    // An already-expired override still gets iat/nbf before exp, so only `exp` is wrong with it.
    const issuedAt = Math.min(now, exp - 1);
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: "RS256", kid: signing.kid, typ: "JWT" })
      .setIssuer(c.issuer ?? this.issuer)
      .setAudience(c.audience ?? this.#audience)
      .setSubject(c.oid)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setJti(randomUUID());
    if (!c.omitExp) jwt.setExpirationTime(exp);
    const token = await jwt.sign(signing.privateKey);
    return { token, expiresIn: Math.max(0, exp - now) };
  }

  /** A token from the dev-only POST /token (and issueToken): a user's carries the API's scope, as Entra's does. */
  async signClaims({ omitScp, ...c }: z.infer<typeof claimsSchema>): Promise<{ token: string; expiresIn: number }> {
    const userToken = c.idtyp !== "app";
    return this.sign({ ...c, scp: omitScp ? undefined : (c.scp ?? (userToken ? apiDelegatedScope : undefined)) });
  }

  /** A signed-in user's token from the code flow (oauth.ts). */
  readonly signGrant = async (t: TokenToSign): Promise<string> =>
    (
      await this.sign({
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

  /** An app-only token from the client-credentials grant (clientCredentials.ts). */
  readonly signApp = async (t: AppTokenToSign): Promise<string> =>
    (
      await this.sign({
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
}
