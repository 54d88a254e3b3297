// Permission evaluation: one pure function from a caller and the tenant's role
// assignments to what the caller may do, plus the Intune license rule.
import { appRoles, type UserCaller } from "./caller.js";
import { DomainError, errorCodes } from "./errors.js";

export const assignablePermissions = [appRoles.request, appRoles.update] as const;
export type AssignablePermission = (typeof assignablePermissions)[number];

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
}

const everywhere: Scope = { all: true };

function union(a: Scope | undefined, b: Scope | undefined): Scope | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.all || b.all) return everywhere;
  return { all: false, tags: new Set([...a.tags, ...b.tags]) };
}

export function evaluatePermissions(caller: UserCaller, assignments: readonly RoleAssignment[]): Permissions {
  const administrator = caller.roles.includes(appRoles.administrator);
  let update = administrator || caller.roles.includes(appRoles.update);
  let request: Scope | undefined = administrator || caller.roles.includes(appRoles.request) ? everywhere : undefined;
  let read: Scope | undefined = administrator || update || request ? everywhere : undefined;

  const groups = new Set(caller.groups);
  for (const a of assignments) {
    const applies = a.principalType === "user" ? a.principalId === caller.userId : groups.has(a.principalId);
    if (!applies) continue;
    const scope: Scope = a.scopeTags.length === 0 ? everywhere : { all: false, tags: new Set(a.scopeTags) };
    if (a.permission === appRoles.update) {
      // Connector rights are tenant-wide by nature; a scoped Update assignment still
      // only lets the caller read within its scope.
      update = true;
      read = union(read, scope);
    } else {
      request = union(request, scope);
      read = union(read, scope);
    }
  }
  return { administrator, update, request, read };
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

/**
 * The Intune license rule: an admin who connects the connector must hold an Intune
 * license unless the tenant allows unlicensed admins. A caller with no user record
 * counts as unlicensed.
 */
export function requireIntuneLicense(user: { intuneLicensed: boolean } | undefined, settings: { allowUnlicensedAdmins: boolean }): void {
  if (settings.allowUnlicensedAdmins) return;
  if (user?.intuneLicensed) return;
  throw new DomainError(
    errorCodes.intuneLicenseRequired,
    "You need an Intune license to do this, or the tenant setting allowUnlicensedAdmins must be on.",
  );
}
