// The API's resources as the portal reads them (docs/api.md; the API's OpenAPI document is
// generated from shared/contracts). Kept here so the browser bundle carries no server code.

export type OnboardingStatus = "notOnboarded" | "onboarding" | "onboarded";
export type ConnectorHealth = "healthy" | "reauthorizationRequired" | "unreachable";

export interface Connector {
  readonly id: "teamviewer";
  readonly displayName: string;
  readonly onboardingStatus: OnboardingStatus;
  readonly health: ConnectorHealth | null;
  readonly account: { userId: string; name: string; email: string | null; companyName: string | null } | null;
  readonly licenseAgreement: { acceptedBy: { id: string; displayName: string }; acceptedAt: string; version: string } | null;
  readonly onboardedAt: string | null;
  readonly lastConnectionDateTime: string | null;
  readonly lastError: { code: string; message: string; at: string } | null;
  readonly onboardingRequestExpiryDateTime?: string | null;
  readonly consent?: { version: string; text: string };
}

export interface ConnectResult {
  readonly authorizeUrl: string;
  readonly onboardingStatus: "onboarding";
  readonly expiresAt: string;
}

export interface VerifyResult {
  readonly health: ConnectorHealth;
  readonly checkedAt: string;
  readonly detail: string;
}

export interface Device {
  readonly id: string;
  readonly deviceName: string;
  readonly operatingSystem: string;
  readonly osVersion: string;
  readonly platform?: string;
  readonly ownership: "personal" | "corporate" | "unknown";
  readonly enrollmentType: string;
  readonly deviceType?: string | null;
  readonly userId: string | null;
  readonly userPrincipalName: string | null;
  readonly userDisplayName: string | null;
  readonly emailAddress: string | null;
  readonly scopeTags: readonly string[];
  readonly lastSyncDateTime: string | null;
  /** Intune's complianceState as the inventory sent it; null when it said nothing. */
  readonly complianceState?: string | null;
  readonly removed?: boolean;
  readonly removedDateTime?: string | null;
  readonly remoteAssistance: {
    readonly eligible: boolean;
    readonly reason?: string;
    readonly reasonText?: string;
    readonly warnings: readonly string[];
    readonly notificationChannel: "companyPortal" | "none";
  };
}

export const sessionStatuses = ["pendingApproval", "requested", "awaitingEndUser", "accepted", "denied", "declined", "expired", "failed", "closed"] as const;
export type SessionStatus = (typeof sessionStatuses)[number];
export const openStatuses: readonly SessionStatus[] = ["pendingApproval", "requested", "awaitingEndUser", "accepted"];

export interface Actor {
  readonly id: string;
  readonly displayName: string;
  readonly type: "user" | "automation" | "system";
}

export interface Session {
  readonly id: string;
  readonly deviceId: string;
  readonly device: {
    deviceName: string;
    operatingSystem: string;
    osVersion: string;
    userDisplayName: string | null;
    userPrincipalName: string | null;
  };
  readonly requestedBy: { id: string; displayName: string; type: "user" | "automation" };
  readonly requestedAt: string;
  readonly description: string | null;
  readonly ticketId?: string | null;
  readonly acknowledgedWarnings?: readonly string[];
  readonly approval?: {
    readonly required: boolean;
    readonly decision: { decision: "approved" | "denied"; by: Actor; at: string; comment: string | null } | null;
  };
  readonly status: SessionStatus;
  readonly history: readonly { status: SessionStatus; at: string; detail?: string }[];
  readonly teamViewer: { code: string; supporterLink: string; validUntil: string } | null;
  readonly endUserLink?: string;
  readonly endUserNotification: { channel: "companyPortal" | "none"; status: "pending" | "sent" | "seen" | "notSupported" | "failed"; sentAt?: string; seenAt?: string };
  readonly endUserResponse: { response: "accepted" | "declined"; at: string } | null;
  readonly closedAt: string | null;
  readonly closedBy: Actor | null;
  readonly failure: { code: string; message: string } | null;
  readonly warnings: readonly string[];
  /** Set while a requested session waits for the tenant's TeamViewer quota. */
  readonly waitingForTeamViewerQuotaUntil?: string | null;
  /** Supporters' connections as TeamViewer reported them (absent from older servers: none). */
  readonly connections?: readonly SessionConnection[];
  /** The user accepted and no connection was reported. */
  readonly neverConnected?: boolean;
}

export interface SessionConnection {
  readonly id: string;
  readonly supporter: { readonly userId: string; readonly name: string };
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly durationSeconds: number | null;
}

export interface SessionReport {
  readonly from: string;
  readonly to: string;
  readonly total: number;
  readonly byStatus: Partial<Record<SessionStatus, number>>;
  readonly byPlatform: Record<string, number>;
  readonly byRequester: readonly { id: string; displayName: string; type: "user" | "automation"; count: number }[];
  readonly accepted: number;
  readonly medianTimeToAcceptSeconds: number | null;
  readonly connectedSessions?: number;
  readonly totalConnectionMinutes?: number;
  readonly medianConnectionMinutes?: number | null;
  readonly sessionsNeverConnected?: number;
}

export interface AuditEvent {
  readonly id: string;
  readonly at: string;
  readonly actor: Actor;
  readonly activity: string;
  readonly target: { type: string; id: string };
  readonly result: "success" | "failure";
  readonly detail?: string;
  readonly correlationId?: string;
}

export interface Settings {
  readonly allowUnlicensedAdmins: boolean;
  readonly allowPossiblyUnsupportedWindowsEditions: boolean;
  readonly sessionTimeoutMinutes: number;
  readonly teamViewerCallsPerMinute: number;
  readonly requireTicketId?: boolean;
  readonly approvalRequiredScopeTags?: readonly string[];
  readonly approvalTimeoutMinutes?: number;
}

export interface RoleAssignment {
  readonly id: string;
  readonly principalId: string;
  readonly principalType: "user" | "group";
  readonly permission: "RemoteAssistance.Request" | "RemoteAssistance.Update";
  readonly scopeTags: readonly string[];
}

export interface EndUserRequest {
  readonly id: string;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly requestedBy: { displayName: string };
  readonly requestedAt: string;
  readonly description: string | null;
  readonly status: SessionStatus;
}

/** Intune compliance states that need an explicit "connect anyway" (a value Graph does not define counts too). */
export function notCompliant(state: string | null | undefined): boolean {
  return !!state && !["compliant", "unknown", "inGracePeriod", "configManager"].includes(state);
}

/** Session statuses in plain words. */
export const statusText: Record<SessionStatus, string> = {
  pendingApproval: "Waiting for approval",
  requested: "Requested",
  awaitingEndUser: "Waiting for the user",
  accepted: "Accepted",
  denied: "Denied",
  declined: "Declined",
  expired: "Expired",
  failed: "Failed",
  closed: "Closed",
};

export const platformText: Record<string, string> = {
  android: "Android",
  iOS: "iOS / iPadOS",
  macOS: "macOS",
  windows: "Windows",
  linux: "Linux",
  chromeOS: "ChromeOS",
  other: "Other",
};
