// The token provider when Key Vault or Table storage falters at the worst moment: right
// after TeamViewer rotated the refresh token. The refresh token it was refreshed from is
// spent by then, so the rotated one must reach Key Vault, or the next refresh is refused
// (invalid_grant) and the connector needs a new sign-in it did not need. In-memory ports
// that keep the stores' contracts; TeamViewer's token endpoint rotates like the real one.
import { describe, expect, it } from "vitest";
import type { ConnectorStore, IssuedToken, Lease, LeaseStore, StoredToken, TokenVault } from "../../shared/app/connector/ports.js";
import { TokenProvider } from "../../shared/app/connector/tokenProvider.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { connectorHealths, initialConnectorState, onboardingStatuses, type ConnectorState } from "../../shared/domain/connector.js";
import { ManualClock, MemoryAuditLog, recordingLogger } from "../support/memoryPorts.js";

const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00002222";

class MemoryConnectors implements ConnectorStore {
  readonly rows = new Map<string, ConnectorState>();
  /** The next `count` reads fail (storage unreachable). */
  failGets = 0;

  async get(t: string): Promise<ConnectorState | undefined> {
    await Promise.resolve();
    if (this.failGets > 0) {
      this.failGets--;
      throw new Error("Table storage is unreachable (test)");
    }
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
    return Promise.resolve([...this.rows.keys()]);
  }

  async listExpiredOnboardings(): Promise<string[]> {
    return Promise.resolve([]);
  }
}

class FlakyVault implements TokenVault {
  readonly tokens = new Map<string, StoredToken>();
  /** The next `failReads` reads fail (Key Vault unreachable). */
  failReads = 0;

  async read(t: string): Promise<StoredToken | undefined> {
    await Promise.resolve();
    if (this.failReads > 0) {
      this.failReads--;
      throw new Error("Key Vault is unreachable (test)");
    }
    return this.tokens.get(t);
  }

  async write(t: string, token: StoredToken): Promise<void> {
    await Promise.resolve();
    this.tokens.set(t, token);
  }

  async remove(t: string): Promise<void> {
    await Promise.resolve();
    this.tokens.delete(t);
  }
}

class MemoryLeases implements LeaseStore {
  readonly #rows = new Map<string, Lease>();

  async tryAcquire(t: string, name: string, owner: string, durationMs: number): Promise<Lease | undefined> {
    await Promise.resolve();
    const held = this.#rows.get(`${t}/${name}`);
    if (held && held.owner !== owner && held.expiresAt.getTime() > Date.now()) return undefined;
    const lease = { owner, expiresAt: new Date(Date.now() + durationMs), fence: (held?.fence ?? 0) + 1 };
    this.#rows.set(`${t}/${name}`, lease);
    return lease;
  }

  async renew(t: string, name: string, owner: string): Promise<boolean> {
    await Promise.resolve();
    return this.#rows.get(`${t}/${name}`)?.owner === owner;
  }

  async release(t: string, name: string, owner: string): Promise<void> {
    await Promise.resolve();
    if (this.#rows.get(`${t}/${name}`)?.owner === owner) this.#rows.delete(`${t}/${name}`);
  }

  async get(t: string, name: string): Promise<Lease | undefined> {
    await Promise.resolve();
    return this.#rows.get(`${t}/${name}`);
  }
}

/** TeamViewer's token endpoint: every refresh token works once and is replaced by a new one. */
class RotatingTokens {
  #n = 0;
  readonly live = new Set<string>(["rt-0"]);
  readonly refreshes: string[] = [];
  /** Called after TeamViewer rotated the token and before it answers: the test's moment. */
  afterRotation: () => void = () => undefined;

  async refresh(refreshToken: string): Promise<IssuedToken> {
    await Promise.resolve();
    this.refreshes.push(refreshToken);
    if (!this.live.delete(refreshToken)) throw new TeamViewerError("invalidGrant", "POST /oauth2/token: TeamViewer answered invalid_grant.", { status: 400 });
    this.#n++;
    this.live.add(`rt-${this.#n}`);
    this.afterRotation();
    return { accessToken: `at-${this.#n}`, refreshToken: `rt-${this.#n}`, expiresAt: new Date(Date.now() + 86_400_000) };
  }

  async revoke(): Promise<void> {
    await Promise.resolve();
  }
}

/** An onboarded tenant whose stored token (rt-0) is due for refresh. */
function setUp() {
  const clock = new ManualClock(new Date());
  const connectors = new MemoryConnectors();
  const vault = new FlakyVault();
  const teamViewer = new RotatingTokens();
  const audit = new MemoryAuditLog(clock);
  const { log, lines } = recordingLogger();
  connectors.rows.set(tenantId, { ...initialConnectorState, generation: 3, onboardingStatus: onboardingStatuses.onboarded, health: connectorHealths.healthy });
  vault.tokens.set(tenantId, { accessToken: "at-0", refreshToken: "rt-0", expiresAt: new Date(Date.now() + 60_000), generation: 3 });
  const provider = new TokenProvider({ vault, leases: new MemoryLeases(), connectors, teamViewer, audit, clock, log }, { pollMs: 5, waitMs: 200 });
  return { connectors, vault, teamViewer, audit, lines, provider };
}

describe("TokenProvider: storage failing just after a refresh rotated the token", () => {
  it("a Key Vault read that fails once while the rotated token is checked back keeps the rotated token: stored, used, no reauthorization", async () => {
    // Prepare: Key Vault fails the read that follows TeamViewer's rotation.
    const t = setUp();
    t.teamViewer.afterRotation = () => {
      t.vault.failReads = 1;
    };

    // Act
    const used = await t.provider.withAccessToken(tenantId, async (accessToken) => Promise.resolve(accessToken));

    // Assess
    expect(used).toBe("at-1");
    expect(t.vault.tokens.get(tenantId)).toMatchObject({ accessToken: "at-1", refreshToken: "rt-1", generation: 3 });
    expect(t.teamViewer.refreshes).toEqual(["rt-0"]);
    expect(t.connectors.rows.get(tenantId)?.health).toBe(connectorHealths.healthy);
    const recorded = JSON.stringify([t.audit.events, t.lines]);
    for (const secret of ["at-1", "rt-1", "rt-0"]) expect(recorded).not.toContain(secret);
  });

  it("a connector read that fails once at that moment keeps the rotated token too", async () => {
    // Prepare
    const t = setUp();
    t.teamViewer.afterRotation = () => {
      t.connectors.failGets = 1;
    };

    // Act
    const used = await t.provider.withAccessToken(tenantId, async (accessToken) => Promise.resolve(accessToken));

    // Assess
    expect(used).toBe("at-1");
    expect(t.vault.tokens.get(tenantId)?.refreshToken).toBe("rt-1");
    expect(t.teamViewer.refreshes).toEqual(["rt-0"]);
  });
});
