// The connector worker's dead-letter path for connector.authorize, on in-memory ports that
// keep the stores' contracts (update re-applies to the initial state, a state transition
// succeeds only from the status it names, the vault holds one token per tenant). What is
// shown: a sign-in whose code was exchanged, and whose message then ran out of deliveries,
// leaves no live TeamViewer token behind, and a token that is not that attempt's is never
// touched. Also the disconnect's second close, for requests admitted while it ran, and when it
// is skipped. The worker's happy paths run against the emulators in the connector integration tests.
import { describe, expect, it } from "vitest";
import { ConnectorWorker, type AuthorizeCommand } from "../../shared/app/connector/connectorWorker.js";
import { oauthStateStatuses, type IssuedToken, type StoredToken } from "../../shared/app/connector/ports.js";
import type { TeamViewerByTenant, TenantTeamViewer } from "../../shared/app/quota/teamViewerQuota.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { initialConnectorState, onboardingStatuses } from "../../shared/domain/connector.js";
import {
  ManualClock,
  MemoryAuditLog,
  MemoryConnectorStore,
  MemoryMessageBus,
  MemoryOAuthStateStore,
  MemoryTokenVault,
  recordingLogger,
} from "../support/memoryPorts.js";

const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00001111";
const stateId = "q2lWbX9c4vTnR0aHk3sJ8pYdLm5fG1eZ";
const newerStateId = "Zx9wVu8tSr7qPo6nMl5kJi4hGf3eDc2b";
const exchanged: IssuedToken = { accessToken: "at-of-the-sign-in", refreshToken: "rt-of-the-sign-in", expiresAt: new Date("2026-12-07T08:00:00.000Z") };

const unavailable = new TeamViewerError("serverError", "GET /api/v1/account: TeamViewer answered 503.", { status: 503 });

/**
 * A tenant whose admin connected (attempt at generation 1) and signed in: the state is redeemed,
 * the message queued. GET /account fails with `accountError` on every delivery (null: it answers).
 */
function signedIn(accountError: TeamViewerError | null = unavailable) {
  const clock = new ManualClock("2026-12-06T08:00:00.000Z");
  const connectors = new MemoryConnectorStore();
  const states = new MemoryOAuthStateStore();
  const vault = new MemoryTokenVault();
  const audit = new MemoryAuditLog(clock);
  const revoked: string[] = [];
  const revokeFailures: unknown[] = [];
  const { log, lines } = recordingLogger();
  const expiry = "2026-12-06T08:10:00.000Z";
  connectors.rows.set(tenantId, {
    ...initialConnectorState,
    generation: 1,
    onboardingStatus: onboardingStatuses.onboarding,
    pendingStateId: stateId,
    onboardingRequestExpiryDateTime: expiry,
  });
  states.rows.set(stateId, {
    id: stateId,
    tenantId,
    status: oauthStateStatuses.redeemed,
    createdBy: "admin-1",
    createdByName: "Adele Vance",
    createdAt: clock.now().toISOString(),
    expiresAt: expiry,
    generation: 1,
  });
  const account: Pick<TenantTeamViewer, "getAccount"> = {
    getAccount: async () => (accountError ? Promise.reject(accountError) : Promise.resolve({ userId: "u1234567", name: "Contoso Help Desk" })),
  };
  // The code works once, as at TeamViewer.
  let codeSpent = false;
  const worker = new ConnectorWorker({
    connectors,
    states,
    vault,
    tokens: { withTokenLease: async (_t, work) => work(), invalidate: () => undefined, withAccessToken: async () => Promise.reject(new Error("not used")) },
    teamViewer: {
      exchangeCode: async () => {
        await Promise.resolve();
        if (codeSpent) throw new TeamViewerError("invalidGrant", "POST /api/v1/oauth2/token: TeamViewer answered invalid_grant.", { status: 400 });
        codeSpent = true;
        return exchanged;
      },
      revoke: async (accessToken) => {
        await Promise.resolve();
        if (revokeFailures.length > 0) throw revokeFailures.shift();
        revoked.push(accessToken);
      },
    },
    webApi: { forTenant: () => account } as unknown as TeamViewerByTenant,
    openSessions: { closeOpen: async () => Promise.resolve({ closed: 0 }) },
    bus: new MemoryMessageBus(),
    audit,
    clock,
  });
  const command: AuthorizeCommand = { tenantId, stateId, code: "the-one-time-code", correlationId: "corr-1" };
  /** Every delivery Service Bus makes (10) fails on GET /account after the first stored the token. */
  const exhaustDeliveries = async (): Promise<void> => {
    for (let delivery = 1; delivery <= 10; delivery++) await expect(worker.authorize(command, log)).rejects.toThrow(/503/);
  };
  const deadLettered = () => worker.deadLettered({ kind: "authorize", tenantId, stateId, correlationId: "corr-1" }, "MaxDeliveryCountExceeded", log);
  return { connectors, states, vault, audit, revoked, revokeFailures, lines, exhaustDeliveries, deadLettered, authorize: () => worker.authorize(command, log) };
}

describe("connector.authorize dead-lettered", () => {
  it("after its code was exchanged: revokes and deletes the sign-in's token, resets the connector, completes the state", async () => {
    // Prepare: the code was exchanged and the token stored, then GET /account failed on every delivery.
    const t = signedIn();
    await t.exhaustDeliveries();
    expect(t.vault.tokens.get(tenantId)?.accessToken).toBe(exchanged.accessToken);
    expect(t.states.rows.get(stateId)?.status).toBe(oauthStateStatuses.exchanged);

    // Act
    await t.deadLettered();

    // Assess
    expect(t.revoked).toEqual([exchanged.accessToken]);
    expect(t.vault.tokens.has(tenantId)).toBe(false);
    expect(t.states.rows.get(stateId)?.status).toBe(oauthStateStatuses.completed);
    const connector = t.connectors.rows.get(tenantId);
    expect(connector?.onboardingStatus).toBe(onboardingStatuses.notOnboarded);
    expect(connector?.lastError?.code).toBe("authorizationFailed");
    expect(t.audit.events.map((e) => [e.activity, e.result, e.detail])).toEqual([
      ["connector.authorize", "failure", "dead-lettered (MaxDeliveryCountExceeded); the TeamViewer token of its sign-in was revoked and deleted"],
    ]);
    const recorded = JSON.stringify([t.audit.events, t.lines]);
    for (const secret of [exchanged.accessToken, exchanged.refreshToken, "the-one-time-code"]) expect(recorded).not.toContain(secret);
  });

  it("deletes the token even when TeamViewer cannot revoke it, says so, and a second handling changes nothing", async () => {
    // Prepare
    const t = signedIn();
    await t.exhaustDeliveries();
    t.revokeFailures.push(new TeamViewerError("unreachable", "POST /api/v1/oauth2/revoke: TeamViewer could not be reached."));

    // Act: the dead letter handled twice (its consumers must stand that)
    await t.deadLettered();
    await t.deadLettered();

    // Assess
    expect(t.revoked).toEqual([]);
    expect(t.vault.tokens.has(tenantId)).toBe(false);
    expect(t.states.rows.get(stateId)?.status).toBe(oauthStateStatuses.completed);
    expect(t.audit.events.map((e) => e.detail)).toEqual([
      "dead-lettered (MaxDeliveryCountExceeded); the TeamViewer token of its sign-in was deleted, but TeamViewer could not revoke it",
      "dead-lettered (MaxDeliveryCountExceeded)",
    ]);
    expect(t.lines.some((l) => l.level === "warn" && l.line.includes("could not revoke"))).toBe(true);
  });

  it("leaves a newer connect attempt's token alone", async () => {
    // Prepare: after the exchange, the admin connected again (generation 2) and that sign-in stored its token.
    const t = signedIn();
    await t.exhaustDeliveries();
    const newer: StoredToken = { accessToken: "at-of-the-newer-sign-in", refreshToken: "rt-newer", expiresAt: exchanged.expiresAt, generation: 3 };
    t.connectors.rows.set(tenantId, { ...initialConnectorState, generation: 2, onboardingStatus: onboardingStatuses.onboarding, pendingStateId: newerStateId });
    t.vault.tokens.set(tenantId, newer);

    // Act
    await t.deadLettered();

    // Assess
    expect(t.revoked).toEqual([]);
    expect(t.vault.tokens.get(tenantId)).toEqual(newer);
    expect(t.connectors.rows.get(tenantId)?.pendingStateId).toBe(newerStateId);
    expect(t.states.rows.get(stateId)?.status).toBe(oauthStateStatuses.completed);
  });

  it("leaves the token alone when the sign-in onboarded the connector before its state was completed", async () => {
    // Prepare: the onboarding was written (generation 2, this sign-in's token) but marking the state failed every time.
    const t = signedIn();
    await t.exhaustDeliveries();
    const ours = t.vault.tokens.get(tenantId);
    t.connectors.rows.set(tenantId, { ...initialConnectorState, generation: 2, onboardingStatus: onboardingStatuses.onboarded });

    // Act
    await t.deadLettered();

    // Assess
    expect(t.revoked).toEqual([]);
    expect(t.vault.tokens.get(tenantId)).toEqual(ours);
    expect(t.connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.onboarded);
    expect(t.states.rows.get(stateId)?.status).toBe(oauthStateStatuses.completed);
  });
});

describe("connector.authorize refused the account", () => {
  it("revokes and deletes the sign-in's token at once when TeamViewer refuses GET /account for good", async () => {
    // Prepare: the licence or the app's permissions do not allow reading the account (not transient).
    const t = signedIn(new TeamViewerError("badRequest", "GET /api/v1/account: TeamViewer answered 403.", { status: 403 }));

    // Act: one delivery, which fails the onboarding instead of throwing.
    await t.authorize();

    // Assess: the token is neither kept nor left live at TeamViewer.
    expect(t.revoked).toEqual([exchanged.accessToken]);
    expect(t.vault.tokens.has(tenantId)).toBe(false);
    expect(t.connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.notOnboarded);
    const recorded = JSON.stringify([t.audit.events, t.lines]);
    for (const secret of [exchanged.accessToken, exchanged.refreshToken, "the-one-time-code"]) expect(recorded).not.toContain(secret);
  });
});

describe("connector.authorize replacing a token left in Key Vault", () => {
  it("revokes the token of an earlier sign-in it replaces: nobody will use it, and Key Vault keeps old versions", async () => {
    // Prepare: an earlier attempt exchanged its code and stored its token (generation 1), then its
    // GET /account failed and the admin connected again before its redelivery.
    const t = signedIn(null);
    const earlier: StoredToken = { accessToken: "at-of-an-earlier-sign-in", refreshToken: "rt-earlier", expiresAt: exchanged.expiresAt, generation: 1 };
    t.vault.tokens.set(tenantId, earlier);

    // Act
    await t.authorize();

    // Assess
    expect(t.connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.onboarded);
    expect(t.vault.tokens.get(tenantId)?.accessToken).toBe(exchanged.accessToken);
    expect(t.revoked).toEqual([earlier.accessToken]);
    const recorded = JSON.stringify([t.audit.events, t.lines]);
    for (const secret of [earlier.accessToken, earlier.refreshToken]) expect(recorded).not.toContain(secret);
  });

  it("still onboards when TeamViewer cannot revoke the replaced token", async () => {
    // Prepare
    const t = signedIn(null);
    t.vault.tokens.set(tenantId, { accessToken: "at-of-an-earlier-sign-in", refreshToken: "rt-earlier", expiresAt: exchanged.expiresAt, generation: 1 });
    t.revokeFailures.push(new TeamViewerError("timeout", "POST /api/v1/oauth2/revoke: TeamViewer did not answer within 15000 ms."));

    // Act
    await t.authorize();

    // Assess
    expect(t.connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.onboarded);
    expect(t.vault.tokens.get(tenantId)?.accessToken).toBe(exchanged.accessToken);
    expect(t.lines.some((l) => l.level === "warn" && l.line.includes("could not revoke"))).toBe(true);
  });
});

describe("connector.authorize when Key Vault falters after the exchange", () => {
  it("a write that fails once still stores the sign-in's token and onboards: the code is spent, a redelivery could not", async () => {
    // Prepare
    const t = signedIn(null);
    t.vault.failWrites = 1;

    // Act
    await t.authorize();

    // Assess
    expect(t.vault.tokens.get(tenantId)?.accessToken).toBe(exchanged.accessToken);
    expect(t.connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.onboarded);
    expect(t.states.rows.get(stateId)?.status).toBe(oauthStateStatuses.completed);
    expect(t.revoked).toEqual([]);
  });

  it("a token that cannot be stored at all is revoked, and the onboarding fails saying why instead of blaming the code", async () => {
    // Prepare
    const t = signedIn(null);
    t.vault.failWrites = 100;

    // Act: the one delivery settles it (a redelivery would only find the code spent)
    await t.authorize();

    // Assess
    expect(t.revoked).toEqual([exchanged.accessToken]);
    expect(t.vault.tokens.has(tenantId)).toBe(false);
    const connector = t.connectors.rows.get(tenantId);
    expect(connector?.onboardingStatus).toBe(onboardingStatuses.notOnboarded);
    expect(connector?.lastError?.message).toMatch(/Key Vault/);
    expect(t.states.rows.get(stateId)?.status).toBe(oauthStateStatuses.completed);
    expect(t.audit.events.map((e) => e.detail)).toEqual(["the exchanged token could not be stored in Key Vault; it was revoked at TeamViewer"]);
    const recorded = JSON.stringify([t.audit.events, t.lines, connector]);
    for (const secret of [exchanged.accessToken, exchanged.refreshToken, "the-one-time-code"]) expect(recorded).not.toContain(secret);
  });

  it("says so when TeamViewer could not revoke the token Key Vault did not take", async () => {
    // Prepare
    const t = signedIn(null);
    t.vault.failWrites = 100;
    t.revokeFailures.push(new TeamViewerError("unreachable", "POST /api/v1/oauth2/revoke: TeamViewer could not be reached."));

    // Act
    await t.authorize();

    // Assess
    expect(t.connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.notOnboarded);
    expect(t.audit.events.map((e) => e.detail)).toEqual(["the exchanged token could not be stored in Key Vault; TeamViewer could not revoke it"]);
  });
});

/**
 * An onboarded tenant being disconnected; `onVaultRemoved` runs as the token is deleted (after
 * the connector row says notOnboarded). Each closeOpen call is recorded, the second being
 * the one for requests admitted while the disconnect was under way.
 */
function disconnecting(onVaultRemoved: (connectors: MemoryConnectorStore) => void = () => undefined) {
  const clock = new ManualClock("2026-12-06T08:00:00.000Z");
  const connectors = new MemoryConnectorStore();
  connectors.rows.set(tenantId, { ...initialConnectorState, generation: 3, onboardingStatus: onboardingStatuses.onboarded });
  const vault = new MemoryTokenVault();
  const remove = vault.remove.bind(vault);
  vault.remove = async (t) => {
    await remove(t);
    onVaultRemoved(connectors);
  };
  const closeCalls: string[] = [];
  const worker = new ConnectorWorker({
    connectors,
    states: new MemoryOAuthStateStore(),
    vault,
    tokens: {
      withTokenLease: async (_t, work) => work(),
      invalidate: () => undefined,
      withAccessToken: async (_t, work) => work("at-of-the-connection"),
    },
    teamViewer: { exchangeCode: async () => Promise.resolve(exchanged), revoke: async () => Promise.resolve() },
    webApi: { forTenant: () => ({}) } as unknown as TeamViewerByTenant,
    openSessions: {
      closeOpen: async (t) => {
        closeCalls.push(t);
        return Promise.resolve({ closed: 0 });
      },
    },
    bus: new MemoryMessageBus(),
    audit: new MemoryAuditLog(clock),
    clock,
    settleMs: 1,
  });
  const disconnect = () =>
    worker.disconnect({ tenantId, requestedBy: { id: "admin-1", displayName: "Adele Vance", type: "user" }, correlationId: "corr-2" }, recordingLogger().log);
  return { connectors, closeCalls, disconnect };
}

describe("connector.disconnect and the requests admitted while it ran", () => {
  it("closes the tenant's open sessions again once no instance can admit a request any more", async () => {
    // Prepare
    const t = disconnecting();

    // Act
    await t.disconnect();

    // Assess: before the revoke, and once more after the settle time
    expect(t.closeCalls).toEqual([tenantId, tenantId]);
    expect(t.connectors.rows.get(tenantId)).toMatchObject({ onboardingStatus: onboardingStatuses.notOnboarded, generation: 4 });
  });

  it("leaves the sessions alone when a new connect began meanwhile: they may be the new connection's", async () => {
    // Prepare: an admin starts connecting again right after the connector row says notOnboarded
    const t = disconnecting((connectors) => {
      const s = connectors.rows.get(tenantId)!;
      connectors.rows.set(tenantId, { ...s, generation: s.generation + 1, onboardingStatus: onboardingStatuses.onboarding, pendingStateId: newerStateId });
    });

    // Act
    await t.disconnect();

    // Assess: only the close before the revoke
    expect(t.closeCalls).toEqual([tenantId]);
    expect(t.connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.onboarding);
  });
});
