// Eligibility: one case per row of the table in docs/architecture.md, plus unknown values, removed,
// userless and no-primary-user devices, and the Windows editions with the setting on and off.
import { describe, expect, it } from "vitest";
import { ownershipOf, platformOf, type Device } from "../../shared/domain/device.js";
import {
  eligibilityReasons,
  eligibilityReasonText,
  eligibilityWarnings,
  evaluateEligibility,
  type EligibilityReason,
  type NotificationChannel,
} from "../../shared/domain/eligibility.js";

const settingOff = { allowPossiblyUnsupportedWindowsEditions: false };
const settingOn = { allowPossiblyUnsupportedWindowsEditions: true };

// A personally owned Windows PC with a primary user: eligible, notified in the Company Portal.
function device(overrides: Partial<Device>): Device {
  return {
    tenantId: "11111111-1111-1111-1111-111111111111",
    id: "22222222-2222-2222-2222-222222222222",
    deviceName: "DESKTOP-1",
    operatingSystem: "Windows",
    osVersion: "10.0.22631.3447",
    managedDeviceOwnerType: "personal",
    deviceEnrollmentType: "windowsAzureADJoin",
    userId: "33333333-3333-3333-3333-333333333333",
    userPrincipalName: "adele@contoso.example",
    roleScopeTagIds: ["0"],
    removed: false,
    updatedAt: "2026-01-10T09:00:00.000Z",
    ...overrides,
  };
}

const android = { operatingSystem: "Android", osVersion: "14" } as const;
const holoLens = { deviceType: "holoLens", osVersion: "10.0.20348.1" } as const;
const surfaceHub = { deviceType: "surfaceHub", operatingSystem: "Windows 10 Team", osVersion: "10.0.19045" } as const;
const windows10S = { operatingSystem: "Windows 10 S", osVersion: "10.0.17134" } as const;

const mayNotSupport = (edition: string): string => eligibilityWarnings.possiblyUnsupportedWindowsEdition(edition);
const notNotified = eligibilityWarnings.noCompanyPortalNotification;

interface Case {
  readonly name: string;
  readonly device: Device;
  readonly settings?: typeof settingOn;
  readonly eligible: boolean;
  readonly reason?: EligibilityReason;
  readonly notificationChannel: NotificationChannel;
  readonly warnings?: readonly string[];
}

const cases: readonly Case[] = [
  // --- the eligibility table of docs/architecture.md, row by row ---
  {
    name: "Android device administrator",
    device: device({ ...android, deviceType: "android", deviceEnrollmentType: "userEnrollment" }),
    eligible: true,
    notificationChannel: "companyPortal",
  },
  {
    name: "Android device administrator reporting Graph's 'unknown' enrollment type",
    device: device({ ...android, deviceType: "android", deviceEnrollmentType: "unknown" }),
    eligible: true,
    notificationChannel: "companyPortal",
  },
  {
    name: "Android Enterprise personally-owned work profile (BYOD)",
    device: device({ operatingSystem: "AndroidForWork", osVersion: "14", deviceType: "androidForWork", deviceEnrollmentType: "userEnrollment" }),
    eligible: true,
    notificationChannel: "companyPortal",
  },
  {
    name: "Android Enterprise fully managed",
    device: device({ ...android, deviceType: "androidEnterprise", deviceEnrollmentType: "androidEnterpriseFullyManaged", managedDeviceOwnerType: "company" }),
    eligible: false,
    reason: "unsupportedEnrollmentType",
    notificationChannel: "none",
  },
  {
    name: "Android Enterprise dedicated",
    device: device({
      ...android,
      deviceType: "androidEnterprise",
      deviceEnrollmentType: "androidEnterpriseDedicatedDevice",
      managedDeviceOwnerType: "company",
      userId: null,
    }),
    eligible: false,
    reason: "unsupportedEnrollmentType",
    notificationChannel: "none",
  },
  {
    name: "Android Enterprise corporate-owned work profile",
    device: device({
      ...android,
      deviceType: "androidEnterprise",
      deviceEnrollmentType: "androidEnterpriseCorporateWorkProfile",
      managedDeviceOwnerType: "company",
    }),
    eligible: false,
    reason: "unsupportedEnrollmentType",
    notificationChannel: "none",
  },
  {
    name: "Android AOSP user-associated",
    device: device({ ...android, deviceEnrollmentType: "androidAOSPUserOwnedDeviceEnrollment", managedDeviceOwnerType: "company" }),
    eligible: false,
    reason: "unsupportedEnrollmentType",
    notificationChannel: "none",
  },
  {
    name: "Android AOSP userless",
    device: device({ ...android, deviceEnrollmentType: "androidAOSPUserlessDeviceEnrollment", managedDeviceOwnerType: "company", userId: null }),
    eligible: false,
    reason: "unsupportedEnrollmentType",
    notificationChannel: "none",
  },
  {
    name: "Android Enterprise fully managed re-tagged personal (enrollment type still rules it out)",
    device: device({ ...android, deviceEnrollmentType: "androidEnterpriseFullyManaged", managedDeviceOwnerType: "personal" }),
    eligible: false,
    reason: "unsupportedEnrollmentType",
    notificationChannel: "none",
  },
  {
    name: "iOS",
    device: device({ operatingSystem: "iOS", osVersion: "17.4", deviceType: "iPhone", deviceEnrollmentType: "appleUserEnrollment" }),
    eligible: true,
    notificationChannel: "companyPortal",
  },
  {
    name: "iPadOS",
    device: device({ operatingSystem: "iPadOS", osVersion: "17.4", deviceType: "iPad", deviceEnrollmentType: "userEnrollment" }),
    eligible: true,
    notificationChannel: "companyPortal",
  },
  {
    name: "macOS",
    device: device({ operatingSystem: "macOS", osVersion: "14.4", deviceType: "macMDM", deviceEnrollmentType: "userEnrollment" }),
    eligible: true,
    notificationChannel: "companyPortal",
  },
  {
    name: "Windows",
    device: device({}),
    eligible: true,
    notificationChannel: "companyPortal",
  },
  {
    name: "organization-owned iOS device",
    device: device({ operatingSystem: "iOS", osVersion: "17.4", deviceEnrollmentType: "appleBulkWithUser", managedDeviceOwnerType: "company" }),
    eligible: false,
    reason: "organizationOwned",
    notificationChannel: "none",
  },
  {
    name: "organization-owned Windows device",
    device: device({ managedDeviceOwnerType: "company" }),
    eligible: false,
    reason: "organizationOwned",
    notificationChannel: "none",
  },
  {
    name: "Windows Holographic (HoloLens), setting off",
    device: device(holoLens),
    eligible: false,
    reason: "unsupportedWindowsEdition",
    notificationChannel: "none",
  },
  {
    name: "Windows Holographic (HoloLens), setting on",
    device: device(holoLens),
    settings: settingOn,
    eligible: true,
    notificationChannel: "companyPortal",
    warnings: [mayNotSupport("Windows Holographic (HoloLens)")],
  },
  {
    name: "Windows Holographic named only in operatingSystem, setting off",
    device: device({ operatingSystem: "Windows Holographic for Business" }),
    eligible: false,
    reason: "unsupportedWindowsEdition",
    notificationChannel: "none",
  },
  {
    name: "Windows Team (Surface Hub), setting off",
    device: device(surfaceHub),
    eligible: false,
    reason: "unsupportedWindowsEdition",
    notificationChannel: "none",
  },
  {
    name: "Windows Team (Surface Hub), setting on",
    device: device(surfaceHub),
    settings: settingOn,
    eligible: true,
    notificationChannel: "companyPortal",
    warnings: [mayNotSupport("Windows Team (Surface Hub)")],
  },
  {
    name: "Windows 10 S, setting off",
    device: device(windows10S),
    eligible: false,
    reason: "unsupportedWindowsEdition",
    notificationChannel: "none",
  },
  {
    name: "Windows 10 S, setting on",
    device: device(windows10S),
    settings: settingOn,
    eligible: true,
    notificationChannel: "companyPortal",
    warnings: [mayNotSupport("Windows 10 S (S mode)")],
  },
  {
    name: "Windows in S mode (named in osVersion), setting off",
    device: device({ osVersion: "10.0.22631 S mode" }),
    eligible: false,
    reason: "unsupportedWindowsEdition",
    notificationChannel: "none",
  },
  {
    name: "Linux",
    device: device({ operatingSystem: "Linux", osVersion: "Ubuntu 22.04", deviceType: "linux", deviceEnrollmentType: "userEnrollment" }),
    eligible: false,
    reason: "unsupportedPlatform",
    notificationChannel: "none",
  },
  {
    name: "ChromeOS",
    device: device({ operatingSystem: "Chrome OS", osVersion: "120", deviceType: "chromeOS", deviceEnrollmentType: "unknown" }),
    eligible: false,
    reason: "unsupportedPlatform",
    notificationChannel: "none",
  },
  {
    name: "anything else (Windows Mobile)",
    device: device({ operatingSystem: "Windows Mobile", osVersion: "6.5", deviceType: "winMO6" }),
    eligible: false,
    reason: "unsupportedPlatform",
    notificationChannel: "none",
  },
  {
    name: "anything else (an operating system nobody knows)",
    device: device({ operatingSystem: "FridgeOS", osVersion: "1", deviceType: undefined }),
    eligible: false,
    reason: "unsupportedPlatform",
    notificationChannel: "none",
  },
  {
    name: "retired / removed device",
    device: device({ removed: true, removedAt: "2026-01-11T09:00:00.000Z" }),
    eligible: false,
    reason: "deviceRemoved",
    notificationChannel: "none",
  },
  // --- unknown enum values ---
  {
    name: "unknown enrollment type",
    device: device({ deviceEnrollmentType: "windowsQuantumEnrollment" }),
    eligible: false,
    reason: "unknownEnrollmentType",
    notificationChannel: "none",
  },
  {
    name: "Graph's own 'unknown' ownership",
    device: device({ managedDeviceOwnerType: "unknown" }),
    eligible: false,
    reason: "unknownOwnership",
    notificationChannel: "none",
  },
  {
    name: "an ownership value Graph may add later",
    device: device({ managedDeviceOwnerType: "shared" }),
    eligible: false,
    reason: "unknownOwnership",
    notificationChannel: "none",
  },
  // --- userless and no primary user: eligible, but no Company Portal notification ---
  {
    name: "Windows Configuration Designer bulk enrollment (userless)",
    device: device({ deviceEnrollmentType: "windowsBulkUserless", userId: null }),
    eligible: true,
    notificationChannel: "none",
    warnings: [notNotified],
  },
  {
    name: "Windows device enrollment manager (userless even with a user id)",
    device: device({ deviceEnrollmentType: "deviceEnrollmentManager" }),
    eligible: true,
    notificationChannel: "none",
    warnings: [notNotified],
  },
  {
    name: "Apple bulk enrollment without user",
    device: device({ operatingSystem: "iOS", osVersion: "17.4", deviceEnrollmentType: "appleBulkWithoutUser", userId: "" }),
    eligible: true,
    notificationChannel: "none",
    warnings: [notNotified],
  },
  {
    name: "no primary user (userId null)",
    device: device({ userId: null }),
    eligible: true,
    notificationChannel: "none",
    warnings: [notNotified],
  },
  {
    name: "no primary user (userId absent)",
    device: device({ userId: undefined, userPrincipalName: undefined }),
    eligible: true,
    notificationChannel: "none",
    warnings: [notNotified],
  },
  {
    name: "HoloLens without a primary user, setting on: both warnings",
    device: device({ ...holoLens, deviceEnrollmentType: "windowsBulkUserless", userId: null }),
    settings: settingOn,
    eligible: true,
    notificationChannel: "none",
    warnings: [mayNotSupport("Windows Holographic (HoloLens)"), notNotified],
  },
  // --- precedence between reasons ---
  {
    name: "removed Linux device: removed is checked first",
    device: device({ operatingSystem: "Linux", removed: true }),
    eligible: false,
    reason: "deviceRemoved",
    notificationChannel: "none",
  },
  {
    name: "organization-owned with an unknown enrollment type: the definite reason wins",
    device: device({ managedDeviceOwnerType: "company", deviceEnrollmentType: "somethingNew" }),
    eligible: false,
    reason: "organizationOwned",
    notificationChannel: "none",
  },
  {
    name: "organization-owned HoloLens, setting on: the setting does not lift ownership",
    device: device({ ...holoLens, managedDeviceOwnerType: "company" }),
    settings: settingOn,
    eligible: false,
    reason: "organizationOwned",
    notificationChannel: "none",
  },
  {
    name: "Graph casing not kept by the producer",
    device: device({ operatingSystem: "WINDOWS", managedDeviceOwnerType: "Personal", deviceEnrollmentType: "WindowsAzureADJoin" }),
    eligible: true,
    notificationChannel: "companyPortal",
  },
];

describe("evaluateEligibility", () => {
  it.each(cases)("$name", (c) => {
    // Prepare
    const settings = c.settings ?? settingOff;

    // Act
    const result = evaluateEligibility(c.device, settings);

    // Assess
    expect(result.eligible).toBe(c.eligible);
    expect(result.reason).toBe(c.reason);
    expect(result.notificationChannel).toBe(c.notificationChannel);
    expect(result.warnings).toEqual(c.warnings ?? []);
  });

  it("explains every reason in plain language", () => {
    // Prepare
    const reasons = Object.values(eligibilityReasons);

    // Act
    const texts = reasons.map((r) => eligibilityReasonText[r]);

    // Assess
    expect(reasons).toHaveLength(7);
    for (const text of texts) expect(text).toMatch(/^[A-Z].{20,}\.$/);
  });

  it("judges empty and odd values without throwing", () => {
    // Prepare
    const odd = device({ operatingSystem: "", osVersion: "", managedDeviceOwnerType: "", deviceEnrollmentType: "", deviceType: "constructor" });

    // Act
    const result = evaluateEligibility(odd, settingOff);

    // Assess
    expect(result).toEqual({ eligible: false, reason: "unsupportedPlatform", warnings: [], notificationChannel: "none" });
  });
});

describe("platformOf", () => {
  it.each([
    ["Android", undefined, "android"],
    ["AndroidForWork", undefined, "android"],
    ["AndroidEnterprise", undefined, "android"],
    ["iOS", undefined, "iOS"],
    ["iPadOS", undefined, "iOS"],
    ["macOS", undefined, "macOS"],
    ["Mac OS X", undefined, "macOS"],
    ["Windows", undefined, "windows"],
    ["windows holographic for business", undefined, "windows"],
    ["Linux", undefined, "linux"],
    ["ChromeOS", undefined, "chromeOS"],
    ["Chrome OS", undefined, "chromeOS"],
    ["", "holoLens", "windows"],
    ["", "androidForWork", "android"],
    ["Windows Phone", "windowsPhone", "other"],
    ["tvOS", "appleTV", "other"],
  ] as const)("%s / deviceType %s → %s", (operatingSystem, deviceType, expected) => {
    // Prepare
    const d = { operatingSystem, deviceType };

    // Act
    const platform = platformOf(d);

    // Assess
    expect(platform).toBe(expected);
  });
});

describe("ownershipOf", () => {
  it.each([
    ["personal", "personal"],
    ["company", "corporate"],
    ["unknown", "unknown"],
    ["shared", "unknown"],
  ] as const)("%s → %s", (managedDeviceOwnerType, expected) => {
    // Act
    const ownership = ownershipOf({ managedDeviceOwnerType });

    // Assess
    expect(ownership).toBe(expected);
  });
});
