// Pushes are addressed by the tag `tenant:<tenantId>:user:<oid>`: object ids are unique only
// within a tenant, so a user of another tenant who happens to have the same object id
// (a guest, a copied test tenant) must get nothing. The local push gateway records each push
// with the tag a hub would match registrations against.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { api, tokenFor } from "../support/api.js";
import { newTenant, onboard, type TestTenant } from "./connectorSupport.js";
import { createDevices, eventuallySession, managedDevice, pushes, requestSession } from "./sessionsSupport.js";

let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  [a, b] = await Promise.all([newTenant(), newTenant()]);
  await Promise.all([onboard(a), onboard(b)]);
});

const inboxOf = async (tenantId: string, oid: string): Promise<string[]> => {
  const token = await tokenFor({ tid: tenantId, oid, name: "Same Object Id", roles: [], groups: [] });
  const res = await api<{ value: { id: string }[] }>("/me/remoteAssistanceRequests", { token });
  expect(res.status, res.text).toBe(200);
  return res.body.value.map((r) => r.id);
};

describe("push tags carry the tenant", () => {
  it("a user of tenant B with the same object id as the target in tenant A gets nothing", async () => {
    // Prepare: one object id, a device with it as primary user in each tenant.
    const oid = randomUUID();
    const inA = managedDevice({ userId: oid });
    const inB = managedDevice({ userId: oid });
    await Promise.all([createDevices(a.tenantId, a.admin, [inA]), createDevices(b.tenantId, b.admin, [inB])]);

    // Act: tenant A's help desk asks for a session on A's device; its user is notified.
    const requested = await requestSession(a.helpdesk, inA.id);
    expect(requested.status, requested.text).toBe(202);
    const id = requested.body.id;
    await eventuallySession(a.helpdesk, id, (s) => s.endUserNotification.status === "sent", "the push to be sent");

    // Assess: the push is addressed to A's user only; what a hub would deliver to B's user is nothing.
    const tagA = `tenant:${a.tenantId}:user:${oid}`;
    const tagB = `tenant:${b.tenantId}:user:${oid}`;
    expect(pushes().filter((p) => p.sessionId === id)).toEqual([expect.objectContaining({ tenantId: a.tenantId, userId: oid, tag: tagA })]);
    expect(pushes().filter((p) => p.tag === tagB)).toEqual([]);
    expect(pushes().some((p) => p.tag === oid || p.tag === `user:${oid}`)).toBe(false);
    expect(await inboxOf(a.tenantId, oid)).toContain(id);
    expect(await inboxOf(b.tenantId, oid)).toEqual([]);
  });
});
