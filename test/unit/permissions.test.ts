import { describe, expect, it } from "vitest";
import type { UserCaller } from "../../shared/domain/caller.js";
import { DomainError } from "../../shared/domain/errors.js";
import { evaluatePermissions, inScope, requireIntuneLicense, type RoleAssignment } from "../../shared/domain/permissions.js";

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
