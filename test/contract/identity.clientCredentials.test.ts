// The identity emulator's app registrations and client-credentials grant, driven by the
// real @azure/identity ClientSecretCredential (MSAL Node underneath) against the HTTPS
// origin, the way a tenant's automation gets a token for the automation door. The
// emulator's certificate is self-signed: the credential trusts it through its pipeline's
// `tlsOptions: { ca }` (a per-call policy setting `request.tlsSettings` works too).
import { ClientSecretCredential, type ClientSecretCredentialOptions } from "@azure/identity";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIdentityEmulator, type IdentityEmulator } from "../../local/identity/server.js";

const tenantId = "3f1c2b7a-1d2e-4f60-9a8b-0c1d2e3f4a5b";
const otherTenantId = "9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4";

let idp: IdentityEmulator;
const logged: string[] = [];
beforeAll(async () => {
  idp = await startIdentityEmulator({ port: 0, tlsPort: 0, log: (l) => logged.push(l) });
});
afterAll(() => idp.close());

const scope = (): string => `${idp.audience}/.default`;

async function registerApp(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${idp.url}/apps`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function newApp(roles = ["RemoteAssistance.Automation"], tenant = tenantId): Promise<{ clientId: string; clientSecret: string; objectId: string }> {
  const r = await registerApp({ tenantId: tenant, displayName: "Help desk bot", roles });
  expect(r.status).toBe(201);
  return r.body as { clientId: string; clientSecret: string; objectId: string };
}

const credentialOptions = (): ClientSecretCredentialOptions => ({
  authorityHost: idp.tlsUrl,
  disableInstanceDiscovery: true,
  tlsOptions: { ca: idp.certificate },
});

/** The grant over plain HTTP (the same handler), to read Entra's error shapes directly. */
const postGrant = (tenant: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${idp.url}/${tenant}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form),
  });

describe("identity emulator: POST /apps", () => {
  it("registers an app and answers its client id, secret and object id once, logging no secret", async () => {
    // Act
    const app = await newApp();

    // Assess
    expect(app.clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(app.objectId).toMatch(/^[0-9a-f-]{36}$/);
    expect(app.clientSecret.length).toBeGreaterThanOrEqual(40);
    expect(logged.join("\n")).not.toContain(app.clientSecret);
  });

  it.each([
    ["no tenant", { displayName: "x", roles: [] }],
    ["a malformed tenant", { tenantId: "not a tenant!", displayName: "x" }],
    ["an empty name", { tenantId, displayName: "  " }],
    ["roles that are not strings", { tenantId, displayName: "x", roles: [1] }],
    ["an unknown field", { tenantId, displayName: "x", secret: "mine" }],
  ])("refuses %s with 400 invalid_request", async (_what, body) => {
    // Act
    const r = await registerApp(body);

    // Assess
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("invalid_request");
  });
});

describe("identity emulator: client credentials with the real ClientSecretCredential", () => {
  it("issues an app-only token: idtyp app, tid, oid = the app's object id, azp = its client id, app_displayname, roles", async () => {
    // Prepare
    const app = await newApp();
    const credential = new ClientSecretCredential(tenantId, app.clientId, app.clientSecret, credentialOptions());

    // Act
    const token = await credential.getToken(scope());

    // Assess
    const claims = decodeJwt(token.token);
    expect(claims).toMatchObject({
      idtyp: "app",
      tid: tenantId,
      oid: app.objectId,
      sub: app.objectId,
      azp: app.clientId,
      app_displayname: "Help desk bot",
      roles: ["RemoteAssistance.Automation"],
      aud: idp.audience,
      iss: idp.issuer,
    });
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000);
    expect(claims).not.toHaveProperty("name");
    expect(claims).not.toHaveProperty("scp");
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
  });

  it("names the tenant's own token endpoint in the tenant's discovery document, which MSAL reads first", async () => {
    // Act
    const d = (await (await fetch(`${idp.url}/${tenantId}/v2.0/.well-known/openid-configuration`)).json()) as Record<string, unknown>;

    // Assess
    expect(d.token_endpoint).toBe(`${idp.tlsUrl}/${tenantId}/oauth2/v2.0/token`);
    expect(d.grant_types_supported).toContain("client_credentials");
  });

  it("refuses a wrong secret (invalid_client) through the SDK", async () => {
    // Prepare
    const app = await newApp();
    const credential = new ClientSecretCredential(tenantId, app.clientId, "not-the-secret", credentialOptions());

    // Act
    const attempt = credential.getToken(scope());

    // Assess
    await expect(attempt).rejects.toThrow(/invalid_client/);
  });

  it("refuses the app in another tenant's authority (unauthorized_client) through the SDK", async () => {
    // Prepare
    const app = await newApp();
    const credential = new ClientSecretCredential(otherTenantId, app.clientId, app.clientSecret, credentialOptions());

    // Act
    const attempt = credential.getToken(scope());

    // Assess
    await expect(attempt).rejects.toThrow(/unauthorized_client|700016/);
  });
});

describe("identity emulator: client-credentials errors as Entra answers them", () => {
  it.each([
    ["a wrong secret", (a: { clientId: string }) => ({ client_id: a.clientId, client_secret: "wrong", scope: "S" }), 401, "invalid_client"],
    ["no secret", (a: { clientId: string }) => ({ client_id: a.clientId, scope: "S" }), 401, "invalid_client"],
    ["an unknown client", () => ({ client_id: "00000000-0000-4000-8000-000000000000", client_secret: "x", scope: "S" }), 400, "unauthorized_client"],
    [
      "a delegated scope",
      (a: { clientId: string; clientSecret: string }) => ({
        client_id: a.clientId,
        client_secret: a.clientSecret,
        scope: "api://remote-assistance-connector/access_as_user",
      }),
      400,
      "invalid_scope",
    ],
    [
      "another API's scope",
      (a: { clientId: string; clientSecret: string }) => ({
        client_id: a.clientId,
        client_secret: a.clientSecret,
        scope: "https://graph.microsoft.com/.default",
      }),
      400,
      "invalid_scope",
    ],
  ])("%s → %i %s", async (_what, form, status, error) => {
    // Prepare
    const app = await newApp();
    const fields = Object.fromEntries(Object.entries(form(app)).map(([k, v]) => [k, v === "S" ? scope() : v]));

    // Act
    const res = await postGrant(tenantId, { grant_type: "client_credentials", ...fields });

    // Assess
    const body = (await res.json()) as { error: string; error_description: string };
    expect(res.status).toBe(status);
    expect(body.error).toBe(error);
    expect(body.error_description).toMatch(/^AADSTS\d+: /);
  });

  it("refuses the app at another tenant's token endpoint", async () => {
    // Prepare
    const app = await newApp();

    // Act
    const res = await postGrant(otherTenantId, { grant_type: "client_credentials", client_id: app.clientId, client_secret: app.clientSecret, scope: scope() });

    // Assess
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("unauthorized_client");
  });

  it("accepts client_secret_basic as Entra does, and leaves out roles the app does not hold", async () => {
    // Prepare
    const app = await newApp([]);
    const basic = Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret)}`).toString("base64");

    // Act
    const res = await postGrant(tenantId, { grant_type: "client_credentials", scope: scope() }, { authorization: `Basic ${basic}` });

    // Assess
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(res.status).toBe(200);
    expect(body.token_type).toBe("Bearer");
    expect(decodeJwt(body.access_token)).not.toHaveProperty("roles");
  });

  it("answers an unknown grant type at the tenant endpoint like /token does", async () => {
    // Act
    const res = await postGrant(tenantId, { grant_type: "password", client_id: "x" });

    // Assess
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("unsupported_grant_type");
  });
});
