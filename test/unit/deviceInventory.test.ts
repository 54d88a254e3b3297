// Order-safety of inventory events: every interleaving of upserts and removals ends in the
// state the newest facts describe, and replays change nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyRemoval, applyUpsert, type DeviceFacts, type DeviceRecord } from "../../shared/domain/deviceInventory.js";

const tenantId = "11111111-1111-1111-1111-111111111111";
const deviceId = "22222222-2222-2222-2222-222222222222";

const facts = (deviceName: string): DeviceFacts => ({
  id: deviceId,
  deviceName,
  operatingSystem: "Windows",
  osVersion: "10.0.26100.1",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  userId: null,
  roleScopeTagIds: ["0", "0", "berlin"],
});

const t = (minute: number): string => `2026-11-20T08:${String(minute).padStart(2, "0")}:00.000Z`;

type Event = { kind: "upsert"; at: number; name: string } | { kind: "remove"; at: number };

function apply(current: DeviceRecord | undefined, e: Event): DeviceRecord | undefined {
  if (e.kind === "upsert") {
    const next = applyUpsert(current, tenantId, facts(e.name), t(e.at));
    return next ? { kind: "device", device: next } : current;
  }
  return applyRemoval(current, tenantId, deviceId, t(e.at)) ?? current;
}

const run = (events: readonly Event[]): DeviceRecord | undefined => events.reduce<DeviceRecord | undefined>(apply, undefined);

describe("applyUpsert", () => {
  it("stores a new device with de-duplicated scope tags and the event time", () => {
    // Prepare / Act
    const d = applyUpsert(undefined, tenantId, facts("PC-1"), "2026-11-20T09:00:00.1234567+01:00");

    // Assess
    expect(d).toMatchObject({ tenantId, id: deviceId, deviceName: "PC-1", removed: false, updatedAt: "2026-11-20T08:00:00.123Z" });
    expect(d?.roleScopeTagIds).toEqual(["0", "berlin"]);
  });

  it.each([
    ["an older event", 4],
    ["a replay of the same event", 5],
  ])("ignores %s", (_what, minute) => {
    // Prepare
    const stored = applyUpsert(undefined, tenantId, facts("NEW-NAME"), t(5))!;

    // Act
    const next = applyUpsert({ kind: "device", device: stored }, tenantId, facts("OLD-NAME"), t(minute));

    // Assess
    expect(next).toBeUndefined();
  });

  it("keeps a device removed when the upsert happened before the removal, but takes its newer details", () => {
    // Prepare
    const removed = run([
      { kind: "upsert", at: 1, name: "A" },
      { kind: "remove", at: 5 },
    ]);

    // Act
    const next = applyUpsert(removed, tenantId, facts("B"), t(3));

    // Assess
    expect(next).toMatchObject({ deviceName: "B", removed: true, removedAt: t(5), updatedAt: t(3) });
  });

  it("brings a device back when it is upserted after its removal", () => {
    const removed = run([
      { kind: "upsert", at: 1, name: "A" },
      { kind: "remove", at: 5 },
    ]);

    const next = applyUpsert(removed, tenantId, facts("A"), t(6));

    expect(next).toMatchObject({ removed: false, updatedAt: t(6) });
    expect(next?.removedAt).toBeUndefined();
  });
});

describe("applyRemoval", () => {
  it("keeps a tombstone for a device never seen, so a late older upsert stays removed", () => {
    // Prepare / Act
    const tombstone = applyRemoval(undefined, tenantId, deviceId, t(5));
    const late = applyUpsert(tombstone, tenantId, facts("LATE"), t(2));

    // Assess
    expect(tombstone).toEqual({ kind: "tombstone", tenantId, id: deviceId, removedAt: t(5) });
    expect(late).toMatchObject({ deviceName: "LATE", removed: true, removedAt: t(5) });
  });

  it("ignores a removal older than the stored details (the device came back after it)", () => {
    const stored = run([{ kind: "upsert", at: 5, name: "A" }]);

    expect(applyRemoval(stored, tenantId, deviceId, t(4))).toBeUndefined();
  });

  it("counts a removal at the same instant as the upsert as removed", () => {
    const stored = run([{ kind: "upsert", at: 5, name: "A" }]);

    const next = applyRemoval(stored, tenantId, deviceId, t(5));

    expect(next).toMatchObject({ kind: "device", device: { removed: true, removedAt: t(5) } });
  });

  it("ignores a replayed removal", () => {
    const removed = run([
      { kind: "upsert", at: 1, name: "A" },
      { kind: "remove", at: 5 },
    ]);

    expect(applyRemoval(removed, tenantId, deviceId, t(5))).toBeUndefined();
  });
});

/** The record without the bookkeeping of which event restored the device. */
const withoutRestore = (r: DeviceRecord | undefined): DeviceRecord | undefined => {
  if (r?.kind !== "device") return r;
  const { restoredAt: _restoredAt, ...device } = r.device;
  return { kind: "device", device };
};

describe("any delivery order", () => {
  // The newest upsert's name wins; the device is removed iff the newest removal is at or
  // after the newest upsert.
  const events = fc.uniqueArray(
    fc.oneof(
      fc.record({ kind: fc.constant("upsert" as const), at: fc.integer({ min: 0, max: 59 }), name: fc.constantFrom("A", "B", "C") }),
      fc.record({ kind: fc.constant("remove" as const), at: fc.integer({ min: 0, max: 59 }) }),
    ),
    { minLength: 1, maxLength: 8, selector: (e) => `${e.kind}${e.at}` },
  );

  it("ends in the same state whatever the order and however often events are redelivered", () => {
    fc.assert(
      fc.property(events, fc.integer({ min: 0, max: 1000 }), (list, seed) => {
        // Prepare: one delivery order, with some events delivered twice
        const shuffled = [...list].sort((a, b) => ((a.at * 7 + seed) % 13) - ((b.at * 7 + seed) % 13));
        const withReplays = [...shuffled, ...shuffled.filter((_, i) => (i + seed) % 3 === 0)];

        // Act
        const inOrder = run([...list].sort((a, b) => a.at - b.at || (a.kind === "remove" ? 1 : -1)));
        const outOfOrder = run(withReplays);

        // Assess: the same state. `restoredAt` names the event that brought the device back,
        // which depends on the order by nature (as the audit trail does): when present, it is
        // the newest upsert's time.
        expect(withoutRestore(outOfOrder)).toEqual(withoutRestore(inOrder));
        const upserts = list.flatMap((e) => (e.kind === "upsert" ? [e] : []));
        const removals = list.filter((e) => e.kind === "remove");
        const newestUpsert = upserts.sort((a, b) => b.at - a.at)[0];
        const newestRemoval = Math.max(-1, ...removals.map((e) => e.at));
        if (!newestUpsert) {
          expect(outOfOrder).toMatchObject({ kind: "tombstone", removedAt: t(newestRemoval) });
        } else {
          expect(outOfOrder).toMatchObject({ kind: "device", device: { deviceName: newestUpsert.name, removed: newestRemoval >= newestUpsert.at } });
          const restoredAt = outOfOrder?.kind === "device" ? outOfOrder.device.restoredAt : undefined;
          if (restoredAt !== undefined) expect(restoredAt).toBe(t(newestUpsert.at));
        }
      }),
      { numRuns: 500 },
    );
  });
});
