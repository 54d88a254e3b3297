// Secrets through the connector's whole life and the other ways secrets come in, with
// everything the service writes read back afterwards: the host log, the app's console
// output, the trace file, the audit log (list and delta feed), the API responses (those of
// this test and the run's response log), and what an audit receiver was sent. Covered: a
// sign-in refused at TeamViewer, a callback with an unknown state and one replayed, a
// sign-in whose code exchange keeps failing until its message is dead-lettered, the
// sign-in, a refresh after TeamViewer refused the access token, a refresh TeamViewer refuses
// (both echoing the token in their error_description), connecting again, a token secret in
// Key Vault that cannot be read as one (tokens in it, a field missing), the disconnect's
// revoke, an audit subscription's secrets (a PUT, a rotation, a receiver that fails and a
// token in its URL's query) and an automation app's client secret and token.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { consoleLogName } from "../support/stackProcess.js";
import { tokenSecretName } from "../../shared/adapters/keyvault/keyVaultTokenVault.js";
import { api, eventually, stack, type ApiResponse } from "../support/api.js";
import {
  connect,
  eventuallyConnector,
  expectNoSecrets,
  fake,
  followToCallback,
  hostLog,
  newTenant,
  secretClient,
  signInAtTeamViewer,
  storedTokenValue,
  type TestTenant,
} from "./connectorSupport.js";

interface Tokens {
  readonly accessToken: string;
  readonly refreshToken: string;
}

const servers: Server[] = [];
afterEach(async () => {
  await fake().clearFaults();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** An audit receiver on 127.0.0.1 that answers 503 while `down` and keeps what it was sent. */
async function receiver() {
  const state = { down: true, refused: 0, received: [] as string[] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (state.down) {
        state.refused++;
        res.writeHead(503, { "content-type": "text/plain" }).end(`down; you sent ${req.url}`);
        return;
      }
      state.received.push(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, state };
}

const readIfThere = (file: string): string => (existsSync(file) ? readFileSync(file, "utf8") : "");

async function storedTokens(tenantId: string): Promise<Tokens> {
  const stored = await storedTokenValue(tenantId);
  expect(stored).toBeDefined();
  return JSON.parse(stored!.value) as Tokens;
}

/** Connect and sign in at TeamViewer; the callback's code and state, and its response. */
async function signIn(tenant: TestTenant, decision: "allow" | "deny"): Promise<{ code?: string; state: string; callback: Response; location: URL }> {
  const { authorizeUrl, state } = await connect(tenant.connectorAdmin);
  const location = await signInAtTeamViewer(authorizeUrl, decision);
  const callback = await followToCallback(location);
  return { code: location.searchParams.get("code") ?? undefined, state, callback, location };
}

describe("secrets stay secret through the connector's life, audit push and automation", () => {
  it("finds no token, client secret, code, state or subscription secret anywhere the service writes", async () => {
    const secrets: string[] = ["local-client-secret"];
    // The states are in the authorize URLs the connect answers; the receiver URL's query is
    // whole in the administrator's own answers: both are secret everywhere else.
    const answeredByDesign: string[] = [];
    const responses: string[] = [];
    const keep = <T>(r: ApiResponse<T>): ApiResponse<T> => {
      responses.push(`${r.status} ${JSON.stringify([...r.headers.entries()])} ${r.text}`);
      return r;
    };
    const keepRaw = async (r: Response): Promise<void> => {
      responses.push(`${r.status} ${JSON.stringify([...r.headers.entries()])} ${await r.text()}`);
    };
    const tenant = await newTenant();
    secrets.push(tenant.admin, tenant.connectorAdmin, tenant.helpdesk);

    // A sign-in the admin refuses at TeamViewer, a callback nobody issued, the sign-in, its replay.
    const denied = await signIn(tenant, "deny");
    answeredByDesign.push(denied.state);
    await keepRaw(denied.callback);
    const bogus = { code: `bogus-code-${randomUUID()}`, state: `bogus-state-${randomUUID()}` };
    secrets.push(bogus.code, bogus.state);
    await keepRaw(await fetch(`${stack().hostUrl}/api/connector/oauth/callback?code=${bogus.code}&state=${bogus.state}`, { redirect: "manual" }));
    // A sign-in whose code exchange TeamViewer fails every time (the answer echoing the code):
    // connector.authorize is retried, dead-lettered, and read by the dead-letter function.
    const lost = await connect(tenant.connectorAdmin);
    answeredByDesign.push(lost.state);
    const lostLocation = await signInAtTeamViewer(lost.authorizeUrl, "allow");
    const lostCode = lostLocation.searchParams.get("code")!;
    secrets.push(lostCode);
    await fake().failNext({
      method: "POST",
      path: "/api/v1/oauth2/token",
      status: 503,
      body: { error: "temporarily_unavailable", error_description: `the code ${lostCode} could not be redeemed now` },
      count: 40,
    });
    await keepRaw(await followToCallback(lostLocation));
    await eventually(
      async () =>
        (await api<{ value: { activity: string; detail?: string }[] }>("/auditEvents?top=200", { token: tenant.admin })).body.value.some(
          (e) => e.activity === "connector.authorize" && e.detail?.startsWith("dead-lettered"),
        )
          ? true
          : undefined,
      60_000,
      "the sign-in dead-lettered",
    );
    await fake().clearFaults();

    const allowed = await signIn(tenant, "allow");
    secrets.push(allowed.code!);
    answeredByDesign.push(allowed.state);
    await keepRaw(allowed.callback);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "onboarded");
    await keepRaw(await fetch(allowed.location, { redirect: "manual" }));
    const first = await storedTokens(tenant.tenantId);
    secrets.push(first.accessToken, first.refreshToken);

    // TeamViewer refuses the access token, echoing it: the service refreshes and retries.
    await fake().failNext({
      method: "GET",
      path: "/api/v1/ping",
      status: 401,
      body: { error: "token_expired", error_description: `The access token ${first.accessToken} expired.`, error_code: 1 },
    });
    expect(keep(await api("/connector/verify", { method: "POST", token: tenant.connectorAdmin })).status).toBe(200);
    const second = await eventually(
      async () => {
        const t = await storedTokens(tenant.tenantId);
        return t.accessToken !== first.accessToken ? t : undefined;
      },
      20_000,
      "a refreshed token",
    );
    secrets.push(second.accessToken, second.refreshToken);

    // TeamViewer refuses the access token and then the refresh token, echoing both.
    await fake().failNext({
      method: "GET",
      path: "/api/v1/ping",
      status: 401,
      body: { error: "token_expired", error_description: `The access token ${second.accessToken} expired.`, error_code: 1 },
    });
    await fake().failNext({
      method: "POST",
      path: "/api/v1/oauth2/token",
      status: 400,
      body: { error: "invalid_grant", error_description: `refresh_token ${second.refreshToken} is revoked; code=${allowed.code}` },
    });
    keep(await api("/connector/verify", { method: "POST", token: tenant.connectorAdmin }));
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.health === "reauthorizationRequired", "reauthorizationRequired");
    keep(await api("/connector", { token: tenant.connectorAdmin }));

    // Connecting again, then the disconnect, which revokes the stored token.
    const again = await signIn(tenant, "allow");
    secrets.push(again.code!);
    answeredByDesign.push(again.state);
    await keepRaw(again.callback);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded" && c.health === "healthy", "onboarded again");
    const third = await storedTokens(tenant.tenantId);
    secrets.push(third.accessToken, third.refreshToken);

    // Key Vault holds a value that is not a token (tokens in it, expiresAt missing): verify says connect again.
    const storedRaw = (await storedTokenValue(tenant.tenantId))!.value;
    const unreadable = { accessToken: `unreadable-access-${randomUUID()}`, refreshToken: `unreadable-refresh-${randomUUID()}` };
    secrets.push(unreadable.accessToken, unreadable.refreshToken);
    await secretClient().setSecret(tokenSecretName(tenant.tenantId), JSON.stringify(unreadable), { contentType: "application/json" });
    const broken = keep(await api("/connector/verify", { method: "POST", token: tenant.connectorAdmin }));
    expect(broken.status).toBe(200); // the check read Key Vault and found no token in it
    expect((broken.body as { health?: string }).health).toBe("reauthorizationRequired");
    await secretClient().setSecret(tokenSecretName(tenant.tenantId), storedRaw, { contentType: "application/json" });
    expect(keep(await api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin })).status).toBe(202);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "notOnboarded", "notOnboarded");

    // An audit subscription: its receiver fails at first; a PUT rotates the secret; a DELETE ends it.
    const r = await receiver();
    const url = `http://127.0.0.1:${r.port}/audit?code=query-code-${randomUUID()}&sig=query-sig-${randomUUID()}`;
    const firstSecret = `first-subscription-secret-${randomUUID()}`;
    const secondSecret = `second-subscription-secret-${randomUUID()}`;
    secrets.push(firstSecret, secondSecret);
    answeredByDesign.push(new URL(url).searchParams.get("code")!, new URL(url).searchParams.get("sig")!);
    expect(keep(await api("/auditSubscriptions/siem", { method: "PUT", token: tenant.admin, body: { url, secret: firstSecret } })).status).toBe(201);
    keep(await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: 33 } }));
    await eventually(async () => (r.state.refused >= 3 ? true : undefined), 20_000, "failed deliveries");
    keep(await api("/auditSubscriptions/siem", { token: tenant.admin }));
    expect(keep(await api("/auditSubscriptions/siem", { method: "PUT", token: tenant.admin, body: { url, secret: secondSecret } })).status).toBe(200);
    r.state.down = false;
    await eventually(async () => (r.state.received.length >= 3 ? true : undefined), 20_000, "deliveries");
    keep(await api("/auditSubscriptions", { token: tenant.admin }));
    expect(keep(await api("/auditSubscriptions/siem", { method: "DELETE", token: tenant.admin })).status).toBe(204);

    // An automation app: its client secret goes to the identity provider, its token to the door.
    const registered = await fetch(`${stack().identityUrl}/apps`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenantId: tenant.tenantId, displayName: "Ticketing", roles: ["RemoteAssistance.Automation"] }),
    });
    expect(registered.status).toBe(201);
    const app = (await registered.json()) as { clientId: string; clientSecret: string };
    const issued = await fetch(`${stack().identityUrl}/${tenant.tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: app.clientId,
        client_secret: app.clientSecret,
        scope: `${stack().audience}/.default`,
      }).toString(),
    });
    expect(issued.status).toBe(200);
    const appToken = ((await issued.json()) as { access_token: string }).access_token;
    secrets.push(app.clientSecret, appToken);
    const door = keep(
      await api("/automation/events", {
        method: "POST",
        token: appToken,
        body: { type: "remoteAssistance.requested", version: 1, data: { deviceId: randomUUID(), description: "INC0099999" } },
      }),
    );
    expect(door.status, door.text).toBeLessThan(500);

    // Assess: everything written since, once the audit log shows the subscription's deletion.
    await eventually(
      async () =>
        (await api<{ value: { activity: string }[] }>("/auditEvents?top=200", { token: tenant.admin })).body.value.some(
          (e) => e.activity === "auditSubscription.delete",
        )
          ? true
          : undefined,
      20_000,
      "the subscription's deletion audited",
    );
    const audit = keep(await api("/auditEvents?top=200", { token: tenant.admin }));
    const delta = keep(await api("/auditEvents/delta", { token: tenant.admin }));
    expect(audit.text).toContain("connector.disconnect");
    const log = hostLog();
    const consoleOutput = readIfThere(join(stack().dataDir, consoleLogName));
    // Both did capture this flow (the token refreshes are logged to the console).
    expect(log).toContain(tenant.tenantId);
    expect(consoleOutput).toContain(tenant.tenantId);
    expect([...secrets, ...answeredByDesign].every((s) => s.length >= 8)).toBe(true);
    expectNoSecrets(
      {
        "the host log": log,
        "the app's console output": consoleOutput,
        "the trace file": readIfThere(join(stack().dataDir, "traces.jsonl")),
        "the audit log": audit.text,
        "the audit delta feed": delta.text,
        "a response": responses.join("\n"),
        "the run's response log": readIfThere(inject("responseLog")),
        "what the audit receiver was sent": r.state.received.join("\n"),
      },
      secrets,
    );
    expectNoSecrets(
      {
        "the host log": log,
        "the app's console output": consoleOutput,
        "the trace file": readIfThere(join(stack().dataDir, "traces.jsonl")),
        "the audit log": audit.text,
        "the audit delta feed": delta.text,
        "what the audit receiver was sent": r.state.received.join("\n"),
      },
      answeredByDesign,
    );
  }, 240_000);
});
