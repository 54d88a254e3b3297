// An open session follows its device's scope tags: reads and actions judge a session on the
// tags it records, so when the inventory moves a device to other tags, its open session takes
// them (the scope the device left loses it). Closed sessions keep theirs; an older event, or a
// slower follower of one, never moves a session back; only a change of tags costs a lookup;
// a redelivery of the event that changed them moves the session again.
import { beforeEach, describe, expect, it } from "vitest";
import type { Access } from "../../shared/app/access.js";
import type { SettingsStore, UserStore } from "../../shared/app/admin/ports.js";
import type { AuditLog } from "../../shared/app/audit/auditLog.js";
import { DeviceService, type EventContext } from "../../shared/app/devices/deviceService.js";
import type { DeviceChange, DeviceSessions, DeviceStore, DeviceUpdate } from "../../shared/app/devices/ports.js";
import { SessionScopes } from "../../shared/app/sessions/deviceScope.js";
import type { Device } from "../../shared/domain/device.js";
import type { DeviceFacts, DeviceRecord } from "../../shared/domain/deviceInventory.js";
import { applyEvent, noteHistory } from "../../shared/domain/session.js";
import { partialOf } from "../support/functionHarness.js";
import { recordingLogger } from "../support/memoryPorts.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const device = (id: string, roleScopeTagIds: string[], updatedAt: string): Device => ({
  tenantId,
  id,
  deviceName: "DIEGO-LAPTOP",
  operatingSystem: "Windows",
  osVersion: "10.0.26100",
  managedDeviceOwnerType: "company",
  deviceEnrollmentType: "windowsAzureADJoin",
  roleScopeTagIds,
  removed: false,
  updatedAt,
});

describe("SessionScopes.followScopeTags", () => {
  let world: SessionWorkerWorld;
  let scopes: SessionScopes;
  beforeEach(() => {
    world = new SessionWorkerWorld();
    scopes = new SessionScopes({ writer: world.writer, clock: world.clock });
  });

  it("moves the device's open session to the device's tags, with a history entry", async () => {
    // Prepare
    const s = await world.request();
    // Act
    await scopes.followScopeTags(device(s.deviceId, ["paris"], "2026-12-07T10:00:00.000Z"), { log: world.log });
    // Assess
    const after = world.session(s.id);
    expect(after.device.scopeTags).toEqual(["paris"]);
    expect(after.device.scopeTagsAsOf).toBe("2026-12-07T10:00:00.000Z");
    expect(after.history.at(-1)?.detail).toMatch(/other scope tags/);
    expect(after.status).toBe("requested");
  });

  it("never moves it back for older inventory details (a slower follower of an older event)", async () => {
    // Prepare: moved to paris by the newer event first
    const s = await world.request();
    await scopes.followScopeTags(device(s.deviceId, ["paris"], "2026-12-07T10:00:00.000Z"), { log: world.log });
    // Act
    await scopes.followScopeTags(device(s.deviceId, ["berlin"], "2026-12-07T09:00:00.000Z"), { log: world.log });
    await scopes.followScopeTags(device(s.deviceId, ["rome"], "2026-12-07T10:00:00.000Z"), { log: world.log });
    // Assess
    expect(world.session(s.id).device.scopeTags).toEqual(["paris"]);
  });

  it("leaves a session that ended with the tags it had", async () => {
    // Prepare
    const s = await world.request();
    await world.writer.change(tenantId, s.id, (cur) => ({ next: { ...applyEvent(cur, "close", world.clock.now()), closeReason: "admin" } }), world.log);
    const before = world.session(s.id);
    // Act
    await scopes.followScopeTags(device(s.deviceId, ["paris"], "2026-12-07T10:00:00.000Z"), { log: world.log });
    // Assess
    expect(world.session(s.id)).toEqual(before);
  });

  it("keeps a worker's write that got in first, and still moves the session", async () => {
    // Prepare: a worker writes the row between the follower's read and its write
    const s = await world.request();
    world.store.beforeNextUpdate(async (current) => {
      await world.store.update(current, noteHistory(current.session, world.clock.now(), "a worker's note"));
    });
    // Act
    await scopes.followScopeTags(device(s.deviceId, ["paris"], "2026-12-07T10:00:00.000Z"), { log: world.log });
    // Assess
    const after = world.session(s.id);
    expect(after.device.scopeTags).toEqual(["paris"]);
    expect(after.history.map((h) => h.detail)).toContain("a worker's note");
  });

  it("does nothing for a device without an open session", async () => {
    await expect(scopes.followScopeTags(device("d-none", ["paris"], "2026-12-07T10:00:00.000Z"), { log: world.log })).resolves.toBeUndefined();
  });
});

describe("inventory asks the sessions to follow a device's scope tags", () => {
  const deviceId = "dddd0000-0000-0000-0000-000000000002";
  let stored: Map<string, DeviceRecord>;
  let followed: { id: string; tags: readonly string[]; updatedAt: string }[];
  let service: DeviceService;

  /** The device store's semantics, in memory: each change decides on the stored record. */
  const apply = (id: string, change: DeviceChange["change"]): DeviceUpdate => {
    const before = stored.get(id);
    const after = change(before);
    if (!after) return { written: false, ...(before ? { before } : {}) };
    stored.set(id, after);
    return { written: true, ...(before ? { before } : {}), after };
  };
  const facts = (id: string, roleScopeTagIds: string[]): DeviceFacts => {
    const { tenantId: _t, removed: _r, updatedAt: _u, ...rest } = device(id, roleScopeTagIds, "2026-12-07T00:00:00.000Z");
    return rest;
  };
  const ctx = (occurredAt: string): EventContext => ({ tenantId, occurredAt, messageId: `m-${occurredAt}`, log: recordingLogger().log });

  beforeEach(() => {
    stored = new Map();
    followed = [];
    const sessions: DeviceSessions = {
      followScopeTags: async (d) => {
        followed.push({ id: d.id, tags: d.roleScopeTagIds, updatedAt: d.updatedAt });
      },
      closeOpen: () => Promise.reject(new Error("no removal in these tests")),
    };
    const store = partialOf<DeviceStore>("devices", {
      update: async (_t, id, change) => apply(id, change),
      updateMany: async (_t, changes) => {
        // Several changes of one device compose, as the Table store applies them in one write.
        const byDevice = new Map<string, { before?: DeviceRecord; written: boolean }>();
        for (const c of changes) {
          const first = byDevice.get(c.deviceId) ?? { before: stored.get(c.deviceId), written: false };
          const r = apply(c.deviceId, c.change);
          byDevice.set(c.deviceId, { ...first, written: first.written || r.written });
        }
        return new Map([...byDevice].map(([id, r]) => [id, { ...r, after: stored.get(id) }]));
      },
    });
    service = new DeviceService({ store, users: {} as UserStore, access: {} as Access, settings: {} as SettingsStore, audit: {} as AuditLog, sessions });
  });

  it("only when the tags changed, with the device as written", async () => {
    // Act
    await service.recordUpsert(ctx("2026-12-07T08:00:00.000Z"), facts(deviceId, ["berlin"])); // new device
    await service.recordUpsert(ctx("2026-12-07T09:00:00.000Z"), facts(deviceId, ["berlin"])); // same tags
    await service.recordUpsert(ctx("2026-12-07T10:00:00.000Z"), facts(deviceId, ["paris"])); // moved
    // Assess
    expect(followed).toEqual([{ id: deviceId, tags: ["paris"], updatedAt: "2026-12-07T10:00:00.000Z" }]);
  });

  it("not for an event older than the stored device", async () => {
    // Prepare
    await service.recordUpsert(ctx("2026-12-07T08:00:00.000Z"), facts(deviceId, ["berlin"]));
    await service.recordUpsert(ctx("2026-12-07T10:00:00.000Z"), facts(deviceId, ["paris"]));
    followed = [];
    // Act
    await service.recordUpsert(ctx("2026-12-07T09:00:00.000Z"), facts(deviceId, ["berlin"]));
    await service.recordUpserts(tenantId, [{ ctx: ctx("2026-12-07T09:30:00.000Z"), facts: facts(deviceId, ["rome"]) }]);
    // Assess
    expect(followed).toEqual([]);
    expect(stored.get(deviceId)).toMatchObject({ device: { roleScopeTagIds: ["paris"] } });
  });

  it("again when the event that changed the tags is delivered again (its write got through, the move may not have)", async () => {
    // Prepare
    await service.recordUpsert(ctx("2026-12-07T08:00:00.000Z"), facts(deviceId, ["berlin"]));
    await service.recordUpsert(ctx("2026-12-07T10:00:00.000Z"), facts(deviceId, ["paris"]));
    await service.recordUpsert(ctx("2026-12-07T11:00:00.000Z"), facts(deviceId, ["paris"]));
    followed = [];
    // Act
    await service.recordUpsert(ctx("2026-12-07T10:00:00.000Z"), facts(deviceId, ["paris"]));
    await service.recordUpserts(tenantId, [{ ctx: ctx("2026-12-07T10:00:00.000Z"), facts: facts(deviceId, ["paris"]) }]);
    await service.recordUpsert(ctx("2026-12-07T11:00:00.000Z"), facts(deviceId, ["paris"]));
    // Assess: the two redeliveries of the move; not the later sync that kept the tags
    expect(followed.map((f) => f.tags)).toEqual([["paris"], ["paris"]]);
  });

  it("in bulk, only for the devices whose tags changed", async () => {
    // Prepare
    const other = "dddd0000-0000-0000-0000-000000000003";
    await service.recordUpserts(tenantId, [
      { ctx: ctx("2026-12-07T08:00:00.000Z"), facts: facts(deviceId, ["berlin"]) },
      { ctx: ctx("2026-12-07T08:00:00.000Z"), facts: facts(other, ["berlin"]) },
    ]);
    // Act
    await service.recordUpserts(tenantId, [
      { ctx: ctx("2026-12-07T10:00:00.000Z"), facts: facts(deviceId, ["paris", "berlin"]) },
      { ctx: ctx("2026-12-07T10:00:00.000Z"), facts: facts(other, ["berlin"]) },
    ]);
    // Assess
    expect(followed).toEqual([{ id: deviceId, tags: ["paris", "berlin"], updatedAt: "2026-12-07T10:00:00.000Z" }]);
  });
});
