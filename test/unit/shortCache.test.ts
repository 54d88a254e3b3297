// The per-instance cache of a tenant's settings and connector status (shared/app/shortCache.ts):
// what it saves (one read for many concurrent callers) and what it must never do (fill in a
// value read before a write, cache a failure, grow without end, outlive its time).
import { describe, expect, it } from "vitest";
import { ShortCache } from "../../shared/app/shortCache.js";

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("ShortCache", () => {
  it("answers 50 concurrent misses of one key with one read, and later callers from the cache", async () => {
    let now = 1_000;
    const cache = new ShortCache<string>({ ttlMs: 2_000, now: () => now });
    let reads = 0;
    const load = async (): Promise<string> => {
      reads++;
      await new Promise((r) => setTimeout(r, 5));
      return "v1";
    };
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.get("t1", load)));
    expect(new Set(values)).toEqual(new Set(["v1"]));
    expect(reads).toBe(1);
    now += 1_999;
    expect(await cache.get("t1", load)).toBe("v1");
    expect(reads).toBe(1);
    // Other keys are their own.
    await cache.get("t2", load);
    expect(reads).toBe(2);
  });

  it("reads again once its time is up", async () => {
    let now = 0;
    const cache = new ShortCache<number>({ ttlMs: 2_000, now: () => now });
    let stored = 1;
    const load = async (): Promise<number> => stored;
    expect(await cache.get("t", load)).toBe(1);
    stored = 2;
    now = 1_999;
    expect(await cache.get("t", load)).toBe(1);
    now = 2_000;
    expect(await cache.get("t", load)).toBe(2);
  });

  it("keeps a value for its time from when its read began: a slow read does not stretch the staleness bound", async () => {
    let now = 0;
    const cache = new ShortCache<string>({ ttlMs: 2_000, now: () => now });
    let stored = "old";
    // Storage answers at once with what it holds; the answer takes 1.5 s to arrive.
    const slowLoad = async (): Promise<string> => {
      const value = stored;
      now += 1_500;
      return value;
    };
    expect(await cache.get("t", slowLoad)).toBe("old");
    // Another instance changes the value just after the read was answered.
    stored = "new";
    now = 2_000;
    expect(await cache.get("t", async () => stored)).toBe("new");
  });

  it("does not hand a caller the answer of a read begun longer ago than its time", async () => {
    let now = 0;
    const cache = new ShortCache<string>({ ttlMs: 2_000, now: () => now });
    const stuck = deferred<string>();
    const first = cache.get("t", () => stuck.promise);
    now = 2_500;
    let fresh = 0;
    const second = cache.get("t", async () => {
      fresh++;
      return "new";
    });
    expect(await second).toBe("new");
    expect(fresh).toBe(1);
    // The old read ends last: its caller gets it, the cache keeps the newer one.
    stuck.resolve("old");
    expect(await first).toBe("old");
    expect(await cache.get("t", async () => "never read")).toBe("new");
  });

  it("shows a write through this instance at once (set), and forget makes the next caller read", async () => {
    const cache = new ShortCache<string>({ ttlMs: 60_000, now: () => 0 });
    let stored = "old";
    const load = async (): Promise<string> => stored;
    expect(await cache.get("t", load)).toBe("old");
    stored = "new";
    cache.set("t", "new");
    expect(await cache.get("t", async () => "never read")).toBe("new");
    stored = "newer";
    cache.forget("t");
    expect(await cache.get("t", load)).toBe("newer");
  });

  it("keeps what a write through it stored, and forgets the key when the write fails", async () => {
    const cache = new ShortCache<string>({ ttlMs: 60_000, now: () => 0 });
    expect(await cache.get("t", async () => "old")).toBe("old");

    const result = await cache.writeThrough(
      "t",
      async () => ({ name: "new" }),
      (r) => r.name,
    );
    expect(result).toEqual({ name: "new" });
    expect(await cache.get("t", async () => "never read")).toBe("new");

    await expect(cache.writeThrough("t", () => Promise.reject(new Error("write failed")), String)).rejects.toThrow("write failed");
    expect(await cache.get("t", async () => "read again")).toBe("read again");
  });

  it("never fills in a value read before a write that came while it was read", async () => {
    const cache = new ShortCache<string>({ ttlMs: 60_000, now: () => 0 });
    const slow = deferred<string>();
    const before = cache.get("t", () => slow.promise);
    cache.set("t", "written");
    slow.resolve("read before the write");
    // The slow caller gets what it read; everybody after gets the write.
    expect(await before).toBe("read before the write");
    expect(await cache.get("t", async () => "never read")).toBe("written");

    const slower = deferred<string>();
    const started = cache.get("u", () => slower.promise);
    cache.forget("u");
    slower.resolve("stale");
    await started;
    expect(await cache.get("u", async () => "fresh")).toBe("fresh");
  });

  it("does not cache a failure: the next caller reads again", async () => {
    const cache = new ShortCache<string>({ ttlMs: 60_000, now: () => 0 });
    await expect(cache.get("t", async () => Promise.reject(new Error("storage down")))).rejects.toThrow("storage down");
    expect(await cache.get("t", async () => "ok")).toBe("ok");
  });

  it("keeps at most maxEntries keys, dropping the oldest", async () => {
    const cache = new ShortCache<number>({ ttlMs: 60_000, now: () => 0, maxEntries: 3 });
    let reads = 0;
    const load = (v: number) => async (): Promise<number> => {
      reads++;
      return v;
    };
    for (let i = 0; i < 4; i++) await cache.get(`t${i}`, load(i));
    expect(reads).toBe(4);
    await cache.get("t3", load(3)); // still there
    await cache.get("t1", load(1)); // still there
    expect(reads).toBe(4);
    await cache.get("t0", load(0)); // dropped: read again
    expect(reads).toBe(5);
  });
});
