// Connector onboarding through the local host and emulators: the browser journey to
// TeamViewer and back, and every way a sign-in can go wrong without storing anything.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashOAuthState } from "../../shared/app/connector/oauthState.js";
import { tableNames } from "../../shared/adapters/tables/tables.js";
import { licenseAgreement } from "../../shared/domain/connector.js";
import { api, eventually, stack } from "../support/api.js";
import {
  auditEvents,
  connect,
  connectorStore,
  eventuallyConnector,
  expectNoSecrets,
  followToCallback,
  getConnector,
  hostLog,
  newTenant,
  oauthStateStore,
  onboard,
  sendToQueue,
  signInAtTeamViewer,
  storedTokenValue,
  tables,
  teamViewerClient,
} from "./connectorSupport.js";

const portalConnectorPage = (result: string): string => `${stack().hostUrl}/#/connector?result=${result}`;

async function fakeAccount(): Promise<{ userid: string; name: string; email: string | null; company_name: string | null }> {
  const res = await fetch(`${stack().teamViewerUrl}/_control/account`);
  return (await res.json()) as { userid: string; name: string; email: string | null; company_name: string | null };
}

/** Every entity of a table as JSON text, to look for secrets in. */
async function tableText(name: (typeof tableNames)[keyof typeof tableNames], partition?: string): Promise<string> {
  const out: unknown[] = [];
  const filter = partition ? `PartitionKey eq '${partition}'` : undefined;
  for await (const e of tables()
    .client(name)
    .listEntities({ queryOptions: filter ? { filter } : {} }))
    out.push(e);
  return JSON.stringify(out);
}

describe("connector onboarding", () => {
  it("a browser connects, allows at TeamViewer and follows the redirect: the connector is onboarded, the token is in Key Vault, all audited, no secret anywhere", async () => {
    // Prepare
    const tenant = await newTenant();
    const before = await getConnector(tenant.connectorAdmin);
    expect(before).toMatchObject({ id: "teamviewer", onboardingStatus: "notOnboarded", health: null, account: null, licenseAgreement: null });
    expect(before.consent).toEqual({ version: licenseAgreement.version, text: licenseAgreement.text });

    // Act: connect
    const connectRes = await api<{ authorizeUrl: string; onboardingStatus: string; expiresAt: string }>("/connector/connect", {
      method: "POST",
      token: tenant.connectorAdmin,
      body: { acceptLicenseAgreement: true },
    });

    // Assess: the authorize URL goes to TeamViewer's sign-in with our client and callback
    expect(connectRes.status, connectRes.text).toBe(200);
    const authorizeUrl = new URL(connectRes.body.authorizeUrl);
    expect(`${authorizeUrl.origin}${authorizeUrl.pathname}`).toBe(`${stack().teamViewerUrl}/oauth2/authorize`);
    expect(authorizeUrl.searchParams.get("response_type")).toBe("code");
    expect(authorizeUrl.searchParams.get("redirect_uri")).toBe(`${stack().hostUrl}/api/connector/oauth/callback`);
    const state = authorizeUrl.searchParams.get("state")!;
    expect(Buffer.from(state, "base64url")).toHaveLength(32);
    const expiresIn = Date.parse(connectRes.body.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(9 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(10 * 60_000);

    const onboarding = await getConnector(tenant.connectorAdmin);
    expect(onboarding.onboardingStatus).toBe("onboarding");
    expect(onboarding.onboardingRequestExpiryDateTime).toBe(connectRes.body.expiresAt);
    expect(onboarding.licenseAgreement).toMatchObject({
      acceptedBy: { id: tenant.connectorAdminId, displayName: "Connector Admin" },
      version: licenseAgreement.version,
    });

    // The state is stored only as its hash
    const stateRecord = await oauthStateStore().get(hashOAuthState(state));
    expect(stateRecord).toMatchObject({ tenantId: tenant.tenantId, status: "issued", createdBy: tenant.connectorAdminId });

    // Act: the browser at TeamViewer, then back at the callback
    const toCallback = await signInAtTeamViewer(connectRes.body.authorizeUrl, "allow");
    const code = toCallback.searchParams.get("code")!;
    expect(code).toBeTruthy();
    expect(toCallback.searchParams.get("state")).toBe(state);
    const callback = await followToCallback(toCallback);

    // Assess: back to the portal with a result that gives nothing away
    expect(callback.status).toBe(302);
    const location = callback.headers.get("location")!;
    expect(location).toBe(portalConnectorPage("pending"));
    const callbackBody = await callback.text();

    const onboarded = await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "onboarded");
    const account = await fakeAccount();
    expect(onboarded).toMatchObject({
      onboardingStatus: "onboarded",
      health: "healthy",
      account: { userId: account.userid, name: account.name, email: account.email, companyName: account.company_name },
      lastError: null,
      onboardingRequestExpiryDateTime: null,
    });
    expect(onboarded.onboardedAt).not.toBeNull();
    expect(onboarded.lastConnectionDateTime).not.toBeNull();
    expect(onboarded.licenseAgreement?.version).toBe(licenseAgreement.version);

    // The token is in Key Vault, as JSON, and works at TeamViewer
    const secret = await storedTokenValue(tenant.tenantId);
    expect(secret?.contentType).toBe("application/json");
    const token = JSON.parse(secret!.value) as { accessToken: string; refreshToken: string; expiresAt: string };
    expect(Object.keys(token).sort()).toEqual(["accessToken", "expiresAt", "generation", "refreshToken"]);
    expect(Date.parse(token.expiresAt)).toBeGreaterThan(Date.now());
    expect(await teamViewerClient().ping(token.accessToken)).toEqual({ tokenValid: true });
    expect((await oauthStateStore().get(hashOAuthState(state)))?.status).toBe("completed");

    // The audit trail
    const events = await auditEvents(tenant.admin);
    const trail = events.filter((e) => e.target.type === "connector").map((e) => `${e.activity}:${e.result}`);
    expect(trail).toEqual(expect.arrayContaining(["connector.connect:success", "connector.signIn:success", "connector.authorize:success"]));
    const authorized = events.find((e) => e.activity === "connector.authorize")!;
    expect(authorized.actor).toEqual({ id: tenant.connectorAdminId, displayName: "Connector Admin", type: "user" });
    expect(authorized.detail).toContain(account.userid);

    // No token, code or state in responses, audit events, tables or the host log
    const secrets = [token.accessToken, token.refreshToken, code, state, encodeURIComponent(code), encodeURIComponent(state)];
    const verify = await api("/connector/verify", { method: "POST", token: tenant.connectorAdmin });
    expect(verify.status, verify.text).toBe(200);
    expectNoSecrets(
      {
        "GET /connector": JSON.stringify(await getConnector(tenant.connectorAdmin)),
        "callback response": `${location}\n${callbackBody}`,
        "POST /connector/verify": verify.text,
        "audit events": JSON.stringify(events),
        "connectors table": await tableText(tableNames.connectors, tenant.tenantId),
        "oauthStates table": await tableText(tableNames.oauthStates, "oauth"),
        "host log": hostLog(),
      },
      secrets,
    );
    // The connect response carries the state (the browser needs it), and nothing else secret
    expectNoSecrets({ "POST /connector/connect": connectRes.text }, [token.accessToken, token.refreshToken, code]);
    // The scanned log is the one the worker wrote to (its message is logged, code redacted)
    expect(hostLog()).toContain("connector.authorize received");
    expect(hostLog()).toContain('"code":"[redacted]"');
  });

  it("denied consent returns the connector to notOnboarded with accessDenied, stores no token and is audited", async () => {
    // Prepare
    const tenant = await newTenant();
    const { authorizeUrl, state } = await connect(tenant.connectorAdmin);

    // Act
    const toCallback = await signInAtTeamViewer(authorizeUrl, "deny");
    const callback = await followToCallback(toCallback);

    // Assess
    expect(toCallback.searchParams.get("error")).toBe("access_denied");
    expect(callback.status).toBe(302);
    expect(callback.headers.get("location")).toBe(portalConnectorPage("denied"));
    const connector = await getConnector(tenant.connectorAdmin);
    expect(connector).toMatchObject({ onboardingStatus: "notOnboarded", health: null, account: null, onboardingRequestExpiryDateTime: null });
    expect(connector.lastError).toMatchObject({ code: "accessDenied" });
    expect(Date.parse(connector.lastError!.at)).toBeGreaterThan(Date.now() - 60_000);
    expect(await storedTokenValue(tenant.tenantId)).toBeUndefined();
    const denied = await auditEvents(tenant.admin, "connector.consentDenied");
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ result: "failure", actor: { id: tenant.connectorAdminId } });
    // The same state cannot be used again, e.g. to sneak a code in after the denial
    const again = await fetch(`${stack().apiUrl}/connector/oauth/callback?code=whatever&state=${state}`, { redirect: "manual" });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { code: string }).code).toBe("invalidOAuthState");
  });

  it("a replayed callback answers 400 invalidOAuthState and changes nothing", async () => {
    // Prepare: a completed onboarding
    const tenant = await newTenant();
    const { authorizeUrl } = await connect(tenant.connectorAdmin);
    const toCallback = await signInAtTeamViewer(authorizeUrl, "allow");
    expect((await followToCallback(toCallback)).status).toBe(302);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "onboarded");
    const secretBefore = await storedTokenValue(tenant.tenantId);
    const connectorBefore = await connectorStore().get(tenant.tenantId);

    // Act: the same callback again (browser back button, or an attacker with the URL)
    const replay = await followToCallback(toCallback);

    // Assess
    expect(replay.status).toBe(400);
    expect(replay.headers.get("content-type")).toContain("application/problem+json");
    const problem = await replay.text();
    expect(JSON.parse(problem)).toMatchObject({ code: "invalidOAuthState", status: 400 });
    expectNoSecrets({ "replay response": problem }, [toCallback.searchParams.get("code")!, toCallback.searchParams.get("state")!]);
    await new Promise((r) => setTimeout(r, 1500)); // time for a (wrongly) queued authorize to run
    expect(await storedTokenValue(tenant.tenantId)).toEqual(secretBefore);
    // The connector health timer (every 5 minutes) may check the new connection meanwhile and
    // stamp lastConnectionDateTime; everything else of the row stays as it was.
    const withoutHealthStamp = <T extends { lastConnectionDateTime?: unknown }>(c: T | undefined) => c && { ...c, lastConnectionDateTime: undefined };
    expect(withoutHealthStamp(await connectorStore().get(tenant.tenantId))).toEqual(withoutHealthStamp(connectorBefore));
    const rejected = (await auditEvents(tenant.admin, "connector.authorize")).filter((e) => e.result === "failure");
    expect(rejected.map((e) => e.detail)).toEqual([expect.stringContaining("replayed")]);
  });

  it("an expired state answers 400 invalidOAuthState and stores nothing; the onboarding timer returns the connector to notOnboarded", async () => {
    // Prepare: an onboarding whose state and expiry lie in the past
    const tenant = await newTenant();
    const { authorizeUrl, state } = await connect(tenant.connectorAdmin);
    const past = new Date(Date.now() - 60_000).toISOString();
    await tables()
      .client(tableNames.oauthStates)
      .updateEntity({ partitionKey: "oauth", rowKey: hashOAuthState(state), expiresAt: past }, "Merge");
    await connectorStore().update(tenant.tenantId, (s) => ({ ...s, onboardingRequestExpiryDateTime: past }));
    const toCallback = await signInAtTeamViewer(authorizeUrl, "allow");

    // Act
    const callback = await followToCallback(toCallback);

    // Assess: refused, nothing stored
    expect(callback.status).toBe(400);
    expect(((await callback.json()) as { code: string }).code).toBe("invalidOAuthState");
    expect(await storedTokenValue(tenant.tenantId)).toBeUndefined();
    expect((await oauthStateStore().get(hashOAuthState(state)))?.status).toBe("issued");
    const view = await getConnector(tenant.connectorAdmin);
    expect(view.onboardingStatus).toBe("notOnboarded");
    expect(view.lastError?.code).toBe("onboardingExpired");
    const rejected = (await auditEvents(tenant.admin, "connector.authorize")).filter((e) => e.result === "failure");
    expect(rejected.map((e) => e.detail)).toEqual([expect.stringContaining("expired")]);

    // The timer (every minute) writes the fallback and audits it
    const stored = await eventually(
      async () => {
        const s = await connectorStore().get(tenant.tenantId);
        return s?.onboardingStatus === "notOnboarded" ? s : undefined;
      },
      75_000,
      "the onboarding timer to expire the onboarding",
    );
    expect(stored.pendingStateId).toBeNull();
    expect(stored.lastError?.code).toBe("onboardingExpired");
    expect(await auditEvents(tenant.admin, "connector.onboardingExpired")).toHaveLength(1);
  });

  it("an authorize message naming another tenant than its state's fails permanently and stores nothing; the rightful tenant still onboards", async () => {
    // Prepare: tenant A signed in at TeamViewer (callback not followed yet); tenant B
    const a = await newTenant();
    const b = await newTenant();
    const { authorizeUrl, state } = await connect(a.connectorAdmin);
    const toCallback = await signInAtTeamViewer(authorizeUrl, "allow");
    const id = randomUUID();

    // Act: someone with queue access tries to complete B's onboarding with A's state and code
    await sendToQueue("connector-commands", {
      type: "connector.authorize",
      version: 1,
      id,
      tenantId: b.tenantId,
      occurredAt: new Date().toISOString(),
      data: { stateId: hashOAuthState(state), code: toCallback.searchParams.get("code")! },
    } as { id: string; type: string });

    // Assess: B audited the failure, stored nothing
    const failed = await eventually(
      async () => {
        const e = await auditEvents(b.admin, "connector.authorize.failed");
        return e.length > 0 ? e : undefined;
      },
      30_000,
      "the worker to reject the message",
    );
    expect(failed[0].detail).toContain("another tenant");
    expectNoSecrets({ audit: JSON.stringify(failed) }, [state, toCallback.searchParams.get("code")!]);
    expect(await storedTokenValue(b.tenantId)).toBeUndefined();
    expect((await getConnector(b.connectorAdmin)).onboardingStatus).toBe("notOnboarded");
    expect((await oauthStateStore().get(hashOAuthState(state)))?.status).toBe("issued");

    // A's own callback still works: B's attempt did not spend A's code
    expect((await followToCallback(toCallback)).status).toBe(302);
    await eventuallyConnector(a.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "A onboarded");
  });

  it("an unknown state answers 400 invalidOAuthState", async () => {
    const res = await fetch(`${stack().apiUrl}/connector/oauth/callback?code=abc&state=${"A".repeat(43)}`, { redirect: "manual" });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ code: "invalidOAuthState" });
    expect(text).not.toContain("A".repeat(43));
  });

  it("connect needs the Intune license unless the tenant allows unlicensed admins", async () => {
    // Prepare: a fresh tenant (setting off), and an admin with no user record = unlicensed
    const tenant = await newTenant({ allowUnlicensedAdmins: false });

    // Act + Assess: refused
    const refused = await api<{ code: string }>("/connector/connect", { method: "POST", token: tenant.connectorAdmin, body: { acceptLicenseAgreement: true } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("intuneLicenseRequired");
    expect((await getConnector(tenant.connectorAdmin)).onboardingStatus).toBe("notOnboarded");
    expect((await auditEvents(tenant.admin, "connector.connect")).map((e) => e.result)).toEqual(["failure"]);

    // Act + Assess: with the setting on, the same admin may connect
    const patched = await api("/settings", { method: "PATCH", token: tenant.admin, body: { allowUnlicensedAdmins: true } });
    expect(patched.status).toBe(200);
    await connect(tenant.connectorAdmin);
  });

  it("an admin whose user record says Intune-licensed may connect with the setting off", async () => {
    // Prepare
    const tenant = await newTenant({ allowUnlicensedAdmins: false });
    const before = await api<{ code: string }>("/connector/connect", { method: "POST", token: tenant.connectorAdmin, body: { acceptLicenseAgreement: true } });
    expect(before.body.code).toBe("intuneLicenseRequired");

    // Act: inventory sync reports the admin as licensed
    const id = randomUUID();
    await sendToQueue("automation-events", {
      type: "user.upserted",
      version: 1,
      id,
      tenantId: tenant.tenantId,
      occurredAt: new Date().toISOString(),
      data: {
        id: tenant.connectorAdminId,
        userPrincipalName: "connector@example.test",
        displayName: "Connector Admin",
        mail: "connector@example.test",
        intuneLicensed: true,
        groups: [],
      },
    } as { id: string; type: string });

    // Assess
    const ok = await eventually(
      async () => {
        const r = await api<{ onboardingStatus: string }>("/connector/connect", {
          method: "POST",
          token: tenant.connectorAdmin,
          body: { acceptLicenseAgreement: true },
        });
        return r.status === 200 ? r : undefined;
      },
      30_000,
      "connect to be allowed",
    );
    expect(ok.body.onboardingStatus).toBe("onboarding");
  });

  it("connect is refused without Update, without accepting the agreement, and while already onboarded", async () => {
    // Prepare
    const tenant = await newTenant();

    // Act + Assess
    const helpdesk = await api<{ code: string }>("/connector/connect", { method: "POST", token: tenant.helpdesk, body: { acceptLicenseAgreement: true } });
    expect(helpdesk.status).toBe(403);
    expect(helpdesk.body.code).toBe("forbidden");
    const notAccepted = await api<{ code: string }>("/connector/connect", {
      method: "POST",
      token: tenant.connectorAdmin,
      body: { acceptLicenseAgreement: false },
    });
    expect(notAccepted.status).toBe(400);
    expect(notAccepted.body.code).toBe("validationFailed");
    expect((await getConnector(tenant.connectorAdmin)).onboardingStatus).toBe("notOnboarded");

    await onboard(tenant);
    const again = await api<{ code: string }>("/connector/connect", { method: "POST", token: tenant.connectorAdmin, body: { acceptLicenseAgreement: true } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("conflict");
  });
  it("many verifies of one tenant at once answer 200 or 429, never 500", async () => {
    // Prepare
    const tenant = await newTenant();
    await onboard(tenant);

    // Act: 40 health checks racing to write the connector row.
    const answers = await Promise.all(Array.from({ length: 40 }, () => api("/connector/verify", { method: "POST", token: tenant.connectorAdmin })));

    // Assess
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(statuses).toContain(200);
    for (const a of answers.filter((x) => x.status === 429)) expect(Number(a.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await getConnector(tenant.connectorAdmin)).health).toBe("healthy");
  });
});
