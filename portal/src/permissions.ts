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
} as const;

export interface UiPermissions {
  /** Intune.Administrator: settings and role assignments. */
  readonly administrator: boolean;
  /** Connect and disconnect the connector. */
  readonly update: boolean;
  /** Request and close sessions (maybe only on some devices: `scoped`). */
  readonly request: boolean;
  /** Read the connector, devices, sessions, reports and audit log. */
  readonly read: boolean;
  /** Rights come from a role assignment limited to scope tags (or unknown scope). */
  readonly scoped: boolean;
}

export function permissionsFromRoles(roles: readonly string[]): UiPermissions {
  const administrator = roles.includes(appRoles.administrator);
  const update = administrator || roles.includes(appRoles.update);
  const request = administrator || roles.includes(appRoles.request);
  return { administrator, update, request, read: administrator || update || request, scoped: false };
}

export async function resolvePermissions(user: SignedInUser, api: ApiClient): Promise<UiPermissions> {
  const fromRoles = permissionsFromRoles(user.roles);
  if (fromRoles.read) return fromRoles;
  try {
    await api.get("/connector");
    // Admin reads through a role assignment: offer requests too, the API limits them to the scope.
    return { administrator: false, update: false, request: true, read: true, scoped: true };
  } catch (e) {
    if (e instanceof ApiProblem && (e.problem.status === 403 || e.problem.status === 404)) return fromRoles;
    throw e;
  }
}

export function describeRights(p: UiPermissions): string {
  if (p.administrator) return "Intune administrator";
  const parts: string[] = [];
  if (p.update) parts.push("Update Remote Assistance");
  if (p.request) parts.push(p.scoped ? "Request Remote Assistance (assigned scope)" : "Request Remote Assistance");
  return parts.length > 0 ? parts.join(", ") : "End user";
}
