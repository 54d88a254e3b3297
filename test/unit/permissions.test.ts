import { describe, expect, it } from "vitest";
import type { UserCaller } from "../../shared/domain/caller.js";
import { DomainError } from "../../shared/domain/errors.js";
import { Access } from "../../shared/app/access.js";
import type { RoleAssignmentStore, UserRecord } from "../../shared/app/admin/ports.js";
import { evaluatePermissions, inScope, requireIntuneLicense, requireReports, type RoleAssignment } from "../../shared/domain/permissions.js";

const caller = (roles: string[] = [], groups: string[] = [], userId = "u1"): UserCaller => ({
  type: "user",
  tenantId: "t1",
  userId,
  displayName: "Test",
  roles,
  groups,
});

const assignment = (a: Partial<RoleAssignment>): RoleAssignment => ({
  id: "a1",
  principalId: "u1",
  principalType: "user",
  permission: "RemoteAssistance.Request",
  scopeTags: [],
  ...a,
});

describe("evaluatePermissions", () => {
  it.each([
    { name: "no role", roles: [], administrator: false, update: false, request: undefined, read: undefined },
    { name: "Intune.Administrator", roles: ["Intune.Administrator"], administrator: true, update: true, request: "all", read: "all" },
    { name: "RemoteAssistance.Update", roles: ["RemoteAssistance.Update"], administrator: false, update: true, request: undefined, read: "all" },
    { name: "RemoteAssistance.Request", roles: ["RemoteAssistance.Request"], administrator: false, update: false, request: "all", read: "all" },
    { name: "an unrelated role", roles: ["Something.Else"], administrator: false, update: false, request: undefined, read: undefined },
  ])("app role: $name", ({ roles, administrator, update, request, read }) => {
    // Act
    const p = evaluatePermissions(caller(roles), []);
    // Assess
    expect(p.administrator).toBe(administrator);
    expect(p.update).toBe(update);
    expect(p.request?.all ? "all" : p.request).toBe(request);
    expect(p.read?.all ? "all" : p.read).toBe(read);
  });

  it("a scoped Request assignment to the user limits requests and reads to its tags", () => {
    const p = evaluatePermissions(caller(), [assignment({ scopeTags: ["berlin"] })]);
    expect(inScope(p.request, ["0", "berlin"])).toBe(true);
    expect(inScope(p.request, ["0", "paris"])).toBe(false);
    expect(inScope(p.read, ["berlin"])).toBe(true);
    expect(inScope(p.read, [])).toBe(false);
    expect(p.update).toBe(false);
  });

  it("an assignment to one of the caller's groups applies; one to another group or user does not", () => {
    const p = evaluatePermissions(caller([], ["g1"]), [
      assignment({ principalType: "group", principalId: "g1", scopeTags: ["a"] }),
      assignment({ id: "a2", principalType: "group", principalId: "g2", scopeTags: ["b"] }),
      assignment({ id: "a3", principalType: "user", principalId: "someone-else", scopeTags: ["c"] }),
    ]);
    expect(inScope(p.request, ["a"])).toBe(true);
    expect(inScope(p.request, ["b"])).toBe(false);
    expect(inScope(p.request, ["c"])).toBe(false);
  });

  it("a tenant-wide assignment widens a scoped one", () => {
    const p = evaluatePermissions(caller(), [assignment({ scopeTags: ["a"] }), assignment({ id: "a2", scopeTags: [] })]);
    expect(p.request?.all).toBe(true);
  });

  it("an Update assignment grants connector rights", () => {
    const p = evaluatePermissions(caller(), [assignment({ permission: "RemoteAssistance.Update" })]);
    expect(p.update).toBe(true);
    expect(p.request).toBeUndefined();
  });
});

describe("tenant-wide permissions", () => {
  it("a scoped Update assignment stored before the rule grants no connector rights, only reads in its scope", () => {
    // Act
    const p = evaluatePermissions(caller(), [assignment({ permission: "RemoteAssistance.Update", scopeTags: ["berlin"] })]);
    // Assess
    expect(p.update).toBe(false);
    expect(p.request).toBeUndefined();
    expect(inScope(p.read, ["berlin"])).toBe(true);
    expect(inScope(p.read, ["paris"])).toBe(false);
    expect(p.reports).toBe(false);
  });

  it.each([
    { name: "Intune.Administrator app role", roles: ["Intune.Administrator"], assignments: [], reports: true, approve: false },
    { name: "ViewReports app role", roles: ["RemoteAssistance.ViewReports"], assignments: [], reports: true, approve: false },
    { name: "Approve app role", roles: ["RemoteAssistance.Approve"], assignments: [], reports: false, approve: true },
    {
      name: "tenant-wide ViewReports assignment",
      roles: [],
      assignments: [assignment({ permission: "RemoteAssistance.ViewReports" })],
      reports: true,
      approve: false,
    },
    {
      name: "scoped ViewReports assignment",
      roles: [],
      assignments: [assignment({ permission: "RemoteAssistance.ViewReports", scopeTags: ["a"] })],
      reports: false,
      approve: false,
    },
    { name: "tenant-wide Approve assignment", roles: [], assignments: [assignment({ permission: "RemoteAssistance.Approve" })], reports: false, approve: true },
    {
      name: "scoped Approve assignment",
      roles: [],
      assignments: [assignment({ permission: "RemoteAssistance.Approve", scopeTags: ["a"] })],
      reports: false,
      approve: false,
    },
    { name: "Request and Update app roles", roles: ["RemoteAssistance.Request", "RemoteAssistance.Update"], assignments: [], reports: false, approve: false },
    { name: "scoped Request assignment", roles: [], assignments: [assignment({ scopeTags: ["a"] })], reports: false, approve: false },
  ])("$name → reports=$reports approve=$approve", ({ roles, assignments, reports, approve }) => {
    // Act
    const p = evaluatePermissions(caller(roles), assignments);
    // Assess
    expect(p.reports).toBe(reports);
    expect(p.approve).toBe(approve);
    if (reports) expect(() => requireReports(p)).not.toThrow();
    else expect(() => requireReports(p)).toThrow(expect.objectContaining({ code: "forbidden" }) as DomainError);
  });

  it("ViewReports and Approve alone read no devices or sessions", () => {
    const p = evaluatePermissions(caller(["RemoteAssistance.ViewReports", "RemoteAssistance.Approve"]), []);
    expect(p.read).toBeUndefined();
    expect(p.request).toBeUndefined();
  });
});

describe("groups overage", () => {
  const groupAssignment = assignment({ principalType: "group", principalId: "g-berlin", scopeTags: ["berlin"] });
  const store = (assignments: RoleAssignment[]): RoleAssignmentStore => ({
    list: () => Promise.resolve(assignments),
    get: () => Promise.resolve(undefined),
    put: () => Promise.reject(new Error("not used")),
    delete: () => Promise.reject(new Error("not used")),
  });
  const record = (groups: string[]): UserRecord => ({
    id: "u1",
    userPrincipalName: "u1@x",
    displayName: "U",
    intuneLicensed: true,
    groups,
    updatedAt: "2026-01-01T00:00:00Z",
  });
  // In-memory stores stand in for Table storage: Access itself is what is under test.
  const access = (user: UserRecord | undefined) => new Access(store([groupAssignment]), { get: () => Promise.resolve(user) });

  it("judges an overage token with the groups of the user's record", async () => {
    const p = await access(record(["G-BERLIN"])).permissionsOf({ ...caller(), groupsOverage: true });
    expect(inScope(p.request, ["berlin"])).toBe(true);
  });

  it("does not read the record when the token lists its groups", async () => {
    const p = await access(record(["g-berlin"])).permissionsOf(caller([], []));
    expect(p.request).toBeUndefined();
  });

  it("an overage token of a user without a record gets only what the token says", async () => {
    const p = await access(undefined).permissionsOf({ ...caller(), groupsOverage: true });
    expect(p.request).toBeUndefined();
    expect(p.read).toBeUndefined();
  });

  it("the pure function judges with the groups it is given", () => {
    expect(inScope(evaluatePermissions(caller(), [groupAssignment], ["g-berlin"]).request, ["berlin"])).toBe(true);
    expect(evaluatePermissions(caller(), [groupAssignment]).request).toBeUndefined();
  });
});

describe("requireIntuneLicense", () => {
  it.each([
    { user: { intuneLicensed: true }, allow: false, ok: true },
    { user: { intuneLicensed: false }, allow: false, ok: false },
    { user: undefined, allow: false, ok: false },
    { user: { intuneLicensed: false }, allow: true, ok: true },
    { user: undefined, allow: true, ok: true },
  ])("licensed=$user.intuneLicensed allowUnlicensedAdmins=$allow → ok=$ok", ({ user, allow, ok }) => {
    const run = () => requireIntuneLicense(user, { allowUnlicensedAdmins: allow });
    if (ok) expect(run).not.toThrow();
    else expect(run).toThrow(expect.objectContaining({ code: "intuneLicenseRequired" }) as DomainError);
  });
});
