// device.removed is audited after its device write. If that audit write fails, Service Bus
// redelivers the event, whose write then changes nothing: the audit entry must still be
// written (at least once), not lost. The device store is the real one on Azurite; the audit
// log is the in-memory one made to fail once (a fault in the audit write alone cannot be
// caused on demand in the real stack).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables } from "../../shared/adapters/tables/tables.js";
import { TableDeviceStore } from "../../shared/adapters/tables/tableDeviceStore.js";
import type { Access } from "../../shared/app/access.js";
import type { SettingsStore, UserStore } from "../../shared/app/admin/ports.js";
import type { AuditEventInput } from "../../shared/app/audit/auditLog.js";
import { DeviceService, type EventContext } from "../../shared/app/devices/deviceService.js";
import type { DeviceSessions } from "../../shared/app/devices/ports.js";
import type { DeviceFacts } from "../../shared/domain/deviceInventory.js";
import { ManualClock, MemoryAuditLog, recordingLogger } from "../support/memoryPorts.js";

class AuditFailingOnce extends MemoryAuditLog {
  failNext = false;
  override async record(event: AuditEventInput): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw Object.assign(new Error("audit write failed"), { statusCode: 503 });
    }
    await super.record(event);
  }
}

/** The sessions area's side of a removal: which devices it was asked to close the open session of. */
class RecordingCloser implements DeviceSessions {
  readonly closed: { deviceId: string; eventId: string }[] = [];
  async followScopeTags(): Promise<void> {
    await Promise.resolve();
  }
  async closeOpen(_tenantId: string, deviceId: string, ctx: { readonly eventId: string }): Promise<void> {
    await Promise.resolve();
    this.closed.push({ deviceId, eventId: ctx.eventId });
  }
}

let azurite: AzuriteTables;
let store: TableDeviceStore;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  const tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  store = new TableDeviceStore(tables);
});

afterAll(async () => {
  await azurite?.close();
});

function setUp(): {
  service: DeviceService;
  audit: AuditFailingOnce;
  sessions: RecordingCloser;
  ctx: (occurredAt: string) => EventContext;
  tenantId: string;
} {
  const audit = new AuditFailingOnce(new ManualClock(new Date("2026-12-07T00:00:00Z")));
  const sessions = new RecordingCloser();
  // list/get are not used here: the ports they need are left out.
  const service = new DeviceService({ store, audit, sessions, users: {} as UserStore, access: {} as Access, settings: {} as SettingsStore });
  const tenantId = randomUUID();
  const ctx = (occurredAt: string): EventContext => ({ tenantId, occurredAt, messageId: randomUUID(), log: recordingLogger().log });
  return { service, audit, sessions, ctx, tenantId };
}

const facts = (id: string): DeviceFacts => ({
  id,
  deviceName: "LAPTOP-7",
  operatingSystem: "Windows",
  osVersion: "10.0.26100.2314",
  managedDeviceOwnerType: "company",
  deviceEnrollmentType: "windowsAzureADJoin",
  roleScopeTagIds: ["0"],
});

describe("device.removed whose audit write failed", () => {
  it("is audited when Service Bus redelivers it, though its write changes nothing then", async () => {
    // Prepare: a managed device; the removal's audit write will fail once.
    const { service, audit, ctx, tenantId } = setUp();
    const deviceId = randomUUID();
    await service.recordUpsert(ctx("2026-12-06T10:00:00Z"), facts(deviceId));
    const removal = ctx("2026-12-06T11:00:00Z");
    audit.failNext = true;
    await expect(service.recordRemoval(removal, deviceId)).rejects.toThrow("audit write failed");
    expect(audit.activities(tenantId)).not.toContain("device.remove");

    // Act: the redelivery of the same message.
    await service.recordRemoval(removal, deviceId);

    // Assess
    const removed = audit.events.filter((e) => e.activity === "device.remove");
    expect(removed).toHaveLength(1);
    expect(removed[0].detail).toContain(`LAPTOP-7 was removed from management (event ${removal.messageId})`);
  });

  it("an older removal arriving after a newer one changes nothing and is not audited again", async () => {
    // Prepare
    const { service, audit, ctx, tenantId } = setUp();
    const deviceId = randomUUID();
    await service.recordUpsert(ctx("2026-12-06T10:00:00Z"), facts(deviceId));
    await service.recordRemoval(ctx("2026-12-06T12:00:00Z"), deviceId);

    // Act
    await service.recordRemoval(ctx("2026-12-06T11:00:00Z"), deviceId);

    // Assess
    expect(audit.activities(tenantId).filter((a) => a === "device.remove")).toHaveLength(1);
  });
});

describe("device.removed and the device's open session", () => {
  it("closes it when the removal is stored, again on a redelivery of that removal, never for an older removal", async () => {
    // Prepare: a managed device, removed; the removal's audit write fails once.
    const { service, audit, sessions, ctx } = setUp();
    const deviceId = randomUUID();
    await service.recordUpsert(ctx("2026-12-06T10:00:00Z"), facts(deviceId));
    const removal = ctx("2026-12-06T12:00:00Z");
    audit.failNext = true;
    await expect(service.recordRemoval(removal, deviceId)).rejects.toThrow("audit write failed");

    // Act: the redelivery, then an older removal (ignored) and a newer upsert (the device is back).
    await service.recordRemoval(removal, deviceId);
    await service.recordRemoval(ctx("2026-12-06T11:00:00Z"), deviceId);
    await service.recordUpserts(removal.tenantId, [{ ctx: ctx("2026-12-06T13:00:00Z"), facts: facts(deviceId) }]);

    // Assess: the sessions area was asked twice, both times for this removal (it closes a session once).
    expect(sessions.closed).toEqual([
      { deviceId, eventId: removal.messageId },
      { deviceId, eventId: removal.messageId },
    ]);
  });

  it("closes nothing for a removal older than the device's details", async () => {
    // Prepare
    const { service, sessions, ctx } = setUp();
    const deviceId = randomUUID();
    await service.recordUpsert(ctx("2026-12-06T12:00:00Z"), facts(deviceId));

    // Act
    await service.recordRemoval(ctx("2026-12-06T11:00:00Z"), deviceId);

    // Assess
    expect(sessions.closed).toEqual([]);
  });
});

describe("device.upserted that restored a removed device, whose audit write failed", () => {
  it.each([
    ["one at a time", (service: DeviceService, c: EventContext, f: DeviceFacts) => service.recordUpsert(c, f)],
    ["in a batch", (service: DeviceService, c: EventContext, f: DeviceFacts) => service.recordUpserts(c.tenantId, [{ ctx: c, facts: f }])],
  ])("is audited as device.restore when Service Bus redelivers it (%s), and only that event", async (_how, upsert) => {
    // Prepare: a removed device; the restoring upsert's audit write will fail once.
    const { service, audit, ctx, tenantId } = setUp();
    const deviceId = randomUUID();
    await service.recordUpsert(ctx("2026-12-06T10:00:00Z"), facts(deviceId));
    await service.recordRemoval(ctx("2026-12-06T11:00:00Z"), deviceId);
    const restore = ctx("2026-12-06T12:00:00Z");
    audit.failNext = true;
    await expect(upsert(service, restore, facts(deviceId))).rejects.toThrow("audit write failed");
    expect(audit.activities(tenantId)).not.toContain("device.restore");

    // Act: the redelivery of the same message, then a later upsert of the managed device.
    await upsert(service, restore, facts(deviceId));
    await upsert(service, ctx("2026-12-06T13:00:00Z"), facts(deviceId));

    // Assess
    const restored = audit.events.filter((e) => e.activity === "device.restore");
    expect(restored).toHaveLength(1);
    expect(restored[0].detail).toContain(`event ${restore.messageId}`);
  });
});

describe("a batch that restored a removed device and updated it again, whose audit write failed", () => {
  it("is audited as device.restore when Service Bus redelivers the batch", async () => {
    // Prepare: a removed device; a batch brings it back and then updates it; the restore's audit write fails once.
    const { service, audit, ctx, tenantId } = setUp();
    const deviceId = randomUUID();
    await service.recordUpsert(ctx("2026-12-06T10:00:00Z"), facts(deviceId));
    await service.recordRemoval(ctx("2026-12-06T11:00:00Z"), deviceId);
    const batch = [
      { ctx: ctx("2026-12-06T12:00:00Z"), facts: facts(deviceId) },
      { ctx: ctx("2026-12-06T13:00:00Z"), facts: { ...facts(deviceId), deviceName: "LAPTOP-8" } },
    ];
    audit.failNext = true;
    await expect(service.recordUpserts(tenantId, batch)).rejects.toThrow("audit write failed");
    expect(audit.activities(tenantId)).not.toContain("device.restore");

    // Act: the redelivery of the same batch
    await service.recordUpserts(tenantId, batch);

    // Assess
    expect(audit.activities(tenantId).filter((a) => a === "device.restore")).toHaveLength(1);
  });
});
