// Tenant settings and their defaults.
export interface TenantSettings {
  readonly allowUnlicensedAdmins: boolean;
  readonly allowPossiblyUnsupportedWindowsEditions: boolean;
  /** A session not accepted within this many minutes expires (1–1440). */
  readonly sessionTimeoutMinutes: number;
  /**
   * TeamViewer Web API calls this tenant may make in any 60 seconds (1–600). The default
   * is a Premium licence's 14,400 calls a day spread evenly.
   */
  readonly teamViewerCallsPerMinute: number;
  /** Every session request must name a help-desk ticket (`ticketId`). */
  readonly requireTicketId: boolean;
  /** Requests for a device carrying one of these scope tags wait for a second person's approval. */
  readonly approvalRequiredScopeTags: readonly string[];
  /** A request nobody approved or denied within this many minutes expires (1–1440). */
  readonly approvalTimeoutMinutes: number;
}

export const defaultTenantSettings: TenantSettings = {
  allowUnlicensedAdmins: false,
  allowPossiblyUnsupportedWindowsEditions: false,
  sessionTimeoutMinutes: 60,
  teamViewerCallsPerMinute: 10,
  requireTicketId: false,
  approvalRequiredScopeTags: [],
  approvalTimeoutMinutes: 60,
};

/** The longest a request may wait for approval (`approvalTimeoutMinutes`), in minutes. */
export const maxApprovalTimeoutMinutes = 1440;

/** A tenant names at most this many approval scope tags. */
export const maxApprovalScopeTags = 100;

export const teamViewerCallsPerMinuteRange = { min: 1, max: 600 } as const;
