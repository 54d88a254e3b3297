// The portal's Settings page (portal/src/pages/settings.ts): role assignments offer every
// permission the API assigns, and name each assigned one in words.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiProblem, type ApiClient } from "../../portal/src/api.js";
import type { PageContext } from "../../portal/src/context.js";
import { settingsPage } from "../../portal/src/pages/settings.js";
import { assignablePermissions } from "../../shared/domain/permissions.js";
import { defaultTenantSettings } from "../../shared/domain/tenantSettings.js";
import { byId, installFakeDom, pageContext, textOf } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());

// GET /settings of a tenant that never changed them.
const settings = defaultTenantSettings;

function settingsContext(): PageContext {
  const answers: Record<string, unknown> = {
    "/settings": settings,
    "/users": { value: [] },
    "/roleAssignments": {
      value: [
        { id: "a1", principalId: "g1", principalType: "group", permission: "RemoteAssistance.Approve", scopeTags: [] },
        { id: "a2", principalId: "g2", principalType: "group", permission: "RemoteAssistance.ViewReports", scopeTags: [] },
      ],
    },
  };
  const api = { get: vi.fn(async (path: string) => answers[path]), post: vi.fn(), request: vi.fn() } as unknown as ApiClient;
  return pageContext({ api, user: { userId: "admin" }, perms: { administrator: true } });
}

describe("portal settings page", () => {
  it("offers every permission the API assigns", async () => {
    // Arrange
    const ctx = settingsContext();

    // Act
    await settingsPage(ctx);

    // Assess
    const offered = byId(ctx.root, "ra-permission")!
      .descendants()
      .map((o) => o.getAttribute("value"));
    expect(offered.sort()).toEqual([...assignablePermissions].sort());
  });

  it("names Approve and View Reports assignments in words", async () => {
    // Arrange
    const ctx = settingsContext();

    // Act
    await settingsPage(ctx);

    // Assess
    const table = textOf(byId(ctx.root, "role-table")! as unknown as HTMLElement);
    expect(table).toContain("Approve Remote Assistance");
    expect(table).toContain("View Reports");
    expect(table).not.toContain("RemoteAssistance.");
  });

  it("shows the service's reason when the tenant has as many role assignments as it may keep", async () => {
    // Arrange: PUT answers 409 conflict past 1,000 assignments.
    const detail =
      "The tenant has 1000 role assignments, the most it may keep (1000). Delete assignments that are no longer needed, or assign roles to groups instead of single users.";
    const ctx = settingsContext();
    const request = ctx.app.api.request as unknown as ReturnType<typeof vi.fn>;
    request.mockRejectedValue(new ApiProblem({ title: "Conflict", status: 409, code: "conflict", detail, correlationId: "corr-409" }));
    await settingsPage(ctx);
    byId(ctx.root, "ra-type")!.value = "group";
    byId(ctx.root, "ra-principal")!.value = "6f1c2a9e-0d7b-4c3e-9a51-2b8f0e4d7c10";

    // Act
    const form = (ctx.root as unknown as { descendants(): { tagName: string; getAttribute(n: string): string | null; dispatch(t: string): void }[] })
      .descendants()
      .find((e) => e.tagName === "FORM" && e.getAttribute("aria-label") === "Add a role assignment")!;
    form.dispatch("submit");

    // Assess: the detail and the correlation id, verbatim.
    await vi.waitFor(() => expect(textOf(ctx.root)).toContain(detail));
    expect(textOf(ctx.root)).toContain("corr-409");
  });
});
