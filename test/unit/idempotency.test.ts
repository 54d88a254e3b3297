// Idempotency-Key handling at its port (in-memory records with Table etag semantics, a
// manual clock): the first answer is replayed, another body under the same key is a
// conflict, so is the same key while the first request runs; failures and abandoned or
// expired records free the key.
import { beforeEach, describe, expect, it } from "vitest";
import { Idempotency, idempotencyInProgressTtlMs, idempotencyRecordTtlMs } from "../../shared/app/sessions/idempotency.js";
import { DomainError, errorCodes } from "../../shared/domain/errors.js";
import { idempotencyPurgePerRun, SessionMaintenance } from "../../shared/app/sessions/sessionMaintenance.js";
import { ManualClock, MemoryIdempotencyStore, recordingLogger } from "../support/memoryPorts.js";
import { SessionWorkerWorld } from "../support/sessionWorkerHarness.js";

const tenant = "t1";
const body = { deviceId: "d1", description: "Outlook keeps crashing" };

let clock: ManualClock;
let store: MemoryIdempotencyStore;
let idempotency: Idempotency;
let logged: ReturnType<typeof recordingLogger>;
let runs: number;

/** The use case under the key: creates "session n" and counts its runs. */
const work = async (): Promise<string> => `session-${++runs}`;

beforeEach(() => {
  clock = new ManualClock();
  store = new MemoryIdempotencyStore();
  logged = recordingLogger();
  idempotency = new Idempotency({ store, clock, log: logged.log });
  runs = 0;
});

/** A promise the test settles by hand, to hold a request in the middle of its work. */
function gate(): { readonly promise: Promise<void>; readonly open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const conflictMatching = (detail: RegExp): unknown => expect.objectContaining({ code: errorCodes.conflict, detail: expect.stringMatching(detail) });

describe("Idempotency.run", () => {
  it("runs the work once and replays its answer for the same key and body", async () => {
    // Act
    const first = await idempotency.run(tenant, "admin-1", "key-1", body, work);
    const second = await idempotency.run(tenant, "admin-1", "key-1", { ...body }, work);

    // Assess
    expect(first).toEqual({ kind: "fresh", sessionId: "session-1" });
    expect(second).toEqual({ kind: "replayed", sessionId: "session-1" });
    expect(runs).toBe(1);
    expect([...store.records(tenant).values()]).toEqual([expect.objectContaining({ status: "COMPLETED", sessionId: "session-1" })]);
  });

  it("answers a conflict for the same key with another body, and runs nothing", async () => {
    // Prepare
    await idempotency.run(tenant, "admin-1", "key-1", body, work);

    // Act
    const other = idempotency.run(tenant, "admin-1", "key-1", { ...body, description: "Teams, not Outlook" }, work);

    // Assess
    await expect(other).rejects.toBeInstanceOf(DomainError);
    await expect(other).rejects.toEqual(conflictMatching(/different request/));
    expect(runs).toBe(1);
  });

  it("answers a conflict for the same key while the first request is still running; the first one completes", async () => {
    // Prepare
    const held = gate();
    const first = idempotency.run(tenant, "admin-1", "key-1", body, async () => {
      await held.promise;
      return work();
    });
    await new Promise((resolve) => setImmediate(resolve)); // the first request has written its INPROGRESS record

    // Act
    const concurrent = idempotency.run(tenant, "admin-1", "key-1", body, work);

    // Assess
    await expect(concurrent).rejects.toEqual(conflictMatching(/still being processed/));
    held.open();
    await expect(first).resolves.toEqual({ kind: "fresh", sessionId: "session-1" });
    await expect(idempotency.run(tenant, "admin-1", "key-1", body, work)).resolves.toEqual({ kind: "replayed", sessionId: "session-1" });
  });

  it("lets one of two simultaneous first requests run; the other gets a conflict", async () => {
    // Act
    const results = await Promise.allSettled([
      idempotency.run(tenant, "admin-1", "key-1", body, work),
      idempotency.run(tenant, "admin-1", "key-1", body, work),
    ]);

    // Assess
    expect(runs).toBe(1);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason)).toEqual([conflictMatching(/./)]);
  });

  it("frees the key when the work fails, so the client may retry with it", async () => {
    // Prepare
    const failing = idempotency.run(tenant, "admin-1", "key-1", body, () => Promise.reject(new Error("device not found")));
    await expect(failing).rejects.toThrow("device not found");

    // Act
    const retried = await idempotency.run(tenant, "admin-1", "key-1", body, work);

    // Assess
    expect(retried).toEqual({ kind: "fresh", sessionId: "session-1" });
  });

  it("answers the work's error when the record cannot be deleted either, and logs that the key stays busy", async () => {
    // Prepare
    store.delete = () => Promise.reject(new Error("storage unavailable"));

    // Act
    const failing = idempotency.run(tenant, "admin-1", "key-1", body, () => Promise.reject(new Error("device not found")));

    // Assess
    await expect(failing).rejects.toThrow("device not found");
    expect(logged.lines).toEqual([expect.objectContaining({ level: "warn", line: expect.stringContaining("storage unavailable") })]);
  });

  it("scopes the key to the caller: two admins with the same key do not collide", async () => {
    // Act
    const a = await idempotency.run(tenant, "admin-1", "key-1", body, work);
    const b = await idempotency.run(tenant, "admin-2", "key-1", { other: true }, work);

    // Assess
    expect([a.kind, b.kind]).toEqual(["fresh", "fresh"]);
    expect(runs).toBe(2);
  });

  it("takes over a request abandoned in progress (it crashed) once its in-progress expiry passed", async () => {
    // Prepare: a request wrote INPROGRESS and never finished
    const crashed = gate();
    void idempotency.run(tenant, "admin-1", "key-1", body, async () => {
      await crashed.promise;
      return "never";
    });
    await new Promise((resolve) => setImmediate(resolve));
    await expect(idempotency.run(tenant, "admin-1", "key-1", body, work)).rejects.toEqual(conflictMatching(/still being processed/));
    clock.advance(idempotencyInProgressTtlMs);

    // Act
    const taken = await idempotency.run(tenant, "admin-1", "key-1", body, work);

    // Assess
    expect(taken).toEqual({ kind: "fresh", sessionId: "session-1" });
  });

  it("does not let a request whose record was taken over overwrite the taker's answer", async () => {
    // Prepare: a slow request, taken over after its in-progress expiry
    const slow = gate();
    const first = idempotency.run(tenant, "admin-1", "key-1", body, async () => {
      await slow.promise;
      return "session-slow";
    });
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(idempotencyInProgressTtlMs);
    await idempotency.run(tenant, "admin-1", "key-1", body, work);

    // Act: the slow one finishes; its etag-guarded write loses
    slow.open();
    await first;

    // Assess
    await expect(idempotency.run(tenant, "admin-1", "key-1", body, work)).resolves.toEqual({ kind: "replayed", sessionId: "session-1" });
  });

  it("runs the work again once a completed record expired", async () => {
    // Prepare
    await idempotency.run(tenant, "admin-1", "key-1", body, work);
    clock.advance(idempotencyRecordTtlMs);

    // Act
    const again = await idempotency.run(tenant, "admin-1", "key-1", { different: "body, expired key" }, work);

    // Assess
    expect(again).toEqual({ kind: "fresh", sessionId: "session-2" });
  });
});

describe("expired Idempotency-Key records", () => {
  /** The session timer of a world whose tenant has a session, over `store`'s records. */
  async function sessionTimer(world: SessionWorkerWorld): Promise<SessionMaintenance> {
    await world.request();
    return world.maintenance(store);
  }

  it("are deleted by the session timer, and records still answering stay", async () => {
    // Prepare: a key used a day ago (expired) and one used now
    const world = new SessionWorkerWorld();
    idempotency = new Idempotency({ store, clock: world.clock, log: logged.log });
    await idempotency.run(tenant, "admin-1", "old-key", body, work);
    world.clock.advance(idempotencyRecordTtlMs + 1);
    await idempotency.run(tenant, "admin-1", "new-key", body, work);
    const timer = await sessionTimer(world);

    // Act
    await timer.runTimers(world.log);

    // Assess
    expect([...store.records(tenant).values()]).toEqual([expect.objectContaining({ status: "COMPLETED", sessionId: "session-2" })]);
    await expect(idempotency.run(tenant, "admin-1", "new-key", body, work)).resolves.toEqual({ kind: "replayed", sessionId: "session-2" });
  });

  it("are deleted a bounded number per run, the rest by the next runs", async () => {
    // Prepare: more expired records than one run deletes
    const world = new SessionWorkerWorld();
    const expired = { status: "COMPLETED" as const, payloadHash: "h", expiresAt: world.clock.now().getTime() - 1, inProgressExpiresAt: 0, sessionId: "s" };
    for (let i = 0; i < idempotencyPurgePerRun + 5; i++) await store.tryCreate(tenant, `key-${i}`, expired);
    const timer = await sessionTimer(world);

    // Act
    await timer.runTimers(world.log);
    const afterOne = store.records(tenant).size;
    await timer.runTimers(world.log);

    // Assess
    expect(afterOne).toBe(5);
    expect(store.records(tenant).size).toBe(0);
  });
});
