// A device that changes hands while its request awaits the end user: the request was for
// the device's user, and someone who no longer is may neither see nor accept it (the link
// would start QuickSupport for the help desk on whatever machine they use now).
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api, eventually, tokenFor } from "../support/api.js";
import { newTenant, onboard, type TestTenant } from "./connectorSupport.js";
import { createDevices, envelope, eventuallySession, managedDevice, requestSession, sendAutomationEvents } from "./sessionsSupport.js";

/** A fresh tenant's request awaiting the device's user, then the inventory gives the device to someone else. */
async function requestThenHandOver(): Promise<{ tenant: TestTenant; device: ReturnType<typeof managedDevice>; id: string }> {
  const tenant = await newTenant();
  await onboard(tenant);
  const device = managedDevice();
  await createDevices(tenant.tenantId, tenant.admin, [device]);
  const requested = await requestSession(tenant.helpdesk, device.id);
  expect(requested.status, requested.text).toBe(202);
  const id = requested.body.id;
  await eventuallySession(tenant.admin, id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
  const newUserId = randomUUID();
  await sendAutomationEvents([
    envelope("device.upserted", tenant.tenantId, {
      ...device,
      userId: newUserId,
      userPrincipalName: "new@tenant.example",
      lastSyncDateTime: "2026-11-21T08:00:00Z",
    }),
  ]);
  await eventually(
    async () => ((await api<{ userId: string }>(`/devices/${device.id}`, { token: tenant.admin })).body.userId === newUserId ? true : undefined),
    30_000,
    "the device's new user",
  );
  return { tenant, device, id };
}

describe("a device that changed hands", () => {
  it("its former user no longer sees, accepts or declines the request", async () => {
    // Prepare
    const { tenant, device, id } = await requestThenHandOver();
    const formerUser = await tokenFor({ tid: tenant.tenantId, oid: String(device.userId), name: "Former User" });

    // Act
    const listed = await api<{ value: { id: string }[] }>("/me/remoteAssistanceRequests", { token: formerUser });
    const accepted = await api<{ endUserLink?: string; code?: string }>(`/me/remoteAssistanceRequests/${id}/accept`, { method: "POST", token: formerUser });
    const declined = await api(`/me/remoteAssistanceRequests/${id}/decline`, { method: "POST", token: formerUser });

    // Assess
    expect(listed.body.value.map((r) => r.id)).not.toContain(id);
    expect(accepted.status, accepted.text).toBe(404);
    expect(accepted.body.endUserLink).toBeUndefined();
    expect(declined.status, declined.text).toBe(404);
    expect((await api<{ status: string }>(`/sessions/${id}`, { token: tenant.admin })).body.status).toBe("awaitingEndUser");
  });

  it("the admin cannot resend the request's notification to its former user", async () => {
    // Prepare
    const { tenant, id } = await requestThenHandOver();

    // Act
    const resent = await api<{ code: string; detail: string }>(`/sessions/${id}/resendNotification`, { method: "POST", token: tenant.helpdesk });

    // Assess: refused with a reason the admin can act on; nothing dispatched.
    expect(resent.status, resent.text).toBe(409);
    expect(resent.body.code).toBe("conflict");
    expect(resent.body.detail).toMatch(/another primary user/);
    const after = await api<{ history: { status: string; detail?: string }[] }>(`/sessions/${id}`, { token: tenant.admin });
    expect(JSON.stringify(after.body.history)).not.toMatch(/resent/i);
  });
});
