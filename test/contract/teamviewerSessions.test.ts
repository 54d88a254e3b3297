// Contract: the TeamViewer client against the TeamViewer fake over HTTP, Web API half —
// account, sessions (both unconfirmed variants), paging, and every fault the workers meet.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TeamViewerClient, type TeamViewerClientOptions } from "../../shared/adapters/teamviewer/teamViewerClient.js";
import type { TeamViewerErrorCode } from "../../shared/app/teamViewerError.js";
import { teamViewerErrorExpectation } from "./teamviewer.helpers.js";
import { startTeamViewerFake, type TeamViewerFake } from "../../local/teamviewer/server.js";
import { freePort } from "../../local/ports.js";

const clientSecret = `contract-secret-${crypto.randomUUID()}`;
const redirectUri = "http://app.test/api/connector/oauth/callback";

let fake: TeamViewerFake;
let client: TeamViewerClient;
let accessToken: string;
let refreshToken: string;
/** Every token, code and secret seen in this file: none may show up in an error. */
const secrets = new Set<string>([clientSecret]);

function clientFor(overrides: Partial<TeamViewerClientOptions> = {}): TeamViewerClient {
  return new TeamViewerClient({
    apiBaseUrl: fake.apiBaseUrl,
    loginBaseUrl: fake.url,
    clientId: "local-client-id",
    clientSecret: async () => clientSecret,
    redirectUri,
    timeoutMs: 5_000,
    // The fake serves http://127.0.0.1 links, as the local stack allows (LOCAL_ALLOW_INSECURE_LINKS).
    allowInsecureLinks: true,
    ...overrides,
  });
}

const expectTeamViewerError = teamViewerErrorExpectation(secrets);

/** A group of its own for each test, so lists hold only that test's sessions. */
const uniqueGroup = (): string => `group-${crypto.randomUUID()}`;

beforeAll(async () => {
  fake = await startTeamViewerFake({ port: 0, clientSecret });
  client = clientFor();
  const location = await fake.control.signIn(client.authorizeUrl("contract"));
  const code = location.searchParams.get("code") ?? "";
  const tokens = await client.exchangeCode(code);
  accessToken = tokens.accessToken;
  refreshToken = tokens.refreshToken;
  for (const s of [code, accessToken, refreshToken]) secrets.add(s);
});

beforeEach(async () => {
  await fake.control.clearFaults();
  await fake.control.clearLatency();
  await fake.control.setVariants({ createStatus: 200, stateCase: "lower", pageSize: 1000, linkBase: null });
});

afterAll(async () => {
  await fake?.close();
});

describe("TeamViewer account and ping", () => {
  it("ping says whether the token is valid", async () => {
    // Act
    const valid = await client.ping(accessToken);
    const unknown = await client.ping("not-a-token-anyone-issued");

    // Assess
    expect(valid).toEqual({ tokenValid: true });
    expect(unknown).toEqual({ tokenValid: false });
  });

  it("reads the configured account and licence; absent optional fields stay absent", async () => {
    // Prepare
    await fake.control.setAccount({ userid: "u7654321", name: "Help Desk", email: null, company_name: "Fabrikam", license_type: "Business" });

    try {
      // Act
      const account = await client.getAccount(accessToken);

      // Assess
      expect(account).toEqual({ userId: "u7654321", name: "Help Desk", companyName: "Fabrikam", licenseType: "Business" });
    } finally {
      await fake.control.setAccount({
        userid: "u1234567",
        name: "Local Supporter",
        email: "supporter@teamviewer.local",
        company_name: "Contoso (local)",
        license_type: "Premium",
      });
    }
  });
});

describe("TeamViewer sessions", () => {
  it("creates a session answered 200 (documented) with every field, in camelCase", async () => {
    // Prepare
    const groupName = uniqueGroup();
    const validUntil = new Date(Date.now() + 2 * 60 * 60 * 1000);
    await fake.control.clearCalls();

    // Act
    const session = await client.createSession(accessToken, {
      groupName,
      description: "Printer will not print",
      endCustomer: { name: "Adele Vance", email: "adele@contoso.test" },
      customApi: "session-01J0000000000000000000001",
      validUntil,
    });

    // Assess
    expect(session.code).toMatch(/^s\d{2}-\d{3}-\d{3}$/);
    expect(session.state).toBe("open");
    expect(session.groupId).toMatch(/^g\d+$/);
    expect(session.description).toBe("Printer will not print");
    expect(session.endCustomer).toEqual({ name: "Adele Vance", email: "adele@contoso.test" });
    expect(session.customApi).toBe("session-01J0000000000000000000001");
    expect(session.createdAt).toBeInstanceOf(Date);
    expect(session.validUntil?.getTime()).toBe(Math.floor(validUntil.getTime() / 1000) * 1000);
    expect(session.supporterLink).toMatch(/^http:\/\//);
    expect(session.endCustomerLink).toMatch(/^http:\/\//);
    expect(session.webClientSupporterLink).toMatch(/^http:\/\//);
    const calls = await fake.control.calls();
    expect(calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual(["POST /api/v1/sessions 200"]);
    const stored = (await fake.control.sessions()).find((s) => s.code === session.code);
    expect(stored?.groupid).toBe(session.groupId);
    expect((await fake.control.groups()).find((g) => g.id === session.groupId)?.name).toBe(groupName);
  });

  it("accepts the 201 answer of older docs (unconfirmed variant) just the same", async () => {
    // Prepare
    await fake.control.setVariants({ createStatus: 201 });
    await fake.control.clearCalls();

    // Act
    const session = await client.createSession(accessToken, { groupName: uniqueGroup(), customApi: "variant-201" });

    // Assess
    expect(session.state).toBe("open");
    expect(session.customApi).toBe("variant-201");
    expect((await fake.control.calls()).map((c) => c.status)).toEqual([201]);
  });

  it("defaults valid_until to 24 hours after creation and reuses a group by id", async () => {
    // Prepare
    const first = await client.createSession(accessToken, { groupName: uniqueGroup() });

    // Act
    const second = await client.createSession(accessToken, { groupId: first.groupId });

    // Assess
    expect(second.groupId).toBe(first.groupId);
    expect((second.validUntil?.getTime() ?? 0) - (second.createdAt?.getTime() ?? 0)).toBe(24 * 60 * 60 * 1000);
  });

  it("normalises a capitalised state (unconfirmed variant) to lower case everywhere", async () => {
    // Prepare
    await fake.control.setVariants({ stateCase: "capitalized" });
    const groupName = uniqueGroup();

    // Act
    const created = await client.createSession(accessToken, { groupName });
    const fetched = await client.getSession(accessToken, created.code);
    await client.closeSession(accessToken, created.code);
    const listed = await client.listSessions(accessToken, { groupId: created.groupId, fullList: true });

    // Assess
    const raw = (await (await fetch(`${fake.apiBaseUrl}/sessions/${created.code}`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as {
      state: string;
    };
    expect(raw.state).toBe("Closed");
    expect(created.state).toBe("open");
    expect(fetched.state).toBe("open");
    expect(listed.sessions.map((s) => s.state)).toEqual(["closed"]);
  });

  it("gets a session with online and closed_at, and closes it (PUT → 204, idempotent)", async () => {
    // Prepare
    const created = await client.createSession(accessToken, { groupName: uniqueGroup() });

    // Act
    const before = await client.getSession(accessToken, created.code);
    await client.closeSession(accessToken, created.code);
    const after = await client.getSession(accessToken, created.code);
    await client.closeSession(accessToken, created.code);
    const again = await client.getSession(accessToken, created.code);

    // Assess
    expect(before).toMatchObject({ code: created.code, state: "open", online: false });
    expect(before.closedAt).toBeUndefined();
    expect(after.state).toBe("closed");
    expect(after.closedAt).toBeInstanceOf(Date);
    expect(again.closedAt).toEqual(after.closedAt);
    const puts = (await fake.control.calls()).filter((c) => c.method === "PUT");
    expect(puts.at(-1)?.status).toBe(204);
  });

  it("answers an unknown session code with notFound", async () => {
    // Act
    const e = await expectTeamViewerError(client.getSession(accessToken, "s00-000-000"), "notFound");

    // Assess
    expect(e.status).toBe(404);
    expect(e.transient).toBe(false);
  });

  it("refuses to send an invalid create request (badRequest) and calls nothing", async () => {
    // Prepare
    await fake.control.clearCalls();

    // Act
    const e = await expectTeamViewerError(client.createSession(accessToken, { groupName: uniqueGroup(), description: "x".repeat(4001) }), "badRequest");

    // Assess
    expect(e.message).toContain("description");
    expect(e.status).toBeUndefined();
    expect(await fake.control.calls()).toEqual([]);
  });

  it("pages newest first with full_list and offset, and filters by state", async () => {
    // Prepare
    const first = await client.createSession(accessToken, { groupName: uniqueGroup(), customApi: "page-0" });
    const groupId = first.groupId;
    const created = [first];
    for (let i = 1; i < 5; i++) created.push(await client.createSession(accessToken, { groupId, customApi: `page-${i}` }));
    await client.closeSession(accessToken, created[1].code);
    await fake.control.setVariants({ pageSize: 2 });

    // Act
    const page1 = await client.listSessions(accessToken, { groupId, fullList: true });
    const page2 = await client.listSessions(accessToken, { groupId, fullList: true, offset: page1.nextOffset });
    const page3 = await client.listSessions(accessToken, { groupId, fullList: true, offset: page2.nextOffset });
    const short = await client.listSessions(accessToken, { groupId });
    await fake.control.setVariants({ pageSize: 1000 });
    const closed = await client.listSessions(accessToken, { groupId, state: ["closed"] });
    const open = await client.listSessions(accessToken, { groupId, state: ["open"], fullList: true });

    // Assess
    expect([...page1.sessions, ...page2.sessions, ...page3.sessions].map((s) => s.customApi)).toEqual(["page-4", "page-3", "page-2", "page-1", "page-0"]);
    expect(page1.nextOffset).toBe(2);
    expect(page2.nextOffset).toBe(4);
    expect(page3.nextOffset).toBeUndefined();
    // Without full_list TeamViewer sends only code, state, online and groupid.
    expect(short.sessions[0]).toEqual({ code: created[4].code, state: "open", groupId, online: false });
    expect(closed.sessions.map((s) => s.code)).toEqual([created[1].code]);
    expect(open.sessions.map((s) => s.customApi)).toEqual(["page-4", "page-3", "page-2", "page-0"]);
  });

  it("findOpenSessionByCustomApi pages through the open sessions to an old one, and says undefined when none or only a closed one", async () => {
    // Prepare
    const oldest = await client.createSession(accessToken, { groupName: uniqueGroup(), customApi: "needle" });
    for (let i = 0; i < 4; i++) await client.createSession(accessToken, { groupId: oldest.groupId, customApi: `hay-${i}` });
    const closedOne = await client.createSession(accessToken, { groupId: oldest.groupId, customApi: "closed-needle" });
    await client.closeSession(accessToken, closedOne.code);
    await fake.control.setVariants({ pageSize: 2 });
    await fake.control.clearCalls();

    // Act
    const found = await client.findOpenSessionByCustomApi(accessToken, "needle", oldest.groupId);
    const pagesRead = (await fake.control.calls()).filter((c) => c.path === "/api/v1/sessions");
    const missing = await client.findOpenSessionByCustomApi(accessToken, "no-such-session", oldest.groupId);
    const closed = await client.findOpenSessionByCustomApi(accessToken, "closed-needle", oldest.groupId);

    // Assess
    expect(found?.code).toBe(oldest.code);
    expect(pagesRead.map((c) => c.query)).toEqual([
      `groupid=${oldest.groupId}&state=open&full_list=true`,
      `groupid=${oldest.groupId}&state=open&full_list=true&offset=2`,
      `groupid=${oldest.groupId}&state=open&full_list=true&offset=4`,
    ]);
    expect(missing).toBeUndefined();
    expect(closed).toBeUndefined();
  });
});

describe("TeamViewer faults, through the client", () => {
  it("500 → serverError, transient", async () => {
    // Prepare
    await fake.control.failNext({
      method: "POST",
      path: "/api/v1/sessions",
      status: 500,
      body: { error: "internal_error", error_description: "Something broke." },
    });

    // Act
    const e = await expectTeamViewerError(client.createSession(accessToken, { groupName: uniqueGroup() }), "serverError");

    // Assess
    expect(e).toMatchObject({ status: 500, transient: true, tvError: "internal_error" });
    expect(e.message).toContain("Something broke.");
  });

  it("401 token_expired → tokenExpired, not transient (refresh first)", async () => {
    // Prepare
    await fake.control.failNext({ method: "GET", path: "/api/v1/account", status: 401, body: { error: "token_expired", error_code: 1 } });

    // Act
    const e = await expectTeamViewerError(client.getAccount(accessToken), "tokenExpired");

    // Assess
    expect(e).toMatchObject({ status: 401, transient: false, tvError: "token_expired" });
  });

  it("401 with no body → invalidToken", async () => {
    // Prepare
    await fake.control.failNext({ path: "/api/v1/account", status: 401, headers: { "www-authenticate": "Bearer" } });

    // Act
    const e = await expectTeamViewerError(client.getAccount(accessToken), "invalidToken");

    // Assess
    expect(e.tvError).toBeUndefined();
  });

  it("403 rate_limit_reached and 403 blocked → throttled, transient", async () => {
    // Prepare
    await fake.control.failNext({ path: "/API/V1/SESSIONS", status: 403, body: { error: "rate_limit_reached" } });
    await fake.control.failNext({ path: "/api/v1/sessions", status: 403, body: { error: "blocked" } });

    // Act
    const limited = await expectTeamViewerError(client.getSession(accessToken, "s11-111-111"), "throttled");
    const blocked = await expectTeamViewerError(client.listSessions(accessToken, {}), "throttled");

    // Assess
    expect(limited).toMatchObject({ status: 403, transient: true, tvError: "rate_limit_reached", retryAfterMs: undefined });
    expect(blocked).toMatchObject({ status: 403, transient: true, tvError: "blocked" });
  });

  it("403 for another reason → badRequest, permanent", async () => {
    // Prepare
    await fake.control.failNext({ path: "/api/v1/sessions", status: 403, body: { error: "insufficient_scope" } });

    // Act
    const e = await expectTeamViewerError(client.listSessions(accessToken, {}), "badRequest");

    // Assess
    expect(e.transient).toBe(false);
  });

  it("429 with Retry-After (seconds or HTTP date) → throttled with retryAfterMs; without → no retryAfterMs", async () => {
    // Prepare
    const now = new Date("2030-01-01T00:00:00Z");
    const clocked = clientFor({ clock: { now: () => now } });
    await fake.control.failNext({ path: "/api/v1/ping", status: 429, headers: { "retry-after": "1" } });
    await fake.control.failNext({ path: "/api/v1/ping", status: 429, headers: { "retry-after": "Tue, 01 Jan 2030 00:00:30 GMT" } });
    await fake.control.failNext({ path: "/api/v1/ping", status: 429 });

    // Act
    const seconds = await expectTeamViewerError(clocked.ping(accessToken), "throttled");
    const date = await expectTeamViewerError(clocked.ping(accessToken), "throttled");
    const bare = await expectTeamViewerError(clocked.ping(accessToken), "throttled");

    // Assess
    expect(seconds).toMatchObject({ status: 429, transient: true, retryAfterMs: 1000 });
    expect(date.retryAfterMs).toBe(30_000);
    expect(bare.retryAfterMs).toBeUndefined();
  });

  it("other 4xx → badRequest, permanent", async () => {
    // Prepare
    await fake.control.failNext({ path: "/api/v1/sessions", status: 400, body: { error: "invalid_request", error_description: "groupname too long" } });

    // Act
    const e = await expectTeamViewerError(client.createSession(accessToken, { groupName: uniqueGroup() }), "badRequest");

    // Assess
    expect(e).toMatchObject({ status: 400, transient: false, tvError: "invalid_request" });
    expect(e.message).toContain("groupname too long");
  });

  it("a fault for N calls fails exactly N, then the call goes through", async () => {
    // Prepare
    await fake.control.failNext({ method: "get", path: "/api/v1/ping", status: 503, count: 2 });

    // Act
    await expectTeamViewerError(client.ping(accessToken), "serverError");
    await expectTeamViewerError(client.ping(accessToken), "serverError");
    const third = await client.ping(accessToken);

    // Assess
    expect(third).toEqual({ tokenValid: true });
  });

  it("latency beyond timeoutMs → timeout, transient, without waiting for the answer", async () => {
    // Prepare
    await fake.control.setLatency({ ms: 2_000, path: "/api/v1/account" });
    const impatient = clientFor({ timeoutMs: 150 });
    const started = Date.now();

    // Act
    const e = await expectTeamViewerError(impatient.getAccount(accessToken), "timeout");

    // Assess
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(e.transient).toBe(true);
    expect(e.message).toContain("150 ms");
    expect(await client.ping(accessToken)).toEqual({ tokenValid: true });
  });

  it("a closed port → unreachable, transient, with the cause kept", async () => {
    // Prepare
    const port = await freePort();
    const nowhere = clientFor({ apiBaseUrl: `http://127.0.0.1:${port}/api/v1` });

    // Act
    const e = await expectTeamViewerError(nowhere.refresh(refreshToken), "unreachable");

    // Assess
    expect(e.transient).toBe(true);
    expect(e.message).toContain("ECONNREFUSED");
    expect(e.cause).toBeInstanceOf(Error);
  });

  it("malformed answers → invalidResponse, never a crash", async () => {
    // Prepare
    await fake.control.failNext({ path: "/api/v1/account", status: 200, rawBody: "<html>maintenance</html>" });
    await fake.control.failNext({ path: "/api/v1/sessions", status: 200, body: { sessions: "none" } });
    await fake.control.failNext({ path: "/api/v1/sessions", status: 200, body: { code: "s12-345-678", state: "paused", groupid: "g1" } });
    await fake.control.failNext({
      path: "/api/v1/sessions",
      status: 200,
      body: { code: "s12-345-678", state: "open", groupid: "g1", created_at: "yesterday" },
    });

    // Act
    const notJson = await expectTeamViewerError(client.getAccount(accessToken), "invalidResponse");
    const wrongShape = await expectTeamViewerError(client.listSessions(accessToken, {}), "invalidResponse");
    const wrongState = await expectTeamViewerError(client.getSession(accessToken, "s12-345-678"), "invalidResponse");
    const wrongTime = await expectTeamViewerError(client.getSession(accessToken, "s12-345-678"), "invalidResponse");

    // Assess
    expect(notJson).toMatchObject({ status: 200, transient: false });
    expect(wrongShape.message).toContain("sessions");
    expect(wrongState.message).toContain("state");
    expect(wrongTime.message).toContain("created_at");
  });

  it("an answer too big to read → invalidResponse (or its status, for an error), stopped early rather than read whole", async () => {
    // Prepare: a create answered with a 64 MiB session (a description that never ends), then a 500 as big.
    const chunk = new TextEncoder().encode("a".repeat(1024 * 1024));
    let pulled = 0;
    const huge = (status: number): Response => {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === 0) controller.enqueue(new TextEncoder().encode('{"code":"s12-345-678","state":"open","groupid":"g1","description":"'));
          else if (sent > 64) {
            controller.enqueue(new TextEncoder().encode('"}'));
            controller.close();
            return;
          } else controller.enqueue(chunk);
          sent++;
          pulled += chunk.byteLength;
        },
      });
      return new Response(body, { status, headers: { "content-type": "application/json" } });
    };
    const answers = [huge(200), huge(500)];
    const big = clientFor({ fetch: () => Promise.resolve(answers.shift()!) });

    // Act
    const tooBig = await expectTeamViewerError(big.createSession(accessToken, { groupName: uniqueGroup() }), "invalidResponse");
    const pulledForOne = pulled;
    const bigError = await expectTeamViewerError(big.createSession(accessToken, { groupName: uniqueGroup() }), "serverError");

    // Assess
    expect(tooBig).toMatchObject({ status: 200, transient: false });
    expect(tooBig.message).toMatch(/too big/);
    expect(pulledForOne).toBeLessThan(40 * 1024 * 1024);
    expect(bigError).toMatchObject({ status: 500, transient: true });
  });

  it("a session whose code or group id could not be used again (path characters, any length) → invalidResponse", async () => {
    // Prepare: each would be stored on the session, and its code put in the path of the close.
    const odd = [
      { code: "s12/345 678", groupid: "g1" },
      { code: `s${"1".repeat(5_000)}`, groupid: "g1" },
      { code: "s12-345-678", groupid: `g${"1".repeat(5_000)}` },
    ];
    for (const fields of odd) await fake.control.failNext({ method: "POST", path: "/api/v1/sessions", status: 200, body: { ...fields, state: "open" } });

    // Act
    const errors = [];
    for (let i = 0; i < odd.length; i++)
      errors.push(await expectTeamViewerError(client.createSession(accessToken, { groupName: uniqueGroup() }), "invalidResponse"));

    // Assess: said without quoting what TeamViewer sent.
    expect(errors.map((e) => e.transient)).toEqual([false, false, false]);
    expect(errors[0].message).toContain("code");
    expect(errors[2].message).toContain("groupid");
    for (const e of errors) expect(e.message).not.toMatch(/1{100}|s12\/345/);
  });

  it("a 3xx from the API is invalidResponse, and the bearer token is not carried to the redirect target", async () => {
    // Prepare
    await fake.control.failNext({ path: "/api/v1/account", status: 302, headers: { location: `${fake.url}/api/v1/ping` } });
    await fake.control.clearCalls();

    // Act
    await expectTeamViewerError(client.getAccount(accessToken), "invalidResponse");

    // Assess
    expect((await fake.control.calls()).map((c) => c.path)).toEqual(["/api/v1/account"]);
  });
});

describe("TeamViewer links: https only", () => {
  it("refuses the fake's http links unless loopback http is allowed, and never an http link elsewhere or a javascript: link", async () => {
    // Prepare
    const strict = clientFor({ allowInsecureLinks: false });
    const groupName = uniqueGroup();

    // Act
    const refusedLoopback = await expectTeamViewerError(strict.createSession(accessToken, { groupName }), "invalidResponse");
    await fake.control.setVariants({ linkBase: "http://evil.example" });
    const refusedHttp = await expectTeamViewerError(client.createSession(accessToken, { groupName }), "invalidResponse");
    await fake.control.setVariants({ linkBase: "javascript:alert(document.domain)//" });
    const refusedScript = await expectTeamViewerError(client.createSession(accessToken, { groupName }), "invalidResponse");
    await fake.control.setVariants({ linkBase: "https://start.teamviewer.example" });
    const accepted = await strict.createSession(accessToken, { groupName });

    // Assess: permanent failures that name the field, never quote the link.
    for (const e of [refusedLoopback, refusedHttp, refusedScript]) {
      expect(e).toMatchObject({ status: 200, transient: false });
      expect(e.message).toMatch(/supporter_link that is not https/);
      expect(e.message).not.toMatch(/evil|javascript|127\.0\.0\.1/);
    }
    expect(accepted.supporterLink).toMatch(/^https:\/\/start\.teamviewer\.example\/s\/s\d+\/supporter$/);
    expect(accepted.endCustomerLink).toMatch(/^https:\/\//);
  });

  it("get refuses a bad link too; a list keeps the session (to find and close it) without its bad links", async () => {
    // Prepare
    const groupName = uniqueGroup();
    const created = await client.createSession(accessToken, { groupName, customApi: "links-list" });
    await fake.control.setVariants({ linkBase: "javascript:alert(1)//" });

    // Act
    const got = await expectTeamViewerError(client.getSession(accessToken, created.code), "invalidResponse");
    const listed = await client.findOpenSessionByCustomApi(accessToken, "links-list", created.groupId);

    // Assess
    expect(got.message).toContain("GET /sessions/{code}");
    expect(listed?.code).toBe(created.code);
    expect(listed).not.toHaveProperty("supporterLink");
    expect(listed).not.toHaveProperty("endCustomerLink");
    expect(listed).not.toHaveProperty("webClientSupporterLink");
  });
});

describe("TeamViewer errors keep secrets", () => {
  it("drops an error_description that echoes the token, and keeps a harmless one", async () => {
    // Prepare
    await fake.control.failNext({ path: "/api/v1/account", status: 400, body: { error: "invalid_request", error_description: `bad token ${accessToken}` } });
    await fake.control.failNext({
      path: "/api/v1/oauth2/token",
      status: 400,
      body: { error: "invalid_grant", error_description: `refresh_token=${refreshToken} is spent` },
    });
    await fake.control.failNext({
      path: "/api/v1/oauth2/token",
      status: 400,
      body: { error: "invalid_client", error_description: `secret ${clientSecret} is wrong` },
    });

    // Act
    const echoedToken = await expectTeamViewerError(client.getAccount(accessToken), "badRequest");
    const echoedRefresh = await expectTeamViewerError(client.refresh(refreshToken), "invalidGrant");
    const echoedSecret = await expectTeamViewerError(client.refresh(refreshToken), "invalidClient");

    // Assess
    expect(echoedToken.message).toBe("GET /account: TeamViewer answered 400 invalid_request.");
    expect(echoedRefresh.message).toBe("POST /oauth2/token: TeamViewer answered 400 invalid_grant.");
    expect(echoedSecret.message).toBe("POST /oauth2/token: TeamViewer answered 400 invalid_client.");
  });

  it("shows control and invisible formatting characters of an error_description as U+FFFD: it goes on to logs, history and audit", async () => {
    // Prepare: a terminal escape, a right-to-left override, a zero-width space and a NUL.
    await fake.control.failNext({
      method: "POST",
      path: "/api/v1/sessions",
      status: 500,
      body: { error: "internal_error", error_description: "Down \u001b[2Jfor \u202emaintenance\u200b until\u0000 noon" },
    });

    // Act
    const e = await expectTeamViewerError(client.createSession(accessToken, { groupName: uniqueGroup() }), "serverError");

    // Assess
    expect(e.message).toBe("POST /sessions: TeamViewer answered 500 internal_error (Down \uFFFD[2Jfor \uFFFDmaintenance\uFFFD until\uFFFD noon).");
  });

  it("a malformed token answer does not quote the fresh tokens it carries", async () => {
    // Prepare
    const freshToken = `fresh-${crypto.randomUUID()}`;
    secrets.add(freshToken);
    await fake.control.failNext({ path: "/api/v1/oauth2/token", status: 200, rawBody: `{"access_token":"${freshToken}","token_type":"bearer",` });
    await fake.control.failNext({
      path: "/api/v1/oauth2/token",
      status: 200,
      body: { access_token: freshToken, token_type: "mac", expires_in: 60, refresh_token: freshToken },
    });

    // Act
    const truncated = await expectTeamViewerError(client.refresh(refreshToken), "invalidResponse");
    const wrongType = await expectTeamViewerError(client.refresh(refreshToken), "invalidResponse");

    // Assess
    expect(truncated.message).toContain("not JSON");
    expect(wrongType.message).toContain("token_type");
  });

  it("no error of any fault kind names the token, refresh token or client secret", async () => {
    // Prepare
    const port = await freePort();
    const faults: [TeamViewerErrorCode, () => Promise<unknown>][] = [];
    for (const [status, body, code] of [
      [500, { error: "internal_error" }, "serverError"],
      [401, { error: "token_expired", error_code: 1 }, "tokenExpired"],
      [403, { error: "rate_limit_reached" }, "throttled"],
      [429, undefined, "throttled"],
    ] as const) {
      await fake.control.failNext({ path: "/api/v1/oauth2/token", status, body });
      faults.push([status === 401 ? "invalidClient" : code, () => client.refresh(refreshToken)]);
    }
    faults.push(["unreachable", () => clientFor({ apiBaseUrl: `http://127.0.0.1:${port}/api/v1` }).getAccount(accessToken)]);

    // Act + Assess (expectTeamViewerError checks every message, cause and property)
    for (const [code, call] of faults) await expectTeamViewerError(call(), code);
    const everything = (await fake.control.calls()).map((c) => JSON.stringify(c)).join("\n");
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

describe("TeamViewer fake, raw HTTP", () => {
  it("answers a call without a token 401 with WWW-Authenticate: Bearer and no body", async () => {
    // Act
    const res = await fetch(`${fake.apiBaseUrl}/sessions`);

    // Assess
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    expect(await res.text()).toBe("");
  });

  it("treats paths case-insensitively", async () => {
    // Act
    const res = await fetch(`${fake.url}/API/V1/Account`, { headers: { authorization: `Bearer ${accessToken}` } });

    // Assess
    expect(res.status).toBe(200);
    expect(((await res.json()) as { userid: string }).userid).toMatch(/^u\d+$/);
  });

  it("control reset forgets tokens, sessions and variants", async () => {
    // Prepare
    const own = await startTeamViewerFake({ port: 0 });
    try {
      const c = new TeamViewerClient({ ...optionsFor(own), clientSecret: async () => "local-client-secret" });
      const tokens = await c.exchangeCode((await own.control.signIn(c.authorizeUrl("s"))).searchParams.get("code") ?? "");
      await c.createSession(tokens.accessToken, { groupName: "Before reset" });
      await own.control.setVariants({ createStatus: 201, stateCase: "capitalized" });

      // Act
      await own.control.reset();

      // Assess
      expect(await own.control.sessions()).toEqual([]);
      expect(await own.control.groups()).toEqual([]);
      expect(await own.control.calls()).toEqual([]);
      expect(await c.ping(tokens.accessToken)).toEqual({ tokenValid: false });
      expect(await own.control.setVariants({})).toEqual({ createStatus: 200, stateCase: "lower", pageSize: 1000, expiresIn: 86_400, linkBase: null });
    } finally {
      await own.close();
    }
  });
});

describe("TeamViewer fake with a dataDir", () => {
  it("keeps tokens, groups and sessions across a restart, and stores no raw token", async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), "tv-fake-"));
    let first: TeamViewerFake | undefined = await startTeamViewerFake({ port: 0, dataDir });
    let second: TeamViewerFake | undefined;
    try {
      const before = new TeamViewerClient({ ...optionsFor(first), clientSecret: async () => "local-client-secret" });
      const tokens = await before.exchangeCode((await first.control.signIn(before.authorizeUrl("s"))).searchParams.get("code") ?? "");
      const session = await before.createSession(tokens.accessToken, { groupName: "Durable", customApi: "durable-1" });
      await first.close();
      first = undefined;

      // Act
      second = await startTeamViewerFake({ port: 0, dataDir });
      const after = new TeamViewerClient({ ...optionsFor(second), clientSecret: async () => "local-client-secret" });
      const found = await after.findOpenSessionByCustomApi(tokens.accessToken, "durable-1");
      const renewed = await after.refresh(tokens.refreshToken);

      // Assess
      expect(found?.code).toBe(session.code);
      expect(found?.groupId).toBe(session.groupId);
      expect(await after.ping(renewed.accessToken)).toEqual({ tokenValid: true });
      const snapshot = readFileSync(join(dataDir, "state.json"), "utf8");
      for (const secret of [tokens.accessToken, tokens.refreshToken, renewed.accessToken, renewed.refreshToken]) expect(snapshot).not.toContain(secret);
    } finally {
      await first?.close();
      await second?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

function optionsFor(f: TeamViewerFake): Omit<TeamViewerClientOptions, "clientSecret"> {
  return { apiBaseUrl: f.apiBaseUrl, loginBaseUrl: f.url, clientId: "local-client-id", redirectUri, timeoutMs: 5_000, allowInsecureLinks: true };
}

describe("TeamViewer fake: throttling for a while, and the call log per sign-in", () => {
  it("answers rate_limit_reached with Retry-After to every call while throttled, then normally; the log names the sign-in", async () => {
    // Prepare: a second sign-in (another tenant), and its refreshed token (the same sign-in).
    const other = await client.exchangeCode((await fake.control.signIn(client.authorizeUrl("second"))).searchParams.get("code") ?? "");
    const refreshed = await client.refresh(other.refreshToken);
    for (const s of [other.accessToken, other.refreshToken, refreshed.accessToken, refreshed.refreshToken]) secrets.add(s);
    await fake.control.clearCalls();
    await fake.control.throttle({ ms: 1_500 });

    // Act
    const during = await expectTeamViewerError(client.getAccount(accessToken), "throttled");
    await fake.control.throttle({ ms: 1_500, status: 403, retryAfter: false });
    const bare = await expectTeamViewerError(client.ping(other.accessToken), "throttled");
    await fake.control.throttle({ ms: 0 });
    const after = await client.getAccount(refreshed.accessToken);
    const calls = await fake.control.calls();

    // Assess
    expect(during).toMatchObject({ status: 429, tvError: "rate_limit_reached" });
    expect(during.retryAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(during.retryAfterMs).toBeLessThanOrEqual(2_000);
    expect(bare).toMatchObject({ status: 403, tvError: "rate_limit_reached", retryAfterMs: undefined });
    expect(after.userId).toMatch(/^u\d+$/);
    expect(calls.map((c) => [c.path, c.status, c.fault ?? false])).toEqual([
      ["/api/v1/account", 429, true],
      ["/api/v1/ping", 403, true],
      ["/api/v1/account", 200, false],
    ]);
    // Each call carries its sign-in: the first tenant's differs from the second's, which a refresh keeps.
    expect(calls[0].grantId).toMatch(/^a\d+$/);
    expect(calls[1].grantId).toMatch(/^a\d+$/);
    expect(calls[1].grantId).not.toBe(calls[0].grantId);
    expect(calls[2].grantId).toBe(calls[1].grantId);
  });
});
