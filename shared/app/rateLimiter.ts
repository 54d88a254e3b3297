// In-memory token buckets keyed by string (a caller, a client address), on the injected
// clock. Per instance: N instances allow N times as much (docs/limits.md). Memory is
// bounded: a bucket that has refilled is the same as no bucket and is dropped, and past
// `maxKeys` the least recently used bucket goes first.
import type { Clock } from "./clock.js";

export interface RateLimit {
  /** Tokens added per minute (the sustained rate). */
  readonly perMinute: number;
  /** Most tokens a bucket holds: the burst a key may spend at once. */
  readonly burst: number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export const defaultMaxKeys = 10_000;

export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #perMs: number;
  /** Insertion order is recency: every take moves its key to the end. */
  readonly #buckets = new Map<string, Bucket>();
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(limit: RateLimit, clock: Clock, options: { maxKeys?: number } = {}) {
    if (!(limit.perMinute > 0) || !(limit.burst >= 1)) throw new RangeError("a rate limit needs perMinute > 0 and burst >= 1");
    this.#limit = limit;
    this.#clock = clock;
    this.#maxKeys = Math.max(1, options.maxKeys ?? defaultMaxKeys);
    this.#perMs = limit.perMinute / 60_000;
  }

  /** Buckets currently held (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Spends one token of `key`, or says in whole seconds when the next one will be there. */
  take(key: string): RateDecision {
    const now = this.#clock.now().getTime();
    const bucket = this.#refilled(this.#buckets.get(key), now);
    this.#buckets.delete(key);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.#buckets.set(key, bucket);
      this.#bound(now);
      return { allowed: true };
    }
    this.#buckets.set(key, bucket);
    this.#bound(now);
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000)) };
  }

  #refilled(bucket: Bucket | undefined, now: number): Bucket {
    if (!bucket) return { tokens: this.#limit.burst, at: now };
    // A clock that went back refills nothing (and takes nothing away).
    const elapsed = Math.max(0, now - bucket.at);
    return { tokens: Math.min(this.#limit.burst, bucket.tokens + elapsed * this.#perMs), at: Math.max(now, bucket.at) };
  }

  #bound(now: number): void {
    if (this.#buckets.size <= this.#maxKeys) return;
    // Drop every bucket that has refilled by now (idle keys): at most once a second, so a
    // stream of new keys costs a full pass once a second, not once a request. Then, if
    // that was not enough, the least recently used ones.
    if (now - this.#sweptAt >= 1_000) {
      this.#sweptAt = now;
      for (const [key, bucket] of this.#buckets) {
        if (this.#refilled(bucket, now).tokens >= this.#limit.burst) this.#buckets.delete(key);
      }
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) break;
      this.#buckets.delete(key);
    }
  }
}
