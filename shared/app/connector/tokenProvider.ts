// The one way to get a tenant's TeamViewer access token. Tokens are cached per instance
// and refreshed ahead of expiry by exactly one caller across all instances: refresh
// tokens rotate and are single use, so two refreshers would leave one of them holding a
// spent token and the connector lost. Within an instance one promise per tenant does the
// work; across instances an etag-guarded lease row decides who refreshes.
import { randomUUID } from "node:crypto";
import { systemActor } from "../../domain/caller.js";
import { connectorErrorCodes, connectorHealths, onboardingStatuses } from "../../domain/connector.js";
import { TeamViewerError } from "../teamViewerError.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import { createLogger, type Logger } from "../logging.js";
import { connectorNotOnboarded, reauthorizationRequired } from "./connectorErrors.js";
import type { ConnectorStore, LeaseStore, StoredToken, TeamViewerAuthApi, TokenVault } from "./ports.js";

export const refreshLeaseName = "teamviewer-refresh";

export interface TokenProviderOptions {
  /** Refresh this long before the access token expires. */
  readonly refreshAheadMs?: number;
  /** How long a refresh lease lasts if its holder dies (it is released as soon as the refresh ends). */
  readonly leaseMs?: number;
  /** How often a caller waiting for another instance's refresh looks again. */
  readonly pollMs?: number;
  /** How long a caller waits for another instance's refresh before giving up (transient). */
  readonly waitMs?: number;
  /** Identifies this instance as a lease owner. */
  readonly instanceId?: string;
}

export interface TokenProviderDeps {
  readonly vault: TokenVault;
  readonly leases: LeaseStore;
  readonly connectors: ConnectorStore;
  readonly teamViewer: Pick<TeamViewerAuthApi, "refresh">;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly log?: Logger;
}

export interface AccessTokenOptions {
  /**
   * Disconnect revokes the token whatever the connector's status; every other caller
   * needs an onboarded connector.
   */
  readonly requireOnboarded?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const keyVaultWriteAttempts = 3;

export class TokenProvider {
  readonly #vault: TokenVault;
  readonly #leases: LeaseStore;
  readonly #connectors: ConnectorStore;
  readonly #teamViewer: Pick<TeamViewerAuthApi, "refresh">;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #refreshAheadMs: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #waitMs: number;
  readonly #owner: string;
  readonly #cache = new Map<string, StoredToken>();
  readonly #inFlight = new Map<string, Promise<StoredToken>>();

  constructor(deps: TokenProviderDeps, options: TokenProviderOptions = {}) {
    this.#vault = deps.vault;
    this.#leases = deps.leases;
    this.#connectors = deps.connectors;
    this.#teamViewer = deps.teamViewer;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#log = deps.log ?? createLogger(() => undefined);
    this.#refreshAheadMs = options.refreshAheadMs ?? 5 * 60_000;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 200;
    this.#waitMs = options.waitMs ?? 20_000;
    this.#owner = options.instanceId ?? randomUUID();
  }

  /**
   * Runs `fn` with a valid access token. When TeamViewer answers 401 (token expired, or
   * a token another instance has replaced), the token is refreshed or re-read once and
   * `fn` runs once more. Throws 409 connectorNotOnboarded when there is no usable
   * connector (with reason reauthorizationRequired when TeamViewer refused the refresh).
   */
  async withAccessToken<T>(tenantId: string, fn: (accessToken: string) => Promise<T>, options: AccessTokenOptions = {}): Promise<T> {
    const requireOnboarded = options.requireOnboarded ?? true;
    const token = await this.#current(tenantId, requireOnboarded, undefined);
    try {
      return await fn(token.accessToken);
    } catch (e) {
      if (!(e instanceof TeamViewerError) || (e.code !== "tokenExpired" && e.code !== "invalidToken")) throw e;
      this.#log.info("TeamViewer refused the access token; renewing it once", { tenantId, reason: e.code });
      const renewed = await this.#current(tenantId, requireOnboarded, token.accessToken);
      return fn(renewed.accessToken);
    }
  }

  /** Forgets this instance's cached token (after disconnect or a new authorization). */
  invalidate(tenantId: string): void {
    this.#cache.delete(tenantId);
  }

  #due(token: StoredToken): boolean {
    return token.expiresAt.getTime() - this.#clock.now().getTime() <= this.#refreshAheadMs;
  }

  #usable(token: StoredToken, rejected: string | undefined): boolean {
    return token.accessToken !== rejected && !this.#due(token);
  }

  async #current(tenantId: string, requireOnboarded: boolean, rejected: string | undefined): Promise<StoredToken> {
    const cached = this.#cache.get(tenantId);
    if (cached && this.#usable(cached, rejected)) return cached;
    // Joining a flight started for another reason can still hand back the rejected token;
    // then one more flight, started for this reason, settles it.
    for (let attempt = 0; attempt < 2; attempt++) {
      let flight = this.#inFlight.get(tenantId);
      if (!flight) {
        flight = this.#obtain(tenantId, requireOnboarded, rejected).finally(() => this.#inFlight.delete(tenantId));
        this.#inFlight.set(tenantId, flight);
      }
      const token = await flight;
      if (token.accessToken !== rejected) return token;
    }
    return this.#obtain(tenantId, requireOnboarded, rejected);
  }

  async #obtain(tenantId: string, requireOnboarded: boolean, rejected: string | undefined): Promise<StoredToken> {
    const connector = await this.#connectors.get(tenantId);
    if (requireOnboarded && connector?.onboardingStatus !== onboardingStatuses.onboarded) throw connectorNotOnboarded();
    // A refresh token TeamViewer refused stays refused: no call until an admin reconnects.
    if (connector?.onboardingStatus === onboardingStatuses.onboarded && connector.health === connectorHealths.reauthorizationRequired) {
      this.#cache.delete(tenantId);
      throw reauthorizationRequired();
    }
    const { stored, usable } = await this.#readVault(tenantId, rejected);
    if (usable) return stored;
    return this.#refreshOnce(tenantId, rejected);
  }

  /** The stored token (cached when usable); a tenant without one is not onboarded. */
  async #readVault(tenantId: string, rejected: string | undefined): Promise<{ stored: StoredToken; usable: boolean }> {
    const stored = await this.#vault.read(tenantId);
    if (!stored) {
      this.#cache.delete(tenantId);
      throw connectorNotOnboarded();
    }
    const usable = this.#usable(stored, rejected);
    if (usable) this.#cache.set(tenantId, stored);
    return { stored, usable };
  }

  /** Refreshes under the lease, or waits for whoever holds it to publish the new token. */
  async #refreshOnce(tenantId: string, rejected: string | undefined): Promise<StoredToken> {
    const deadline = this.#clock.now().getTime() + this.#waitMs;
    for (;;) {
      if (await this.#leases.tryAcquire(tenantId, refreshLeaseName, this.#owner, this.#leaseMs)) {
        try {
          return await this.#refreshHoldingLease(tenantId, rejected);
        } finally {
          await this.#leases.release(tenantId, refreshLeaseName, this.#owner).catch((e: unknown) => {
            // It expires by itself within leaseMs; others only wait that long.
            this.#log.warn("could not release the TeamViewer refresh lease", { tenantId, error: e instanceof Error ? e.message : String(e) });
          });
        }
      }
      await sleep(this.#pollMs);
      const { stored, usable } = await this.#readVault(tenantId, rejected);
      if (usable) return stored;
      if (this.#clock.now().getTime() >= deadline) {
        // Not expired yet: better a token that works for a few more minutes than a failure.
        if (stored.accessToken !== rejected && stored.expiresAt.getTime() > this.#clock.now().getTime()) return stored;
        throw new Error(`timed out after ${this.#waitMs} ms waiting for another instance to refresh the TeamViewer token`);
      }
    }
  }

  async #refreshHoldingLease(tenantId: string, rejected: string | undefined): Promise<StoredToken> {
    // Another instance may have refreshed between our read and taking the lease.
    const { stored, usable } = await this.#readVault(tenantId, rejected);
    if (usable) return stored;
    let fresh: StoredToken;
    try {
      fresh = await this.#teamViewer.refresh(stored.refreshToken);
    } catch (e) {
      if (e instanceof TeamViewerError && e.code === "invalidGrant") {
        await this.#markReauthorizationRequired(tenantId, e);
        throw reauthorizationRequired();
      }
      if (e instanceof TeamViewerError) {
        await this.#audit.record({
          tenantId,
          actor: systemActor,
          activity: "connector.tokenRefresh",
          target: { type: "connector", id: "teamviewer" },
          result: "failure",
          detail: `${e.code}: ${e.message}`.slice(0, 1000),
        });
      }
      throw e;
    }
    // From here the old refresh token is spent: the new one must reach Key Vault.
    this.#cache.set(tenantId, fresh);
    await this.#writeWithRetries(tenantId, fresh);
    this.#log.info("refreshed the TeamViewer token", { tenantId, expiresAt: fresh.expiresAt.toISOString() });
    return fresh;
  }

  async #writeWithRetries(tenantId: string, token: StoredToken): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#vault.write(tenantId, token);
        return;
      } catch (e) {
        if (attempt >= keyVaultWriteAttempts) {
          // This instance keeps the token in memory, but no other instance can get it:
          // their next refresh will use the spent token and the connector will need a reconnect.
          this.#log.error("could not store the refreshed TeamViewer token in Key Vault", e, { tenantId });
          throw e;
        }
        await sleep(250 * attempt);
      }
    }
  }

  async #markReauthorizationRequired(tenantId: string, cause: TeamViewerError): Promise<void> {
    this.#cache.delete(tenantId);
    const at = this.#clock.now().toISOString();
    await this.#connectors.update(tenantId, (s) =>
      s.onboardingStatus === onboardingStatuses.onboarded
        ? {
            ...s,
            health: connectorHealths.reauthorizationRequired,
            lastError: {
              code: connectorErrorCodes.reauthorizationRequired,
              message:
                "TeamViewer refused the connector's refresh token (invalid_grant): the authorization was revoked or has expired. Connect again to re-authorize.",
              at,
            },
          }
        : undefined,
    );
    this.#log.warn("TeamViewer refused the refresh token; the connector needs reauthorization", { tenantId });
    await this.#audit.record({
      tenantId,
      actor: systemActor,
      activity: "connector.tokenRefresh",
      target: { type: "connector", id: "teamviewer" },
      result: "failure",
      detail: `invalidGrant: ${cause.message}`.slice(0, 1000),
    });
  }
}
