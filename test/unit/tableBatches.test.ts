// How the Table adapters run many requests a few at a time (shared/adapters/tables/tableBatches.ts):
// never more than the limit in flight, the next one started as soon as one ends (not chunk by
// chunk), and after a failure nothing new started and nothing left running behind the caller.
import { describe, expect, it } from "vitest";
import { inParallel } from "../../shared/adapters/tables/tableBatches.js";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("inParallel", () => {
  it("runs every item once with at most `size` in flight, starting the next as soon as one ends", async () => {
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const finishers = new Map<number, () => void>();
    const run = inParallel([0, 1, 2, 3, 4, 5, 6], 3, async (i) => {
      started.push(i);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => finishers.set(i, resolve));
      inFlight--;
    });
    await tick();
    expect(started).toEqual([0, 1, 2]);
    // One slow item does not hold the others back: ending item 1 alone starts item 3.
    finishers.get(1)!();
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    for (let i = 0; i < 7; i++) {
      for (const [k, finish] of finishers) {
        finishers.delete(k);
        finish();
      }
      await tick();
    }
    await run;
    expect([...started].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(3);
  });

  it("after a failure starts nothing new, and throws the first error once the items in flight have ended", async () => {
    const started: number[] = [];
    let slowEnded = false;
    const outcome = inParallel([0, 1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      if (i === 0) throw new Error("transaction 0 failed");
      await new Promise((resolve) => setTimeout(resolve, 20));
      slowEnded = true;
    }).then(
      () => "resolved",
      (e: Error) => e.message,
    );
    expect(await outcome).toBe("transaction 0 failed");
    expect(started).toEqual([0, 1]);
    expect(slowEnded).toBe(true);
  });

  it("does nothing for no items", async () => {
    let calls = 0;
    await inParallel([], 8, async () => {
      calls++;
    });
    expect(calls).toBe(0);
  });
});
