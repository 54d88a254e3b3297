// The identity emulator: tokens verify with jose against its discovery document's JWKS.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIdentityEmulator, type IdentityEmulator } from "../../local/identity/server.js";

let idp: IdentityEmulator;
beforeAll(async () => {
  idp = await startIdentityEmulator({ port: 0 });
});
afterAll(() => idp.close());

const discovery = async (): Promise<{ issuer: string; jwks_uri: string; token_endpoint: string }> =>
  (await (await fetch(`${idp.url}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string; token_endpoint: string };

const post = (body: unknown) => fetch(`${idp.url}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("identity emulator", () => {
  it("issues tokens that verify against the discovered JWKS with the issuer and audience", async () => {
    // Prepare
    const d = await discovery();
    // Act
    const res = await post({ tid: "t-1", oid: "u-1", name: "Adele", preferred_username: "adele@x", roles: ["Intune.Administrator"], groups: ["g1"] });
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    // Assess
    expect(res.status).toBe(200);
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBeGreaterThan(3500);
    const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(d.jwks_uri)), { issuer: d.issuer, audience: idp.audience });
    expect(payload).toMatchObject({ tid: "t-1", oid: "u-1", sub: "u-1", name: "Adele", roles: ["Intune.Administrator"], groups: ["g1"] });
    expect(d.issuer).toBe(idp.issuer);
  });

  it("honours expiresInSeconds", async () => {
    const body = (await (await post({ tid: "t", oid: "u", expiresInSeconds: 120 })).json()) as { access_token: string; expires_in: number };
    const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(idp.jwksUri)), { issuer: idp.issuer, audience: idp.audience });
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it.each([[{}], [{ tid: "t" }], [{ tid: "t", oid: "has space" }], [{ tid: "t", oid: "u", roles: "admin" }], [{ tid: "t", oid: "u", extra: 1 }], [{ tid: "t", oid: "u", expiresInSeconds: 0 }]])(
    "refuses %j with 400",
    async (claims) => {
      const res = await post(claims);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
    },
  );

  it("rotates keys: new tokens carry a new kid and old ones still verify", async () => {
    const before = await idp.issueToken({ tid: "t", oid: "u" });
    await idp.rotateKeys();
    const after = await idp.issueToken({ tid: "t", oid: "u" });
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    await expect(jwtVerify(before, jwks, { issuer: idp.issuer })).resolves.toBeDefined();
    await expect(jwtVerify(after, jwks, { issuer: idp.issuer })).resolves.toBeDefined();
  });

  it("refuses to start on a non-loopback address", async () => {
    await expect(startIdentityEmulator({ port: 0, host: "0.0.0.0" })).rejects.toThrow(/loopback/);
  });
});
