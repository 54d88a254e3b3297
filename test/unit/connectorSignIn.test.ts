// The OAuth callback (ConnectorService.completeSignIn) when storage or Service Bus fails
// after the state was taken: the browser's retry of the same callback must still work,
// since nothing was queued and the code was never exchanged.
import { describe, expect, it } from "vitest";
import { ConnectorService } from "../../shared/app/connector/connectorService.js";
import type { ConnectorStore } from "../../shared/app/connector/ports.js";
import { appRoles, type UserCaller } from "../../shared/domain/caller.js";
import { initialConnectorState, onboardingStatuses, type ConnectorState } from "../../shared/domain/connector.js";
import { ManualClock, MemoryAuditLog, MemoryMessageBus, MemoryOAuthStateStore, recordingLogger } from "../support/memoryPorts.js";

const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00004444";
const admin: UserCaller = { type: "user", tenantId, userId: "admin-1", displayName: "Adele Vance", roles: [appRoles.administrator], groups: [] };

class MemoryConnectors implements ConnectorStore {
  readonly rows = new Map<string, ConnectorState>();
  /** The next `failUpdates` updates fail (Table storage unreachable) and change nothing. */
  failUpdates = 0;

  async get(t: string): Promise<ConnectorState | undefined> {
    await Promise.resolve();
    return this.rows.get(t);
  }

  async update(t: string, change: (current: ConnectorState) => ConnectorState | undefined): Promise<ConnectorState> {
    await Promise.resolve();
    if (this.failUpdates > 0) {
      this.failUpdates--;
      throw new Error("Table storage is unreachable (test)");
    }
    const current = this.rows.get(t) ?? initialConnectorState;
    const next = change(current);
    if (next) this.rows.set(t, next);
    return next ?? current;
  }

  async listOnboarded(): Promise<string[]> {
    return Promise.resolve([]);
  }

  async listExpiredOnboardings(): Promise<string[]> {
    return Promise.resolve([]);
  }
}

/** A tenant whose admin pressed Connect; answers the service and the state TeamViewer will send back. */
async function connecting() {
  const clock = new ManualClock("2026-12-07T09:00:00.000Z");
  const connectors = new MemoryConnectors();
  const states = new MemoryOAuthStateStore();
  const bus = new MemoryMessageBus();
  const service = new ConnectorService({
    access: { permissionsOf: async () => Promise.resolve({ read: true, update: true }) } as never,
    users: { get: async () => Promise.resolve({ intuneLicensed: true }) } as never,
    settings: { get: async () => Promise.resolve({ allowUnlicensedAdmins: false }) } as never,
    connectors,
    states,
    teamViewer: { authorizeUrl: (state) => `https://login.teamviewer.example/oauth2/authorize?state=${encodeURIComponent(state)}` },
    bus,
    audit: new MemoryAuditLog(clock),
    clock,
    portalUrl: "https://portal.contoso.example/",
  });
  const { authorizeUrl } = await service.connect(admin, "corr-connect");
  const state = new URL(authorizeUrl).searchParams.get("state")!;
  clock.advance(60_000);
  return { service, connectors, states, bus, state };
}

describe("OAuth callback when a write after taking the state fails", () => {
  it("a connector update that fails gives the state back: the browser's retry queues the exchange", async () => {
    // Prepare
    const t = await connecting();
    t.connectors.failUpdates = 1;
    const { log } = recordingLogger();
    await expect(t.service.completeSignIn({ state: t.state, code: "the-one-time-code" }, "corr-1", log)).rejects.toThrow(/unreachable/);

    // Act: the browser tries the same callback again
    const again = await t.service.completeSignIn({ state: t.state, code: "the-one-time-code" }, "corr-2", log);

    // Assess
    expect(again.result).toBe("pending");
    expect(t.bus.delivered({ type: "connector.authorize" })).toHaveLength(1);
    expect(t.connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.onboarding);
  });

  it("a send that fails gives the state back too", async () => {
    // Prepare
    const t = await connecting();
    t.bus.failSends = 1;
    const { log } = recordingLogger();
    await expect(t.service.completeSignIn({ state: t.state, code: "the-one-time-code" }, "corr-1", log)).rejects.toThrow(/unreachable/);

    // Act
    const again = await t.service.completeSignIn({ state: t.state, code: "the-one-time-code" }, "corr-2", log);

    // Assess
    expect(again.result).toBe("pending");
    expect(t.bus.delivered({ type: "connector.authorize" })).toHaveLength(1);
  });
});
