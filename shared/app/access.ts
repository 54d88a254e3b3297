// What a user may do in their tenant: the token's app roles plus the tenant's stored
// role assignments, evaluated by the one pure permissions function. A token with a
// groups overage carries no (or not all) groups: then the groups of the user's record
// (from user.upserted) decide which group assignments apply.
import type { UserCaller } from "../domain/caller.js";
import { evaluatePermissions, type Permissions } from "../domain/permissions.js";
import { evaluateAutomationScope, type AutomationScope } from "../domain/automationScope.js";
import type { RoleAssignmentStore, UserStore } from "./admin/ports.js";

export class Access {
  readonly #assignments: RoleAssignmentStore;
  readonly #users: Pick<UserStore, "get">;
  constructor(assignments: RoleAssignmentStore, users: Pick<UserStore, "get">) {
    this.#assignments = assignments;
    this.#users = users;
  }

  async permissionsOf(caller: UserCaller): Promise<Permissions> {
    const [assignments, groups] = await Promise.all([this.#assignments.list(caller.tenantId), this.#groupsOf(caller)]);
    return evaluatePermissions(caller, assignments, groups);
  }

  async #groupsOf(caller: UserCaller): Promise<readonly string[]> {
    if (!caller.groupsOverage) return caller.groups;
    // No record yet: only what the token listed (usually nothing) counts.
    const user = await this.#users.get(caller.tenantId, caller.userId);
    return user ? [...new Set([...caller.groups, ...user.groups])] : caller.groups;
  }

  /** An automation principal (an app, or the principal a trusted producer names): see automationScope.ts. */
  async automationScopeOf(tenantId: string, principalId: string): Promise<AutomationScope> {
    return evaluateAutomationScope(principalId, await this.#assignments.list(tenantId));
  }
}
