// A new session as a request makes it: `requested`, or `pendingApproval` when its device
// needs a second person's approval, from the device as it is now; and the session.create
// message that starts it at TeamViewer.
import { platformOf, type Device } from "../../domain/device.js";
import type { Eligibility } from "../../domain/eligibility.js";
import { randomUUID } from "node:crypto";
import { appendHistory, initialWorkerState, type Session, type SessionDevice } from "../../domain/session.js";
import { messageTypes } from "../../contracts/messages.js";
import { outboxEntry, sessionMessageIds } from "./sessionMessages.js";

/** Who asked, as the session and the audit log name them. */
export interface Requester {
  readonly id: string;
  readonly displayName: string;
  readonly type: "user" | "automation";
}

/** What a new session sends: session.create, unless it waits for approval (then nothing, yet). */
export const createMessages = (session: Session, correlationId: string | undefined) =>
  session.status === "requested" ? [createMessage(session, session.requestedAt, correlationId)] : [];

export function createMessage(session: Session, requestedAt: string, correlationId: string | undefined) {
  return outboxEntry(
    messageTypes.sessionCreate,
    session.tenantId,
    { sessionId: session.id },
    {
      id: sessionMessageIds.create(session.id),
      now: new Date(requestedAt),
      correlationId,
    },
  );
}

/**
 * The session with its first session.create's claim already taken, written in the
 * request's own transaction: the creation worker's first delivery of that message uses it
 * instead of writing a claim (one Table operation and one round trip less per session,
 * docs/cost.md). It counts as an attempt from the start, so anyone who finds the session
 * later (a redelivery, a close) looks TeamViewer up by custom_api before assuming nothing
 * was created. Delivery 0: the first real delivery (1) of that message is "later", so a
 * redelivery takes over as from any earlier delivery (retryPolicy.ts `decideClaim`).
 */
export function withReservedCreate(session: Session, leaseMs: number): Session {
  if (session.status !== "requested") return session;
  return {
    ...session,
    worker: {
      ...session.worker,
      claimId: randomUUID(),
      claimedUntil: new Date(Date.parse(session.requestedAt) + leaseMs).toISOString(),
      claimMessageId: sessionMessageIds.create(session.id),
      claimDelivery: 0,
      createAttempts: session.worker.createAttempts + 1,
    },
  };
}

const unknownDevice: SessionDevice = {
  deviceName: "(unknown device)",
  operatingSystem: "",
  osVersion: "",
  platform: "unknown",
  userDisplayName: null,
  userPrincipalName: null,
  scopeTags: [],
};

/** Whether a device with these scope tags needs a second person's approval. */
export const needsApprovalFor = (deviceTags: readonly string[], approvalTags: readonly string[]): boolean => deviceTags.some((t) => approvalTags.includes(t));

/** A new session in `requested` (or `pendingApproval` when its device needs approval), from the device as it is now. */
export function buildSession(args: {
  readonly tenantId: string;
  readonly id: string;
  readonly deviceId: string;
  readonly device: Device | undefined;
  readonly eligibility: Eligibility | undefined;
  readonly requestedBy: Requester;
  readonly description: string | null;
  readonly ticketId?: string | null;
  readonly acknowledgedWarnings?: readonly string[];
  readonly now: Date;
  readonly timeoutMinutes: number;
  /** The tenant's approval rule: devices with one of these tags wait this long for a decision. */
  readonly approval?: { readonly scopeTags: readonly string[]; readonly timeoutMinutes: number };
}): Session {
  const { device, eligibility, now, approval } = args;
  const needsApproval = device !== undefined && approval !== undefined && needsApprovalFor(device.roleScopeTagIds, approval.scopeTags);
  const channel = eligibility?.notificationChannel ?? "none";
  const notifiable = channel === "companyPortal" && device !== undefined && typeof device.userId === "string" && device.userId !== "";
  const at = now.toISOString();
  return {
    tenantId: args.tenantId,
    id: args.id,
    deviceId: args.deviceId,
    device: device
      ? {
          deviceName: device.deviceName,
          operatingSystem: device.operatingSystem,
          osVersion: device.osVersion,
          platform: platformOf(device),
          userDisplayName: device.userDisplayName ?? null,
          userPrincipalName: device.userPrincipalName ?? null,
          scopeTags: [...device.roleScopeTagIds],
          scopeTagsAsOf: device.updatedAt,
        }
      : unknownDevice,
    endUser: notifiable ? { id: device.userId as string, displayName: device.userDisplayName ?? null, email: device.emailAddress ?? null } : null,
    requestedBy: args.requestedBy,
    requestedAt: at,
    description: args.description,
    ticketId: args.ticketId ?? null,
    acknowledgedWarnings: [...(args.acknowledgedWarnings ?? [])],
    status: needsApproval ? "pendingApproval" : "requested",
    history: appendHistory([], {
      status: needsApproval ? "pendingApproval" : "requested",
      at,
      detail: needsApproval ? `Requested by ${args.requestedBy.displayName}; waiting for approval.` : `Requested by ${args.requestedBy.displayName}.`,
    }),
    // Waiting for approval has its own deadline; the end user's starts when it is approved.
    expiresAt: new Date(now.getTime() + (needsApproval ? approval.timeoutMinutes : args.timeoutMinutes) * 60_000).toISOString(),
    approval: { required: needsApproval, decision: null },
    teamViewer: null,
    endUserLink: null,
    endUserNotification: { channel: notifiable ? "companyPortal" : "none", status: notifiable ? "pending" : "notSupported", dispatches: 0 },
    endUserResponse: null,
    closedAt: null,
    closedBy: null,
    closeReason: null,
    failure: null,
    warnings: eligibility ? [...eligibility.warnings] : [],
    waitingForTeamViewerQuotaUntil: null,
    worker: initialWorkerState,
  };
}
