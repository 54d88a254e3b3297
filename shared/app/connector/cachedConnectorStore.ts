// The connector store with a per-instance answer to "is this tenant's connector
// onboarded?", the question every session request asks (shortCache.ts): a change through
// this instance applies here at once, one through another instance within the cache's
// time. Everything else reads and writes the store as it is.
import { onboardingStatuses, type ConnectorState } from "../../domain/connector.js";
import type { ShortCache } from "../shortCache.js";
import type { ConnectorStore } from "./ports.js";

export class CachedConnectorStore implements ConnectorStore {
  readonly #inner: ConnectorStore;
  readonly #onboarded: ShortCache<boolean>;

  constructor(inner: ConnectorStore, onboarded: ShortCache<boolean>) {
    this.#inner = inner;
    this.#onboarded = onboarded;
  }

  isOnboarded(tenantId: string): Promise<boolean> {
    return this.#onboarded.get(tenantId, async () => (await this.#inner.get(tenantId))?.onboardingStatus === onboardingStatuses.onboarded);
  }

  get(tenantId: string): Promise<ConnectorState | undefined> {
    return this.#inner.get(tenantId);
  }

  update(tenantId: string, change: (current: ConnectorState) => ConnectorState | undefined): Promise<ConnectorState> {
    return this.#onboarded.writeThrough(
      tenantId,
      () => this.#inner.update(tenantId, change),
      (next) => next.onboardingStatus === onboardingStatuses.onboarded,
    );
  }

  listOnboarded(): Promise<string[]> {
    return this.#inner.listOnboarded();
  }

  listExpiredOnboardings(now: Date): Promise<string[]> {
    return this.#inner.listExpiredOnboardings(now);
  }
}
