// POST /api/connector/verify's per-tenant limit (ConnectorHealthCheck.verify): what a caller
// told to come back is told must hold when it does.
import { describe, expect, it } from "vitest";
import { ConnectorHealthCheck } from "../../shared/app/connector/connectorHealth.js";
import type { Lease, LeaseStore } from "../../shared/app/connector/ports.js";
import { TeamViewerQuotaExhausted } from "../../shared/app/quota/teamViewerQuota.js";
import { appRoles, type UserCaller } from "../../shared/domain/caller.js";
import { connectorHealths, initialConnectorState, onboardingStatuses } from "../../shared/domain/connector.js";
import { DomainError, errorCodes } from "../../shared/domain/errors.js";
import { ManualClock, MemoryAuditLog, recordingLogger } from "../support/memoryPorts.js";

/** Leases as TableLeaseStore keeps them: free, expired or already ours can be taken. */
class MemoryLeases implements LeaseStore {
  readonly #rows = new Map<string, Lease>();
  readonly #clock: ManualClock;
  constructor(clock: ManualClock) {
    this.#clock = clock;
  }
  async tryAcquire(tenantId: string, name: string, owner: string, durationMs: number): Promise<Lease | undefined> {
    const held = this.#rows.get(`${tenantId}/${name}`);
    const now = this.#clock.now().getTime();
    if (held && held.owner !== "" && held.owner !== owner && held.expiresAt.getTime() > now) return undefined;
    const lease = { owner, expiresAt: new Date(now + durationMs), fence: (held?.fence ?? 0) + 1 };
    this.#rows.set(`${tenantId}/${name}`, lease);
    return lease;
  }
  async renew(): Promise<boolean> {
    return false;
  }
  async release(tenantId: string, name: string, owner: string): Promise<void> {
    const held = this.#rows.get(`${tenantId}/${name}`);
    if (held?.owner === owner) this.#rows.set(`${tenantId}/${name}`, { ...held, owner: "", expiresAt: this.#clock.now() });
  }
  async get(tenantId: string, name: string): Promise<Lease | undefined> {
    const held = this.#rows.get(`${tenantId}/${name}`);
    return held && held.owner !== "" ? held : undefined;
  }
}

const caller: UserCaller = { type: "user", tenantId: "t1", userId: "u1", displayName: "Help Desk", roles: [appRoles.administrator], groups: [] };

/** The check with what the tests vary: the connector's state, TeamViewer's ping, the leases. */
function healthCheck(clock: ManualClock, o: { state: () => object; ping?: () => Promise<{ tokenValid: boolean }>; leases?: LeaseStore }): ConnectorHealthCheck {
  return new ConnectorHealthCheck({
    access: { permissionsOf: async () => ({ read: true }) } as never,
    connectors: { get: async () => o.state(), update: async () => o.state() } as never,
    tokens: { withAccessToken: async (_t: string, fn: (token: string) => Promise<unknown>) => fn("token") } as never,
    teamViewer: {
      forTenant: () => ({
        ping: o.ping ?? (async () => ({ tokenValid: true })),
        getAccount: async () => ({ userId: "tv1", name: "Contoso", licenseType: "corporate" }),
      }),
    } as never,
    audit: new MemoryAuditLog(clock),
    clock,
    verifyInterval: { leases: o.leases ?? new MemoryLeases(clock), ms: 60_000 },
  });
}

const onboardedState = () => ({ ...initialConnectorState, onboardingStatus: onboardingStatuses.onboarded, health: connectorHealths.healthy });

describe("POST /api/connector/verify, one per tenant a minute", () => {
  it("answers a check the quota held back with a Retry-After after which a check is let through", async () => {
    // Prepare: the tenant's quota has room again in 5 s; the verify limit is 60 s.
    const clock = new ManualClock();
    let pings = 0;
    const health = healthCheck(clock, {
      state: onboardedState,
      ping: async () => {
        pings++;
        if (pings === 1) throw new TeamViewerQuotaExhausted("t1", new Date(clock.now().getTime() + 5_000), "ping", false);
        return { tokenValid: true };
      },
    });
    const { log } = recordingLogger();
    const held = await health.verify(caller, "c1", log).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(DomainError);
    expect((held as DomainError).code).toBe(errorCodes.rateLimited);
    const retryAfter = (held as DomainError).extensions?.retryAfterSeconds as number;

    // Act: the caller comes back when told.
    clock.advance(retryAfter * 1000);
    const again = await health.verify(caller, "c2", log).catch((e: unknown) => e);

    // Assess
    expect(again).not.toBeInstanceOf(DomainError);
  });
  it("lets the first verify after onboarding through, though one was refused just before it", async () => {
    // Prepare: a tenant not onboarded yet.
    const clock = new ManualClock();
    let onboarded = false;
    const state = () => ({
      ...initialConnectorState,
      ...(onboarded ? { onboardingStatus: onboardingStatuses.onboarded, health: connectorHealths.healthy } : {}),
    });
    const health = healthCheck(clock, { state });
    const { log } = recordingLogger();
    const early = await health.verify(caller, "c1", log).catch((e: unknown) => e);
    expect((early as DomainError).code).toBe(errorCodes.connectorNotOnboarded);

    // Act: the connector is onboarded a few seconds later and checked.
    onboarded = true;
    clock.advance(5_000);
    const first = await health.verify(caller, "c2", log).catch((e: unknown) => e);

    // Assess
    expect(first).not.toBeInstanceOf(DomainError);
    expect((first as { health: string }).health).toBe(connectorHealths.healthy);
  });
  it("answers a check the connector was not ready for with that reason, even when giving its turn back fails", async () => {
    // Prepare: a tenant not onboarded, and a lease store whose release fails (storage hiccup).
    const clock = new ManualClock();
    const leases = new MemoryLeases(clock);
    leases.release = () => Promise.reject(new Error("storage unreachable"));
    const health = healthCheck(clock, { state: () => initialConnectorState, leases });

    // Act
    const answer = await health.verify(caller, "c1", recordingLogger().log).catch((e: unknown) => e);

    // Assess: the reason, not the release's failure (which would be a 500).
    expect(answer).toBeInstanceOf(DomainError);
    expect((answer as DomainError).code).toBe(errorCodes.connectorNotOnboarded);
  });
});
