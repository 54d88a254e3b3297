// The identity provider's signing keys (JWKS), fetched by jose and kept through its outages.
// jose keeps the keys 10 minutes and fetches again for an unknown `kid` at most every 30 s
// (so forged kids cannot make it hammer the provider). But once the 10 minutes are up, a
// fetch that fails fails the request, and every request fetches again, each waiting up to
// jose's 5 s timeout: a short outage of the provider's key endpoint would refuse every
// caller and pile requests onto it. So the keys loaded last keep checking tokens for up to
// an hour, and after a failed fetch the next one waits 30 s.
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwksCache, type JWKSCacheInput, type JWTVerifyGetKey } from "jose";

/** How long the keys loaded last keep checking tokens while no fetch succeeds. */
const lastKeysServeMs = 60 * 60_000;
/** After a failed fetch, how long the keys loaded last are used without fetching again. */
const retryFetchAfterMs = 30_000;

/**
 * jose's errors that say the key set could not be fetched or read (a timeout, a status other
 * than 200, a body that is no JWKS, a network error): the identity provider's fault or ours,
 * never the token's, so not a 401.
 */
export const isKeySetFailure = (e: unknown): boolean =>
  !(e instanceof joseErrors.JOSEError) || e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || e.code === joseErrors.JOSEError.code; // jose's generic error: "Expected 200 OK …", "Failed to parse …"

export function remoteKeySet(url: URL): JWTVerifyGetKey {
  // jose writes each key set it loads, and when, into this object.
  const loaded: JWKSCacheInput = {};
  const remote = createRemoteJWKSet(url, { cooldownDuration: 30_000, cacheMaxAge: 600_000, [jwksCache]: loaded });
  let failedAt = Number.NEGATIVE_INFINITY;
  let last: { readonly uat: number; readonly keys: JWTVerifyGetKey } | undefined;
  const lastKeys = (): JWTVerifyGetKey | undefined => {
    if (!("jwks" in loaded) || Date.now() - loaded.uat >= lastKeysServeMs) return undefined;
    if (last?.uat !== loaded.uat) last = { uat: loaded.uat, keys: createLocalJWKSet(loaded.jwks) };
    return last.keys;
  };
  return async (header, token) => {
    const fallback = lastKeys();
    if (fallback && Date.now() - failedAt < retryFetchAfterMs) return fallback(header, token);
    try {
      return await remote(header, token);
    } catch (e) {
      if (!isKeySetFailure(e)) throw e;
      failedAt = Date.now();
      if (!fallback) throw e;
      return fallback(header, token);
    }
  };
}
