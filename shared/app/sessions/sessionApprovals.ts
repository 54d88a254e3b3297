// Approval of requests for devices the tenant marked as sensitive: a principal with the
// tenant-wide Approve permission, never the requester, approves (the session goes on to
// TeamViewer: session.create is sent only now) or denies (nothing ever reaches TeamViewer).
import type { Clock } from "../clock.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Access } from "../access.js";
import type { SettingsStore } from "../admin/ports.js";
import { actorOf, type UserCaller } from "../../domain/caller.js";
import { conflict, forbidden, notFound, type DomainError } from "../../domain/errors.js";
import { inScope } from "../../domain/permissions.js";
import { applyEvent, truncate, type Session } from "../../domain/session.js";
import type { SessionStatus } from "../../domain/sessionState.js";
import type { AdminContext } from "./sessionAdministration.js";
import { isDue, type SessionExpiry } from "./expiry.js";
import { createMessage } from "./newSession.js";
import type { SessionWriter } from "./sessionWriter.js";

export type ApprovalDecisionKind = "approve" | "deny";

export class SessionApprovals {
  readonly #d: { writer: SessionWriter; access: Access; settings: SettingsStore; expiry: SessionExpiry; audit: AuditLog; clock: Clock };

  constructor(deps: { writer: SessionWriter; access: Access; settings: SettingsStore; expiry: SessionExpiry; audit: AuditLog; clock: Clock }) {
    this.#d = deps;
  }

  async decide(caller: UserCaller, sessionId: string, kind: ApprovalDecisionKind, comment: string | undefined, ctx: AdminContext): Promise<Session> {
    const permissions = await this.#d.access.permissionsOf(caller);
    if (!permissions.approve) throw forbidden("Approving or denying requests needs the tenant-wide Approve Remote Assistance permission.");
    const stored = await this.#d.writer.store.get(caller.tenantId, sessionId);
    // Approve is tenant-wide over the requests that need approval: each of them was in every
    // approver's queue. Any other session the caller may not read does not exist for them,
    // so its existence and status are not told by a 403 or a 409 either.
    const readable = stored !== undefined && inScope(permissions.read, stored.session.device.scopeTags);
    if (!stored || !(readable || stored.session.approval?.required)) throw notFound("The session");
    if (stored.session.requestedBy.id === caller.userId) {
      throw forbidden("A request needs a second person's approval: its requester cannot approve or deny it.");
    }
    // Its status only to someone who may read the session.
    const notWaiting = (status: SessionStatus): DomainError =>
      conflict(
        `Only a request waiting for approval can be ${kind === "approve" ? "approved" : "denied"}; this one ${readable ? `is ${status}` : "no longer is"}.`,
      );
    // A request past its approval deadline is expired first, so nobody approves it late.
    const current = await this.#d.expiry.expireIfDue(stored, ctx.log, ctx.correlationId);
    if (current.status !== "pendingApproval") throw notWaiting(current.status);
    const settings = kind === "approve" ? await this.#d.settings.get(caller.tenantId) : undefined;
    const now = this.#d.clock.now();
    const actor = actorOf(caller);
    const note = comment ? `: ${truncate(comment, 200)}` : ".";
    const changed = await this.#d.writer.change(
      caller.tenantId,
      sessionId,
      (s) => {
        if (s.status !== "pendingApproval") throw notWaiting(s.status);
        // Judged again at the decision's own time: the reads since the expiry check take time,
        // and a request whose deadline passed meanwhile is expired, not decided late.
        if (isDue(s, now)) throw notWaiting("expired");
        const decision = {
          decision: kind === "approve" ? ("approved" as const) : ("denied" as const),
          by: actor,
          at: now.toISOString(),
          comment: comment ?? null,
        };
        if (kind === "deny") {
          return {
            next: {
              ...applyEvent(s, "deny", now, `Denied by ${caller.displayName}${note}`),
              approval: { required: true, decision },
              closedBy: actor,
              closeReason: "denied",
            },
          };
        }
        // The end user's time to answer starts now, as for a request that needed no approval.
        const approved: Session = {
          ...applyEvent(s, "approve", now, `Approved by ${caller.displayName}${note}`),
          approval: { required: true, decision },
          expiresAt: new Date(now.getTime() + settings!.sessionTimeoutMinutes * 60_000).toISOString(),
        };
        return { next: approved, outbox: [createMessage(approved, now.toISOString(), ctx.correlationId)] };
      },
      ctx.log,
    );
    if (!changed) throw notFound("The session");
    await this.#d.audit.record({
      tenantId: caller.tenantId,
      actor,
      activity: kind === "approve" ? "session.approved" : "session.denied",
      target: { type: "session", id: sessionId },
      result: "success",
      detail: `${kind === "approve" ? "approved" : "denied"} the request of ${current.requestedBy.displayName} for device ${current.device.deviceName} (${current.deviceId})${current.ticketId ? `, ticket ${current.ticketId}` : ""}${comment ? `; comment: ${truncate(comment, 200)}` : ""}`,
      correlationId: ctx.correlationId,
    });
    return changed.after.session;
  }
}
