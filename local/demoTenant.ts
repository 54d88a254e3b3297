// The demo tenant that `npm start` seeds and tests reuse: users with every kind of
// permission, and one device for every row of the eligibility table.
import { createHash } from "node:crypto";
import type { SignInUser } from "./identity/server.js";

/** A stable uuid (v4 layout) from a name, so re-seeding writes the same ids. */
export function stableUuid(name: string): string {
  const h = createHash("sha256").update(name).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const demoTenant = { id: stableUuid("tenant:contoso"), name: "Contoso (demo)" } as const;
export const otherTenant = { id: stableUuid("tenant:fabrikam"), name: "Fabrikam (demo)" } as const;

/** A user the identity emulator signs in, and whether the seed gives them an Intune license. */
export interface DemoUser extends SignInUser {
  readonly intuneLicensed: boolean;
}

const user = (
  key: string,
  label: string,
  name: string,
  upn: string,
  roles: string[],
  intuneLicensed: boolean,
  tid: string = demoTenant.id,
  groups: string[] = [],
): DemoUser => ({
  key,
  label,
  intuneLicensed,
  claims: { tid, oid: stableUuid(`user:${tid}:${key}`), name, preferred_username: upn, roles, groups },
});

export const helpdeskBerlinGroup = stableUuid("group:helpdesk-berlin");

export const demoUsers: readonly DemoUser[] = [
  user("admin", "Intune administrator", "Adele Vance", "adele@contoso.example", ["Intune.Administrator"], true),
  user("connectorAdmin", "Update Remote Assistance (connector admin)", "Alex Wilber", "alex@contoso.example", ["RemoteAssistance.Update"], true),
  user("helpdesk", "Request Remote Assistance (tenant-wide)", "Megan Bowen", "megan@contoso.example", ["RemoteAssistance.Request"], true),
  user("scopedHelpdesk", "Request Remote Assistance (scope tag berlin)", "Lee Gu", "lee@contoso.example", [], true, demoTenant.id, [helpdeskBerlinGroup]),
  user("unlicensedAdmin", "Update Remote Assistance, no Intune license", "Pradeep Gupta", "pradeep@contoso.example", ["RemoteAssistance.Update"], false),
  user("approver", "Approve Remote Assistance (second person)", "Nestor Wilke", "nestor@contoso.example", ["RemoteAssistance.Approve"], true),
  user("endUser", "End user (Company Portal)", "Diego Siciliani", "diego@contoso.example", [], true),
  user(
    "otherTenantAdmin",
    "Administrator of another tenant (Fabrikam)",
    "Fabrikam Admin",
    "admin@fabrikam.example",
    ["Intune.Administrator"],
    true,
    otherTenant.id,
  ),
];

export const demoUser = (key: string): DemoUser => {
  const u = demoUsers.find((x) => x.key === key);
  if (!u) throw new Error(`no demo user ${key}`);
  return u;
};

export interface DemoDevice {
  readonly row: string;
  readonly data: {
    id: string;
    deviceName: string;
    operatingSystem: string;
    osVersion: string;
    managedDeviceOwnerType: string;
    deviceEnrollmentType: string;
    deviceType?: string;
    userId: string | null;
    userPrincipalName: string | null;
    userDisplayName: string | null;
    emailAddress: string | null;
    roleScopeTagIds: string[];
    lastSyncDateTime: string;
  };
}

const endUser = demoUser("endUser").claims;
const device = (
  row: string,
  name: string,
  os: string,
  osVersion: string,
  owner: string,
  enrollment: string,
  deviceType: string | undefined,
  opts: { userless?: boolean; tags?: string[] } = {},
): DemoDevice => ({
  row,
  data: {
    id: stableUuid(`device:${name}`),
    deviceName: name,
    operatingSystem: os,
    osVersion,
    managedDeviceOwnerType: owner,
    deviceEnrollmentType: enrollment,
    ...(deviceType ? { deviceType } : {}),
    userId: opts.userless ? null : endUser.oid,
    userPrincipalName: opts.userless ? null : endUser.preferred_username,
    userDisplayName: opts.userless ? null : endUser.name,
    emailAddress: opts.userless ? null : endUser.preferred_username,
    roleScopeTagIds: opts.tags ?? ["0"],
    lastSyncDateTime: "2026-11-20T08:00:00Z",
  },
});

export const demoDevices: readonly DemoDevice[] = [
  device("Android device administrator", "DIEGO-ANDROID-DA", "Android", "13", "personal", "userEnrollment", "android", { tags: ["0", "berlin"] }),
  device("Android Enterprise personal work profile", "DIEGO-PIXEL-WORK", "Android", "14", "personal", "userEnrollment", "androidForWork"),
  device("Android Enterprise fully managed", "KIOSK-ANDROID-FM", "Android", "14", "personal", "androidEnterpriseFullyManaged", "androidEnterprise"),
  device("Android Enterprise dedicated", "SCANNER-ANDROID-DED", "Android", "13", "personal", "androidEnterpriseDedicatedDevice", "androidEnterprise"),
  device(
    "Android Enterprise corporate work profile",
    "DIEGO-ANDROID-COPE",
    "Android",
    "14",
    "personal",
    "androidEnterpriseCorporateWorkProfile",
    "androidEnterprise",
  ),
  device("Android AOSP", "HEADSET-AOSP", "Android", "12", "personal", "androidAOSPUserOwnedDeviceEnrollment", "android"),
  device("iOS", "DIEGO-IPHONE", "iOS", "18.1", "personal", "appleUserEnrollment", "iPhone", { tags: ["0", "berlin"] }),
  device("iPadOS", "DIEGO-IPAD", "iPadOS", "18.1", "personal", "userEnrollment", "iPad"),
  device("macOS", "DIEGO-MACBOOK", "macOS", "15.1", "personal", "userEnrollment", "macMDM"),
  device("Windows", "DIEGO-LAPTOP", "Windows", "10.0.26100.2314", "personal", "windowsAzureADJoin", "windowsRT", { tags: ["0", "berlin"] }),
  device("organization-owned", "CORP-LAPTOP-0042", "Windows", "10.0.22631.4460", "company", "windowsAzureADJoin", "windowsRT"),
  device(
    "Windows Holographic (HoloLens)",
    "HOLOLENS-LAB-1",
    "Windows Holographic for Business",
    "10.0.20348.1000",
    "personal",
    "windowsAzureADJoin",
    "holoLens",
  ),
  device("Windows Team (Surface Hub)", "SURFACEHUB-ROOM-7", "Windows 10 Team", "10.0.19045.1000", "personal", "windowsAzureADJoin", "surfaceHub"),
  device("Windows 10 S", "STUDENT-WIN10S", "Windows 10 S", "10.0.19045.5131", "personal", "windowsAzureADJoin", "windowsRT"),
  device("Linux", "DIEGO-UBUNTU", "Linux", "24.04", "personal", "userEnrollment", "linux"),
  device("ChromeOS", "DIEGO-CHROMEBOOK", "ChromeOS", "129", "personal", "userEnrollment", "chromeOS"),
  device("userless (Windows bulk enrollment)", "LOBBY-PC-01", "Windows", "10.0.26100.2314", "personal", "windowsBulkUserless", "windowsRT", { userless: true }),
  device("unknown enrollment type", "DIEGO-FUTURE-DEVICE", "Windows", "10.0.26100.2314", "personal", "quantumEnrollment2031", "windowsRT"),
];

/** Removed after upsert by the seed, to show the `deviceRemoved` row. */
export const demoRemovedDevice = device("retired / removed", "OLD-LAPTOP-2019", "Windows", "10.0.19045.1000", "personal", "windowsAzureADJoin", "windowsRT");
