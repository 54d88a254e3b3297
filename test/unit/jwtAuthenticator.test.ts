// Bearer token validation with locally generated keys (a local JWKS stands in for the
// remote key set; the integration matrix covers the remote one through the identity emulator).
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { JwtAuthenticator } from "../../shared/adapters/auth/jwtAuthenticator.js";

let sign: (claims: Record<string, unknown>, opts?: { iss?: string; aud?: string; exp?: number }) => Promise<string>;
let keys: ReturnType<typeof createLocalJWKSet>;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256" }] });
  sign = (claims, opts = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer(opts.iss ?? "https://issuer.example")
      .setAudience(opts.aud ?? "api://rac")
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(privateKey);
});

const auth = (issuer = "https://issuer.example") => new JwtAuthenticator({ issuer, audience: "api://rac", jwksUri: "http://unused.invalid/jwks", keys });
const claims = { tid: "AAAA-1", oid: "BBBB-2", name: "Adele", preferred_username: "adele@x", roles: ["Intune.Administrator"], groups: ["g1"] };

describe("JwtAuthenticator", () => {
  it("turns a valid token into a caller with lower-cased ids", async () => {
    const caller = await auth().authenticate(`Bearer ${await sign(claims)}`);
    expect(caller).toEqual({ type: "user", tenantId: "aaaa-1", userId: "bbbb-2", displayName: "Adele", userPrincipalName: "adele@x", roles: ["Intune.Administrator"], groups: ["g1"], groupsOverage: false, tokenKind: "user" });
  });

  it.each([
    [{ hasgroups: true }, true],
    [{ _claim_names: { groups: "src1" } }, true],
    [{ hasgroups: false }, false],
  ])("reads a groups overage from %j", async (extra, overage) => {
    const caller = await auth().authenticate(`Bearer ${await sign({ ...claims, groups: undefined, ...extra })}`);
    expect(caller.groupsOverage).toBe(overage);
    expect(caller.groups).toEqual([]);
  });

  it("tells an app-only token (idtyp app) from a user's", async () => {
    expect((await auth().authenticate(`Bearer ${await sign({ ...claims, idtyp: "app" })}`)).tokenKind).toBe("app");
    expect((await auth().authenticate(`Bearer ${await sign({ ...claims, idtyp: "user" })}`)).tokenKind).toBe("user");
  });

  it("allows a small clock skew but not an expired token", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(auth().authenticate(`Bearer ${await sign(claims, { exp: now - 30 })}`)).resolves.toBeDefined();
    await expect(auth().authenticate(`Bearer ${await sign(claims, { exp: now - 120 })}`)).rejects.toMatchObject({ code: "unauthenticated", detail: "The token has expired." });
  });

  it.each([
    ["no header", null],
    ["a Basic header", "Basic abc"],
    ["garbage", "Bearer not.a.jwt-value"],
  ])("refuses %s", async (_what, header) => {
    await expect(auth().authenticate(header)).rejects.toMatchObject({ code: "unauthenticated" });
  });

  it("refuses the wrong audience, the wrong issuer and missing tid/oid", async () => {
    await expect(auth().authenticate(`Bearer ${await sign(claims, { aud: "api://other" })}`)).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(auth().authenticate(`Bearer ${await sign(claims, { iss: "https://evil.example" })}`)).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(auth().authenticate(`Bearer ${await sign({ oid: "x" })}`)).rejects.toMatchObject({ code: "unauthenticated" });
  });

  it("checks a per-tenant issuer template against the token's own tid", async () => {
    const multi = auth("https://login.microsoftonline.com/{tenantid}/v2.0");
    const good = await sign(claims, { iss: "https://login.microsoftonline.com/AAAA-1/v2.0" });
    const otherTenant = await sign(claims, { iss: "https://login.microsoftonline.com/CCCC-3/v2.0" });
    await expect(multi.authenticate(`Bearer ${good}`)).resolves.toMatchObject({ tenantId: "aaaa-1" });
    await expect(multi.authenticate(`Bearer ${otherTenant}`)).rejects.toMatchObject({ code: "unauthenticated" });
  });
});
