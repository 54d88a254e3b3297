// A per-instance cache of values read on every request that rarely change (a tenant's
// settings, whether its connector is onboarded), kept a couple of seconds. It exists for
// cost: at 50 requests in flight every one of them read the same two rows. What it costs
// is staleness, bounded and documented (docs/cost.md): a change made on ANOTHER instance
// applies here at most `ttlMs` later; a change made through this instance applies at once
// (its writer calls `set` or `forget`). Concurrent misses of one key share one read
// ("single flight"), and a read that started before a `forget` never fills the cache.
// Failures are not cached: the next caller reads again.

export class ShortCache<V> {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { readonly value: V; readonly until: number }>();
  /** Reads under way, with when each began; `stale` once a set/forget (or a newer read) came after it started. */
  readonly #flights = new Map<string, { readonly promise: Promise<V>; readonly readAt: number; stale: boolean }>();

  constructor(options: { readonly ttlMs: number; readonly now: () => number; readonly maxEntries?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#now = options.now;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && hit.until > this.#now()) return hit.value;
    // Storage may have answered as early as the read began: the value's time counts from
    // there, so a slow read cannot keep it past the bound (a change made just after it was
    // answered still applies within ttlMs), and a read begun longer ago is not joined.
    const readAt = this.#now();
    const inFlight = this.#flights.get(key);
    if (inFlight && inFlight.readAt + this.#ttlMs > readAt) return inFlight.promise;
    this.#dropFlight(key);
    const flight: { promise: Promise<V>; readonly readAt: number; stale: boolean } = { promise: Promise.resolve(undefined as V), readAt, stale: false };
    flight.promise = load().then(
      (value) => {
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
        if (!flight.stale) this.#store(key, value, readAt);
        return value;
      },
      (e: unknown) => {
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
        throw e;
      },
    );
    this.#flights.set(key, flight);
    return flight.promise;
  }

  /**
   * Runs a write through this instance and keeps what it stored (`valueOf` its result), so
   * readers here see it at once; a failed write forgets the key (its outcome is unknown).
   */
  async writeThrough<R>(key: string, write: () => Promise<R>, valueOf: (result: R) => V): Promise<R> {
    try {
      const result = await write();
      this.set(key, valueOf(result));
      return result;
    } catch (e) {
      this.forget(key);
      throw e;
    }
  }

  /** What a write through this instance just stored: readers here see it at once. */
  set(key: string, value: V): void {
    this.#dropFlight(key);
    this.#store(key, value, this.#now());
  }

  forget(key: string): void {
    this.#dropFlight(key);
    this.#entries.delete(key);
  }

  #dropFlight(key: string): void {
    const flight = this.#flights.get(key);
    if (!flight) return;
    flight.stale = true;
    this.#flights.delete(key);
  }

  #store(key: string, value: V, at: number): void {
    this.#entries.delete(key);
    // Bounded: a flood of tenants evicts the oldest entries, never grows the heap without end.
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, until: at + this.#ttlMs });
  }
}
