// Bearer token validation with locally generated keys (a local JWKS stands in for the
// remote key set; the integration matrix covers the remote one through the identity emulator).
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { base64url, createLocalJWKSet, exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { JwtAuthenticator } from "../../shared/adapters/auth/jwtAuthenticator.js";

let sign: (claims: Record<string, unknown>, opts?: { iss?: string; aud?: string; exp?: number | null; iat?: number | null }) => Promise<string>;
let keys: ReturnType<typeof createLocalJWKSet>;
/** The published key, and its PEM: what an attacker can read. */
let publicJwk: JWK;
let publicPem: string;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  publicJwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256" };
  publicPem = await exportSPKI(publicKey);
  keys = createLocalJWKSet({ keys: [publicJwk] });
  sign = (claims, opts = {}) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer(opts.iss ?? "https://issuer.example")
      .setAudience(opts.aud ?? "api://rac");
    // iat: null = a token without iat
    if (opts.iat !== null) jwt.setIssuedAt(opts.iat);
    // exp: null = a token without exp
    if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 600);
    return jwt.sign(privateKey);
  };
});

const auth = (issuer = "https://issuer.example") => new JwtAuthenticator({ issuer, audience: "api://rac", jwksUri: "http://unused.invalid/jwks", keys });
const claims = {
  tid: "AAAA-1",
  oid: "BBBB-2",
  name: "Adele",
  preferred_username: "adele@x",
  roles: ["Intune.Administrator"],
  groups: ["g1"],
  scp: "access_as_user",
};

describe("JwtAuthenticator", () => {
  it("turns a valid token into a caller with lower-cased ids", async () => {
    const caller = await auth().authenticate(`Bearer ${await sign(claims)}`);
    expect(caller).toEqual({
      type: "user",
      tenantId: "aaaa-1",
      userId: "bbbb-2",
      displayName: "Adele",
      userPrincipalName: "adele@x",
      roles: ["Intune.Administrator"],
      groups: ["g1"],
    });
  });

  it("shows hidden characters in the names a token carries as U+FFFD (they reach the portal and the audit log)", async () => {
    // Act
    const user = await auth().authenticate(`Bearer ${await sign({ ...claims, name: "Ad\u202eele", preferred_username: "adele\u0000@x" })}`);
    const app = await auth().authenticate(`Bearer ${await sign({ ...claims, scp: undefined, idtyp: "app", azp: "c1", app_displayname: "Help\u200bdesk" })}`);

    // Assess
    expect(user).toMatchObject({ displayName: "Ad\ufffdele", userPrincipalName: "adele\ufffd@x" });
    expect(app).toMatchObject({ displayName: "Help\ufffddesk" });
  });

  it.each([
    [{ hasgroups: true }, true],
    [{ _claim_names: { groups: "src1" } }, true],
    [{ hasgroups: false }, false],
  ])("reads a groups overage from %j", async (extra, overage) => {
    const caller = await auth().authenticate(`Bearer ${await sign({ ...claims, groups: undefined, ...extra })}`);
    expect(caller.type).toBe("user");
    if (caller.type !== "user") return;
    expect(caller.groupsOverage === true).toBe(overage);
    expect(caller.groups).toEqual([]);
  });

  it("tells an app-only token (idtyp app) from a user's", async () => {
    expect((await auth().authenticate(`Bearer ${await sign({ ...claims, scp: undefined, idtyp: "app", azp: "c1" })}`)).type).toBe("automation");
    expect((await auth().authenticate(`Bearer ${await sign({ ...claims, idtyp: "user" })}`)).type).toBe("user");
  });

  it("allows a small clock skew but not an expired token", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(auth().authenticate(`Bearer ${await sign(claims, { exp: now - 30 })}`)).resolves.toBeDefined();
    await expect(auth().authenticate(`Bearer ${await sign(claims, { exp: now - 120 })}`)).rejects.toMatchObject({
      code: "unauthenticated",
      detail: "The token has expired.",
    });
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

  it("refuses a token without exp: it would never expire", async () => {
    // Prepare
    const token = await sign(claims, { exp: null });

    // Act
    const attempt = auth().authenticate(`Bearer ${token}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail: expect.stringContaining("no exp claim") });
  });

  it("turns an app-only token into an automation caller named by app_displayname, else by its client id", async () => {
    // Prepare
    const app = { tid: "AAAA-1", oid: "SP-1", idtyp: "app", azp: "CLIENT-1", roles: ["RemoteAssistance.Automation"] };

    // Act
    const named = await auth().authenticate(`Bearer ${await sign({ ...app, app_displayname: "Help desk bot" })}`);
    const unnamed = await auth().authenticate(`Bearer ${await sign(app)}`);

    // Assess
    expect(named).toEqual({
      type: "automation",
      tenantId: "aaaa-1",
      userId: "sp-1",
      displayName: "Help desk bot",
      clientId: "client-1",
      roles: ["RemoteAssistance.Automation"],
    });
    expect(unnamed).toMatchObject({ type: "automation", displayName: "CLIENT-1" });
  });

  it("refuses an app-only token without azp, and keeps a token without idtyp, or with idtyp user, a user's", async () => {
    // Prepare
    const noAzp = await sign({ tid: "AAAA-1", oid: "SP-1", idtyp: "app", roles: ["RemoteAssistance.Automation"] });

    // Act
    const asUser = await auth().authenticate(`Bearer ${await sign({ ...claims, idtyp: "user" })}`);
    const plain = await auth().authenticate(`Bearer ${await sign(claims)}`);

    // Assess
    await expect(auth().authenticate(`Bearer ${noAzp}`)).rejects.toMatchObject({ code: "unauthenticated", detail: expect.stringContaining("azp") });
    expect(asUser.type).toBe("user");
    expect(plain.type).toBe("user");
  });

  it.each([
    ["hasgroups: true", { hasgroups: true }],
    [
      "a _claim_names.groups pointer",
      { _claim_names: { groups: "src1" }, _claim_sources: { src1: { endpoint: "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } } },
    ],
  ])("flags a groups overage (%s)", async (_what, overage) => {
    // Prepare
    const { groups: _groups, ...withoutGroups } = claims;

    // Act
    const caller = await auth().authenticate(`Bearer ${await sign({ ...withoutGroups, ...overage })}`);

    // Assess
    expect(caller).toMatchObject({ type: "user", groups: [], groupsOverage: true });
  });

  it("does not flag an overage when the token carries its groups", async () => {
    // Act
    const caller = await auth().authenticate(`Bearer ${await sign({ ...claims, hasgroups: false })}`);

    // Assess
    expect(caller).not.toHaveProperty("groupsOverage");
  });
});

describe("JwtAuthenticator: a user's token or an app's (scp and idtyp)", () => {
  const { scp: _scp, ...withoutScp } = claims;
  const app = { tid: "AAAA-1", oid: "SP-1", idtyp: "app", azp: "CLIENT-1", roles: ["RemoteAssistance.Automation"] };

  it.each([
    ["without idtyp", withoutScp],
    ["with idtyp user", { ...withoutScp, idtyp: "user" }],
    ["with app roles only, as an app's token without the idtyp claim", { tid: "AAAA-1", oid: "SP-1", azp: "CLIENT-1", roles: ["RemoteAssistance.Request"] }],
    ["with an empty scp", { ...claims, scp: "" }],
  ])("refuses a token that claims to be a user's %s but has no delegated scope (scp)", async (_what, token) => {
    // Act
    const attempt = auth().authenticate(`Bearer ${await sign(token)}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail: expect.stringContaining("scp") });
  });

  it("refuses an ID token issued to a client that shares the API's client id: it has the audience but no scp", async () => {
    // Prepare: what Entra's sign-in hands the client itself (aud = its client id, nonce, no scp).
    const idToken = await sign({ ...withoutScp, nonce: "n-1", ver: "2.0" });

    // Act
    const attempt = auth().authenticate(`Bearer ${idToken}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail: expect.stringContaining("no scp claim") });
  });

  it("refuses a token that says it is an app's (idtyp app) but carries a delegated scope (scp)", async () => {
    // Act
    const attempt = auth().authenticate(`Bearer ${await sign({ ...app, scp: "access_as_user" })}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail: expect.stringContaining("scp") });
  });

  it("takes a token with scp for a user's and one with idtyp app and no scp for an app's", async () => {
    // Act
    const user = await auth().authenticate(`Bearer ${await sign(claims)}`);
    const automation = await auth().authenticate(`Bearer ${await sign(app)}`);

    // Assess
    expect(user.type).toBe("user");
    expect(automation.type).toBe("automation");
  });
});

describe("JwtAuthenticator: claims it cannot use", () => {
  it.each([
    ["no tid", { tid: undefined }, "The token has no tid claim; this API accepts only tokens that carry it."],
    ["an oid that is no id", { oid: "../other" }, "The token's oid claim is not accepted."],
    ["more than 100 roles", { roles: Array.from({ length: 101 }, (_, i) => `Role.${i}`) }, "The token's roles claim is not accepted."],
    ["a name longer than 256 characters", { name: "x".repeat(257) }, "The token's name claim is not accepted."],
    ["groups that are not a list", { groups: "g1" }, "The token's groups claim is not accepted."],
  ])("names the claim when a token has %s", async (_what, change, detail) => {
    // Act
    const attempt = auth().authenticate(`Bearer ${await sign({ ...claims, ...change })}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail });
  });
});

describe("JwtAuthenticator: the Authorization header", () => {
  it("accepts a token with the 200 groups Entra puts in one before it reports an overage", async () => {
    // Prepare: Entra's v2 access token lists up to 200 group ids (beyond, `_claim_names`), each a GUID.
    const groups = Array.from({ length: 200 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
    const token = await sign({ ...claims, groups, scp: "access_as_user", wids: ["b79fbf4d-3ef9-4689-8143-76b194e85509"] });

    // Act
    const caller = await auth().authenticate(`Bearer ${token}`);

    // Assess
    expect(token.length).toBeGreaterThan(8192);
    expect(caller).toMatchObject({ type: "user", groups });
  });

  it.each([
    ["the scheme in any case", (t: string) => `bearer ${t}`],
    ["more than one space after the scheme", (t: string) => `Bearer   ${t}`],
    ["spaces around the header", (t: string) => `  BEARER ${t} `],
  ])("accepts %s (HTTP's credentials syntax)", async (_what, header) => {
    // Act
    const caller = await auth().authenticate(header(await sign(claims)));

    // Assess
    expect(caller).toMatchObject({ type: "user", tenantId: "aaaa-1" });
  });

  it.each([
    ["two Authorization headers (joined by a comma)", (t: string) => `Bearer ${t}, Bearer ${t}`],
    ["a tab after the scheme", (t: string) => `Bearer\t${t}`],
    ["no space after the scheme", (t: string) => `Bearer${t}`],
    ["another scheme", (t: string) => `Token ${t}`],
  ])("refuses %s", async (_what, header) => {
    // Act
    const attempt = auth().authenticate(header(await sign(claims)));

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail: "The Authorization header must be 'Bearer <token>'." });
  });

  it("refuses a header beyond any token Entra issues, saying why and without echoing it", async () => {
    // Prepare
    const huge = `eyJ${"A".repeat(64 * 1024)}`;

    // Act
    const attempt = auth().authenticate(`Bearer ${huge}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail: expect.stringContaining("longer than") });
    await expect(attempt).rejects.not.toMatchObject({ detail: expect.stringContaining("AAAA") });
  });
});

describe("JwtAuthenticator: forged tokens", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const payload = () => ({ ...claims, iss: "https://issuer.example", aud: "api://rac", iat: now(), exp: now() + 600 });
  const encode = (part: object) => base64url.encode(JSON.stringify(part));
  /** A token with any header, signed with HMAC-SHA256 under `secret`. */
  const hmacSigned = (header: object, secret: string) => {
    const input = `${encode(header)}.${encode(payload())}`;
    return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
  };
  const attacker = async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    return { privateKey, jwk: await exportJWK(publicKey) };
  };

  it.each([
    ['alg "none", no signature', () => `${encode({ alg: "none", kid: "k1" })}.${encode(payload())}.`],
    ['alg "none" with a signature part', () => `${encode({ alg: "none", kid: "k1" })}.${encode(payload())}.c2ln`],
    ["HS256 with the published JWK as the secret", () => hmacSigned({ alg: "HS256", kid: "k1" }, JSON.stringify(publicJwk))],
    ["HS256 with the published key's PEM as the secret", () => hmacSigned({ alg: "HS256", kid: "k1" }, publicPem)],
    ["HS256 with the modulus as the secret", () => hmacSigned({ alg: "HS256", kid: "k1" }, String(publicJwk.n))],
  ])("refuses %s", async (_what, forge) => {
    // Act
    const attempt = auth().authenticate(`Bearer ${forge()}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail: "The token is not valid." });
  });

  it.each([
    ["its own key embedded (jwk)", (jwk: JWK) => ({ alg: "RS256", jwk })],
    ["its own key embedded under the published kid", (jwk: JWK) => ({ alg: "RS256", kid: "k1", jwk })],
    ["a key set URL of its own (jku)", () => ({ alg: "RS256", kid: "k1", jku: "https://attacker.example/jwks" })],
    ["a certificate URL of its own (x5u)", () => ({ alg: "RS256", kid: "k1", x5u: "https://attacker.example/cert.pem" })],
    ["the published kid", () => ({ alg: "RS256", kid: "k1" })],
  ])("refuses a token signed by another key that names %s", async (_what, header) => {
    // Prepare
    const { privateKey, jwk } = await attacker();
    const forged = await new SignJWT(payload()).setProtectedHeader(header(jwk)).sign(privateKey);

    // Act
    const attempt = auth().authenticate(`Bearer ${forged}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated" });
  });

  it("refuses a token that is not valid yet (nbf beyond the clock skew)", async () => {
    // Prepare
    const early = await sign({ ...claims, nbf: now() + 600 });

    // Act
    const attempt = auth().authenticate(`Bearer ${early}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail: "The token's nbf claim is not accepted." });
  });
});

describe("JwtAuthenticator: issue time and lifetime", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const hours = 3600;

  it.each([
    [
      "issued in the future (iat beyond the clock skew)",
      { iat: now() + 600, exp: now() + 3600 },
      "The token's iat claim is not accepted: it was issued in the future.",
    ],
    [
      "living longer than Entra's tokens (exp more than 28 h after iat)",
      { iat: now(), exp: now() + 29 * hours },
      "The token's exp claim is not accepted: it lives longer than 28 hours.",
    ],
    [
      "living years (exp far past iat)",
      { iat: now() - 60, exp: now() + 10 * 365 * 24 * hours },
      "The token's exp claim is not accepted: it lives longer than 28 hours.",
    ],
    [
      "without iat, expiring more than 28 h from now",
      { iat: null, exp: now() + 29 * hours },
      "The token's exp claim is not accepted: it lives longer than 28 hours.",
    ],
  ])("refuses a token %s, saying why", async (_what, times, detail) => {
    // Act
    const attempt = auth().authenticate(`Bearer ${await sign(claims, times)}`);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated", detail });
  });

  it.each([
    ["issued within the clock skew ahead", { iat: now() + 30, exp: now() + hours }],
    ["living 28 hours", { iat: now(), exp: now() + 28 * hours }],
    ["without iat, expiring in an hour", { iat: null, exp: now() + hours }],
  ])("accepts a token %s", async (_what, times) => {
    // Act
    const caller = await auth().authenticate(`Bearer ${await sign(claims, times)}`);

    // Assess
    expect(caller).toMatchObject({ type: "user", tenantId: "aaaa-1" });
  });
});

describe("JwtAuthenticator: the identity provider's key set", () => {
  // A JWKS endpoint that answers what `answer` says, counting its requests.
  let answer: { status: number; body: string } = { status: 200, body: "{}" };
  let jwksRequests = 0;
  const server = createServer((_req, res) => {
    jwksRequests += 1;
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(answer.body);
  });
  let jwksUri = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const remote = () => new JwtAuthenticator({ issuer: "https://issuer.example", audience: "api://rac", jwksUri });

  it.each([
    ["answers 503", { status: 503, body: "unavailable" }],
    ["answers something that is not JSON", { status: 200, body: "<html>" }],
    ["answers JSON that is no key set", { status: 200, body: '{"keys":"none"}' }],
  ])("does not blame the caller's token when the JWKS endpoint %s", async (_what, jwks) => {
    // Prepare
    answer = jwks;
    const token = await sign(claims);

    // Act
    const attempt = remote().authenticate(`Bearer ${token}`);

    // Assess: not a 401 (the token may well be good), but an error the endpoint logs and answers 500 to.
    await expect(attempt).rejects.toThrow(/signing keys/);
    await expect(attempt).rejects.not.toMatchObject({ code: "unauthenticated" });
  });

  it("does not fetch the key set again for every unknown kid: forged kids cannot make it hammer the provider", async () => {
    // Prepare
    answer = { status: 200, body: JSON.stringify({ keys: [publicJwk] }) };
    const authenticator = remote();
    await authenticator.authenticate(`Bearer ${await sign(claims)}`);
    const before = jwksRequests;
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: "RS256", kid: `unknown-${i}` })
          .setIssuer("https://issuer.example")
          .setAudience("api://rac")
          .setExpirationTime("10m")
          .sign(privateKey),
      ),
    );

    // Act
    for (const token of forged) await expect(authenticator.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ code: "unauthenticated" });

    // Assess: jose refetches for an unknown kid at most once every 30 s (the cool-down).
    expect(jwksRequests - before).toBeLessThanOrEqual(1);
  });

  describe("while the key set cannot be fetched", () => {
    afterEach(() => vi.useRealTimers());
    const minutes = (n: number) => vi.setSystemTime(Date.now() + n * 60_000);

    it("keeps checking tokens with the keys it loaded last, without asking the failing endpoint on every request", async () => {
      // Prepare: keys loaded, then the endpoint fails and the 10-minute cache runs out.
      vi.useFakeTimers({ toFake: ["Date"] });
      answer = { status: 200, body: JSON.stringify({ keys: [publicJwk] }) };
      const authenticator = remote();
      await authenticator.authenticate(`Bearer ${await sign(claims)}`);
      answer = { status: 503, body: "unavailable" };
      minutes(11);
      const before = jwksRequests;

      // Act
      const callers = [];
      for (let i = 0; i < 5; i += 1) callers.push(await authenticator.authenticate(`Bearer ${await sign(claims)}`));

      // Assess
      expect(callers.every((c) => c.tenantId === "aaaa-1")).toBe(true);
      expect(jwksRequests - before).toBe(1);
    });

    it("refuses a token naming a kid it does not know (401), and after an hour without keys fails as the key set", async () => {
      // Prepare
      vi.useFakeTimers({ toFake: ["Date"] });
      answer = { status: 200, body: JSON.stringify({ keys: [publicJwk] }) };
      const authenticator = remote();
      await authenticator.authenticate(`Bearer ${await sign(claims)}`);
      answer = { status: 503, body: "unavailable" };
      minutes(11);
      const { privateKey } = await generateKeyPair("RS256");
      const unknownKid = await new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: "unknown" })
        .setIssuer("https://issuer.example")
        .setAudience("api://rac")
        .setExpirationTime("10m")
        .sign(privateKey);

      // Act
      const forged = authenticator.authenticate(`Bearer ${unknownKid}`);
      await expect(forged).rejects.toMatchObject({ code: "unauthenticated" });
      minutes(60);
      const late = authenticator.authenticate(`Bearer ${await sign(claims)}`);

      // Assess
      await expect(late).rejects.toThrow(/signing keys/);
    });
  });
});
