// The one way to get a tenant's TeamViewer access token. Tokens are cached per instance
// and refreshed ahead of expiry by exactly one caller across all instances: refresh
// tokens rotate and are single use, so two refreshers would leave one of them holding a
// spent token and the connector lost. Within an instance one promise per tenant does the
// work; across instances a fenced lease row decides who refreshes, and is renewed for as
// long as the refresh runs. Every token carries the connector generation it belongs to;
// a cached token is checked against the connector's generation at most once a minute, so
// every instance lets go of a disconnected or replaced connection's token within a minute.
import { randomUUID } from "node:crypto";
import { connectorHealths, onboardingStatuses, type ConnectorState } from "../../domain/connector.js";
import { isAccessTokenRefused, isTeamViewerError } from "../teamViewerError.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import { createLogger, type Logger } from "../logging.js";
import { connectorNotOnboarded, reauthorizationRequired } from "./connectorErrors.js";
import type { ConnectorStore, IssuedToken, LeaseStore, StoredToken, TeamViewerAuthApi, TokenVault } from "./ports.js";
import { RefreshFailures } from "./refreshFailures.js";
import { retried } from "./retried.js";
import { TokenLease } from "./tokenLease.js";

export { refreshLeaseName } from "./tokenLease.js";

export interface TokenProviderOptions {
  /** Refresh this long before the access token expires. */
  readonly refreshAheadMs?: number;
  /** How long the token lease lasts if its holder dies; renewed every third of it while held. */
  readonly leaseMs?: number;
  /** How often a caller waiting for another instance's refresh looks again. */
  readonly pollMs?: number;
  /** How long a caller waits for another instance's refresh before giving up (transient). */
  readonly waitMs?: number;
  /** How often a cached token is checked against the connector's generation (at most 60 s). */
  readonly generationCheckMs?: number;
  /** Identifies this instance in lease owners (each acquisition adds a unique suffix). */
  readonly instanceId?: string;
}

export interface TokenProviderDeps {
  readonly vault: TokenVault;
  readonly leases: LeaseStore;
  readonly connectors: ConnectorStore;
  readonly teamViewer: Pick<TeamViewerAuthApi, "refresh" | "revoke">;
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

interface CachedToken {
  readonly token: StoredToken;
  /** When the connector's generation was last seen to match (clock ms). */
  checkedAt: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Refresh rounds under one lease when another writer keeps rotating the token first. */
const refreshRounds = 3;
const maxGenerationCheckMs = 60_000;

export class TokenProvider {
  readonly #vault: TokenVault;
  readonly #connectors: ConnectorStore;
  readonly #teamViewer: Pick<TeamViewerAuthApi, "refresh" | "revoke">;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #refreshAheadMs: number;
  readonly #pollMs: number;
  readonly #maxPolls: number;
  readonly #waitMs: number;
  readonly #generationCheckMs: number;
  readonly #lease: TokenLease;
  readonly #failures: RefreshFailures;
  readonly #cache = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<StoredToken>>();

  constructor(deps: TokenProviderDeps, options: TokenProviderOptions = {}) {
    this.#vault = deps.vault;
    this.#connectors = deps.connectors;
    this.#teamViewer = deps.teamViewer;
    this.#clock = deps.clock;
    this.#log = deps.log ?? createLogger(() => undefined);
    this.#refreshAheadMs = options.refreshAheadMs ?? 5 * 60_000;
    this.#pollMs = options.pollMs ?? 200;
    this.#waitMs = options.waitMs ?? 20_000;
    // Counted in polls, not clock time: a test clock that stands still must not wait forever.
    this.#maxPolls = Math.max(1, Math.ceil(this.#waitMs / this.#pollMs));
    this.#generationCheckMs = Math.min(options.generationCheckMs ?? maxGenerationCheckMs, maxGenerationCheckMs);
    this.#lease = new TokenLease({ leases: deps.leases, log: this.#log, leaseMs: options.leaseMs ?? 30_000, instanceId: options.instanceId ?? randomUUID() });
    this.#failures = new RefreshFailures({ audit: deps.audit, connectors: deps.connectors, clock: deps.clock, log: this.#log });
  }

  /**
   * Runs `fn` with a valid access token. When TeamViewer answers 401 (token expired, or
   * a token another instance has replaced or revoked), the cached token is dropped at
   * once, the token is re-read from Key Vault (refreshed if it is the refused one) and
   * `fn` runs once more. Throws 409 connectorNotOnboarded when there is no usable
   * connector (with reason reauthorizationRequired when TeamViewer refused the refresh).
   */
  async withAccessToken<T>(tenantId: string, fn: (accessToken: string) => Promise<T>, options: AccessTokenOptions = {}): Promise<T> {
    const requireOnboarded = options.requireOnboarded ?? true;
    const token = await this.#current(tenantId, requireOnboarded, undefined);
    try {
      return await fn(token.accessToken);
    } catch (e) {
      if (!isAccessTokenRefused(e)) throw e;
      this.#forget(tenantId, token.accessToken);
      this.#log.info("TeamViewer refused the access token; dropped it and renewing it once", { tenantId, reason: e.code });
      const renewed = await this.#current(tenantId, requireOnboarded, token.accessToken);
      return fn(renewed.accessToken);
    }
  }

  /** Forgets this instance's cached token (after disconnect or a new authorization). */
  invalidate(tenantId: string): void {
    this.#cache.delete(tenantId);
  }

  /**
   * Runs `work` holding the tenant's token lease, the one every refresh holds: while it
   * runs no instance refreshes or stores the tenant's token, so `work` may check the
   * connector and then write or delete the secret without anyone writing in between.
   * `work` must not call `withAccessToken` (it would wait for this very lease).
   * Throws (transient) when the lease cannot be had within the wait.
   */
  async withTokenLease<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    for (let poll = 0; poll < this.#maxPolls; poll++) {
      const lease = await this.#lease.tryTake(tenantId);
      if (lease) return this.#lease.holding(tenantId, lease, () => work());
      await sleep(this.#pollMs);
    }
    throw new Error(`could not take the TeamViewer token lease of tenant ${tenantId} within ${this.#waitMs} ms (another instance is refreshing)`);
  }

  #due(token: StoredToken): boolean {
    return token.expiresAt.getTime() - this.#clock.now().getTime() <= this.#refreshAheadMs;
  }

  #usable(token: StoredToken, rejected: string | undefined): boolean {
    return token.accessToken !== rejected && !this.#due(token);
  }

  #remember(tenantId: string, token: StoredToken): void {
    this.#cache.set(tenantId, { token, checkedAt: this.#clock.now().getTime() });
  }

  /** Drops the cached token if it is still `accessToken` (a newer one stays). */
  #forget(tenantId: string, accessToken: string): void {
    if (this.#cache.get(tenantId)?.token.accessToken === accessToken) this.#cache.delete(tenantId);
  }

  async #current(tenantId: string, requireOnboarded: boolean, rejected: string | undefined): Promise<StoredToken> {
    const cached = this.#cache.get(tenantId);
    if (cached && this.#usable(cached.token, rejected)) {
      const now = this.#clock.now().getTime();
      if (now - cached.checkedAt < this.#generationCheckMs) return cached.token;
      // Once a minute: is this still the connection the connector is at?
      const connector = await this.#connectors.get(tenantId);
      if (belongsTo(connector, cached.token.generation, requireOnboarded)) {
        cached.checkedAt = now;
        return cached.token;
      }
      this.#forget(tenantId, cached.token.accessToken);
      this.#log.info("the connector was disconnected or connected again; dropped the cached TeamViewer token", {
        tenantId,
        cachedGeneration: cached.token.generation,
        connectorGeneration: connector?.generation ?? null,
      });
    }
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
    this.#checkConnector(tenantId, connector, requireOnboarded);
    const stored = await this.#readVault(tenantId);
    this.#checkGeneration(tenantId, connector, stored);
    if (this.#usable(stored, rejected)) {
      this.#remember(tenantId, stored);
      return stored;
    }
    return this.#refreshOnce(tenantId, requireOnboarded, rejected);
  }

  /** Throws when the connector cannot be used: not onboarded (when required), or waiting for reauthorization. */
  #checkConnector(tenantId: string, connector: ConnectorState | undefined, requireOnboarded: boolean): void {
    if (requireOnboarded && connector?.onboardingStatus !== onboardingStatuses.onboarded) {
      this.#cache.delete(tenantId);
      throw connectorNotOnboarded();
    }
    // A refresh token TeamViewer refused stays refused: no call until an admin reconnects.
    if (connector?.onboardingStatus === onboardingStatuses.onboarded && connector.health === connectorHealths.reauthorizationRequired) {
      this.#cache.delete(tenantId);
      throw reauthorizationRequired();
    }
  }

  /**
   * An onboarded connector's token must be of its generation. Another generation means a
   * connect, an authorization or a disconnect is between its two writes (the secret and
   * the row): transient, the caller tries again.
   */
  #checkGeneration(tenantId: string, connector: ConnectorState | undefined, stored: StoredToken): void {
    if (connector?.onboardingStatus !== onboardingStatuses.onboarded || connector.generation === stored.generation) return;
    this.#cache.delete(tenantId);
    throw new Error(
      `the stored TeamViewer token of tenant ${tenantId} belongs to connector generation ${stored.generation}, the connector is at ${connector.generation}; the connection is changing`,
    );
  }

  /** The stored token; a tenant without one is not onboarded. */
  async #readVault(tenantId: string): Promise<StoredToken> {
    const stored = await this.#vault.read(tenantId);
    if (!stored) {
      this.#cache.delete(tenantId);
      throw connectorNotOnboarded();
    }
    return stored;
  }

  /** Refreshes under the lease, or waits for whoever holds it to publish the new token. */
  async #refreshOnce(tenantId: string, requireOnboarded: boolean, rejected: string | undefined): Promise<StoredToken> {
    let stored: StoredToken | undefined;
    for (let poll = 0; poll < this.#maxPolls; poll++) {
      const lease = await this.#lease.tryTake(tenantId);
      if (lease) return this.#lease.holding(tenantId, lease, (lost) => this.#refreshHoldingLease(tenantId, requireOnboarded, rejected, lost));
      await sleep(this.#pollMs);
      stored = await this.#readVault(tenantId);
      if (this.#usable(stored, rejected)) {
        this.#remember(tenantId, stored);
        return stored;
      }
    }
    // Not expired yet: better a token that works for a few more minutes than a failure.
    if (stored && stored.accessToken !== rejected && stored.expiresAt.getTime() > this.#clock.now().getTime()) return stored;
    throw new Error(`timed out after ${this.#waitMs} ms waiting for another instance to refresh the TeamViewer token`);
  }

  async #refreshHoldingLease(tenantId: string, requireOnboarded: boolean, rejected: string | undefined, lost: () => boolean): Promise<StoredToken> {
    // Another instance may have refreshed, or the connector changed, between our read and taking the lease.
    let connector = await this.#connectors.get(tenantId);
    this.#checkConnector(tenantId, connector, requireOnboarded);
    let stored = await this.#readVault(tenantId);
    this.#checkGeneration(tenantId, connector, stored);
    for (let round = 0; round < refreshRounds; round++) {
      if (this.#usable(stored, rejected)) {
        this.#remember(tenantId, stored);
        return stored;
      }
      let fresh: IssuedToken;
      try {
        fresh = await this.#teamViewer.refresh(stored.refreshToken);
      } catch (e) {
        if (!isTeamViewerError(e)) throw e;
        if (e.code !== "invalidGrant") {
          await this.#failures.record(tenantId, `${e.code}: ${e.message}`);
          throw e;
        }
        // Refresh tokens are single use: someone may have rotated it since we read it (an
        // instance whose lease ran out, a reconnect). Only if nobody did is it really refused.
        const again = await this.#readVault(tenantId);
        connector = await this.#connectors.get(tenantId);
        this.#checkConnector(tenantId, connector, requireOnboarded);
        if (again.refreshToken !== stored.refreshToken) {
          this.#log.info("the refresh token was rotated by someone else meanwhile; using theirs", { tenantId });
          this.#checkGeneration(tenantId, connector, again);
          stored = again;
          continue;
        }
        this.#cache.delete(tenantId);
        await this.#failures.markReauthorizationRequired(tenantId, stored.generation, e);
        throw reauthorizationRequired();
      }
      return this.#storeRefreshed(tenantId, stored, fresh, requireOnboarded, lost);
    }
    throw new Error(`the TeamViewer token of tenant ${tenantId} kept being replaced while it was refreshed`);
  }

  /**
   * The presented refresh token is spent: the new one must reach Key Vault. It is stored
   * only over the token it was refreshed from, for a connector still at that generation:
   * a disconnect or a newer connection meanwhile wins, and the refreshed token is revoked.
   */
  async #storeRefreshed(tenantId: string, from: StoredToken, fresh: IssuedToken, requireOnboarded: boolean, lost: () => boolean): Promise<StoredToken> {
    const token: StoredToken = { ...fresh, generation: from.generation };
    // `from` is spent at TeamViewer now: a storage hiccup here must not throw the new token away.
    const [current, connector] = await retried(() => Promise.all([this.#vault.read(tenantId), this.#connectors.get(tenantId)]));
    if (current?.refreshToken !== from.refreshToken || connector?.generation !== from.generation) {
      this.#cache.delete(tenantId);
      this.#log.warn("the connector changed while its TeamViewer token was refreshed; the refreshed token is revoked, not stored", {
        tenantId,
        refreshedGeneration: from.generation,
        connectorGeneration: connector?.generation ?? null,
      });
      await this.#teamViewer.revoke(fresh.accessToken).catch((e: unknown) => {
        this.#log.warn("could not revoke a TeamViewer token nobody will use", { tenantId, error: e instanceof Error ? e.message : String(e) });
      });
      // What is stored now (a newer connection's token, or nothing) is the answer.
      this.#checkConnector(tenantId, connector, requireOnboarded);
      if (!current) throw connectorNotOnboarded();
      this.#checkGeneration(tenantId, connector, current);
      if (!this.#usable(current, undefined)) throw new Error(`the TeamViewer token of tenant ${tenantId} changed while it was refreshed; try again`);
      this.#remember(tenantId, current);
      return current;
    }
    if (lost()) {
      // Nobody stored anything since (checked just above): the token we replace is spent, so storing ours is the only way on.
      this.#log.warn("the TeamViewer token lease ran out during the refresh; the refreshed token is stored anyway", { tenantId });
    }
    this.#remember(tenantId, token);
    await this.#writeWithRetries(tenantId, token);
    this.#log.info("refreshed the TeamViewer token", { tenantId, expiresAt: token.expiresAt.toISOString(), generation: token.generation });
    return token;
  }

  async #writeWithRetries(tenantId: string, token: StoredToken): Promise<void> {
    try {
      await retried(() => this.#vault.write(tenantId, token));
    } catch (e) {
      // This instance keeps the token in memory, but no other instance can get it:
      // their next refresh will use the spent token and the connector will need a reconnect.
      this.#log.error("could not store the refreshed TeamViewer token in Key Vault", e, { tenantId });
      throw e;
    }
  }
}

/** The cached token (of `generation`) still belongs to the connector as it is now. */
function belongsTo(connector: ConnectorState | undefined, generation: number, requireOnboarded: boolean): boolean {
  if (!connector || connector.generation !== generation) return false;
  if (connector.onboardingStatus === onboardingStatuses.onboarded) return connector.health !== connectorHealths.reauthorizationRequired;
  return !requireOnboarded;
}
