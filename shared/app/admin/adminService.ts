// Administration use cases: role assignments, tenant settings and the audit log query.
import { actorOf, type UserCaller } from "../../domain/caller.js";
import { conflict, DomainError, errorCodes, notFound } from "../../domain/errors.js";
import { requireAdministrator, requireReports, tenantWidePermissions, type AssignablePermission, type RoleAssignment } from "../../domain/permissions.js";
import type { TenantSettings } from "../../domain/tenantSettings.js";
import type { Access } from "../access.js";
import type { AuditEvent, AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { RoleAssignmentStore, SettingsStore, UserRecord, UserStore } from "./ports.js";

const auditRetentionDays = 90;

/**
 * Role assignments a tenant keeps at most. Every request of the tenant reads all of them
 * (permissions are evaluated from the whole list, uncached, so a revoked role stops a
 * request at once): the bound keeps that one query page (Table storage answers at most
 * 1,000 entities a page), whatever a script that PUTs new ids does.
 */
export const maxRoleAssignmentsPerTenant = 1_000;

export class AdminService {
  readonly #access: Access;
  readonly #assignments: RoleAssignmentStore;
  readonly #settings: SettingsStore;
  readonly #users: UserStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(deps: { access: Access; assignments: RoleAssignmentStore; settings: SettingsStore; users: UserStore; audit: AuditLog; clock: Clock }) {
    this.#access = deps.access;
    this.#assignments = deps.assignments;
    this.#users = deps.users;
    this.#settings = deps.settings;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
  }

  async listRoleAssignments(caller: UserCaller): Promise<RoleAssignment[]> {
    requireAdministrator(await this.#access.permissionsOf(caller));
    return (await this.#assignments.list(caller.tenantId)).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The users the service knows, for picking whom a role assignment names. */
  async listUsers(
    caller: UserCaller,
    q: { search?: string; top: number; continuationToken?: string },
  ): Promise<{ value: Omit<UserRecord, "updatedAt">[]; continuationToken?: string }> {
    requireAdministrator(await this.#access.permissionsOf(caller));
    const page = await this.#users.list({ tenantId: caller.tenantId, ...q });
    return { ...page, value: page.value.map(({ updatedAt: _updatedAt, ...u }) => u) };
  }

  async putRoleAssignment(
    caller: UserCaller,
    id: string,
    body: { principalId: string; principalType: "user" | "group"; permission: AssignablePermission; scopeTags: string[] },
    correlationId: string,
  ): Promise<{ assignment: RoleAssignment; created: boolean }> {
    requireAdministrator(await this.#access.permissionsOf(caller));
    if (body.scopeTags.length > 0 && tenantWidePermissions.has(body.permission)) {
      // The HTTP contract refuses this too; the rule lives here so no other path can store one.
      throw new DomainError(errorCodes.validationFailed, `${body.permission} is tenant-wide: it takes no scope tags.`, {
        errors: [{ path: "body.scopeTags", message: "this permission is tenant-wide: it takes no scope tags" }],
      });
    }
    const assignment: RoleAssignment = { id, ...body, scopeTags: [...new Set(body.scopeTags)] };
    await this.#assertRoomFor(caller.tenantId, id);
    const { created } = await this.#assignments.put(caller.tenantId, assignment);
    await this.#audit.record({
      tenantId: caller.tenantId,
      actor: actorOf(caller),
      activity: created ? "roleAssignment.create" : "roleAssignment.update",
      target: { type: "roleAssignment", id },
      result: "success",
      detail: `${body.permission} for ${body.principalType} ${body.principalId}${assignment.scopeTags.length ? ` in scope tags ${assignment.scopeTags.join(", ")}` : " tenant-wide"}`,
      correlationId,
    });
    return { assignment, created };
  }

  /**
   * A new assignment must fit under the limit; replacing an existing one always may. Two
   * PUTs of new ids at the same moment can both pass at the limit: it is overshot by at
   * most the requests in flight, never grown without bound.
   */
  async #assertRoomFor(tenantId: string, id: string): Promise<void> {
    const existing = await this.#assignments.list(tenantId);
    if (existing.length < maxRoleAssignmentsPerTenant || existing.some((a) => a.id === id)) return;
    throw conflict(
      `The tenant has ${existing.length} role assignments, the most it may keep (${maxRoleAssignmentsPerTenant}). Delete assignments that are no longer needed, or assign roles to groups instead of single users.`,
    );
  }

  async deleteRoleAssignment(caller: UserCaller, id: string, correlationId: string): Promise<void> {
    requireAdministrator(await this.#access.permissionsOf(caller));
    if (!(await this.#assignments.delete(caller.tenantId, id))) throw notFound("The role assignment");
    await this.#audit.record({
      tenantId: caller.tenantId,
      actor: actorOf(caller),
      activity: "roleAssignment.delete",
      target: { type: "roleAssignment", id },
      result: "success",
      correlationId,
    });
  }

  async getSettings(caller: UserCaller): Promise<TenantSettings> {
    requireAdministrator(await this.#access.permissionsOf(caller));
    return this.#settings.get(caller.tenantId);
  }

  async patchSettings(caller: UserCaller, change: Partial<TenantSettings>, correlationId: string): Promise<TenantSettings> {
    requireAdministrator(await this.#access.permissionsOf(caller));
    const next = await this.#settings.update(caller.tenantId, change);
    await this.#audit.record({
      tenantId: caller.tenantId,
      actor: actorOf(caller),
      activity: "settings.update",
      target: { type: "settings", id: caller.tenantId },
      result: "success",
      detail: Object.entries(change)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? JSON.stringify(v) : String(v)}`)
        .join(", "),
      correlationId,
    });
    return next;
  }

  async queryAudit(
    caller: UserCaller,
    q: { from?: string; to?: string; activity?: string; top: number; continuationToken?: string },
  ): Promise<{ value: AuditEvent[]; continuationToken?: string }> {
    // Tenant-wide data: a scoped principal may not read it, whatever its scope.
    requireReports(await this.#access.permissionsOf(caller));
    const to = q.to ? new Date(q.to) : this.#clock.now();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - auditRetentionDays * 86_400_000);
    return this.#audit.query({ tenantId: caller.tenantId, from, to, activity: q.activity, top: q.top, continuationToken: q.continuationToken });
  }
}
