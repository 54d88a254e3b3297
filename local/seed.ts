// Seeds the demo tenant through the real entry points: inventory and user events on the
// automation-events queue (as an inventory sync would send them) and the admin API.
import { ServiceBusClient } from "@azure/service-bus";
import { demoDevices, demoRemovedDevice, demoTenant, demoUser, demoUsers, helpdeskBerlinGroup, stableUuid } from "./demoTenant.js";
import type { Stack } from "./stack.js";

export { demoUsers } from "./demoTenant.js";

/** Seeded events carry a fixed time, so seeding again changes nothing (older-or-equal events are ignored). */
const seededAt = "2026-11-20T08:00:00.000Z";

function envelope(type: string, tenantId: string, data: unknown, key: string): { id: string; body: unknown } {
  const id = stableUuid(`seed:${key}`);
  return { id, body: { type, version: 1, id, tenantId, occurredAt: seededAt, data } };
}

export async function seedDemoTenant(
  stack: Pick<Stack, "serviceBusConnectionString" | "apiUrl" | "identity">,
  log: (line: string) => void,
): Promise<{ tenantId: string; tenantName: string; summary: string }> {
  const events: { id: string; body: unknown }[] = [];
  for (const u of demoUsers) {
    events.push(
      envelope(
        "user.upserted",
        u.claims.tid,
        {
          id: u.claims.oid,
          userPrincipalName: u.claims.preferred_username,
          displayName: u.claims.name,
          mail: u.claims.preferred_username,
          intuneLicensed: u.intuneLicensed,
          groups: u.claims.groups,
        },
        `user:${u.key}`,
      ),
    );
  }
  for (const d of [...demoDevices, demoRemovedDevice]) events.push(envelope("device.upserted", demoTenant.id, d.data, `device:${d.data.id}`));
  events.push(envelope("device.removed", demoTenant.id, { id: demoRemovedDevice.data.id }, `removed:${demoRemovedDevice.data.id}`));

  const client = new ServiceBusClient(stack.serviceBusConnectionString);
  try {
    const sender = client.createSender("automation-events");
    for (const e of events) {
      await sender.sendMessages({ messageId: e.id, body: e.body, contentType: "application/json", subject: (e.body as { type: string }).type });
    }
    await sender.close();
  } finally {
    await client.close();
  }

  // The scoped help-desk group gets Request Remote Assistance for devices tagged "berlin".
  const admin = await stack.identity.issueToken(demoUser("admin").claims);
  const res = await fetch(`${stack.apiUrl}/roleAssignments/${stableUuid("assignment:helpdesk-berlin")}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ principalId: helpdeskBerlinGroup, principalType: "group", permission: "RemoteAssistance.Request", scopeTags: ["berlin"] }),
  });
  if (res.status >= 300 && res.status !== 404) log(`role assignment seed answered ${res.status}: ${await res.text()}`);

  log(`sent ${events.length} inventory events for ${demoTenant.name}`);
  await waitForDevices(stack.apiUrl, admin);
  return {
    tenantId: demoTenant.id,
    tenantName: demoTenant.name,
    summary: `${demoUsers.length} users, ${demoDevices.length + 1} devices (one per eligibility row), role assignment for the berlin help desk`,
  };
}

/**
 * The events are consumed asynchronously; waiting until the device list shows all of them
 * (the removed one as removed) means "ready" is printed only when the demo data is there.
 */
async function waitForDevices(apiUrl: string, token: string, timeoutMs = 60_000): Promise<void> {
  const want = new Set([...demoDevices, demoRemovedDevice].map((d) => d.data.id));
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (Date.now() < deadline) {
    const res = await fetch(`${apiUrl}/devices?top=200`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 200) {
      const page = (await res.json()) as { value: { id: string; removed: boolean }[] };
      const ours = page.value.filter((d) => want.has(d.id));
      seen = ours.length;
      if (seen === want.size && ours.some((d) => d.id === demoRemovedDevice.data.id && d.removed)) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  // Not ready is not ready: start-up fails here rather than print a banner over missing data.
  throw new Error(
    `only ${seen} of ${want.size} demo devices were listed after ${timeoutMs / 1000} s: the automation-events consumer did not take the seed in time (see the stack log)`,
  );
}
