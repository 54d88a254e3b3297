// What callers see of a session: the admin resource (docs/api.md, "Sessions") and the end
// user's request item. Worker bookkeeping and the TeamViewer group never leave the service;
// the end-user link is shown to admins only when the user cannot be notified.
import type { Session } from "../../domain/session.js";
import { acceptedNeverConnected } from "../../domain/sessionConnections.js";
import type { EndUserRequest, SessionResource } from "../../contracts/sessions.js";

export function toSessionResource(s: Session): SessionResource {
  const notSupported = s.endUserNotification.status === "notSupported";
  return {
    id: s.id,
    deviceId: s.deviceId,
    device: {
      deviceName: s.device.deviceName,
      operatingSystem: s.device.operatingSystem,
      osVersion: s.device.osVersion,
      userDisplayName: s.device.userDisplayName,
      userPrincipalName: s.device.userPrincipalName,
    },
    requestedBy: s.requestedBy,
    requestedAt: s.requestedAt,
    description: s.description,
    ticketId: s.ticketId ?? null,
    acknowledgedWarnings: [...(s.acknowledgedWarnings ?? [])],
    approval: s.approval
      ? { required: s.approval.required, decision: s.approval.decision ? { ...s.approval.decision } : null }
      : { required: false, decision: null },
    status: s.status,
    history: s.history.map((h) => ({ ...h })),
    teamViewer: s.teamViewer ? { code: s.teamViewer.code, supporterLink: s.teamViewer.supporterLink, validUntil: s.teamViewer.validUntil } : null,
    ...(notSupported && s.endUserLink ? { endUserLink: s.endUserLink } : {}),
    endUserNotification: {
      channel: s.endUserNotification.channel,
      status: s.endUserNotification.status,
      ...(s.endUserNotification.sentAt ? { sentAt: s.endUserNotification.sentAt } : {}),
      ...(s.endUserNotification.seenAt ? { seenAt: s.endUserNotification.seenAt } : {}),
    },
    endUserResponse: s.endUserResponse,
    closedAt: s.closedAt,
    closedBy: s.closedBy,
    failure: s.failure,
    warnings: [...s.warnings],
    waitingForTeamViewerQuotaUntil: s.status === "requested" ? (s.waitingForTeamViewerQuotaUntil ?? null) : null,
    connections: (s.connections ?? []).map((c) => ({ ...c, supporter: { ...c.supporter } })),
    neverConnected: acceptedNeverConnected(s),
  };
}

export function toEndUserRequest(s: Session): EndUserRequest {
  return {
    id: s.id,
    deviceId: s.deviceId,
    deviceName: s.device.deviceName,
    requestedBy: { displayName: s.requestedBy.displayName },
    requestedAt: s.requestedAt,
    description: s.description,
    status: s.status,
  };
}
