// Where an automation principal may request sessions: a tenant's app at the automation
// door, or the principal a trusted producer's remoteAssistance.requested names. Its grant
// is its app role (or the producer's trust), which is tenant-wide; the tenant narrows it
// with role assignments naming the principal (principalType "user", principalId = its
// object id). Narrowing, not adding: unlike a user, an app cannot drop the role that lets
// it in, so assignments are the only place its scope can be set.
import { appRoles } from "./caller.js";
import type { RoleAssignment, Scope } from "./permissions.js";

export interface AutomationScope {
  /** Where it may request sessions; undefined = nowhere. */
  readonly request?: Scope;
  /** Where it may see devices: beyond this, a device is "not found", as for a user. */
  readonly read?: Scope;
}

const everywhere: Scope = { all: true };

function widen(current: Scope | undefined, tags: readonly string[]): Scope {
  if (tags.length === 0 || current?.all) return everywhere;
  return { all: false, tags: new Set([...(current ? current.tags : []), ...tags]) };
}

export function evaluateAutomationScope(principalId: string, assignments: readonly RoleAssignment[]): AutomationScope {
  const own = assignments.filter((a) => a.principalType === "user" && a.principalId === principalId);
  if (own.length === 0) return { request: everywhere, read: everywhere };
  let request: Scope | undefined;
  let read: Scope | undefined;
  for (const a of own) {
    if (a.permission === appRoles.request) request = widen(request, a.scopeTags);
    read = widen(read, a.scopeTags);
  }
  return { request, read };
}
