// Disconnect through the local host: revoke at TeamViewer, delete and purge the secret,
// notOnboarded; and the same when TeamViewer fails, with the failure recorded. A tenant with
// more open sessions than one message closes is disconnected over follow-up messages.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { RestError } from "@azure/core-rest-pipeline";
import { tokenSecretName } from "../../shared/adapters/keyvault/keyVaultTokenVault.js";
import { TableSessionStore } from "../../shared/adapters/tables/tableSessionStore.js";
import { requestedSession } from "../support/sessionWorkerHarness.js";
import { api, eventually } from "../support/api.js";
import {
  auditEvents,
  connect,
  connectorStore,
  eventuallyConnector,
  fake,
  followToCallback,
  getConnector,
  hostLog,
  newTenant,
  onboard,
  secretClient,
  sendToQueue,
  signInAtTeamViewer,
  storedTokenValue,
  tables,
  teamViewerClient,
  tokenProviderInstance,
} from "./connectorSupport.js";

async function deletedSecretExists(tenantId: string): Promise<boolean> {
  try {
    await secretClient().getDeletedSecret(tokenSecretName(tenantId));
    return true;
  } catch (e) {
    if (e instanceof RestError && e.statusCode === 404) return false;
    throw e;
  }
}

/** An eligible iOS device of the tenant, through inventory sync; answers its id once the API shows it. */
async function addDevice(tenantId: string, readerToken: string): Promise<string> {
  const deviceId = randomUUID();
  const userId = randomUUID();
  await sendToQueue("automation-events", {
    type: "device.upserted",
    version: 1,
    id: randomUUID(),
    tenantId,
    occurredAt: new Date().toISOString(),
    data: {
      id: deviceId,
      deviceName: "TEST-IPHONE",
      operatingSystem: "iOS",
      osVersion: "18.1",
      managedDeviceOwnerType: "personal",
      deviceEnrollmentType: "appleUserEnrollment",
      deviceType: "iPhone",
      userId,
      userPrincipalName: "user@example.test",
      userDisplayName: "Device User",
      emailAddress: "user@example.test",
      roleScopeTagIds: ["0"],
      lastSyncDateTime: new Date().toISOString(),
    },
  } as { id: string; type: string });
  await eventually(
    async () => ((await api(`/devices/${deviceId}`, { token: readerToken })).status === 200 ? true : undefined),
    30_000,
    "the device to be synced",
  );
  return deviceId;
}

/** What the token provider records when TeamViewer refuses the refresh token: the connector stays onboarded, and needs reauthorization. */
async function markReauthorizationRequired(tenantId: string): Promise<void> {
  await connectorStore().update(tenantId, (s) => ({
    ...s,
    health: "reauthorizationRequired",
    lastError: { code: "reauthorizationRequired", message: "TeamViewer refused the connector's refresh token (test).", at: new Date().toISOString() },
  }));
}

const revokeCalls = <C extends { method: string; path: string }>(calls: C[]): C[] =>
  calls.filter((c) => c.method === "POST" && c.path.toLowerCase().endsWith("/oauth2/revoke"));

afterEach(async () => {
  await fake().clearFaults();
  await fake().clearLatency();
});

describe("connector disconnect", () => {
  it("revokes the token at TeamViewer, deletes the secret (kept recoverable: purge protection), and the tenant is no longer onboarded", async () => {
    // Prepare
    const tenant = await newTenant();
    const deviceId = await addDevice(tenant.tenantId, tenant.helpdesk);
    await onboard(tenant);
    const token = JSON.parse((await storedTokenValue(tenant.tenantId))!.value) as { accessToken: string };
    const from = (await fake().calls()).length;

    // Act
    const res = await api<{ onboardingStatus: string }>("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin });

    // Assess
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("location")).toBe("/api/connector");
    const after = await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "notOnboarded", "notOnboarded");
    expect(after).toMatchObject({ health: null, account: null, onboardedAt: null, lastError: null, licenseAgreement: null });
    const revokes = (await fake().calls()).slice(from).filter((c) => c.method === "POST" && c.path.toLowerCase().endsWith("/oauth2/revoke"));
    expect(revokes).toHaveLength(1);
    expect(revokes[0].status >= 200 && revokes[0].status < 300).toBe(true);
    expect(await teamViewerClient().ping(token.accessToken)).toEqual({ tokenValid: false });
    expect(await storedTokenValue(tenant.tenantId)).toBeUndefined();
    // The vault has purge protection (infra/modules/keyVault.bicep): the purge is refused and the secret stays soft-deleted.
    expect(await deletedSecretExists(tenant.tenantId)).toBe(true);
    const disconnects = await auditEvents(tenant.admin, "connector.disconnect");
    expect(disconnects.map((e) => e.result)).toEqual(["success", "success"]);
    expect(disconnects[0].detail).toContain("token revoked at TeamViewer");

    // A later session request answers 409 connectorNotOnboarded, and so does the token provider
    const request = await api<{ code: string }>(`/devices/${deviceId}/remoteAssistanceSessions`, { method: "POST", token: tenant.helpdesk, body: {} });
    expect(request.status, request.text).toBe(409);
    expect(request.body.code).toBe("connectorNotOnboarded");
    await expect(tokenProviderInstance("after-disconnect").withAccessToken(tenant.tenantId, async () => "x")).rejects.toMatchObject({
      code: "connectorNotOnboarded",
    });
    const verify = await api<{ code: string }>("/connector/verify", { method: "POST", token: tenant.connectorAdmin });
    expect(verify.status).toBe(409);
    expect(verify.body.code).toBe("connectorNotOnboarded");

    // Connecting again writes the new token over the soft-deleted secret (recover, then set)
    await onboard(tenant);
    expect(await storedTokenValue(tenant.tenantId)).toBeDefined();
    expect(await deletedSecretExists(tenant.tenantId)).toBe(false);
  });

  it("still disconnects when TeamViewer fails to revoke: local side cleaned, failure recorded", async () => {
    // Prepare
    const tenant = await newTenant();
    await onboard(tenant);
    const token = JSON.parse((await storedTokenValue(tenant.tenantId))!.value) as { accessToken: string };
    await fake().failNext({ method: "POST", path: "/api/v1/oauth2/revoke", status: 503, body: { error: "internal_error" } });

    // Act
    const res = await api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin });

    // Assess
    expect(res.status).toBe(202);
    const after = await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "notOnboarded", "notOnboarded");
    expect(after.lastError).toMatchObject({ code: "revokeFailed", message: expect.stringContaining("could not be reached") });
    expect(await storedTokenValue(tenant.tenantId)).toBeUndefined();
    // The audit event is recorded after the connector row changed: wait for it too.
    const completed = await eventually(
      async () => (await auditEvents(tenant.admin, "connector.disconnect")).find((e) => e.result === "failure"),
      30_000,
      "the failed disconnect's audit event",
    );
    expect(completed.detail).toContain("revoke failed");
    // Not revoked at TeamViewer: the failure is real, not hidden
    expect(await teamViewerClient().ping(token.accessToken)).toEqual({ tokenValid: true });
  });

  it("revokes the token at TeamViewer when the connector needs reauthorization: its access token may still work", async () => {
    // Prepare: TeamViewer refused the refresh token, but the stored access token is still live
    const tenant = await newTenant();
    await onboard(tenant);
    const token = JSON.parse((await storedTokenValue(tenant.tenantId))!.value) as { accessToken: string };
    await markReauthorizationRequired(tenant.tenantId);
    const from = (await fake().calls()).length;

    // Act
    const res = await api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin });

    // Assess
    expect(res.status).toBe(202);
    const after = await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "notOnboarded", "notOnboarded");
    expect(after).toMatchObject({ health: null, account: null, lastError: null });
    expect(revokeCalls((await fake().calls()).slice(from))).toHaveLength(1);
    expect(await teamViewerClient().ping(token.accessToken)).toEqual({ tokenValid: false });
    expect(await storedTokenValue(tenant.tenantId)).toBeUndefined();
    const completed = await eventually(
      async () => (await auditEvents(tenant.admin, "connector.disconnect")).find((e) => e.detail?.startsWith("disconnected")),
      30_000,
      "the disconnect's audit event",
    );
    expect(completed).toMatchObject({ result: "success", detail: expect.stringContaining("token revoked at TeamViewer") });
  });

  it("still disconnects a connector needing reauthorization when TeamViewer refuses the dead token's revoke", async () => {
    // Prepare
    const tenant = await newTenant();
    await onboard(tenant);
    await markReauthorizationRequired(tenant.tenantId);
    await fake().failNext({ method: "POST", path: "/api/v1/oauth2/revoke", status: 401, body: { error: "invalid_token" } });
    const from = (await fake().calls()).length;

    // Act
    const res = await api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin });

    // Assess: tried once, then the local side cleaned as always
    expect(res.status).toBe(202);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "notOnboarded", "notOnboarded");
    expect(revokeCalls((await fake().calls()).slice(from)).map((c) => c.status)).toEqual([401]);
    expect(await storedTokenValue(tenant.tenantId)).toBeUndefined();
  });

  it("a Connect pressed right after Disconnect keeps its onboarding: the disconnect undoes only the earlier connection", async () => {
    // Prepare: a connector needing reauthorization; TeamViewer slow to answer the disconnect's revoke
    const tenant = await newTenant();
    await onboard(tenant);
    const old = JSON.parse((await storedTokenValue(tenant.tenantId))!.value) as { accessToken: string };
    await markReauthorizationRequired(tenant.tenantId);
    await fake().setLatency({ ms: 3_000, method: "POST", path: "/api/v1/oauth2/revoke" });

    // Act: Disconnect, then Connect at once
    const disconnect = await api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin });
    const { authorizeUrl } = await connect(tenant.connectorAdmin);

    // Assess: once the disconnect has run, the new onboarding is still there
    expect(disconnect.status).toBe(202);
    await eventually(
      async () => (await auditEvents(tenant.admin, "connector.disconnect")).find((e) => e.detail !== "disconnect requested"),
      30_000,
      "the disconnect to have run",
    );
    expect((await getConnector(tenant.connectorAdmin)).onboardingStatus).toBe("onboarding");
    expect(await teamViewerClient().ping(old.accessToken)).toEqual({ tokenValid: false });
    expect(await storedTokenValue(tenant.tenantId)).toBeUndefined();

    // Assess: and its sign-in completes the new connection
    await fake().clearLatency();
    expect((await followToCallback(await signInAtTeamViewer(authorizeUrl, "allow"))).status).toBe(302);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded" && c.health === "healthy", "the new connection");
    const fresh = JSON.parse((await storedTokenValue(tenant.tenantId))!.value) as { accessToken: string };
    expect(await teamViewerClient().ping(fresh.accessToken)).toEqual({ tokenValid: true });
  });

  it("two disconnects at once both run, and leave the connector disconnected with nothing to report", async () => {
    // Prepare: TeamViewer slow enough that both revokes are under way together
    const tenant = await newTenant();
    await onboard(tenant);
    await fake().setLatency({ ms: 1_500, method: "POST", path: "/api/v1/oauth2/revoke" });
    const from = (await fake().calls()).length;

    // Act
    const [first, second] = await Promise.all([
      api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin }),
      api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin }),
    ]);

    // Assess: both ran
    expect([first.status, second.status]).toEqual([202, 202]);
    await eventually(
      async () => {
        const ran = (await auditEvents(tenant.admin, "connector.disconnect")).filter((e) => e.detail !== "disconnect requested");
        return ran.length === 2 ? ran : undefined;
      },
      30_000,
      "both disconnects to have run",
    );
    expect(await getConnector(tenant.connectorAdmin)).toMatchObject({ onboardingStatus: "notOnboarded", health: null, lastError: null });
    expect(revokeCalls((await fake().calls()).slice(from)).length).toBeGreaterThanOrEqual(1);
    expect(await storedTokenValue(tenant.tenantId)).toBeUndefined();
  });

  it("closes 250 open sessions over several messages, then revokes the token", async () => {
    // Prepare: 250 requests waiting for their TeamViewer session, stored as a request stores them
    const tenant = await newTenant();
    await onboard(tenant);
    const store = new TableSessionStore(tables());
    const open = Array.from({ length: 250 }, () => ({ ...requestedSession(new Date(), { deviceId: randomUUID() }), tenantId: tenant.tenantId }));
    for (let i = 0; i < open.length; i += 25) await Promise.all(open.slice(i, i + 25).map((s) => store.create(s, [])));
    const token = JSON.parse((await storedTokenValue(tenant.tenantId))!.value) as { accessToken: string };

    // Act
    const res = await api("/connector/disconnect", { method: "POST", token: tenant.connectorAdmin });

    // Assess
    expect(res.status).toBe(202);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "notOnboarded", "notOnboarded");
    const completed = await eventually(
      async () => (await auditEvents(tenant.admin, "connector.disconnect")).find((e) => e.detail?.startsWith("disconnected")),
      30_000,
      "the disconnect's audit event",
    );
    expect(completed).toMatchObject({ result: "success", detail: expect.stringContaining("250 open sessions closed") });
    expect((await store.listOpenPage(tenant.tenantId, 1000)).sessionIds).toEqual([]);
    // A page of 100 per message: the request's message and two follow-ups
    const received = hostLog()
      .split("\n")
      .filter((l) => l.includes("connector.disconnect received") && l.includes(tenant.tenantId));
    expect(received).toHaveLength(3);
    expect(await teamViewerClient().ping(token.accessToken)).toEqual({ tokenValid: false });
  });

  it("needs Update", async () => {
    const tenant = await newTenant();
    const res = await api<{ code: string }>("/connector/disconnect", { method: "POST", token: tenant.helpdesk });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("forbidden");
  });
});
