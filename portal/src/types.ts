// The API's resources as the portal reads them: the types of shared/contracts, the schemas
// that shape the API's answers and its OpenAPI document. Type-only imports, erased by the
// bundler: the browser bundle carries no server code.
import type { AuditEvent, KnownUser, MyPermissions, RoleAssignment, SettingsView } from "../../shared/contracts/admin.js";
import type { ConnectResult, ConnectorView, VerifyResult } from "../../shared/contracts/connector.js";
import type { DeviceView } from "../../shared/contracts/devices.js";
import type { EndUserRequest, SessionReport, SessionResource } from "../../shared/contracts/sessions.js";

export type { AuditEvent, ConnectResult, EndUserRequest, KnownUser, MyPermissions, RoleAssignment, SessionReport, VerifyResult };
export type Connector = ConnectorView;
export type Device = DeviceView;
export type Session = SessionResource;
export type SessionConnection = Session["connections"][number];
export type Settings = SettingsView;

// A value the portal needs at run time, so spelled here (the bundle takes no server code);
// `satisfies` keeps it the API's list.
export const sessionStatuses = [
  "pendingApproval",
  "requested",
  "awaitingEndUser",
  "accepted",
  "denied",
  "declined",
  "expired",
  "failed",
  "closed",
] as const satisfies readonly Session["status"][];
export type SessionStatus = (typeof sessionStatuses)[number];
export const openStatuses: readonly SessionStatus[] = ["pendingApproval", "requested", "awaitingEndUser", "accepted"];

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
