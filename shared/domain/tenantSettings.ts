// Tenant settings and their defaults.
export interface TenantSettings {
  readonly allowUnlicensedAdmins: boolean;
  readonly allowPossiblyUnsupportedWindowsEditions: boolean;
  /** A session not accepted within this many minutes expires (1–1440). */
  readonly sessionTimeoutMinutes: number;
}

export const defaultTenantSettings: TenantSettings = {
  allowUnlicensedAdmins: false,
  allowPossiblyUnsupportedWindowsEditions: false,
  sessionTimeoutMinutes: 60,
};
