// What a user may do in their tenant: the token's app roles plus the tenant's stored
// role assignments, evaluated by the one pure permissions function.
import type { UserCaller } from "../domain/caller.js";
import { evaluatePermissions, type Permissions } from "../domain/permissions.js";
import { evaluateAutomationScope, type AutomationScope } from "../domain/automationScope.js";
import type { RoleAssignmentStore } from "./admin/ports.js";

export class Access {
  readonly #assignments: RoleAssignmentStore;
  constructor(assignments: RoleAssignmentStore) {
    this.#assignments = assignments;
  }

  async permissionsOf(caller: UserCaller): Promise<Permissions> {
    return evaluatePermissions(caller, await this.#assignments.list(caller.tenantId));
  }

  /** An automation principal (an app, or the principal a trusted producer names): see automationScope.ts. */
  async automationScopeOf(tenantId: string, principalId: string): Promise<AutomationScope> {
    return evaluateAutomationScope(principalId, await this.#assignments.list(tenantId));
  }
}
