// What the signed-in user may do, for showing and hiding actions only: the API decides.
// App roles in the token give tenant-wide rights; a user may also hold a role assignment
// (to them or a group, maybe scoped to tags), which the token does not show, so the portal
// asks the API once (GET /me/permissions).
import type { ApiClient } from "./api.js";
import type { MyPermissions } from "./types.js";

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

/**
 * One read of what the API will let the caller do (role assignments included, which the
 * token does not show), instead of probing endpoints that answer 403 for most users.
 */
export async function resolvePermissions(api: ApiClient): Promise<UiPermissions> {
  const p = await api.get<MyPermissions>("/me/permissions");
  const read = p.read !== null;
  return {
    administrator: p.administrator,
    update: p.update,
    // Admin reads through a scoped Update assignment still offer requests: the API limits them to the scope.
    request: p.request !== null || read,
    read,
    reports: p.reports,
    approve: p.approve,
    scoped: (p.request !== null && !p.request.allDevices) || (p.request === null && read && !(p.read?.allDevices ?? false)),
  };
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
