// Whether a device may get a remote assistance session, and how its user would be told:
// one pure function of the stored device record and the tenant's settings (docs/architecture.md, "Eligibility").
import { hasPrimaryUser, ownerships, ownershipOf, platformOf, platforms, type Device } from "./device.js";
import type { TenantSettings } from "./tenantSettings.js";

export const eligibilityReasons = {
  deviceRemoved: "deviceRemoved",
  unsupportedPlatform: "unsupportedPlatform",
  unsupportedEnrollmentType: "unsupportedEnrollmentType",
  organizationOwned: "organizationOwned",
  unknownEnrollmentType: "unknownEnrollmentType",
  unknownOwnership: "unknownOwnership",
  unsupportedWindowsEdition: "unsupportedWindowsEdition",
} as const;
export type EligibilityReason = (typeof eligibilityReasons)[keyof typeof eligibilityReasons];

/** Plain-language explanations, shown to admins next to the device in the device list. */
export const eligibilityReasonText: Readonly<Record<EligibilityReason, string>> = {
  deviceRemoved: "This device has been retired or removed from management.",
  unsupportedPlatform: "Remote assistance with TeamViewer supports Android, iOS/iPadOS, macOS and Windows devices only; this device runs another platform.",
  unsupportedEnrollmentType:
    "Remote assistance isn't supported for this enrollment type (Android Enterprise fully managed, dedicated, corporate-owned work profile or AOSP).",
  organizationOwned: "Remote assistance isn't supported on organization-owned (corporate) devices.",
  unknownEnrollmentType: "The device reports an enrollment type this service doesn't recognise, so it can't confirm the device is supported.",
  unknownOwnership:
    "The device's ownership is unknown, so this service can't confirm it is personally owned. Set the ownership to personal in the MDM console if it is.",
  unsupportedWindowsEdition:
    "This Windows edition (Windows Holographic, Windows Team or Windows 10 S) may not support TeamViewer. A tenant administrator can allow it with the setting for possibly unsupported Windows editions.",
};

export const notificationChannels = { companyPortal: "companyPortal", none: "none" } as const;
export type NotificationChannel = (typeof notificationChannels)[keyof typeof notificationChannels];

export type Eligibility =
  | {
      readonly eligible: true;
      readonly reason?: undefined;
      readonly warnings: readonly string[];
      readonly notificationChannel: NotificationChannel;
    }
  | {
      readonly eligible: false;
      readonly reason: EligibilityReason;
      readonly warnings: readonly string[];
      // An ineligible device gets no session, so nothing would be sent anywhere.
      readonly notificationChannel: typeof notificationChannels.none;
    };

export type EligibilitySettings = Pick<TenantSettings, "allowPossiblyUnsupportedWindowsEditions">;

// Graph's deviceEnrollmentType values (docs/messages.md: v1.0 plus beta), lower-cased because
// automation producers do not all keep Graph's casing.
const enrollmentTypes = {
  unknown: "unknown",
  userEnrollment: "userenrollment",
  deviceEnrollmentManager: "deviceenrollmentmanager",
  appleBulkWithUser: "applebulkwithuser",
  appleBulkWithoutUser: "applebulkwithoutuser",
  windowsAzureADJoin: "windowsazureadjoin",
  windowsBulkUserless: "windowsbulkuserless",
  windowsAutoEnrollment: "windowsautoenrollment",
  windowsBulkAzureDomainJoin: "windowsbulkazuredomainjoin",
  windowsCoManagement: "windowscomanagement",
  windowsAzureADJoinUsingDeviceAuth: "windowsazureadjoinusingdeviceauth",
  appleUserEnrollment: "appleuserenrollment",
  appleUserEnrollmentWithServiceAccount: "appleuserenrollmentwithserviceaccount",
  androidEnterpriseDedicatedDevice: "androidenterprisededicateddevice",
  androidEnterpriseFullyManaged: "androidenterprisefullymanaged",
  androidEnterpriseCorporateWorkProfile: "androidenterprisecorporateworkprofile",
  androidAOSPUserOwnedDeviceEnrollment: "androidaospuserowneddeviceenrollment",
  androidAOSPUserlessDeviceEnrollment: "androidaospuserlessdeviceenrollment",
  appleAccountDrivenUserEnrollment: "appleaccountdrivenuserenrollment",
} as const;

const knownEnrollmentTypes: ReadonlySet<string> = new Set(Object.values(enrollmentTypes));

// Graph's "unknown" is a recognised value: Android device administrator devices commonly
// report it (or userEnrollment), and they are supported.
const unsupportedEnrollmentTypes: ReadonlySet<string> = new Set([
  enrollmentTypes.androidEnterpriseFullyManaged,
  enrollmentTypes.androidEnterpriseDedicatedDevice,
  enrollmentTypes.androidEnterpriseCorporateWorkProfile,
  enrollmentTypes.androidAOSPUserOwnedDeviceEnrollment,
  enrollmentTypes.androidAOSPUserlessDeviceEnrollment,
]);

const userlessEnrollmentTypes: ReadonlySet<string> = new Set([
  enrollmentTypes.windowsBulkUserless,
  enrollmentTypes.deviceEnrollmentManager,
  enrollmentTypes.appleBulkWithoutUser,
  enrollmentTypes.androidAOSPUserlessDeviceEnrollment,
]);

const supportedPlatforms: ReadonlySet<string> = new Set([platforms.android, platforms.iOS, platforms.macOS, platforms.windows]);

// Editions TeamViewer may not run on. Graph names them inconsistently (deviceType on
// beta, free text in operatingSystem or osVersion), so every field is looked at.
function restrictedWindowsEdition(device: Device): string | undefined {
  const deviceType = device.deviceType?.trim().toLowerCase();
  const text = `${device.operatingSystem} ${device.osVersion}`;
  if (deviceType === "hololens" || /holographic/i.test(text)) return "Windows Holographic (HoloLens)";
  if (deviceType === "surfacehub" || /\bteam\b/i.test(text)) return "Windows Team (Surface Hub)";
  if (/\b10 S\b/i.test(text) || /\bS mode\b/i.test(text)) return "Windows 10 S (S mode)";
  return undefined;
}

export const eligibilityWarnings = {
  possiblyUnsupportedWindowsEdition: (edition: string): string =>
    `This device runs ${edition}, which TeamViewer may not support; the session may fail to start on the device.`,
  noCompanyPortalNotification:
    "This device has no primary user (or was enrolled without one), so the user can't be notified in the Company Portal. Pass the end-user link on to them another way, for example by phone or email.",
} as const;

const notEligible = (reason: EligibilityReason): Eligibility => ({
  eligible: false,
  reason,
  warnings: [],
  notificationChannel: notificationChannels.none,
});

/**
 * Precedence, first match wins. The reason shown is the one that would still hold after
 * everything easier to change had been fixed, so an admin is never sent to fix something
 * that would only reveal another "no":
 * 1. deviceRemoved — nothing else matters for a device that is gone.
 * 2. unsupportedPlatform — the platform never changes.
 * 3. unsupportedEnrollmentType — fixed at enrollment (a fully managed Android device is
 *    usually also company-owned, but re-tagging it personal would not make it eligible).
 * 4. organizationOwned — an admin can change ownership in the MDM console.
 * 5. unknownEnrollmentType, 6. unknownOwnership — a value we do not recognise (or Graph's
 *    own "unknown" ownership) cannot be proven supported, so the device is not eligible,
 *    with a reason that says so rather than a crash or a guess. A definite "no" above wins.
 * 7. unsupportedWindowsEdition — a tenant setting can lift it, so it comes last; with the
 *    setting on the device is eligible with a warning instead.
 * 8. userless / no primary user — not a "no": eligible, but no Company Portal notification.
 */
export function evaluateEligibility(device: Device, settings: EligibilitySettings): Eligibility {
  if (device.removed) return notEligible(eligibilityReasons.deviceRemoved);

  const platform = platformOf(device);
  if (!supportedPlatforms.has(platform)) return notEligible(eligibilityReasons.unsupportedPlatform);

  const enrollmentType = device.deviceEnrollmentType.trim().toLowerCase();
  if (unsupportedEnrollmentTypes.has(enrollmentType)) return notEligible(eligibilityReasons.unsupportedEnrollmentType);

  const ownership = ownershipOf(device);
  if (ownership === ownerships.corporate) return notEligible(eligibilityReasons.organizationOwned);
  if (!knownEnrollmentTypes.has(enrollmentType)) return notEligible(eligibilityReasons.unknownEnrollmentType);
  if (ownership === ownerships.unknown) return notEligible(eligibilityReasons.unknownOwnership);

  const warnings: string[] = [];
  if (platform === platforms.windows) {
    const edition = restrictedWindowsEdition(device);
    if (edition !== undefined) {
      if (!settings.allowPossiblyUnsupportedWindowsEditions) return notEligible(eligibilityReasons.unsupportedWindowsEdition);
      warnings.push(eligibilityWarnings.possiblyUnsupportedWindowsEdition(edition));
    }
  }

  const userless = userlessEnrollmentTypes.has(enrollmentType) || !hasPrimaryUser(device);
  if (userless) warnings.push(eligibilityWarnings.noCompanyPortalNotification);

  return {
    eligible: true,
    warnings,
    notificationChannel: userless ? notificationChannels.none : notificationChannels.companyPortal,
  };
}
