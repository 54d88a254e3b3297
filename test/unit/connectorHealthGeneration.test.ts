// The connector health check against a connection that changes while it runs: a check made
// with the old connection's token (TeamViewer slow, the admin disconnects and signs in again,
// perhaps with another TeamViewer account) must not write what it found onto the new one.
import { describe, expect, it } from "vitest";
import { ConnectorHealthCheck } from "../../shared/app/connector/connectorHealth.js";
import type { ConnectorStore, TeamViewerAccountInfo } from "../../shared/app/connector/ports.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { connectorHealths, initialConnectorState, onboardingStatuses, type ConnectorAccount, type ConnectorState } from "../../shared/domain/connector.js";
import { ManualClock, MemoryAuditLog, recordingLogger } from "../support/memoryPorts.js";

const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00003333";

class MemoryConnectors implements ConnectorStore {
  readonly rows = new Map<string, ConnectorState>();

  async get(t: string): Promise<ConnectorState | undefined> {
    await Promise.resolve();
    return this.rows.get(t);
  }

  async update(t: string, change: (current: ConnectorState) => ConnectorState | undefined): Promise<ConnectorState> {
    await Promise.resolve();
    const current = this.rows.get(t) ?? initialConnectorState;
    const next = change(current);
    if (next) this.rows.set(t, next);
    return next ?? current;
  }

  async listOnboarded(): Promise<string[]> {
    return Promise.resolve([...this.rows].filter(([, s]) => s.onboardingStatus === onboardingStatuses.onboarded).map(([id]) => id));
  }

  async listExpiredOnboardings(): Promise<string[]> {
    return Promise.resolve([]);
  }
}

const oldAccount: ConnectorAccount = { userId: "u-old", name: "Old Account", email: null, companyName: null };
const newAccount: ConnectorAccount = { userId: "u-new", name: "New Account", email: "new@contoso.example", companyName: "Contoso" };
const connection = (generation: number, account: ConnectorAccount): ConnectorState => ({
  ...initialConnectorState,
  generation,
  onboardingStatus: onboardingStatuses.onboarded,
  health: connectorHealths.healthy,
  account,
  onboardedAt: "2026-12-07T08:00:00.000Z",
  lastConnectionDateTime: "2026-12-07T08:00:00.000Z",
});

/**
 * A tenant onboarded (generation 3, the old account) whose check is under way with the old
 * token when TeamViewer answers `answer`; meanwhile the connector was disconnected and
 * connected again (generation 5, the new account).
 */
function reconnectedDuringCheck(answer: () => Promise<TeamViewerAccountInfo>) {
  const clock = new ManualClock("2026-12-07T09:00:00.000Z");
  const connectors = new MemoryConnectors();
  const audit = new MemoryAuditLog(clock);
  connectors.rows.set(tenantId, connection(3, oldAccount));
  const check = new ConnectorHealthCheck({
    access: { permissionsOf: async () => Promise.resolve({ read: true }) } as never,
    connectors,
    tokens: {
      withAccessToken: async <T>(_t: string, fn: (token: string) => Promise<T>): Promise<T> => {
        const result = fn("the-old-connections-token");
        connectors.rows.set(tenantId, connection(5, newAccount));
        return result;
      },
    },
    teamViewer: {
      forTenant: () => ({ ping: async () => Promise.resolve({ tokenValid: true }), getAccount: answer }),
    } as never,
    audit,
    clock,
  });
  return { connectors, audit, check };
}

describe("connector health check while the connection is replaced", () => {
  it("a check of the old connection that finds TeamViewer unreachable leaves the new connection's health alone", async () => {
    // Prepare
    const t = reconnectedDuringCheck(async () =>
      Promise.reject(new TeamViewerError("timeout", "GET /api/v1/account: TeamViewer did not answer within 15000 ms.")),
    );

    // Act
    await t.check.checkAll(recordingLogger().log);

    // Assess
    expect(t.connectors.rows.get(tenantId)).toEqual(connection(5, newAccount));
  });

  it("a check of the old connection that read the old account does not show that account on the new connection", async () => {
    // Prepare
    const t = reconnectedDuringCheck(async () => Promise.resolve({ userId: oldAccount.userId, name: oldAccount.name, licenseType: "Premium" }));

    // Act
    await t.check.checkAll(recordingLogger().log);

    // Assess
    expect(t.connectors.rows.get(tenantId)?.account).toEqual(newAccount);
  });
});
