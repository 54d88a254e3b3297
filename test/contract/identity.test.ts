// The identity emulator, checked the way the app consumes Entra ID: discovery, then jose
// verifying tokens against the discovered JWKS with the issuer and audience.
import { createServer } from "node:http";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIdentityEmulator, type IdentityEmulator } from "../../local/identity/server.js";
import { isLoopbackHost, listen } from "../../local/loopback.js";

let idp: IdentityEmulator;
beforeAll(async () => {
  idp = await startIdentityEmulator({ port: 0 });
});
afterAll(() => idp.close());

interface Discovery {
  issuer: string;
  jwks_uri: string;
  token_endpoint: string;
  id_token_signing_alg_values_supported: string[];
}
interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
}

const discovery = async (): Promise<Discovery> => (await (await fetch(`${idp.url}/.well-known/openid-configuration`)).json()) as Discovery;
const post = (body: unknown): Promise<Response> =>
  fetch(`${idp.url}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
const verify = (token: string, d: { issuer: string; jwks_uri: string }) =>
  jwtVerify(token, createRemoteJWKSet(new URL(d.jwks_uri)), { issuer: d.issuer, audience: idp.audience, algorithms: ["RS256"] });

describe("identity emulator: discovery and keys", () => {
  it("publishes discovery with its own base URL as issuer and RS256 signing keys", async () => {
    // Act
    const d = await discovery();
    const jwks = (await (await fetch(d.jwks_uri)).json()) as { keys: JWK[] };
    // Assess
    expect(d).toMatchObject({ issuer: idp.url, jwks_uri: idp.jwksUri, token_endpoint: `${idp.url}/token`, id_token_signing_alg_values_supported: ["RS256"] });
    expect(idp.issuer).toBe(idp.url);
    expect(idp.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(idp.audience).toBe("api://remote-assistance-connector");
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: "RSA", use: "sig", alg: "RS256", kid: expect.any(String) });
      expect(key).not.toHaveProperty("d");
    }
  });

  it("answers CORS preflights and sets the CORS header on every answer", async () => {
    // Act
    const preflight = await fetch(`${idp.url}/token`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" },
    });
    const health = await fetch(`${idp.url}/health`);
    const refused = await post({});
    // Assess
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("content-type");
    for (const res of [preflight, health, refused]) expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(health.status).toBe(200);
  });

  it("uses the configured issuer and audience", async () => {
    // Prepare
    const custom = await startIdentityEmulator({ port: 0, issuer: "https://login.example.test/tenant/v2.0/", audience: "api://custom" });
    try {
      // Act
      const d = (await (await fetch(`${custom.url}/.well-known/openid-configuration`)).json()) as Discovery;
      const token = await custom.issueToken({ tid: "t", oid: "u" });
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(d.jwks_uri)), { issuer: d.issuer, audience: "api://custom" });
      // Assess
      expect(d.issuer).toBe("https://login.example.test/tenant/v2.0");
      expect(payload.iss).toBe(custom.issuer);
    } finally {
      await custom.close();
    }
  });
});

describe("identity emulator: POST /token", () => {
  it("issues tokens that verify against the discovered JWKS with the issuer and audience, carrying the claims", async () => {
    // Prepare
    const d = await discovery();
    // Act
    const res = await post({ tid: "t-1", oid: "u-1", name: "Adele", preferred_username: "adele@x", roles: ["Intune.Administrator"], groups: ["g1"] });
    const body = (await res.json()) as TokenResponse;
    const { payload, protectedHeader } = await verify(body.access_token, d);
    // Assess
    expect(res.status).toBe(200);
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(3600);
    expect(protectedHeader).toMatchObject({ alg: "RS256", typ: "JWT", kid: expect.any(String) });
    expect(payload).toMatchObject({
      iss: idp.issuer,
      aud: idp.audience,
      tid: "t-1",
      oid: "u-1",
      sub: "u-1",
      name: "Adele",
      preferred_username: "adele@x",
      roles: ["Intune.Administrator"],
      groups: ["g1"],
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.nbf).toBe(payload.iat);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5);
  });

  it("leaves roles and groups out when none are given, as Entra does", async () => {
    // Act
    const { payload } = await verify(await idp.issueToken({ tid: "t", oid: "u" }), await discovery());
    // Assess
    expect(payload).not.toHaveProperty("roles");
    expect(payload).not.toHaveProperty("groups");
  });

  it("gives a user's token the API's delegated scope (scp), as Entra does, and an app-only token none", async () => {
    // Act
    const user = await verify(await idp.issueToken({ tid: "t", oid: "u" }), await discovery());
    const namedUser = await verify(await idp.issueToken({ tid: "t", oid: "u", idtyp: "user" }), await discovery());
    const app = await verify(await idp.issueToken({ tid: "t", oid: "sp", idtyp: "app", azp: "c1" }), await discovery());
    const withoutScp = await verify(await idp.issueToken({ tid: "t", oid: "u", omitScp: true }), await discovery());
    const appWithScp = await verify(await idp.issueToken({ tid: "t", oid: "sp", idtyp: "app", azp: "c1", scp: "access_as_user" }), await discovery());
    // Assess
    expect(user.payload.scp).toBe("access_as_user");
    expect(namedUser.payload.scp).toBe("access_as_user");
    expect(app.payload).not.toHaveProperty("scp");
    expect(withoutScp.payload).not.toHaveProperty("scp");
    expect(appWithScp.payload.scp).toBe("access_as_user");
  });

  it("honours expiresInSeconds", async () => {
    // Act
    const res = await post({ tid: "t", oid: "u", expiresInSeconds: 120 });
    const body = (await res.json()) as TokenResponse;
    const { payload } = await verify(body.access_token, await discovery());
    // Assess
    expect(body.expires_in).toBe(120);
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it("mints already-expired tokens on request, which jose refuses for their exp", async () => {
    // Act
    const token = await idp.issueToken({ tid: "t", oid: "u", expiresAt: Math.floor(Date.now() / 1000) - 60 });
    // Assess
    await expect(verify(token, await discovery())).rejects.toMatchObject({ code: "ERR_JWT_EXPIRED" });
  });

  it.each([
    ["an empty object", {}],
    ["no oid", { tid: "t" }],
    ["an oid with a space", { tid: "t", oid: "has space" }],
    ["roles as a string", { tid: "t", oid: "u", roles: "admin" }],
    ["an unknown field", { tid: "t", oid: "u", extra: 1 }],
    ["expiresInSeconds 0", { tid: "t", oid: "u", expiresInSeconds: 0 }],
    ["expiresInSeconds above a day", { tid: "t", oid: "u", expiresInSeconds: 86_401 }],
    ["an array", [{ tid: "t", oid: "u" }]],
    ["text that is not JSON", "tid=t&oid=u"],
  ])("refuses %s with 400 and says what is wrong", async (_label, body) => {
    // Act
    const res = await post(body);
    const answer = (await res.json()) as { error: string; error_description: string };
    // Assess
    expect(res.status).toBe(400);
    expect(answer.error).toBe("invalid_request");
    expect(answer.error_description.length).toBeGreaterThan(5);
  });

  it("names the failing field in the 400", async () => {
    // Act
    const answer = (await (await post({ tid: "t", expiresInSeconds: 0 })).json()) as { error_description: string };
    // Assess
    expect(answer.error_description).toMatch(/oid/);
    expect(answer.error_description).toMatch(/expiresInSeconds/);
  });

  it("answers other methods on /token with 405 and unknown paths with 404", async () => {
    // Act
    const get = await fetch(`${idp.url}/token`);
    const unknown = await fetch(`${idp.url}/userinfo`);
    // Assess
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(unknown.status).toBe(404);
  });
});

describe("identity emulator: key rotation", () => {
  it("signs with a new kid after rotateKeys and still publishes the old key", async () => {
    // Prepare
    const d = await discovery();
    const before = await idp.issueToken({ tid: "t", oid: "u" });
    // Act
    await idp.rotateKeys();
    const after = await idp.issueToken({ tid: "t", oid: "u" });
    const jwks = (await (await fetch(d.jwks_uri)).json()) as { keys: JWK[] };
    // Assess
    const [oldKid, newKid] = [decodeProtectedHeader(before).kid, decodeProtectedHeader(after).kid];
    expect(newKid).not.toBe(oldKid);
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    await expect(verify(before, d)).resolves.toBeDefined();
    await expect(verify(after, d)).resolves.toBeDefined();
  });

  it("lets a key set fetched before the rotation verify new tokens by refetching on the unknown kid", async () => {
    // Prepare
    const d = await discovery();
    const keys = createRemoteJWKSet(new URL(d.jwks_uri), { cooldownDuration: 0 });
    await jwtVerify(await idp.issueToken({ tid: "t", oid: "u" }), keys, { issuer: d.issuer, audience: idp.audience });
    // Act
    await idp.rotateKeys();
    const result = await jwtVerify(await idp.issueToken({ tid: "t", oid: "u" }), keys, { issuer: d.issuer, audience: idp.audience });
    // Assess
    expect(result.payload.oid).toBe("u");
  });
});

describe("loopback only", () => {
  it.each(["0.0.0.0", "::", "192.168.1.10", "example.com"])("refuses to start the identity emulator on %s", async (host) => {
    await expect(startIdentityEmulator({ port: 0, host })).rejects.toThrow(/loopback/);
  });

  it("knows the loopback spellings", () => {
    // Assess
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "localhost.example.com", "128.0.0.1", ""]) expect(isLoopbackHost(host), host).toBe(false);
  });

  it("starts on ::1 with a bracketed URL", async () => {
    // Act
    const v6 = await startIdentityEmulator({ port: 0, host: "::1" }).catch((e: unknown) => e);
    // Assess (hosts without IPv6 cannot bind ::1; that is not the emulator's fault)
    if (v6 instanceof Error) return expect(v6.message).toMatch(/::1|EADDRNOTAVAIL|not allowed/);
    const emulator = v6 as IdentityEmulator;
    try {
      expect(emulator.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await fetch(`${emulator.url}/health`)).status).toBe(200);
    } finally {
      await emulator.close();
    }
  });

  it("rejects a busy port with a message naming it", async () => {
    // Prepare
    const blocker = createServer();
    const port = await listen(blocker, 0, "127.0.0.1");
    try {
      // Act / Assess
      await expect(startIdentityEmulator({ port })).rejects.toThrow(new RegExp(`port ${port} is already in use`));
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
