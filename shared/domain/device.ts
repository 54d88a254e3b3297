// The managed device as the app stores it (from automation's device.upserted events), and
// the two facts derived from its raw Graph values: ownership and platform.

/**
 * Enum-like fields keep Graph's value exactly as received: a value we do not know yet
 * is stored, shown and judged by eligibility, never rejected or rewritten.
 */
export interface Device {
  readonly tenantId: string;
  readonly id: string;
  readonly deviceName: string;
  /** As received from Graph, e.g. "Windows", "iOS", "AndroidForWork". */
  readonly operatingSystem: string;
  readonly osVersion: string;
  /** Graph's managedDeviceOwnerType: "company" | "personal" | "unknown" expected; anything kept. */
  readonly managedDeviceOwnerType: string;
  /** Graph's deviceEnrollmentType (v1.0 and beta values); anything kept. */
  readonly deviceEnrollmentType: string;
  /** Graph's beta deviceType, e.g. "holoLens", "surfaceHub", "androidForWork". */
  readonly deviceType?: string;
  /** The primary user; null, absent or "" when the device has none. */
  readonly userId?: string | null;
  readonly userPrincipalName?: string | null;
  readonly userDisplayName?: string | null;
  readonly emailAddress?: string | null;
  readonly roleScopeTagIds: readonly string[];
  /**
   * When the upsert that changed the scope tags to these happened (kept while they stay): a
   * redelivery of that very event finds it and moves the device's open session again.
   */
  readonly scopeTagsSince?: string;
  readonly lastSyncDateTime?: string;
  /** Graph's complianceState as received (any value kept); absent when the inventory did not say. */
  readonly complianceState?: string;
  readonly removed: boolean;
  readonly removedAt?: string;
  /** When the event that brought a removed device back happened: its redelivery audits the restore again. */
  readonly restoredAt?: string;
  /** occurredAt of the event that last wrote this record; older events must not overwrite it. */
  readonly updatedAt: string;
}

/**
 * Whether requesting help for the device must be acknowledged first: Intune says it is not
 * compliant (or a value Graph does not define). No state, or `unknown`, warns nothing: the
 * platform did not say.
 */
export function complianceWarningOf(device: Pick<Device, "complianceState">): "deviceNotCompliant" | undefined {
  const state = device.complianceState;
  if (state === undefined || state === "unknown" || state === "compliant" || state === "inGracePeriod" || state === "configManager") return undefined;
  return "deviceNotCompliant";
}

export const ownerships = { personal: "personal", corporate: "corporate", unknown: "unknown" } as const;
export type Ownership = (typeof ownerships)[keyof typeof ownerships];

export function ownershipOf(device: Pick<Device, "managedDeviceOwnerType">): Ownership {
  switch (device.managedDeviceOwnerType.toLowerCase()) {
    case "personal":
      return ownerships.personal;
    case "company":
      return ownerships.corporate;
    default:
      return ownerships.unknown;
  }
}

export const platforms = {
  android: "android",
  iOS: "iOS",
  macOS: "macOS",
  windows: "windows",
  linux: "linux",
  chromeOS: "chromeOS",
  other: "other",
} as const;
export type Platform = (typeof platforms)[keyof typeof platforms];

// Graph's operatingSystem is free text in practice ("Windows", "iPadOS", "Mac OS X",
// "AndroidForWork", "Windows Holographic for Business"), so it is matched by pattern.
// Windows Mobile/Phone/CE start with "Windows" but are different, retired platforms.
const osPatterns: readonly (readonly [RegExp, Platform])[] = [
  [/^windows\s*(mobile|phone|ce)\b/i, platforms.other],
  [/^windows/i, platforms.windows],
  [/^android/i, platforms.android],
  [/^(ios|ipados)$/i, platforms.iOS],
  [/^(macos|mac\s*os(\s*x)?|os\s*x)$/i, platforms.macOS],
  [/^linux/i, platforms.linux],
  [/^chrome\s*os$/i, platforms.chromeOS],
];

// Fallback when operatingSystem says nothing we recognise: Graph's beta deviceType values.
// A Map, not an object literal, so a deviceType such as "constructor" finds nothing.
const deviceTypePlatforms: ReadonlyMap<string, Platform> = new Map([
  ["android", platforms.android],
  ["androidforwork", platforms.android],
  ["androidenterprise", platforms.android],
  ["androidngms", platforms.android],
  ["iphone", platforms.iOS],
  ["ipad", platforms.iOS],
  ["ipod", platforms.iOS],
  ["mac", platforms.macOS],
  ["macmdm", platforms.macOS],
  ["desktop", platforms.windows],
  ["windowsrt", platforms.windows],
  ["windows10x", platforms.windows],
  ["hololens", platforms.windows],
  ["surfacehub", platforms.windows],
  ["cloudpc", platforms.windows],
  ["linux", platforms.linux],
  ["chromeos", platforms.chromeOS],
]);

export function platformOf(device: Pick<Device, "operatingSystem" | "deviceType">): Platform {
  const os = device.operatingSystem.trim();
  for (const [pattern, platform] of osPatterns) if (pattern.test(os)) return platform;
  const fromType = device.deviceType ? deviceTypePlatforms.get(device.deviceType.trim().toLowerCase()) : undefined;
  return fromType ?? platforms.other;
}

/** True when the device has a primary user who could be notified in the Company Portal. */
export const hasPrimaryUser = (device: Pick<Device, "userId">): boolean => typeof device.userId === "string" && device.userId.trim() !== "";

/**
 * Why the device is no longer the one the request was made for, if it is not: the
 * inventory removed it, or gave it to another primary user. A request names the device's
 * user at request time; an approval (up to a day) or a resend can come after such a change.
 * A device the inventory does not know (any more) leaves the request as it was.
 */
export function deviceChangedSinceRequest(
  s: { readonly endUser: { readonly id: string } | null },
  device: Pick<Device, "removed" | "userId"> | undefined,
): string | undefined {
  if (!device) return undefined;
  if (device.removed) return "The device was removed from management";
  if (s.endUser && device.userId !== s.endUser.id) return "The device was given to another primary user";
  return undefined;
}
