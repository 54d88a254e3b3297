// The identity emulator's authorization-code flow with PKCE, checked over HTTP the way
// MSAL.js drives it (the browser test drives it with the real MSAL): the sign-in page,
// the redirect with a single-use code, the form-encoded token grants, refresh-token
// rotation, and the HTTPS origin MSAL needs as authority.
import { createHash, randomBytes } from "node:crypto";
import { get } from "node:https";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIdentityEmulator, type IdentityEmulator, type SignInUser } from "../../local/identity/server.js";

const users: SignInUser[] = [
  {
    key: "admin",
    label: "Administrator",
    claims: { tid: "tenant-a", oid: "user-admin", name: "Ada Admin", preferred_username: "ada@contoso.example", roles: ["Intune.Administrator"], groups: [] },
  },
  {
    key: "plain",
    label: "End user",
    claims: { tid: "tenant-a", oid: "user-plain", name: "Pat <Plain>", preferred_username: "pat@contoso.example", roles: [], groups: ["group-1"] },
  },
];
const clientId = "portal-client";
const redirectUri = "http://127.0.0.1:7071/entra/";
const apiScope = "api://remote-assistance-connector/access_as_user";

let idp: IdentityEmulator;
const logged: string[] = [];
beforeAll(async () => {
  idp = await startIdentityEmulator({ port: 0, users, log: (l) => logged.push(l) });
});
afterAll(() => idp.close());

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

function authorizeParams(challenge: string, over: Record<string, string | undefined> = {}): Record<string, string> {
  const all: Record<string, string | undefined> = {
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: "code",
    response_mode: "fragment",
    scope: `${apiScope} openid profile offline_access`,
    state: "state-1",
    nonce: "nonce-1",
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...over,
  };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
}

const getAuthorize = (params: Record<string, string>): Promise<Response> =>
  fetch(`${idp.url}/authorize?${new URLSearchParams(params)}`, { redirect: "manual" });

const postForm = (path: string, form: Record<string, string>): Promise<Response> =>
  fetch(`${idp.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });

/** What came back to the application: the fragment's (or query's) parameters. */
function returned(res: Response): URLSearchParams {
  const location = res.headers.get("location") ?? "";
  const url = new URL(location);
  return url.hash ? new URLSearchParams(url.hash.slice(1)) : url.searchParams;
}

async function signIn(userKey: string, over: Record<string, string | undefined> = {}): Promise<{ code: string; verifier: string; res: Response }> {
  const { verifier, challenge } = pkce();
  const res = await postForm("/authorize", { ...authorizeParams(challenge, over), user: userKey, action: "signIn" });
  return { code: returned(res).get("code") ?? "", verifier, res };
}

const redeem = (code: string, verifier: string, over: Record<string, string> = {}): Promise<Response> =>
  postForm("/token", {
    grant_type: "authorization_code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code,
    code_verifier: verifier,
    scope: `${apiScope} openid profile offline_access`,
    ...over,
  });

interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token: string;
  client_info: string;
  scope: string;
  token_type: string;
  expires_in: number;
}

describe("identity emulator: sign-in page", () => {
  it("advertises the code flow with PKCE in discovery", async () => {
    // Act
    const d = (await (await fetch(`${idp.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    // Assess
    expect(d).toMatchObject({
      authorization_endpoint: `${idp.url}/authorize`,
      token_endpoint: `${idp.url}/token`,
      end_session_endpoint: `${idp.url}/logout`,
      response_types_supported: ["code"],
      code_challenge_methods_supported: ["S256"],
      grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
    });
  });

  it("lists the users and carries the request through the form, escaped", async () => {
    // Arrange
    const { challenge } = pkce();
    // Act
    const res = await getAuthorize(authorizeParams(challenge, { state: `"><script>alert(1)</script>` }));
    const html = await res.text();
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(html).toContain("Ada Admin");
    expect(html).toContain("Pat &lt;Plain&gt;");
    expect(html).toContain('name="state" value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).not.toContain("<script>");
    expect(html).toContain(`value="${challenge}"`);
  });

  it("preselects the account named by login_hint", async () => {
    // Act
    const html = await (await getAuthorize(authorizeParams(pkce().challenge, { login_hint: "pat@contoso.example" }))).text();
    // Assess
    expect(html).toMatch(/value="plain" checked/);
    expect(html).not.toMatch(/value="admin" checked/);
  });

  it.each([
    ["a redirect URI on another machine", { redirect_uri: "https://evil.example/callback" }],
    ["a redirect URI with a fragment", { redirect_uri: "http://127.0.0.1:7071/#x" }],
    ["no client id", { client_id: undefined }],
    ["a malformed client id", { client_id: "<bad>" }],
  ])("refuses %s with a page, never a redirect", async (_name, over) => {
    // Act
    const res = await getAuthorize(authorizeParams(pkce().challenge, over));
    // Assess
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).toContain("The sign-in request was refused");
  });

  it.each([
    ["no PKCE", { code_challenge: undefined }, "invalid_request"],
    ["plain PKCE", { code_challenge_method: "plain" }, "invalid_request"],
    ["the implicit flow", { response_type: "token" }, "unsupported_response_type"],
    ["no scope", { scope: undefined }, "invalid_scope"],
    ["a silent request (no session is kept)", { prompt: "none" }, "login_required"],
  ])("sends %s back to the application as an error with its state", async (_name, over, error) => {
    // Act
    const res = await getAuthorize(authorizeParams(pkce().challenge, over));
    // Assess
    expect(res.status).toBe(302);
    const back = returned(res);
    expect(back.get("error")).toBe(error);
    expect(back.get("state")).toBe("state-1");
    expect(back.get("code")).toBeNull();
    expect(res.headers.get("location")?.startsWith(`${redirectUri}#`)).toBe(true);
  });

  it("answers Cancel with access_denied and an unknown user with the page again", async () => {
    // Arrange
    const params = authorizeParams(pkce().challenge);
    // Act
    const cancelled = await postForm("/authorize", { ...params, action: "cancel" });
    const unknown = await postForm("/authorize", { ...params, user: "nobody", action: "signIn" });
    // Assess
    expect(returned(cancelled).get("error")).toBe("access_denied");
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("Choose one of the users below.");
  });

  it("puts the answer in the query when response_mode is query", async () => {
    // Act
    const { res } = await signIn("admin", { response_mode: "query" });
    // Assess
    const location = new URL(res.headers.get("location") ?? "");
    expect(location.hash).toBe("");
    expect(location.searchParams.get("code")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get("state")).toBe("state-1");
  });
});

describe("identity emulator: token grants", () => {
  it("redeems a code for an API access token, an ID token for the client and a refresh token", async () => {
    // Arrange
    const { code, verifier, res } = await signIn("admin");
    // Act
    const tokenRes = await redeem(code, verifier);
    const body = (await tokenRes.json()) as Tokens;
    // Assess
    expect(res.status).toBe(302);
    expect(returned(res).get("state")).toBe("state-1");
    expect(tokenRes.status).toBe(200);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: `${apiScope} openid profile offline_access` });
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    const access = await jwtVerify(body.access_token, jwks, { issuer: idp.issuer, audience: idp.audience });
    expect(access.payload).toMatchObject({
      tid: "tenant-a",
      oid: "user-admin",
      name: "Ada Admin",
      preferred_username: "ada@contoso.example",
      roles: ["Intune.Administrator"],
      scp: "access_as_user",
    });
    const id = await jwtVerify(body.id_token, jwks, { issuer: idp.issuer, audience: clientId });
    expect(id.payload).toMatchObject({ nonce: "nonce-1", oid: "user-admin", tid: "tenant-a" });
    expect(JSON.parse(Buffer.from(body.client_info, "base64url").toString())).toEqual({ uid: "user-admin", utid: "tenant-a" });
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("leaves roles out of the token of a user without app roles, as Entra does", async () => {
    // Arrange
    const { code, verifier } = await signIn("plain");
    // Act
    const body = (await (await redeem(code, verifier)).json()) as Tokens;
    // Assess
    const claims = decodeJwt(body.access_token);
    expect(claims).not.toHaveProperty("roles");
    expect(claims.groups).toEqual(["group-1"]);
  });

  it("takes a code once only", async () => {
    // Arrange
    const { code, verifier } = await signIn("admin");
    // Act
    const first = await redeem(code, verifier);
    const second = await redeem(code, verifier);
    // Assess
    expect(first.status).toBe(200);
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ error: "invalid_grant" });
  });

  it.each([
    ["a verifier that does not match the challenge", { code_verifier: randomBytes(32).toString("base64url") }],
    ["another client", { client_id: "other-client" }],
    ["another redirect URI", { redirect_uri: "http://127.0.0.1:9999/" }],
    ["an unknown code", { code: "not-a-code" }],
  ])("refuses %s and spends the code", async (_name, over) => {
    // Arrange
    const { code, verifier } = await signIn("admin");
    // Act
    const refused = await redeem(code, verifier, over);
    const retried = await redeem(code, verifier);
    // Assess
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "invalid_grant" });
    if (!("code" in over)) expect(retried.status).toBe(400);
  });

  it("rotates refresh tokens: a new pair each time, the old refresh token refused", async () => {
    // Arrange
    const { code, verifier } = await signIn("admin");
    const first = (await (await redeem(code, verifier)).json()) as Tokens;
    const refresh = (token: string): Promise<Response> =>
      postForm("/token", { grant_type: "refresh_token", client_id: clientId, refresh_token: token, scope: apiScope });
    // Act
    const renewed = await refresh(first.refresh_token);
    const renewedBody = (await renewed.json()) as Tokens;
    const replayed = await refresh(first.refresh_token);
    const wrongClient = await postForm("/token", { grant_type: "refresh_token", client_id: "other-client", refresh_token: renewedBody.refresh_token });
    // Assess
    expect(renewed.status).toBe(200);
    expect(renewedBody.refresh_token).not.toBe(first.refresh_token);
    expect(decodeJwt(renewedBody.access_token)).toMatchObject({ oid: "user-admin", aud: idp.audience });
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toMatchObject({ error: "invalid_grant" });
    expect(wrongClient.status).toBe(400);
  });

  it.each([
    ["no client id", { grant_type: "authorization_code" }, "invalid_request"],
    ["an unknown grant", { grant_type: "password", client_id: clientId }, "unsupported_grant_type"],
    ["a code grant without PKCE", { grant_type: "authorization_code", client_id: clientId, code: "x" }, "invalid_request"],
  ])("answers %s with an OAuth error", async (_name, form, error) => {
    // Act
    const res = await postForm("/token", form);
    // Assess
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error });
  });

  it("never logs codes or tokens", async () => {
    // Arrange
    const { code, verifier } = await signIn("admin");
    // Act
    const body = (await (await redeem(code, verifier)).json()) as Tokens;
    // Assess
    const log = logged.join("\n");
    expect(log).toContain("signed in ada@contoso.example");
    for (const secret of [code, verifier, body.access_token, body.id_token, body.refresh_token]) expect(log).not.toContain(secret);
  });

  it("sends the reader back to a loopback address after logout, and nowhere else", async () => {
    // Act
    const back = await fetch(`${idp.url}/logout?post_logout_redirect_uri=${encodeURIComponent(redirectUri)}`, { redirect: "manual" });
    const elsewhere = await fetch(`${idp.url}/logout?post_logout_redirect_uri=${encodeURIComponent("https://evil.example/")}`, { redirect: "manual" });
    // Assess
    expect(back.status).toBe(302);
    expect(back.headers.get("location")).toBe(redirectUri);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get("location")).toBeNull();
  });
});

describe("identity emulator: HTTPS authority", () => {
  let tlsIdp: IdentityEmulator;
  beforeAll(async () => {
    tlsIdp = await startIdentityEmulator({ port: 0, tlsPort: 0, users });
  });
  afterAll(() => tlsIdp.close());

  /** GET over HTTPS trusting only the emulator's own certificate (so the certificate is checked for 127.0.0.1). */
  const getTls = (url: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      get(url, { ca: tlsIdp.certificate }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      }).on("error", reject);
    });

  it("listens with HTTPS on a certificate for 127.0.0.1, and that origin is the issuer", async () => {
    // Act
    const health = await getTls(`${tlsIdp.tlsUrl}/health`);
    // Assess
    expect(tlsIdp.tlsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(tlsIdp.issuer).toBe(tlsIdp.tlsUrl);
    expect(health.status).toBe(200);
    expect(tlsIdp.certificate).toContain("BEGIN CERTIFICATE");
  });

  it("serves discovery under an Entra-style tenant path with its endpoints on the HTTPS origin", async () => {
    // Act
    const { status, body } = await getTls(`${tlsIdp.tlsUrl}/organizations/v2.0/.well-known/openid-configuration`);
    // Assess
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({
      issuer: tlsIdp.tlsUrl,
      authorization_endpoint: `${tlsIdp.tlsUrl}/authorize`,
      token_endpoint: `${tlsIdp.tlsUrl}/token`,
    });
  });

  it("issues dev tokens with the HTTPS issuer too, so every token the API sees has one issuer", async () => {
    // Act
    const token = await tlsIdp.issueToken({ tid: "tenant-a", oid: "user-admin" });
    // Assess
    await expect(jwtVerify(token, createRemoteJWKSet(new URL(tlsIdp.jwksUri)), { issuer: tlsIdp.tlsUrl, audience: tlsIdp.audience })).resolves.toBeDefined();
  });
});
