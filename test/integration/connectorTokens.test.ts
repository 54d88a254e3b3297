// The token provider and connector health against the stack's Azurite, Key Vault emulator
// and TeamViewer fake: refresh single-flight across instances, refresh-and-retry on
// token_expired, invalid_grant → reauthorizationRequired (and recovery), verify.
import { afterEach, describe, expect, it } from "vitest";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { KeyVaultSecretStore } from "../../shared/adapters/keyvault/secretStore.js";
import { KeyVaultTokenVault, tokenSecretName } from "../../shared/adapters/keyvault/keyVaultTokenVault.js";
import { TableLeaseStore } from "../../shared/adapters/tables/tableLeaseStore.js";
import { refreshLeaseName } from "../../shared/app/connector/tokenProvider.js";
import { systemClock } from "../../shared/app/clock.js";
import { DomainError } from "../../shared/domain/errors.js";
import type { CallRecord } from "../../local/teamviewer/control.js";
import { api, stack } from "../support/api.js";
import {
  auditEvents,
  connect,
  eventuallyConnector,
  fake,
  followToCallback,
  getConnector,
  newTenant,
  onboard,
  signInAtTeamViewer,
  tables,
  teamViewerClient,
  tokenProviderInstance,
} from "./connectorSupport.js";

const secrets = (): KeyVaultSecretStore => new KeyVaultSecretStore(stack().keyVaultUrl, localDevelopmentCredential, { allowInsecure: true });
const vault = (): KeyVaultTokenVault => new KeyVaultTokenVault(secrets());

const tokenCalls = (calls: CallRecord[]): CallRecord[] => calls.filter((c) => c.method === "POST" && c.path.toLowerCase().endsWith("/oauth2/token"));

/** The fake's calls since `from` (an index into its call log). */
async function callsSince(from: number): Promise<CallRecord[]> {
  return (await fake().calls()).slice(from);
}

/** Makes the stored token due for refresh (expiring within the provider's five-minute margin). */
async function makeExpiring(tenantId: string, change: { refreshToken?: string } = {}): Promise<{ accessToken: string; refreshToken: string }> {
  const stored = (await vault().read(tenantId))!;
  const next = { ...stored, ...change, expiresAt: new Date(Date.now() + 60_000) };
  await vault().write(tenantId, next);
  return next;
}

afterEach(async () => {
  // Faults and latency are global to the shared fake: leave none behind for other tests.
  await fake().clearFaults();
  await fake().clearLatency();
});

describe("TeamViewer token provider", () => {
  it("two instances racing to refresh an expiring token: exactly one refresh reaches TeamViewer and both end with the new, working token", async () => {
    // Prepare
    const tenant = await newTenant();
    await onboard(tenant);
    const old = await makeExpiring(tenant.tenantId);
    const first = tokenProviderInstance("instance-a");
    const second = tokenProviderInstance("instance-b");
    // A slow token endpoint keeps the first refresh in flight while the second instance arrives.
    await fake().setLatency({ ms: 600, method: "POST", path: "/api/v1/oauth2/token" });
    const from = (await fake().calls()).length;
    const tv = teamViewerClient();
    const use = (accessToken: string): Promise<{ accessToken: string; tokenValid: boolean }> =>
      tv.ping(accessToken).then((p) => ({ accessToken, tokenValid: p.tokenValid }));

    // Act
    const [a, b] = await Promise.all([first.withAccessToken(tenant.tenantId, use), second.withAccessToken(tenant.tenantId, use)]);

    // Assess
    expect(tokenCalls(await callsSince(from))).toHaveLength(1);
    expect(a.tokenValid).toBe(true);
    expect(b.tokenValid).toBe(true);
    expect(a.accessToken).toBe(b.accessToken);
    expect(a.accessToken).not.toBe(old.accessToken);
    const stored = (await vault().read(tenant.tenantId))!;
    expect(stored.accessToken).toBe(a.accessToken);
    expect(stored.refreshToken).not.toBe(old.refreshToken);
    expect(stored.expiresAt.getTime()).toBeGreaterThan(Date.now() + 60 * 60_000);
    expect(await new TableLeaseStore(tables(), systemClock).get(tenant.tenantId, refreshLeaseName)).toBeUndefined();

    // Both instances now serve the new token from memory: no further refresh
    const again = await Promise.all([first.withAccessToken(tenant.tenantId, use), second.withAccessToken(tenant.tenantId, use)]);
    expect(again.map((r) => r.accessToken)).toEqual([a.accessToken, a.accessToken]);
    expect(tokenCalls(await callsSince(from))).toHaveLength(1);
  });

  it("a 401 token_expired is answered by one refresh and one retry", async () => {
    // Prepare
    const tenant = await newTenant();
    await onboard(tenant);
    const old = (await vault().read(tenant.tenantId))!;
    const provider = tokenProviderInstance("instance-expired");
    await fake().failNext({
      method: "GET",
      path: "/api/v1/sessions",
      status: 401,
      body: { error: "token_expired", error_description: "The access token expired.", error_code: 1 },
    });
    const from = (await fake().calls()).length;
    const tokensSeen: string[] = [];

    // Act
    const page = await provider.withAccessToken(tenant.tenantId, (accessToken) => {
      tokensSeen.push(accessToken);
      return teamViewerClient().listSessions(accessToken);
    });

    // Assess
    expect(Array.isArray(page.sessions)).toBe(true);
    expect(tokensSeen).toHaveLength(2);
    expect(tokensSeen[0]).toBe(old.accessToken);
    expect(tokensSeen[1]).not.toBe(old.accessToken);
    expect(tokenCalls(await callsSince(from))).toHaveLength(1);
    expect((await vault().read(tenant.tenantId))!.accessToken).toBe(tokensSeen[1]);
  });

  it("a refresh answered invalid_grant sets reauthorizationRequired, callers get 409 connectorNotOnboarded, and a new connect recovers", async () => {
    // Prepare: the stored refresh token is one TeamViewer no longer accepts
    const tenant = await newTenant();
    await onboard(tenant);
    await makeExpiring(tenant.tenantId, { refreshToken: "spent-refresh-token-0000000000" });
    const provider = tokenProviderInstance("instance-grant");

    // Act
    const error = await provider
      .withAccessToken(tenant.tenantId, (t) => teamViewerClient().ping(t))
      .then(
        () => undefined,
        (e: unknown) => e,
      );

    // Assess
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("connectorNotOnboarded");
    expect((error as DomainError).extensions?.reason).toBe("reauthorizationRequired");
    const connector = await getConnector(tenant.connectorAdmin);
    expect(connector).toMatchObject({ onboardingStatus: "onboarded", health: "reauthorizationRequired" });
    expect(connector.lastError).toMatchObject({ code: "reauthorizationRequired", message: expect.stringContaining("invalid_grant") });
    const refreshFailures = await auditEvents(tenant.admin, "connector.tokenRefresh");
    expect(refreshFailures.map((e) => e.result)).toEqual(["failure"]);
    expect(refreshFailures[0].detail).not.toContain("spent-refresh-token");

    // A second caller does not try TeamViewer again with the spent token
    const from = (await fake().calls()).length;
    await expect(tokenProviderInstance("instance-other").withAccessToken(tenant.tenantId, async () => "x")).rejects.toMatchObject({
      code: "connectorNotOnboarded",
    });
    expect(tokenCalls(await callsSince(from))).toHaveLength(0);
    const verify = await api<{ health: string; detail: string }>("/connector/verify", { method: "POST", token: tenant.connectorAdmin });
    expect(verify.status).toBe(200);
    expect(verify.body.health).toBe("reauthorizationRequired");

    // Act: the admin connects again
    const { authorizeUrl } = await connect(tenant.connectorAdmin);
    expect((await followToCallback(await signInAtTeamViewer(authorizeUrl, "allow"))).status).toBe(302);

    // Assess: healthy again, and the provider works
    const recovered = await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded" && c.health === "healthy", "recovered");
    expect(recovered.lastError).toBeNull();
    expect(await provider.withAccessToken(tenant.tenantId, (t) => teamViewerClient().ping(t))).toEqual({ tokenValid: true });
  });

  it("a token secret that holds no token: verify says connect again, and a disconnect still ends the connection", async () => {
    // Prepare: the tenant's secret is replaced by a value that is not a stored token (edited by hand)
    const tenant = await newTenant();
    await onboard(tenant);
    await secrets().set(tokenSecretName(tenant.tenantId), JSON.stringify({ accessToken: "hand-edited" }), "application/json");

    // Act
    const verify = await api<{ health: string; detail: string }>("/connector/verify", { method: "POST", token: tenant.connectorAdmin });

    // Assess: a finding the admin can act on, not a 500; the connector says so until a new sign-in
    expect(verify.status).toBe(200);
    expect(verify.body.health).toBe("reauthorizationRequired");
    expect(verify.body.detail).toContain("cannot be read");
    const marked = await getConnector(tenant.connectorAdmin);
    expect(marked).toMatchObject({ onboardingStatus: "onboarded", health: "reauthorizationRequired" });
    expect(marked.lastError).toMatchObject({ code: "reauthorizationRequired" });

    // Act: the admin disconnects
    expect((await api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin })).status).toBe(202);

    // Assess: disconnected, the unreadable secret deleted, the audit event says it was not revoked
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "notOnboarded", "disconnected");
    expect(await secrets().get(tokenSecretName(tenant.tenantId))).toBeUndefined();
    const disconnects = await auditEvents(tenant.admin, "connector.disconnect");
    const done = disconnects.find((e) => e.detail?.startsWith("disconnected"));
    expect(done?.detail).toContain("could not be read, so it was not revoked");
    expect(disconnects.map((e) => e.detail ?? "").join(" ")).not.toContain("hand-edited");
  });

  it("a tenant without a connector gets 409 connectorNotOnboarded", async () => {
    const tenant = await newTenant();
    await expect(tokenProviderInstance("instance-none").withAccessToken(tenant.tenantId, async () => "x")).rejects.toMatchObject({
      code: "connectorNotOnboarded",
    });
    const verify = await api<{ code: string }>("/connector/verify", { method: "POST", token: tenant.connectorAdmin });
    expect(verify.status).toBe(409);
    expect(verify.body.code).toBe("connectorNotOnboarded");
  });
});

describe("connector verify", () => {
  it("reports a TeamViewer licence below Premium by name, and clears it once the licence is sufficient", async () => {
    // Prepare
    const tenant = await newTenant();
    await onboard(tenant);
    await fake().setAccount({ license_type: "Business" });
    try {
      // Act
      const verify = await api<{ health: string; checkedAt: string; detail: string }>("/connector/verify", { method: "POST", token: tenant.connectorAdmin });

      // Assess
      expect(verify.status, verify.text).toBe(200);
      expect(verify.body.health).toBe("healthy");
      expect(verify.body.detail).toContain("TeamViewer Business licence: integrations need Premium or Corporate");
      expect(Date.parse(verify.body.checkedAt)).toBeGreaterThan(Date.now() - 60_000);
      const connector = await getConnector(tenant.connectorAdmin);
      expect(connector.lastError).toMatchObject({ code: "teamViewerLicenseInsufficient", message: expect.stringContaining("Business") });
    } finally {
      await fake().setAccount({ license_type: "Premium" });
    }
    const after = await api<{ health: string; detail: string }>("/connector/verify", { method: "POST", token: tenant.connectorAdmin });
    expect(after.body.health).toBe("healthy");
    expect((await getConnector(tenant.connectorAdmin)).lastError).toBeNull();
    expect((await auditEvents(tenant.admin, "connector.verify")).length).toBe(2);
  });

  it("reports TeamViewer failing as unreachable, records lastConnectionDateTime only for successful checks", async () => {
    // Prepare
    const tenant = await newTenant();
    const onboarded = await onboard(tenant);
    await fake().failNext({ method: "GET", path: "/api/v1/ping", status: 503, body: { error: "internal_error" } });

    // Act
    const verify = await api<{ health: string; detail: string }>("/connector/verify", { method: "POST", token: tenant.connectorAdmin });

    // Assess
    expect(verify.status, verify.text).toBe(200);
    expect(verify.body.health).toBe("unreachable");
    expect(verify.body.detail).toContain("could not be reached");
    const connector = await getConnector(tenant.connectorAdmin);
    expect(connector).toMatchObject({ health: "unreachable", lastError: { code: "teamViewerUnreachable" } });
    expect(connector.lastConnectionDateTime).toBe(onboarded.lastConnectionDateTime);

    const healthy = await api<{ health: string }>("/connector/verify", { method: "POST", token: tenant.connectorAdmin });
    expect(healthy.body.health).toBe("healthy");
    const after = await getConnector(tenant.connectorAdmin);
    expect(after.lastError).toBeNull();
    expect(Date.parse(after.lastConnectionDateTime!)).toBeGreaterThan(Date.parse(onboarded.lastConnectionDateTime!));
  });
});
