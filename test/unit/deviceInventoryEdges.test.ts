// The edges of the device inventory that need no storage: the list query contract, the
// event-to-device mapping (ids folded), the Device view, and the demo tenant's rows.
import { describe, expect, it } from "vitest";
import { deviceFactsOf } from "../../functions/automation.js";
import { demoDevices, demoRemovedDevice, demoTenant } from "../../local/demoTenant.js";
import { toDeviceView } from "../../shared/app/devices/deviceService.js";
import { deviceListQuery, deviceSchema } from "../../shared/contracts/devices.js";
import { parseMessage } from "../../shared/contracts/messages.js";
import { applyRemoval, applyUpsert } from "../../shared/domain/deviceInventory.js";
import { intendedEligibility } from "../support/demoEligibility.js";

const off = { allowPossiblyUnsupportedWindowsEditions: false };

describe("GET /api/devices query", () => {
  it("treats empty form fields as no filter and defaults top to 50", () => {
    // Prepare / Act
    const q = deviceListQuery.parse({ search: "  ", platform: "", eligible: "" });

    // Assess
    expect(q).toEqual({ top: 50 });
  });

  it("parses every filter", () => {
    expect(deviceListQuery.parse({ search: " Diego ", platform: "iOS", eligible: "false", top: "200", continuationToken: "abc_-1" })).toEqual({
      search: "Diego",
      platform: "iOS",
      eligible: false,
      top: 200,
      continuationToken: "abc_-1",
    });
  });

  it.each([
    ["an unknown parameter", { colour: "blue" }],
    ["top above 200", { top: "201" }],
    ["top of 0", { top: "0" }],
    ["an unknown platform", { platform: "symbian" }],
    ["eligible that is not a boolean", { eligible: "yes" }],
    ["a search longer than 100 characters", { search: "x".repeat(101) }],
    ["a continuation token with foreign characters", { continuationToken: "a b" }],
  ])("refuses %s", (_what, query) => {
    expect(deviceListQuery.safeParse(query).success).toBe(false);
  });
});

describe("device.upserted → device", () => {
  it("folds ids to lower case and keeps Graph's values as sent", () => {
    // Prepare
    const parsed = parseMessage({
      type: "device.upserted",
      version: 1,
      id: "0b5e8c1a-6a8e-4a63-9b8e-6f1d2c3b4a59",
      tenantId: demoTenant.id,
      occurredAt: "2026-11-20T08:00:00Z",
      data: {
        id: "ABCDEF12-0000-4000-8000-000000000001",
        deviceName: "Diego-PC",
        operatingSystem: "Windows",
        osVersion: "10.0",
        managedDeviceOwnerType: "Personal",
        deviceEnrollmentType: "WindowsAzureADJoin",
        userId: "DDDDDDDD-0000-4000-8000-000000000002",
        roleScopeTagIds: ["Berlin"],
        someOtherGraphField: 42,
      },
    });
    if (!parsed.ok || parsed.message.type !== "device.upserted") throw new Error(`did not parse: ${parsed.ok ? parsed.message.type : parsed.reason}`);

    // Act
    const facts = deviceFactsOf(parsed.message.data);

    // Assess
    expect(facts).toMatchObject({
      id: "abcdef12-0000-4000-8000-000000000001",
      userId: "dddddddd-0000-4000-8000-000000000002",
      deviceName: "Diego-PC",
      managedDeviceOwnerType: "Personal",
      deviceEnrollmentType: "WindowsAzureADJoin",
      roleScopeTagIds: ["Berlin"],
      userPrincipalName: null,
    });
  });
});

describe("the demo tenant", () => {
  const rows = [...demoDevices, demoRemovedDevice];

  it("has exactly one device per eligibility row", () => {
    expect(rows.map((d) => d.row).sort()).toEqual(Object.keys(intendedEligibility).sort());
    expect(new Set(rows.map((d) => d.data.id)).size).toBe(rows.length);
  });

  it.each(rows.map((d) => [d.row, d] as const))("%s lands in its row, as the device view shows it", (row, d) => {
    // Prepare: the device as the seed's events leave it
    const upserted = applyUpsert(undefined, demoTenant.id, deviceFactsOf(d.data), "2026-11-20T08:00:00.000Z")!;
    const stored =
      row === "retired / removed"
        ? applyRemoval({ kind: "device", device: upserted }, demoTenant.id, upserted.id, "2026-11-20T08:00:00.000Z")
        : { kind: "device" as const, device: upserted };
    if (stored?.kind !== "device") throw new Error("expected a device");

    // Act
    const view = toDeviceView(stored.device, off);

    // Assess
    expect(deviceSchema.parse(view)).toEqual(view);
    expect(view.remoteAssistance).toMatchObject(intendedEligibility[row]);
    if (!view.remoteAssistance.eligible) expect(view.remoteAssistance.reasonText).toEqual(expect.any(String));
  });
});
