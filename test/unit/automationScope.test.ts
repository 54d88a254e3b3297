// Where an automation principal may request sessions: tenant-wide by its grant, narrowed by
// role assignments naming it.
import { describe, expect, it } from "vitest";
import { evaluateAutomationScope } from "../../shared/domain/automationScope.js";
import { inScope, type RoleAssignment } from "../../shared/domain/permissions.js";

const assignment = (
  principalId: string,
  permission: RoleAssignment["permission"],
  scopeTags: string[],
  principalType: RoleAssignment["principalType"] = "user",
): RoleAssignment => ({
  id: `${principalId}-${permission}-${scopeTags.join(",")}`,
  principalId,
  principalType,
  permission,
  scopeTags,
});

describe("evaluateAutomationScope", () => {
  it("is tenant-wide when no role assignment names the app", () => {
    // Act
    const scope = evaluateAutomationScope("app-1", [
      assignment("someone-else", "RemoteAssistance.Request", ["berlin"]),
      assignment("app-1", "RemoteAssistance.Request", ["x"], "group"),
    ]);

    // Assess
    expect(inScope(scope.request, [])).toBe(true);
    expect(inScope(scope.read, ["anything"])).toBe(true);
  });

  it("narrows to the tags of the Request assignments naming the app", () => {
    // Act
    const scope = evaluateAutomationScope("app-1", [
      assignment("app-1", "RemoteAssistance.Request", ["berlin"]),
      assignment("app-1", "RemoteAssistance.Request", ["paris"]),
    ]);

    // Assess
    expect(inScope(scope.request, ["berlin"])).toBe(true);
    expect(inScope(scope.request, ["paris", "x"])).toBe(true);
    expect(inScope(scope.request, ["london"])).toBe(false);
    expect(inScope(scope.request, [])).toBe(false);
  });

  it("gives no request right when the app's only assignments are not Request, but lets it see their scope", () => {
    // Act
    const scope = evaluateAutomationScope("app-1", [assignment("app-1", "RemoteAssistance.Update", ["berlin"])]);

    // Assess
    expect(scope.request).toBeUndefined();
    expect(inScope(scope.read, ["berlin"])).toBe(true);
    expect(inScope(scope.read, ["paris"])).toBe(false);
  });

  it("is tenant-wide again when one of its Request assignments has no tags", () => {
    // Act
    const scope = evaluateAutomationScope("app-1", [
      assignment("app-1", "RemoteAssistance.Request", ["berlin"]),
      assignment("app-1", "RemoteAssistance.Request", []),
    ]);

    // Assess
    expect(scope.request).toEqual({ all: true });
  });
});
