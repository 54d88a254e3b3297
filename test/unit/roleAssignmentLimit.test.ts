// Role assignments are read in full on every request (permissions are evaluated from all of
// them, uncached), so their number is what every request of the tenant costs: a tenant
// keeps at most maxRoleAssignmentsPerTenant. A new one past it is a 409 conflict that
// stores and audits nothing; replacing or deleting existing ones stays possible.
import { beforeEach, describe, expect, it } from "vitest";
import { Access } from "../../shared/app/access.js";
import { AdminService, maxRoleAssignmentsPerTenant } from "../../shared/app/admin/adminService.js";
import type { RoleAssignmentStore } from "../../shared/app/admin/ports.js";
import type { UserCaller } from "../../shared/domain/caller.js";
import { errorCodes } from "../../shared/domain/errors.js";
import type { RoleAssignment } from "../../shared/domain/permissions.js";
import { ManualClock, MemoryAuditLog } from "../support/memoryPorts.js";

const tenantId = "t1";
const admin: UserCaller = { type: "user", tenantId, userId: "admin-1", displayName: "Admin", roles: ["Intune.Administrator"], groups: [] };
const body = { principalId: "u1", principalType: "user" as const, permission: "RemoteAssistance.Request" as const, scopeTags: [] };

/** Role assignments in memory, keyed by tenant and id. */
class MemoryRoleAssignments implements RoleAssignmentStore {
  readonly rows = new Map<string, RoleAssignment>();
  async list(t: string): Promise<RoleAssignment[]> {
    return [...this.rows].filter(([k]) => k.startsWith(`${t}|`)).map(([, a]) => a);
  }
  async get(t: string, id: string): Promise<RoleAssignment | undefined> {
    return this.rows.get(`${t}|${id}`);
  }
  async put(t: string, a: RoleAssignment): Promise<{ created: boolean }> {
    const created = !this.rows.has(`${t}|${a.id}`);
    this.rows.set(`${t}|${a.id}`, a);
    return { created };
  }
  async delete(t: string, id: string): Promise<boolean> {
    return this.rows.delete(`${t}|${id}`);
  }
}

let assignments: MemoryRoleAssignments;
let audit: MemoryAuditLog;
let service: AdminService;

beforeEach(() => {
  const clock = new ManualClock();
  assignments = new MemoryRoleAssignments();
  audit = new MemoryAuditLog(clock);
  const users = { get: async () => undefined, list: async () => ({ value: [] }), upsertIfNewer: async () => false };
  const settings = { get: () => Promise.reject(new Error("unused")), update: () => Promise.reject(new Error("unused")) };
  service = new AdminService({ access: new Access(assignments, users), assignments, settings, users, audit, clock });
});

describe("role assignments per tenant", () => {
  it("refuses a new one past the limit with a conflict, storing and auditing nothing; an existing one can still be replaced", async () => {
    // Prepare: a tenant at the limit
    for (let i = 0; i < maxRoleAssignmentsPerTenant; i++) assignments.rows.set(`${tenantId}|a-${i}`, { id: `a-${i}`, ...body });
    const audited = audit.events.length;

    // Act
    const extra = service.putRoleAssignment(admin, "one-more", body, "corr-1");
    const replaced = await service.putRoleAssignment(admin, "a-0", { ...body, principalId: "u2" }, "corr-2");

    // Assess
    await expect(extra).rejects.toMatchObject({ code: errorCodes.conflict });
    expect(await assignments.get(tenantId, "one-more")).toBeUndefined();
    expect(replaced).toMatchObject({ created: false, assignment: { principalId: "u2" } });
    expect(assignments.rows.size).toBe(maxRoleAssignmentsPerTenant);
    expect(audit.events.slice(audited).map((e) => e.activity)).toEqual(["roleAssignment.update"]);
  });
});
