// What the portal shows when GET /me/permissions fails with something other than a 401
// (portal/src/pages/permissionsProblem.ts): e.g. a 500 while the service cannot load the
// identity provider's signing keys. The reader stays signed in and can try again.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiProblem } from "../../portal/src/api.js";
import { permissionsProblem } from "../../portal/src/pages/permissionsProblem.js";
import { byId, container, installFakeDom, textOf } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());

describe("portal when the rights cannot be read", () => {
  it("keeps the sign-in on a 500, shows the service's detail, and offers to try again or sign out", () => {
    // Arrange: the key set outage answers 500 with the usual problem details.
    const error = new ApiProblem({
      title: "Internal error",
      status: 500,
      code: "internal",
      detail: "An unexpected error occurred. Quote the correlation id when you report it.",
      correlationId: "corr-500",
    });
    const root = container();
    const retry = vi.fn();
    const signOut = vi.fn();

    // Act
    permissionsProblem(root, error, retry, signOut);
    byId(root, "retry-permissions")!.click();
    byId(root, "sign-out-instead")!.click();

    // Assess
    expect(textOf(root)).toContain("You are still signed in");
    expect(textOf(root)).toContain("An unexpected error occurred. Quote the correlation id when you report it.");
    expect(textOf(root)).toContain("corr-500");
    expect(retry).toHaveBeenCalledTimes(1);
    expect(signOut).toHaveBeenCalledTimes(1);
  });

  it("does not blame the service for a 403", () => {
    // Arrange
    const root = container();

    // Act
    permissionsProblem(root, new ApiProblem({ title: "Forbidden", status: 403, code: "forbidden", detail: "No access." }), vi.fn(), vi.fn());

    // Assess
    expect(textOf(root)).not.toContain("service's trouble");
    expect(textOf(root)).toContain("No access.");
  });
});
