// Permission evaluation: one pure function from a caller and the tenant's role
// assignments to what the caller may do, plus the Intune license rule.
import { appRoles, type UserCaller } from "./caller.js";
import { DomainError, errorCodes } from "./errors.js";

export const assignablePermissions = [appRoles.request, appRoles.update, appRoles.viewReports, appRoles.approve] as const;
export type AssignablePermission = (typeof assignablePermissions)[number];

/** Permissions that only exist tenant-wide: an assignment of one of them with scope tags is refused. */
export const tenantWidePermissions: ReadonlySet<AssignablePermission> = new Set([appRoles.update, appRoles.viewReports, appRoles.approve]);

export interface RoleAssignment {
  readonly id: string;
  readonly principalId: string;
  readonly principalType: "user" | "group";
  readonly permission: AssignablePermission;
  /** Empty = tenant-wide; otherwise only devices carrying one of these scope tags. */
  readonly scopeTags: readonly string[];
}

/** A scope: every device of the tenant, or only devices with one of the tags. */
export type Scope = { readonly all: true } | { readonly all: false; readonly tags: ReadonlySet<string> };

export interface Permissions {
  readonly administrator: boolean;
  readonly update: boolean;
  /** Where the caller may request and close sessions; undefined = nowhere. */
  readonly request?: Scope;
  /** Where the caller may read devices and sessions; undefined = no admin reads. */
  readonly read?: Scope;
  /** Tenant-wide data: the audit log and its export. */
  readonly reports: boolean;
  /** May approve or deny requests that need approval. */
  readonly approve: boolean;
}

const everywhere: Scope = { all: true };

function union(a: Scope | undefined, b: Scope | undefined): Scope | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.all || b.all) return everywhere;
  return { all: false, tags: new Set([...a.tags, ...b.tags]) };
}

/**
 * The token's app roles plus the role assignments that name the caller (as a user, or
 * through one of `groups`: the token's, or the user record's when the token had a groups
 * overage). Tenant-wide permissions (Update, ViewReports, Approve) count only from
 * assignments without scope tags; a scoped one stored before that rule grants nothing
 * but reads within its scope tags (Update) or nothing at all (ViewReports, Approve).
 */
export function evaluatePermissions(caller: UserCaller, assignments: readonly RoleAssignment[], groups: readonly string[] = caller.groups): Permissions {
  const has = (role: string): boolean => caller.roles.includes(role);
  const administrator = has(appRoles.administrator);
  let update = administrator || has(appRoles.update);
  let request: Scope | undefined = administrator || has(appRoles.request) ? everywhere : undefined;
  let read: Scope | undefined = administrator || update || request ? everywhere : undefined;
  let reports = administrator || has(appRoles.viewReports);
  let approve = has(appRoles.approve);

  const memberOf = new Set(groups.map((g) => g.toLowerCase()));
  for (const a of assignments) {
    const applies = a.principalType === "user" ? a.principalId === caller.userId : memberOf.has(a.principalId);
    if (!applies) continue;
    const tenantWide = a.scopeTags.length === 0;
    const scope: Scope = tenantWide ? everywhere : { all: false, tags: new Set(a.scopeTags) };
    switch (a.permission) {
      case appRoles.update:
        if (tenantWide) update = true;
        read = union(read, scope);
        break;
      case appRoles.request:
        request = union(request, scope);
        read = union(read, scope);
        break;
      case appRoles.viewReports:
        if (tenantWide) reports = true;
        break;
      case appRoles.approve:
        if (tenantWide) approve = true;
        break;
    }
  }
  return { administrator, update, request, read, reports, approve };
}

export function inScope(scope: Scope | undefined, scopeTags: readonly string[]): boolean {
  if (!scope) return false;
  if (scope.all) return true;
  return scopeTags.some((t) => scope.tags.has(t));
}

export function requireAdministrator(p: Permissions): void {
  if (!p.administrator) throw new DomainError(errorCodes.forbidden, "This action needs the Intune.Administrator role.");
}

export function requireUpdate(p: Permissions): void {
  if (!p.update) throw new DomainError(errorCodes.forbidden, "This action needs the Update Remote Assistance permission.");
}

export function requireRead(p: Permissions): void {
  if (!p.read) throw new DomainError(errorCodes.forbidden, "This action needs a remote assistance role.");
}

export function requireReports(p: Permissions): void {
  if (!p.reports) {
    throw new DomainError(errorCodes.forbidden, "The audit log needs the Intune.Administrator role or the tenant-wide View Reports permission.");
  }
}

/**
 * The Intune license rule: an admin who connects the connector must hold an Intune
 * license unless the tenant allows unlicensed admins. A caller with no user record
 * counts as unlicensed.
 */
export function requireIntuneLicense(user: { intuneLicensed: boolean } | undefined, settings: { allowUnlicensedAdmins: boolean }): void {
  if (settings.allowUnlicensedAdmins) return;
  if (user?.intuneLicensed) return;
  throw new DomainError(errorCodes.intuneLicenseRequired, "You need an Intune license to do this, or the tenant setting allowUnlicensedAdmins must be on.");
}
