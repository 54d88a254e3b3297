// Bearer token validation with jose against the configured issuer, audience and JWKS.
// The key set (remoteKeySet.ts) is cached, refetched for an unknown `kid` at most every 30 s,
// and kept through outages; one that cannot be loaded is an error of its own, not a 401.
// A delegated token (with `scp`) becomes a UserCaller; an app-only token (`idtyp: "app"`,
// Entra's optional claim, and no `scp`) an AutomationCaller, which the endpoint builder
// admits only at the automation door; any other is refused. Every token must carry `exp`,
// be issued no later than now (iat) and live at most 28 hours.
import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import type { Caller } from "../../domain/caller.js";
import { DomainError, errorCodes } from "../../domain/errors.js";
import { neutralizeHidden } from "../../contracts/common.js";
import { isKeySetFailure, remoteKeySet } from "./remoteKeySet.js";

const claimsSchema = z.object({
  tid: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  oid: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  // Names are shown in the portal and the audit log: hidden characters become U+FFFD (docs/api.md, "Free text").
  name: z.string().max(256).transform(neutralizeHidden).optional(),
  preferred_username: z.string().max(256).transform(neutralizeHidden).optional(),
  roles: z.array(z.string().max(128)).max(100).optional(),
  groups: z.array(z.string().max(128)).max(500).optional(),
  idtyp: z.string().max(16).optional(),
  // The delegated scopes, space-separated: only a user's token has them.
  scp: z.string().min(1).max(1024).optional(),
  azp: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .optional(),
  app_displayname: z.string().min(1).max(256).transform(neutralizeHidden).optional(),
  // A groups overage: Entra leaves `groups` out and says so with `hasgroups` (implicit
  // flow) or a `_claim_names.groups` pointer to Graph (other flows).
  hasgroups: z.boolean().optional(),
  _claim_names: z.object({ groups: z.unknown().optional() }).optional(),
});

export interface Authenticator {
  authenticate(authorizationHeader: string | null): Promise<Caller>;
}

/**
 * The longest bearer token accepted. Entra's largest access tokens, with the 200 group ids it
 * lists before it reports an overage instead, are about 12,000 characters.
 */
const maxTokenLength = 16 * 1024;

/** How far the identity provider's clock may be ahead of ours: for exp, nbf and iat alike. */
const clockSkewSeconds = 60;

/**
 * The longest lifetime (exp after iat) accepted. Entra's access tokens live 60 to 90 minutes,
 * and up to 28 hours in sessions under continuous access evaluation; a token meant to live
 * longer was not issued by it as configured, and would outlive any revocation.
 */
const maxLifetimeSeconds = 28 * 60 * 60;

const unauthenticated = (detail: string, cause?: unknown): DomainError => new DomainError(errorCodes.unauthenticated, detail, { cause });

/** Names the claim the schema refused (its name only, never its value), as jose's own refusals do. */
function unusableClaim(payload: Record<string, unknown>, error: z.ZodError): DomainError {
  const claim = String(error.issues[0]?.path[0] ?? "tid");
  return payload[claim] === undefined
    ? unauthenticated(`The token has no ${claim} claim; this API accepts only tokens that carry it.`)
    : unauthenticated(`The token's ${claim} claim is not accepted.`);
}

/**
 * jose checks iat only against a maximum age, and exp only against now. A token issued in the
 * future, or living longer than any Entra issues, is refused: a signing key or clock gone wrong
 * at the provider, or a token minted to be replayed for years. jose has checked both are numbers.
 */
function checkIssueTime(payload: { iat?: number; exp?: number }): void {
  const now = Math.floor(Date.now() / 1000);
  if (payload.iat !== undefined && payload.iat > now + clockSkewSeconds) {
    throw unauthenticated("The token's iat claim is not accepted: it was issued in the future.");
  }
  // A token without iat is measured from now.
  if (payload.exp !== undefined && payload.exp - (payload.iat ?? now) > maxLifetimeSeconds) {
    throw unauthenticated(`The token's exp claim is not accepted: it lives longer than ${maxLifetimeSeconds / 3600} hours.`);
  }
}

export class JwtAuthenticator implements Authenticator {
  readonly #keys: JWTVerifyGetKey;
  readonly #issuer: string;
  readonly #audience: string;
  readonly #jwksUri: string;

  constructor(options: { issuer: string; audience: string; jwksUri: string; keys?: JWTVerifyGetKey }) {
    this.#issuer = options.issuer;
    this.#audience = options.audience;
    this.#jwksUri = options.jwksUri;
    this.#keys = options.keys ?? remoteKeySet(new URL(options.jwksUri));
  }

  async authenticate(header: string | null): Promise<Caller> {
    if (!header) throw unauthenticated("A bearer token is required (Authorization: Bearer <token>).");
    // HTTP's credentials: the scheme in any case, one or more spaces, the token (a token68).
    const match = /^Bearer +([A-Za-z0-9._~+/=-]{10,})$/i.exec(header.trim());
    if (!match) throw unauthenticated("The Authorization header must be 'Bearer <token>'.");
    if (match[1].length > maxTokenLength) throw unauthenticated(`The bearer token is longer than ${maxTokenLength} characters.`);
    // A multi-tenant app registration names its issuer per tenant
    // (https://login.microsoftonline.com/{tenantid}/v2.0): checked against the token's own tid below.
    const perTenantIssuer = this.#issuer.includes("{tenantid}");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], this.#keys, {
        issuer: perTenantIssuer ? undefined : this.#issuer,
        audience: this.#audience,
        algorithms: ["RS256"],
        clockTolerance: clockSkewSeconds,
        // jose checks exp only when present; a token that never expires is not accepted.
        requiredClaims: ["exp"],
      }));
    } catch (e) {
      if (isKeySetFailure(e)) {
        // Answered 500 and logged: every caller is refused until the key set loads again.
        throw new Error(`could not load the identity provider's signing keys (JWKS) from ${this.#jwksUri}: ${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        });
      }
      if (e instanceof joseErrors.JWTExpired) throw unauthenticated("The token has expired.", e);
      if (e instanceof joseErrors.JWTClaimValidationFailed && e.reason === "missing") {
        throw unauthenticated(`The token has no ${e.claim} claim; this API accepts only tokens that carry it.`, e);
      }
      if (e instanceof joseErrors.JWTClaimValidationFailed) throw unauthenticated(`The token's ${e.claim} claim is not accepted.`, e);
      throw unauthenticated("The token is not valid.", e);
    }
    checkIssueTime(payload);
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw unusableClaim(payload as Record<string, unknown>, claims.error);
    const c = claims.data;
    if (perTenantIssuer && (payload as { iss?: unknown }).iss !== this.#issuer.replace("{tenantid}", c.tid)) {
      throw unauthenticated("The token's iss claim is not accepted.");
    }
    // Entra: a delegated token carries scp, an app-only one roles and no scp. Both marks must
    // agree, so an app's token without the idtyp claim is no user's, and no token is both.
    if (c.idtyp === "app") {
      if (!c.azp) throw unauthenticated("The app-only token lacks the azp claim (the calling app's client id).");
      if (c.scp !== undefined) throw unauthenticated("The app-only token (idtyp app) carries an scp claim, which only a user's token has.");
      return {
        type: "automation",
        tenantId: c.tid.toLowerCase(),
        userId: c.oid.toLowerCase(),
        displayName: c.app_displayname ?? c.azp,
        clientId: c.azp.toLowerCase(),
        roles: c.roles ?? [],
      };
    }
    if (c.scp === undefined) {
      throw unauthenticated("The token has no scp claim; a user's token carries the scope it was granted, an app's says idtyp app.");
    }
    const groupsOverage = c.hasgroups === true || c._claim_names?.groups !== undefined;
    return {
      type: "user",
      tenantId: c.tid.toLowerCase(),
      userId: c.oid.toLowerCase(),
      displayName: c.name ?? c.preferred_username ?? c.oid,
      userPrincipalName: c.preferred_username,
      roles: c.roles ?? [],
      groups: c.groups ?? [],
      ...(groupsOverage ? { groupsOverage: true } : {}),
    };
  }
}
