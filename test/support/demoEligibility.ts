// The row of the eligibility table (docs/architecture.md) each demo device stands for, as the device list
// must show it (tenant settings at their defaults). Keyed by the demo device's `row`.
export interface IntendedEligibility {
  readonly eligible: boolean;
  readonly reason?: string;
  readonly notificationChannel: "companyPortal" | "none";
}

export const intendedEligibility: Readonly<Record<string, IntendedEligibility>> = {
  "Android device administrator": { eligible: true, notificationChannel: "companyPortal" },
  "Android Enterprise personal work profile": { eligible: true, notificationChannel: "companyPortal" },
  "Android Enterprise fully managed": { eligible: false, reason: "unsupportedEnrollmentType", notificationChannel: "none" },
  "Android Enterprise dedicated": { eligible: false, reason: "unsupportedEnrollmentType", notificationChannel: "none" },
  "Android Enterprise corporate work profile": { eligible: false, reason: "unsupportedEnrollmentType", notificationChannel: "none" },
  "Android AOSP": { eligible: false, reason: "unsupportedEnrollmentType", notificationChannel: "none" },
  iOS: { eligible: true, notificationChannel: "companyPortal" },
  iPadOS: { eligible: true, notificationChannel: "companyPortal" },
  macOS: { eligible: true, notificationChannel: "companyPortal" },
  Windows: { eligible: true, notificationChannel: "companyPortal" },
  "organization-owned": { eligible: false, reason: "organizationOwned", notificationChannel: "none" },
  "Windows Holographic (HoloLens)": { eligible: false, reason: "unsupportedWindowsEdition", notificationChannel: "none" },
  "Windows Team (Surface Hub)": { eligible: false, reason: "unsupportedWindowsEdition", notificationChannel: "none" },
  "Windows 10 S": { eligible: false, reason: "unsupportedWindowsEdition", notificationChannel: "none" },
  Linux: { eligible: false, reason: "unsupportedPlatform", notificationChannel: "none" },
  ChromeOS: { eligible: false, reason: "unsupportedPlatform", notificationChannel: "none" },
  "userless (Windows bulk enrollment)": { eligible: true, notificationChannel: "none" },
  "unknown enrollment type": { eligible: false, reason: "unknownEnrollmentType", notificationChannel: "none" },
  "retired / removed": { eligible: false, reason: "deviceRemoved", notificationChannel: "none" },
};
