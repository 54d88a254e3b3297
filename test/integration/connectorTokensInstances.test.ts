// The connector's token across instances: independently built token providers (each with
// its own cache and its own SDK clients, as two app instances have) against the stack's one
// Key Vault emulator, one Azurite and the TeamViewer fake, which rotates the refresh token
// on every refresh. Time is the providers' injected clock, so "a minute later" takes no minute.
// The disconnect tests give the connector worker a sessions closer that closes nothing: the
// tenants here have no sessions, and the sessions area is not what is shown.
import { describe, expect, it } from "vitest";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { KeyVaultSecretStore } from "../../shared/adapters/keyvault/secretStore.js";
import { KeyVaultTokenVault } from "../../shared/adapters/keyvault/keyVaultTokenVault.js";
import { TableAuditLog } from "../../shared/adapters/tables/tableAuditLog.js";
import { ConnectorWorker, type DisconnectCommand } from "../../shared/app/connector/connectorWorker.js";
import { hashOAuthState } from "../../shared/app/connector/oauthState.js";
import { TokenProvider } from "../../shared/app/connector/tokenProvider.js";
import { TableLeaseStore } from "../../shared/adapters/tables/tableLeaseStore.js";
import type { TeamViewerClient } from "../../shared/adapters/teamviewer/teamViewerClient.js";
import type { Clock } from "../../shared/app/clock.js";
import { createLogger } from "../../shared/app/logging.js";
import type { CallRecord } from "../../local/teamviewer/control.js";
import { stack } from "../support/api.js";
import {
  auditEvents,
  connect,
  connectorStore,
  eventuallyConnector,
  fake,
  followToCallback,
  newTenant,
  oauthStateStore,
  onboard,
  signInAtTeamViewer,
  tables,
  teamViewerClient,
  tokenProviderInstance,
} from "./connectorSupport.js";

const vault = (): KeyVaultTokenVault =>
  new KeyVaultTokenVault(new KeyVaultSecretStore(stack().keyVaultUrl, localDevelopmentCredential, { allowInsecure: true }));
const quiet = createLogger(() => undefined);
const tokenCalls = (calls: CallRecord[]): CallRecord[] => calls.filter((c) => c.method === "POST" && c.path.toLowerCase().endsWith("/oauth2/token"));

/** A clock tests move by hand, starting at real time. */
function manualClock(): Clock & { advance(ms: number): void; set(at: Date): void } {
  let at = Date.now();
  return { now: () => new Date(at), advance: (ms) => void (at += ms), set: (d) => void (at = d.getTime()) };
}

/** The command functions/connector.ts builds from a connector.disconnect message. */
const disconnectBy = (tenant: { tenantId: string; connectorAdminId: string }): DisconnectCommand => ({
  tenantId: tenant.tenantId,
  requestedBy: { id: tenant.connectorAdminId, displayName: "Connector Admin", type: "user" },
  correlationId: undefined,
});

function worker(tokens: TokenProvider, clock: Clock, teamViewer: TeamViewerClient = teamViewerClient({ clock })): ConnectorWorker {
  return new ConnectorWorker({
    connectors: connectorStore(),
    states: oauthStateStore(),
    vault: vault(),
    tokens,
    teamViewer,
    // Unmetered: these tests are about the token, not the tenant's TeamViewer quota.
    webApi: { forTenant: () => teamViewer },
    openSessions: { closeOpen: async () => ({ closed: 0 }) },
    bus: { send: async () => undefined, ping: async () => undefined, close: async () => undefined },
    audit: new TableAuditLog(tables(), clock),
    clock,
  });
}

describe("the connector token across instances", () => {
  it("two instances racing to refresh a rotating token, 50 rounds: one refresh per round, never reauthorizationRequired", async () => {
    // Prepare
    const tenant = await newTenant();
    await onboard(tenant);
    const clock = manualClock();
    const options = { pollMs: 20 };
    const a = tokenProviderInstance("race-a", options, clock);
    const b = tokenProviderInstance("race-b", options, clock);
    await fake().setLatency({ ms: 40, method: "POST", path: "/api/v1/oauth2/token" });
    const from = (await fake().calls()).length;
    const ping = (p: TokenProvider): Promise<{ token: string; valid: boolean }> =>
      p.withAccessToken(tenant.tenantId, async (t) => ({ token: t, valid: (await teamViewerClient().ping(t)).tokenValid }));
    const rounds = 50;
    const seen = new Set<string>();
    try {
      for (let round = 0; round < rounds; round++) {
        // Act: the stored token is due (one minute left), and both instances want it now
        const stored = (await vault().read(tenant.tenantId))!;
        clock.set(new Date(stored.expiresAt.getTime() - 60_000));
        const [ra, rb] = await Promise.all([ping(a), ping(b)]);

        // Assess
        expect(ra.valid && rb.valid, `round ${round}`).toBe(true);
        expect(ra.token, `round ${round}`).toBe(rb.token);
        expect(ra.token).not.toBe(stored.accessToken);
        seen.add(ra.token);
      }
    } finally {
      await fake().clearLatency();
    }
    expect(seen.size).toBe(rounds);
    expect(tokenCalls((await fake().calls()).slice(from))).toHaveLength(rounds);
    expect(await connectorStore().get(tenant.tenantId)).toMatchObject({ onboardingStatus: "onboarded", health: "healthy" });
    expect((await auditEvents(tenant.admin, "connector.tokenRefresh")).length).toBe(0);
  });

  it("a disconnect on one instance is honoured by the other within 60 s, and the old token is not brought back", async () => {
    // Prepare: instance B holds the token in its cache; TeamViewer will not revoke it (so only the generation can tell B)
    const tenant = await newTenant();
    await onboard(tenant);
    const clock = manualClock();
    const a = tokenProviderInstance("disconnect-a", {}, clock);
    const b = tokenProviderInstance("disconnect-b", {}, clock);
    const old = await b.withAccessToken(tenant.tenantId, async (t) => t);
    await fake().failNext({ method: "POST", path: "/api/v1/oauth2/revoke", status: 503, body: { error: "internal_error" } });
    const before = (await connectorStore().get(tenant.tenantId))!.generation;

    // Act: instance A disconnects
    await worker(a, clock).disconnect(disconnectBy(tenant), quiet);

    // Assess
    const after = (await connectorStore().get(tenant.tenantId))!;
    expect(after).toMatchObject({ onboardingStatus: "notOnboarded", generation: before + 1 });
    expect(await vault().read(tenant.tenantId)).toBeUndefined();
    // Within the minute B may still use what it cached…
    clock.advance(30_000);
    expect(await b.withAccessToken(tenant.tenantId, async (t) => t)).toBe(old);
    // …and a minute after it last looked, it has let go
    clock.advance(30_000);
    const used: string[] = [];
    await expect(b.withAccessToken(tenant.tenantId, async (t) => used.push(t))).rejects.toMatchObject({ code: "connectorNotOnboarded" });
    expect(used).toEqual([]);
    clock.advance(60 * 60_000);
    await expect(b.withAccessToken(tenant.tenantId, async (t) => used.push(t))).rejects.toMatchObject({ code: "connectorNotOnboarded" });
    expect(used).toEqual([]);
    expect(await vault().read(tenant.tenantId)).toBeUndefined();
  });

  it("a refresh whose lease was taken over by a disconnect stores nothing: the token is not resurrected", async () => {
    // Prepare: B (its own SDK client) refreshes; TeamViewer answers, but B sees the answer only after A has disconnected
    const tenant = await newTenant();
    await onboard(tenant);
    const clock = manualClock();
    const stored = (await vault().read(tenant.tenantId))!;
    clock.set(new Date(stored.expiresAt.getTime() - 60_000));
    let answered!: () => void;
    const refreshAnswered = new Promise<void>((r) => (answered = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slowFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (String(input).endsWith("/oauth2/token")) {
        answered();
        await held;
      }
      return res;
    };
    const bSlow = new TokenProvider(
      {
        vault: vault(),
        leases: new TableLeaseStore(tables(), clock),
        connectors: connectorStore(),
        teamViewer: teamViewerClient({ clock, fetch: slowFetch }),
        audit: new TableAuditLog(tables(), clock),
        clock,
      },
      { instanceId: "resurrect-b" },
    );
    const refreshing = bSlow
      .withAccessToken(tenant.tenantId, async (t) => t)
      .then(
        (t) => ({ ok: true as const, t }),
        (e: unknown) => ({ ok: false as const, e }),
      );
    await refreshAnswered;

    // Act: B's lease runs out (B stalls past it), and A disconnects meanwhile
    clock.advance(31_000);
    const a = tokenProviderInstance("resurrect-a", { refreshAheadMs: 0 }, clock);
    await worker(a, clock).disconnect(disconnectBy(tenant), quiet);
    release();
    const outcome = await refreshing;

    // Assess
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? undefined : outcome.e).toMatchObject({ code: "connectorNotOnboarded" });
    expect(await vault().read(tenant.tenantId)).toBeUndefined();
    expect((await connectorStore().get(tenant.tenantId))!.onboardingStatus).toBe("notOnboarded");
  });

  it("a connector.authorize of an older connect attempt does not overwrite the newer attempt's token", async () => {
    // Prepare: attempt 1 is signed in and its authorize message is on its way (its state redeemed)
    const tenant = await newTenant();
    const first = await connect(tenant.connectorAdmin);
    const back = await signInAtTeamViewer(first.authorizeUrl, "allow");
    const code = back.searchParams.get("code")!;
    const stateId = hashOAuthState(first.state);
    expect(await oauthStateStore().transition(stateId, "issued", "redeemed")).toBe(true);
    // Its worker is slow: the code exchange is answered only after attempt 2 has finished
    let exchanging!: () => void;
    const exchangeStarted = new Promise<void>((r) => (exchanging = r));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slowFetch: typeof fetch = async (input, init) => {
      if (String(input).endsWith("/oauth2/token")) {
        exchanging();
        await held;
      }
      return fetch(input, init);
    };
    const clock = manualClock();
    const stale = worker(tokenProviderInstance("stale-worker", {}, clock), clock, teamViewerClient({ clock, fetch: slowFetch }));
    const running = stale.authorize({ tenantId: tenant.tenantId, stateId, code, correlationId: undefined }, quiet);
    await exchangeStarted;

    // Act: attempt 2 runs to the end through the app, then attempt 1's exchange goes on
    const second = await connect(tenant.connectorAdmin);
    expect((await followToCallback(await signInAtTeamViewer(second.authorizeUrl, "allow"))).status).toBe(302);
    const onboarded = await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "attempt 2 onboarded");
    const newer = (await vault().read(tenant.tenantId))!;
    release();
    await running;

    // Assess
    const now = (await vault().read(tenant.tenantId))!;
    expect(now.accessToken).toBe(newer.accessToken);
    expect(now.refreshToken).toBe(newer.refreshToken);
    expect(await teamViewerClient().ping(now.accessToken)).toEqual({ tokenValid: true });
    expect((await connectorStore().get(tenant.tenantId))!).toMatchObject({ onboardingStatus: "onboarded", health: "healthy", generation: now.generation });
    expect(onboarded.health).toBe("healthy");
    expect((await oauthStateStore().get(stateId))!.status).toBe("completed");
    const failures = (await auditEvents(tenant.admin, "connector.authorize")).filter((e) => e.result === "failure");
    expect(failures.map((e) => e.detail)).toEqual([expect.stringContaining("replaced, cancelled or expired")]);
  });

  it("a TeamViewer 401 drops the cached token at once; the next try reads Key Vault", async () => {
    // Prepare: A caches T; another instance has since refreshed (Key Vault holds T2)
    const tenant = await newTenant();
    await onboard(tenant);
    const a = tokenProviderInstance("drop-a");
    const cached = await a.withAccessToken(tenant.tenantId, async (t) => t);
    const stored = (await vault().read(tenant.tenantId))!;
    const rotated = await teamViewerClient().refresh(stored.refreshToken);
    await vault().write(tenant.tenantId, { ...rotated, generation: stored.generation });
    await fake().failNext({ method: "GET", path: "/api/v1/ping", status: 401, body: { error: "invalid_token", error_description: "The token was revoked." } });
    const from = (await fake().calls()).length;
    const seen: string[] = [];

    // Act
    const result = await a.withAccessToken(tenant.tenantId, async (t) => {
      seen.push(t);
      return teamViewerClient().ping(t);
    });

    // Assess
    expect(result).toEqual({ tokenValid: true });
    expect(seen).toEqual([cached, rotated.accessToken]);
    expect(tokenCalls((await fake().calls()).slice(from))).toHaveLength(0);
    expect(await a.withAccessToken(tenant.tenantId, async (t) => t)).toBe(rotated.accessToken);
  });
});
