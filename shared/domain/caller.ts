// Who is calling: an authenticated user (a delegated token), or automation: a tenant's own
// app (an app-only token at the automation door) or the principal a queue event names.

export const appRoles = {
  update: "RemoteAssistance.Update",
  request: "RemoteAssistance.Request",
  administrator: "Intune.Administrator",
  /** Tenant-wide: the audit log and its export (docs/security.md, docs/audit-export.md). */
  viewReports: "RemoteAssistance.ViewReports",
  /** Tenant-wide: approve or deny requests that need approval (docs/jit.md, "Approval"). */
  approve: "RemoteAssistance.Approve",
  /** App-only: a tenant's own automation calling POST /api/automation/events (docs/automation.md). */
  automation: "RemoteAssistance.Automation",
} as const;

export interface UserCaller {
  readonly type: "user";
  readonly tenantId: string;
  readonly userId: string;
  readonly displayName: string;
  readonly userPrincipalName?: string;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  /**
   * The token said the caller is in more groups than it carries (`hasgroups` or
   * `_claim_names.groups`): judge with the groups of the user's record instead.
   */
  readonly groupsOverage?: boolean;
}

/** An app-only token (client credentials): a tenant's automation, admitted only at the automation door. */
export interface AutomationCaller {
  readonly type: "automation";
  readonly tenantId: string;
  /** The app's service principal (`oid`): the id role assignments name. */
  readonly userId: string;
  /** `app_displayname`, else the client id. */
  readonly displayName: string;
  /** The app's client id (`azp`). */
  readonly clientId: string;
  readonly roles: readonly string[];
}

export type Caller = UserCaller | AutomationCaller;

export interface Actor {
  readonly id: string;
  readonly displayName: string;
  readonly type: "user" | "automation" | "system";
}

export const actorOf = (caller: Caller): Actor => ({ id: caller.userId, displayName: caller.displayName, type: caller.type });
export const systemActor: Actor = { id: "system", displayName: "Remote Assistance Connector", type: "system" };
