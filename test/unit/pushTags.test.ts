// The push tag: tenant-qualified, and only what a Notification Hubs tag may hold.
import { describe, expect, it } from "vitest";
import { userTag } from "../../shared/adapters/push/notificationHubsPushGateway.js";

describe("userTag", () => {
  it("puts the tenant before the user, so equal object ids of two tenants give two tags", () => {
    // Act
    const a = userTag("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222");
    const b = userTag("33333333-3333-3333-3333-333333333333", "22222222-2222-2222-2222-222222222222");

    // Assess
    expect(a).toBe("tenant:11111111-1111-1111-1111-111111111111:user:22222222-2222-2222-2222-222222222222");
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(120);
  });

  it.each([
    ["a bar (Notification Hubs' OR)", "t", "u|v"],
    ["a colon that would shift the parts", "t:user:x", "u"],
    ["a space", "t", "u v"],
    ["an empty id", "", "u"],
    ["more than 120 characters", "t".repeat(100), "u".repeat(30)],
  ])("refuses %s", (_, tenantId, userId) => {
    // Act + Assess
    expect(() => userTag(tenantId, userId)).toThrow(/push tag/);
  });
});
