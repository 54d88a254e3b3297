// A queued connector.disconnect names the connector generation it was requested at, and
// undoes only the connection (or onboarding) that existed then: a connect begun after it
// (an admin pressing Disconnect and then Connect at once) keeps its onboarding, its token
// and its sessions, while the earlier connection's token is still revoked and deleted. On
// in-memory ports; the disconnect through the host runs in the connector integration tests.
import { describe, expect, it } from "vitest";
import { disconnect, disconnectDeadLettered, type DisconnectCommand } from "../../shared/app/connector/connectorDisconnect.js";
import { connectorNotOnboarded } from "../../shared/app/connector/connectorErrors.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import type { StoredToken } from "../../shared/app/connector/ports.js";
import { connectorHealths, initialConnectorState, onboardingStatuses, type ConnectorState } from "../../shared/domain/connector.js";
import { ManualClock, MemoryAuditLog, MemoryConnectorStore, MemoryMessageBus, MemoryTokenVault, recordingLogger } from "../support/memoryPorts.js";

const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00001111";
const newerStateId = "Zx9wVu8tSr7qPo6nMl5kJi4hGf3eDc2b";
const expiresAt = new Date("2026-12-06T09:00:00.000Z");
const tokenOf = (generation: number): StoredToken => ({ accessToken: `at-${generation}`, refreshToken: `rt-${generation}`, expiresAt, generation });

const onboarded = (generation: number): ConnectorState => ({
  ...initialConnectorState,
  generation,
  onboardingStatus: onboardingStatuses.onboarded,
  health: connectorHealths.healthy,
});
const onboarding = (generation: number): ConnectorState => ({
  ...initialConnectorState,
  generation,
  onboardingStatus: onboardingStatuses.onboarding,
  pendingStateId: newerStateId,
  onboardingRequestExpiryDateTime: "2026-12-06T08:10:00.000Z",
});

/**
 * A tenant whose connector is `connector` and whose secret holds `stored` when the
 * disconnect message is processed. The token provider hands out the stored token, as
 * the real one does for a connector that is not onboarded (or onboarded at its generation);
 * `afterTokenRead` runs once the provider has read the secret, to race the disconnect.
 */
function tenant(
  connector: ConnectorState,
  stored: StoredToken | undefined,
  afterTokenRead: (t: { connectors: MemoryConnectorStore; vault: MemoryTokenVault }) => void = () => undefined,
) {
  const clock = new ManualClock("2026-12-06T08:00:00.000Z");
  const connectors = new MemoryConnectorStore();
  connectors.rows.set(tenantId, connector);
  const vault = new MemoryTokenVault();
  if (stored) vault.tokens.set(tenantId, stored);
  const revoked: string[] = [];
  const closed: string[] = [];
  /** What TeamViewer answers a revoke with, when it fails. */
  const teamViewerState: { revokeFails?: Error } = {};
  const logger = recordingLogger();
  const audit = new MemoryAuditLog(clock);
  const deps = {
    connectors,
    vault,
    tokens: {
      withTokenLease: async <T>(_t: string, work: () => Promise<T>) => work(),
      invalidate: () => undefined,
      withAccessToken: async <T>(t: string, fn: (accessToken: string) => Promise<T>) => {
        const token = await vault.read(t);
        afterTokenRead({ connectors, vault });
        if (!token) throw connectorNotOnboarded();
        return fn(token.accessToken);
      },
    },
    teamViewer: {
      revoke: async (accessToken: string) => {
        await Promise.resolve();
        if (teamViewerState.revokeFails) throw teamViewerState.revokeFails;
        revoked.push(accessToken);
      },
    },
    openSessions: {
      closeOpen: async (t: string) => {
        closed.push(t);
        return Promise.resolve({ closed: 0 });
      },
    },
    bus: new MemoryMessageBus(),
    audit,
    clock,
  };
  const command = (generation: number | undefined): DisconnectCommand => ({
    tenantId,
    requestedBy: { id: "admin-1", displayName: "Adele Vance", type: "user" },
    correlationId: "corr-1",
    ...(generation === undefined ? {} : { generation }),
  });
  return {
    connectors,
    vault,
    revoked,
    closed,
    audit,
    teamViewerState,
    logged: logger.lines,
    disconnect: (generation: number | undefined) => disconnect(deps, command(generation), logger.log),
    deadLettered: (generation: number | undefined, more: Partial<DisconnectCommand> = {}) =>
      disconnectDeadLettered(deps, { ...command(generation), ...more }, "MaxDeliveryCountExceeded"),
  };
}

describe("connector.disconnect processed after a newer connect began", () => {
  it("keeps the new onboarding, and still revokes and deletes the earlier connection's token", async () => {
    // Prepare: requested while onboarded at generation 3 (reauthorization required); the admin then connected again (4)
    const t = tenant(onboarding(4), tokenOf(3));

    // Act
    await t.disconnect(3);

    // Assess
    expect(t.connectors.rows.get(tenantId)).toEqual(onboarding(4));
    expect(t.revoked).toEqual(["at-3"]);
    expect(t.vault.tokens.has(tenantId)).toBe(false);
    expect(t.audit.events).toMatchObject([{ activity: "connector.disconnect", result: "success", detail: expect.stringContaining("newer connect") }]);
  });

  it("never revokes or deletes the token a newer connection stored, nor closes its sessions", async () => {
    // Prepare: requested at 3; a connect (4) and its sign-in (5) completed before the message was processed
    const t = tenant(onboarded(5), tokenOf(5));

    // Act
    await t.disconnect(3);

    // Assess
    expect(t.connectors.rows.get(tenantId)).toEqual(onboarded(5));
    expect(t.vault.tokens.get(tenantId)).toEqual(tokenOf(5));
    expect(t.revoked).toEqual([]);
    expect(t.closed).toEqual([]);
  });

  it("a dead-lettered one does not mark the newer connection's disconnect as failed", async () => {
    // Prepare
    const t = tenant(onboarded(5), tokenOf(5));

    // Act
    await t.deadLettered(3);

    // Assess
    expect(t.connectors.rows.get(tenantId)).toEqual(onboarded(5));
    expect(t.audit.events).toMatchObject([{ activity: "connector.disconnect", result: "failure" }]);
  });
});

describe("connector.disconnect of the connection it was requested for", () => {
  it("requested during an onboarding, it undoes the sign-in that completed before it ran", async () => {
    // Prepare: requested while onboarding at 3; that sign-in onboarded the connector (4) first
    const t = tenant(onboarded(4), tokenOf(4));

    // Act
    await t.disconnect(3);

    // Assess
    expect(t.connectors.rows.get(tenantId)).toMatchObject({ onboardingStatus: onboardingStatuses.notOnboarded, generation: 5 });
    expect(t.revoked).toEqual(["at-4"]);
    expect(t.vault.tokens.has(tenantId)).toBe(false);
  });

  it("a second disconnect of the same connection finds nothing left and changes nothing that matters", async () => {
    // Prepare
    const t = tenant(onboarded(3), tokenOf(3));
    await t.disconnect(3);

    // Act
    await t.disconnect(3);

    // Assess
    expect(t.connectors.rows.get(tenantId)).toMatchObject({ onboardingStatus: onboardingStatuses.notOnboarded, lastError: null });
    expect(t.revoked).toEqual(["at-3"]);
    expect(t.audit.events.map((e) => e.result)).toEqual(["success", "success"]);
  });

  it("an old message without a generation disconnects whatever the connector is at, as before", async () => {
    // Prepare
    const t = tenant(onboarded(5), tokenOf(5));

    // Act
    await t.disconnect(undefined);

    // Assess
    expect(t.connectors.rows.get(tenantId)).toMatchObject({ onboardingStatus: onboardingStatuses.notOnboarded, generation: 6 });
    expect(t.revoked).toEqual(["at-5"]);
    expect(t.vault.tokens.has(tenantId)).toBe(false);
  });
});

describe("connector.disconnect racing the sign-in it was requested during", () => {
  it("revokes the token the sign-in stored after the disconnect looked for one, before deleting it", async () => {
    // Prepare: requested while onboarding at 3; the sign-in onboards the connector (4) just after the disconnect found no token
    const t = tenant(onboarding(3), undefined, ({ connectors, vault }) => {
      connectors.rows.set(tenantId, onboarded(4));
      vault.tokens.set(tenantId, tokenOf(4));
    });

    // Act
    await t.disconnect(3);

    // Assess: the sign-in's token is dead at TeamViewer, not only deleted here
    expect(t.connectors.rows.get(tenantId)).toMatchObject({ onboardingStatus: onboardingStatuses.notOnboarded, generation: 5 });
    expect(t.vault.tokens.has(tenantId)).toBe(false);
    expect(t.revoked).toEqual(["at-4"]);
    expect(t.audit.events).toMatchObject([{ result: "success", detail: expect.stringContaining("token revoked at TeamViewer") }]);
  });
});

describe("connector.disconnect when TeamViewer fails the revoke", () => {
  it("logs the TeamViewer error code, which says what to do about it", async () => {
    // Prepare
    const t = tenant(onboarded(3), tokenOf(3));
    t.teamViewerState.revokeFails = new TeamViewerError("serverError", "POST /oauth2/revoke: TeamViewer answered 503.", { status: 503 });

    // Act
    await t.disconnect(3);

    // Assess
    const line = t.logged.find((l) => l.line.includes("could not revoke the TeamViewer token during disconnect"));
    expect(line?.line).toContain("serverError");
    expect(t.vault.tokens.has(tenantId)).toBe(false);
  });
});

describe("a dead-lettered follow-up that closes the requests admitted during a disconnect", () => {
  it("does not mark a connection made since as failed, even from a message without a generation", async () => {
    // Prepare: disconnected at 4 by a message queued before messages carried the generation; connected again since (6)
    const t = tenant(onboarded(6), tokenOf(6));

    // Act
    await t.deadLettered(undefined, { disconnectedGeneration: 4, sessionsAfter: "open|1|01J0000000000000000000000" });

    // Assess: the disconnect had completed; only the late requests' close is recorded as failed
    expect(t.connectors.rows.get(tenantId)).toEqual(onboarded(6));
    expect(t.audit.events).toMatchObject([{ activity: "connector.disconnect", result: "failure", detail: expect.stringContaining("admitted while") }]);
  });
});
