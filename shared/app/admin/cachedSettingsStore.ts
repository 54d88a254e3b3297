// The tenant settings every session request reads, kept per instance for a moment
// (shortCache.ts): a change through this instance applies here at once, one through
// another instance within the cache's time.
import type { TenantSettings } from "../../domain/tenantSettings.js";
import type { ShortCache } from "../shortCache.js";
import type { SettingsStore } from "./ports.js";

export class CachedSettingsStore implements SettingsStore {
  readonly #inner: SettingsStore;
  readonly #cache: ShortCache<TenantSettings>;

  constructor(inner: SettingsStore, cache: ShortCache<TenantSettings>) {
    this.#inner = inner;
    this.#cache = cache;
  }

  get(tenantId: string): Promise<TenantSettings> {
    return this.#cache.get(tenantId, () => this.#inner.get(tenantId));
  }

  update(tenantId: string, change: Partial<TenantSettings>): Promise<TenantSettings> {
    return this.#cache.writeThrough(
      tenantId,
      () => this.#inner.update(tenantId, change),
      (next) => next,
    );
  }
}
