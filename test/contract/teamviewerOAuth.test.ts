// Contract: the TeamViewer client against the TeamViewer fake over HTTP, OAuth half —
// the sign-in the way a browser does it, the token endpoint, rotation and revocation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TeamViewerClient, type TokenSet } from "../../shared/adapters/teamviewer/teamViewerClient.js";
import { teamViewerErrorExpectation } from "./teamviewer.helpers.js";
import { startTeamViewerFake, type TeamViewerFake } from "../../local/teamviewer/server.js";

const clientId = "contract-client-id";
const clientSecret = `contract-secret-${crypto.randomUUID()}`;
const redirectUri = "http://app.test/api/connector/oauth/callback?from=teamviewer";

let fake: TeamViewerFake;
/** Every token, code and secret seen in this file: none may show up in an error. */
const secrets = new Set<string>([clientSecret]);

function clientFor(overrides: Partial<ConstructorParameters<typeof TeamViewerClient>[0]> = {}): TeamViewerClient {
  return new TeamViewerClient({
    apiBaseUrl: fake.apiBaseUrl,
    loginBaseUrl: fake.url,
    clientId,
    clientSecret: async () => clientSecret,
    redirectUri,
    timeoutMs: 5_000,
    // The fake serves its Connect links over http on loopback, as the local stack allows.
    allowInsecureLinks: true,
    ...overrides,
  });
}

const remember = (tokens: TokenSet): TokenSet => (secrets.add(tokens.accessToken), secrets.add(tokens.refreshToken), tokens);

const expectTeamViewerError = teamViewerErrorExpectation(secrets);

const htmlDecode = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

const attribute = (tag: string, name: string): string | undefined => {
  const m = new RegExp(`\\s${name}="([^"]*)"`, "i").exec(tag);
  return m ? htmlDecode(m[1]) : undefined;
};

interface ParsedForm {
  readonly action: URL;
  readonly method: string;
  readonly fields: URLSearchParams;
  readonly buttons: Map<string, { name: string; value: string; label: string }>;
}

/** Reads the sign-in page's form as a browser would: action, hidden fields, submit buttons. */
function parseForm(html: string, pageUrl: string): ParsedForm {
  const form = /<form\b[^>]*>[\s\S]*?<\/form>/i.exec(html)?.[0];
  if (!form) throw new Error("the sign-in page has no form");
  const open = /<form\b[^>]*>/i.exec(form)![0];
  const fields = new URLSearchParams();
  for (const input of form.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attribute(input, "name");
    if (name !== undefined && attribute(input, "type") === "hidden") fields.append(name, attribute(input, "value") ?? "");
  }
  const buttons = new Map<string, { name: string; value: string; label: string }>();
  for (const m of form.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
    const tag = `<button${m[1]}>`;
    if (attribute(tag, "type") !== "submit") continue;
    buttons.set(attribute(tag, "id") ?? "", { name: attribute(tag, "name") ?? "", value: attribute(tag, "value") ?? "", label: htmlDecode(m[2].trim()) });
  }
  return { action: new URL(attribute(open, "action") ?? "", pageUrl), method: (attribute(open, "method") ?? "get").toLowerCase(), fields, buttons };
}

/** GET the sign-in page, press a button, and return where TeamViewer sends the browser. */
async function browserSignIn(authorizeUrl: string, buttonId: "allow" | "deny"): Promise<URL> {
  const page = await fetch(authorizeUrl);
  expect(page.status).toBe(200);
  const form = parseForm(await page.text(), authorizeUrl);
  const button = form.buttons.get(buttonId);
  if (!button) throw new Error(`no submit button #${buttonId}`);
  const body = new URLSearchParams(form.fields);
  body.append(button.name, button.value);
  const res = await fetch(form.action, {
    method: form.method.toUpperCase(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: body.toString(),
    redirect: "manual",
  });
  expect(res.status).toBe(302);
  return new URL(res.headers.get("location") ?? "");
}

async function signInAndExchange(client = clientFor()): Promise<TokenSet> {
  const location = await browserSignIn(client.authorizeUrl(crypto.randomUUID()), "allow");
  const code = location.searchParams.get("code") ?? "";
  secrets.add(code);
  return remember(await client.exchangeCode(code));
}

beforeAll(async () => {
  fake = await startTeamViewerFake({ port: 0, clientId, clientSecret });
});

afterAll(async () => {
  await fake?.close();
});

describe("TeamViewer sign-in page", () => {
  it("builds the authorize URL docs/teamviewer.md describes", () => {
    // Prepare
    const client = clientFor();

    // Act
    const url = new URL(client.authorizeUrl("state-123"));

    // Assess
    expect(`${url.origin}${url.pathname}`).toBe(`${fake.url}/oauth2/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: clientId,
      redirect_uri: redirectUri,
      state: "state-123",
      display: "popup",
    });
  });

  it("is a plain HTML form showing the client id and the access requested, with Allow and Deny buttons", async () => {
    // Prepare
    const authorizeUrl = clientFor().authorizeUrl('st"ate<&>');

    // Act
    const res = await fetch(authorizeUrl);
    const html = await res.text();

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(`<code id="client-id">${clientId}</code>`);
    for (const scope of ["Sessions.Create", "Sessions.ReadAll", "Sessions.ModifyAll", "Groups.Read", "Groups.Create", "Account.Read", "Account.ReadEmail"]) {
      expect(html).toContain(scope);
    }
    const form = parseForm(html, authorizeUrl);
    expect(form.method).toBe("post");
    expect(form.action.toString()).toBe(`${fake.url}/oauth2/authorize`);
    expect(form.fields.get("state")).toBe('st"ate<&>');
    expect(form.fields.get("redirect_uri")).toBe(redirectUri);
    expect(form.buttons.get("allow")).toEqual({ name: "decision", value: "allow", label: "Allow" });
    expect(form.buttons.get("deny")).toEqual({ name: "decision", value: "deny", label: "Deny" });
  });

  it("answers an unknown client or a non-http redirect_uri with a 400 page, never a redirect", async () => {
    // Prepare
    const unknownClient = clientFor({ clientId: "someone-else" }).authorizeUrl("s");
    const badRedirect = clientFor({ redirectUri: "javascript:alert(1)" }).authorizeUrl("s");

    // Act
    const [a, b] = await Promise.all([fetch(unknownClient, { redirect: "manual" }), fetch(badRedirect, { redirect: "manual" })]);

    // Assess
    expect(a.status).toBe(400);
    expect(await a.text()).toContain("Unknown application");
    expect(b.status).toBe(400);
    expect(b.headers.get("location")).toBeNull();
  });

  it("Allow sends the browser to redirect_uri with a code and the state; the code buys tokens", async () => {
    // Prepare
    const now = new Date("2030-01-01T00:00:00Z");
    const client = clientFor({ clock: { now: () => now } });
    const state = crypto.randomUUID();

    // Act
    const location = await browserSignIn(client.authorizeUrl(state), "allow");
    const code = location.searchParams.get("code") ?? "";
    secrets.add(code);
    const tokens = remember(await client.exchangeCode(code));

    // Assess
    expect(`${location.origin}${location.pathname}`).toBe("http://app.test/api/connector/oauth/callback");
    expect(location.searchParams.get("from")).toBe("teamviewer");
    expect(location.searchParams.get("state")).toBe(state);
    expect(code).not.toBe("");
    expect(tokens.accessToken).not.toBe(tokens.refreshToken);
    expect(tokens.expiresAt.toISOString()).toBe("2030-01-02T00:00:00.000Z");
    expect(await client.ping(tokens.accessToken)).toEqual({ tokenValid: true });
    expect(await client.getAccount(tokens.accessToken)).toEqual({
      userId: "u1234567",
      name: "Local Supporter",
      email: "supporter@teamviewer.local",
      companyName: "Contoso (local)",
      licenseType: "Premium",
    });
  });

  it("Deny sends the browser back with error=access_denied and the state, and no code", async () => {
    // Prepare
    const state = crypto.randomUUID();

    // Act
    const location = await browserSignIn(clientFor().authorizeUrl(state), "deny");

    // Assess
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("state")).toBe(state);
    expect(location.searchParams.has("code")).toBe(false);
  });
});

describe("TeamViewer token endpoint", () => {
  it("takes a code only once: the second exchange is invalidGrant", async () => {
    // Prepare
    const client = clientFor();
    const location = await browserSignIn(client.authorizeUrl("s"), "allow");
    const code = location.searchParams.get("code") ?? "";
    secrets.add(code);
    remember(await client.exchangeCode(code));

    // Act
    const e = await expectTeamViewerError(client.exchangeCode(code), "invalidGrant");

    // Assess
    expect(e.status).toBe(400);
    expect(e.tvError).toBe("invalid_grant");
    expect(e.transient).toBe(false);
  });

  it("refuses a code presented with another redirect_uri (invalidGrant)", async () => {
    // Prepare
    const location = await browserSignIn(clientFor().authorizeUrl("s"), "allow");
    const code = location.searchParams.get("code") ?? "";
    secrets.add(code);
    const elsewhere = clientFor({ redirectUri: "http://app.test/another/callback" });

    // Act
    const e = await expectTeamViewerError(elsewhere.exchangeCode(code), "invalidGrant");

    // Assess
    expect(e.message).toContain("POST /oauth2/token");
  });

  it("refuses a wrong client secret (invalidClient) without naming it", async () => {
    // Prepare
    const location = await browserSignIn(clientFor().authorizeUrl("s"), "allow");
    const code = location.searchParams.get("code") ?? "";
    secrets.add(code);
    const wrongSecret = `wrong-${crypto.randomUUID()}`;
    secrets.add(wrongSecret);
    const client = clientFor({ clientSecret: async () => wrongSecret });

    // Act
    const e = await expectTeamViewerError(client.exchangeCode(code), "invalidClient");

    // Assess
    expect(e.tvError).toBe("invalid_client");
    expect(e.transient).toBe(false);
  });

  it("rotates refresh tokens: the new pair works, the old refresh token is invalidGrant at once", async () => {
    // Prepare
    const client = clientFor();
    const first = await signInAndExchange(client);

    // Act
    const second = remember(await client.refresh(first.refreshToken));
    const replay = await expectTeamViewerError(client.refresh(first.refreshToken), "invalidGrant");
    const third = remember(await client.refresh(second.refreshToken));

    // Assess
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(replay.status).toBe(400);
    expect(await client.ping(second.accessToken)).toEqual({ tokenValid: true });
    expect(await client.ping(third.accessToken)).toEqual({ tokenValid: true });
  });

  it("reads expires_in rather than assuming a day", async () => {
    // Prepare
    await fake.control.setVariants({ expiresIn: 60 });
    const now = new Date("2030-06-01T12:00:00Z");
    const client = clientFor({ clock: { now: () => now } });

    try {
      // Act
      const tokens = await signInAndExchange(client);

      // Assess
      expect(tokens.expiresAt.toISOString()).toBe("2030-06-01T12:01:00.000Z");
    } finally {
      await fake.control.setVariants({ expiresIn: 86_400 });
    }
  });

  it("revoke ends the access token (then invalidToken) and its refresh token (then invalidGrant)", async () => {
    // Prepare
    const client = clientFor();
    const tokens = await signInAndExchange(client);

    // Act
    await client.revoke(tokens.accessToken);

    // Assess
    expect(await client.ping(tokens.accessToken)).toEqual({ tokenValid: false });
    const e = await expectTeamViewerError(client.getAccount(tokens.accessToken), "invalidToken");
    expect(e.status).toBe(401);
    expect(e.tvError).toBe("invalid_token");
    await expectTeamViewerError(client.refresh(tokens.refreshToken), "invalidGrant");
    await expectTeamViewerError(client.revoke(tokens.accessToken), "invalidToken");
  });

  it("an expired access token is tokenExpired; a refresh brings a working one", async () => {
    // Prepare
    const client = clientFor();
    const tokens = await signInAndExchange(client);
    await fake.control.expireAllTokens();

    // Act
    const expired = await expectTeamViewerError(client.getAccount(tokens.accessToken), "tokenExpired");
    const renewed = remember(await client.refresh(tokens.refreshToken));

    // Assess
    expect(expired.status).toBe(401);
    expect(expired.transient).toBe(false);
    expect(expired.message).toContain("The access token has expired.");
    expect((await client.getAccount(renewed.accessToken)).userId).toBe("u1234567");
  });

  it("logs calls with token ids, never the tokens, codes or states", async () => {
    // Prepare
    await fake.control.clearCalls();
    const client = clientFor();
    const state = `state-${crypto.randomUUID()}`;
    secrets.add(state);
    const location = await browserSignIn(client.authorizeUrl(state), "allow");
    const code = location.searchParams.get("code") ?? "";
    secrets.add(code);
    const tokens = remember(await client.exchangeCode(code));
    await client.getAccount(tokens.accessToken);

    // Act
    const calls = await fake.control.calls();

    // Assess
    expect(calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      "GET /oauth2/authorize 200",
      "POST /oauth2/authorize 302",
      "POST /api/v1/oauth2/token 200",
      "GET /api/v1/account 200",
    ]);
    expect(calls[3].tokenId).toMatch(/^t\d+$/);
    const logged = JSON.stringify(calls);
    for (const secret of secrets) expect(logged).not.toContain(secret);
  });
});

describe("TeamViewer fake's clock", () => {
  // A fake of its own: moving the clock would expire the other tests' tokens.
  let timed: TeamViewerFake;
  let timedClient: TeamViewerClient;

  beforeAll(async () => {
    timed = await startTeamViewerFake({ port: 0, clientId, clientSecret });
    timedClient = clientFor({ apiBaseUrl: timed.apiBaseUrl, loginBaseUrl: timed.url });
  });

  afterAll(async () => {
    await timed?.close();
  });

  it("a code lives 10 minutes", async () => {
    // Prepare
    const fresh = (await timed.control.signIn(timedClient.authorizeUrl("s"))).searchParams.get("code") ?? "";
    const stale = (await timed.control.signIn(timedClient.authorizeUrl("s"))).searchParams.get("code") ?? "";
    secrets.add(fresh).add(stale);
    await timed.control.advanceClock(9 * 60 * 1000);
    remember(await timedClient.exchangeCode(fresh));

    // Act
    await timed.control.advanceClock(61 * 1000);
    const e = await expectTeamViewerError(timedClient.exchangeCode(stale), "invalidGrant");

    // Assess
    expect(e.message).toContain("expired");
  });

  it("an access token expires after expires_in; a session after valid_until, closed at that time", async () => {
    // Prepare
    const tokens = await signInAndExchange(timedClient);
    const session = await timedClient.createSession(tokens.accessToken, { groupName: "Timed", validUntil: new Date(Date.now() + 60 * 60 * 1000) });

    // Act
    await timed.control.advanceClock(2 * 60 * 60 * 1000);
    const stillValid = await timedClient.getSession(tokens.accessToken, session.code);
    await timed.control.advanceClock(86_400 * 1000);
    const expired = await expectTeamViewerError(timedClient.getSession(tokens.accessToken, session.code), "tokenExpired");

    // Assess
    expect(stillValid.state).toBe("closed");
    expect(stillValid.closedAt).toEqual(session.validUntil);
    expect(expired.status).toBe(401);
  });
});
