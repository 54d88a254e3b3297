// A dead-lettered inventory event (device.upserted, user.upserted): a batch goes to the
// dead-letter queue whole when one of its messages fails every delivery, so most of its
// events were written on an earlier delivery. The dead-letter function reads what is stored
// and asks for a resend only when sending the event again would change something.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { automationFunctions, deviceFactsOf } from "../../functions/automation.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import type { Access } from "../../shared/app/access.js";
import type { SettingsStore, UserRecord, UserStore } from "../../shared/app/admin/ports.js";
import { DeviceService } from "../../shared/app/devices/deviceService.js";
import type { DeviceSessions, DeviceStore } from "../../shared/app/devices/ports.js";
import { makeEnvelope, messageTypes, type MessageData } from "../../shared/contracts/messages.js";
import type { DeviceRecord } from "../../shared/domain/deviceInventory.js";
import { deliver, installServices, partialOf, uninstallServices } from "../support/functionHarness.js";
import { ManualClock, MemoryAuditLog } from "../support/memoryPorts.js";

const deadLetters: FunctionDefinition = automationFunctions.find((f) => f.name === "automationEventsDeadLetter")!;
const tenantId = "aaaa0000-0000-0000-0000-000000000001";
const deviceId = "dddd0000-0000-0000-0000-000000000002";
const userId = "eeee0000-0000-0000-0000-000000000003";
const metadata = (messageId: string) => ({ messageId, applicationProperties: { DeadLetterReason: "MaxDeliveryCountExceeded" } });

const laptop: MessageData<"device.upserted"> = {
  id: deviceId,
  deviceName: "LAPTOP-7",
  operatingSystem: "Windows",
  osVersion: "10.0.26100.2314",
  managedDeviceOwnerType: "company",
  deviceEnrollmentType: "windowsAzureADJoin",
  userId,
  roleScopeTagIds: ["0"],
};
const user: MessageData<"user.upserted"> = {
  id: userId,
  userPrincipalName: "adele@contoso.example",
  displayName: "Adele Vance",
  intuneLicensed: true,
  groups: [],
};

const storedDevice = (updatedAt: string): DeviceRecord => ({
  kind: "device",
  device: { ...deviceFactsOf(laptop), tenantId, removed: false, updatedAt },
});
const storedUser = (updatedAt: string): UserRecord => ({ ...user, mail: undefined, updatedAt });

let audit: MemoryAuditLog;
let devices: Map<string, DeviceRecord>;
let users: Map<string, UserRecord>;

beforeEach(() => {
  const clock = new ManualClock(new Date("2026-12-07T12:00:00Z"));
  audit = new MemoryAuditLog(clock);
  devices = new Map();
  users = new Map();
  const service = new DeviceService({
    store: partialOf<DeviceStore>("store", { get: async (_t, id) => devices.get(id) }),
    users: partialOf<UserStore>("users", { get: async (_t, id) => users.get(id) }),
    audit,
    access: {} as Access,
    settings: {} as SettingsStore,
    sessions: partialOf<DeviceSessions>("sessions", {}),
  });
  installServices({ clock, audit, devices: service });
});
afterEach(uninstallServices);

const event = <T extends "device.upserted" | "user.upserted">(type: T, data: MessageData<T>, occurredAt: string) => ({
  ...makeEnvelope(type, tenantId, data, { now: new Date(occurredAt) }),
});

describe("a dead-lettered inventory event", () => {
  it("device.upserted already stored (as new or newer): audited as nothing to resend", async () => {
    // Prepare
    devices.set(deviceId, storedDevice("2026-12-07T10:00:00.000Z"));
    const same = event(messageTypes.deviceUpserted, laptop, "2026-12-07T10:00:00Z");
    const older = event(messageTypes.deviceUpserted, laptop, "2026-12-07T09:00:00Z");

    // Act
    const settled = [await deliver(deadLetters, same, metadata(same.id)), await deliver(deadLetters, older, metadata(older.id))];

    // Assess
    expect(settled.map((s) => s.settled)).toEqual(["completed", "completed"]);
    expect(audit.events.map((e) => ({ activity: e.activity, target: e.target.id, result: e.result, detail: e.detail }))).toEqual([
      { activity: "device.upserted.deadLettered", target: same.id, result: "success", detail: expect.stringMatching(/nothing to resend/) },
      { activity: "device.upserted.deadLettered", target: older.id, result: "success", detail: expect.stringMatching(/nothing to resend/) },
    ]);
  });

  it("device.upserted newer than what is stored, or for a device not stored: audited for a resend", async () => {
    // Prepare
    devices.set(deviceId, storedDevice("2026-12-07T10:00:00.000Z"));
    const newer = event(messageTypes.deviceUpserted, laptop, "2026-12-07T11:00:00Z");
    const unknown = event(messageTypes.deviceUpserted, { ...laptop, id: "dddd0000-0000-0000-0000-0000000000ff" }, "2026-12-07T11:00:00Z");

    // Act
    await deliver(deadLetters, newer, metadata(newer.id));
    await deliver(deadLetters, unknown, metadata(unknown.id));

    // Assess
    expect(audit.events.map((e) => [e.result, e.detail])).toEqual([
      ["failure", expect.stringMatching(/MaxDeliveryCountExceeded; ask the automation to send it again/)],
      ["failure", expect.stringMatching(/ask the automation to send it again/)],
    ]);
  });

  it("user.upserted: nothing to resend when the stored user is as new, a resend when older or absent", async () => {
    // Prepare
    users.set(userId, storedUser("2026-12-07T10:00:00.000Z"));
    const same = event(messageTypes.userUpserted, user, "2026-12-07T10:00:00Z");
    const newer = event(messageTypes.userUpserted, user, "2026-12-07T11:00:00Z");
    const absent = event(messageTypes.userUpserted, { ...user, id: "eeee0000-0000-0000-0000-0000000000ff" }, "2026-12-07T11:00:00Z");

    // Act
    for (const e of [same, newer, absent]) await deliver(deadLetters, e, metadata(e.id));

    // Assess
    expect(audit.events.map((e) => e.result)).toEqual(["success", "failure", "failure"]);
  });
});
