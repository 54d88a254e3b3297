// What the signed-in user may do, for showing and hiding actions only: the API decides.
// App roles in the token give tenant-wide rights; a user with no admin role may still hold
// a role assignment (to them or a group, maybe scoped to tags), which the token does not
// show, so for them one read of the connector tells whether they have admin reads.
import { ApiProblem, type ApiClient } from "./api.js";
import type { SignedInUser } from "./auth/authProvider.js";

export const appRoles = {
  update: "RemoteAssistance.Update",
  request: "RemoteAssistance.Request",
  administrator: "Intune.Administrator",
  viewReports: "RemoteAssistance.ViewReports",
  approve: "RemoteAssistance.Approve",
} as const;

export interface UiPermissions {
  /** Intune.Administrator: settings and role assignments. */
  readonly administrator: boolean;
  /** Connect and disconnect the connector. */
  readonly update: boolean;
  /** Request and close sessions (maybe only on some devices: `scoped`). */
  readonly request: boolean;
  /** Read the connector, devices, sessions and reports. */
  readonly read: boolean;
  /** The audit log: Intune.Administrator or tenant-wide View Reports. */
  readonly reports: boolean;
  /** Rights come from a role assignment limited to scope tags (or unknown scope). */
  readonly scoped: boolean;
  /** Approve or deny requests that need approval (tenant-wide Approve). */
  readonly approve?: boolean;
}

export function permissionsFromRoles(roles: readonly string[]): UiPermissions {
  const administrator = roles.includes(appRoles.administrator);
  const update = administrator || roles.includes(appRoles.update);
  const request = administrator || roles.includes(appRoles.request);
  const reports = administrator || roles.includes(appRoles.viewReports);
  return { administrator, update, request, read: administrator || update || request, reports, scoped: false, approve: roles.includes(appRoles.approve) };
}

/** Whether the API lets the caller read the audit log (a tenant-wide ViewReports role assignment does not show in the token). */
async function probe(api: ApiClient, path: string, query?: Record<string, string>): Promise<boolean> {
  try {
    await api.get(path, query);
    return true;
  } catch (e) {
    if (e instanceof ApiProblem && (e.problem.status === 403 || e.problem.status === 404)) return false;
    throw e;
  }
}

async function probeApprove(api: ApiClient): Promise<boolean> {
  try {
    await api.post("/sessions/00000000000000000000000000/approve", {});
    return true;
  } catch (e) {
    if (e instanceof ApiProblem && e.problem.status === 404) return true;
    if (e instanceof ApiProblem && e.problem.status === 403) return false;
    throw e;
  }
}

export async function resolvePermissions(user: SignedInUser, api: ApiClient): Promise<UiPermissions> {
  const fromRoles = permissionsFromRoles(user.roles);
  const reports = fromRoles.reports || (await probe(api, "/auditEvents", { top: "1" }));
  // A tenant-wide Approve role assignment does not show in the token: deciding on a session
  // that cannot exist answers 404 to an approver and 403 to anyone else, and changes nothing.
  const approve = fromRoles.approve || (await probeApprove(api));
  if (fromRoles.read) return { ...fromRoles, reports, approve };
  // Admin reads through a role assignment: offer requests too, the API limits them to the scope.
  if (await probe(api, "/connector")) return { administrator: false, update: false, request: true, read: true, reports, scoped: true, approve };
  return { ...fromRoles, reports, approve };
}

export function describeRights(p: UiPermissions): string {
  if (p.administrator) return "Intune administrator";
  const parts: string[] = [];
  if (p.update) parts.push("Update Remote Assistance");
  if (p.request) parts.push(p.scoped ? "Request Remote Assistance (assigned scope)" : "Request Remote Assistance");
  if (p.reports) parts.push("View Reports");
  if (p.approve) parts.push("Approve Remote Assistance");
  return parts.length > 0 ? parts.join(", ") : "End user";
}
