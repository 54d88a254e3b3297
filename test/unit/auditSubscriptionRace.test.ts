// PUT and DELETE of one audit push subscription id, interleaved as concurrent requests can
// be: whatever the order, the subscription left standing delivers signed with the secret
// of the PUT that set its URL, and a deleted one leaves no secret behind. Over in-memory
// ports that hold an operation at a chosen point.
import { describe, expect, it } from "vitest";
import type { Access } from "../../shared/app/access.js";
import type { AuditEvent, AuditLog, AuditStream } from "../../shared/app/audit/auditLog.js";
import { AuditPush } from "../../shared/app/audit/auditPush.js";
import { signature } from "../../shared/domain/auditExport.js";
import { ManualClock, MemoryMessageBus, recordingLogger } from "../support/memoryPorts.js";
import { gate, MemoryAuditSubscriptionStore, MemoryVault } from "../support/memoryAuditSubscriptions.js";

const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00001111";
const admin = { type: "user", tenantId, userId: "admin-1", displayName: "Adele Vance", roles: [], groups: [] } as const;
const event: AuditEvent = {
  id: "01JDX4K2V3N8Q5R7T9W1Y3Z5A7",
  at: "2026-12-01T00:00:00.000Z",
  actor: { id: "admin-1", displayName: "Adele Vance", type: "user" },
  activity: "settings.update",
  target: { type: "settings", id: tenantId },
  result: "success",
};

function world() {
  const store = new MemoryAuditSubscriptionStore();
  const vault = new MemoryVault();
  const posts: { url: string; signature: string | undefined; body: string }[] = [];
  const { log } = recordingLogger();
  const push = new AuditPush({
    access: { permissionsOf: async () => Promise.resolve({ administrator: true, reports: true }) } as unknown as Access,
    audit: () => ({ record: async () => Promise.resolve() }) as unknown as AuditLog,
    store,
    stream: { get: async () => Promise.resolve(event) } as unknown as AuditStream,
    secrets: vault,
    bus: new MemoryMessageBus(),
    receiver: {
      post: async (url, body, headers) => {
        posts.push({ url, signature: headers["x-signature"], body });
        return Promise.resolve({ ok: true as const });
      },
    },
    clock: new ManualClock("2026-12-01T00:00:00.000Z"),
    policy: { firstRetryMs: 30_000, giveUpMs: 24 * 3_600_000 },
    allowInsecureLoopback: false,
    log,
  });
  /** Delivers the event to subscription `id` as it stands now; the POST it made, if any. */
  const deliverNow = async (id: string) => {
    const sub = await store.get(tenantId, id);
    if (!sub) return undefined;
    posts.length = 0;
    await push.deliver({ tenantId, data: { subscriptionId: id, generation: sub.generation, sequence: 1, attempt: 0 }, deliveryCount: 1, log });
    return posts[0];
  };
  return { store, vault, push, deliverNow };
}

describe("a DELETE racing a PUT of the same audit subscription", () => {
  it("leaves the subscription the PUT created with its secret when the DELETE removes the old one's secret last", async () => {
    // Prepare: a subscription; the DELETE will be held just before it removes the secret.
    const w = world();
    await w.push.put(admin, "siem", { url: "https://old.example.com/audit", secret: "the-old-receivers-secret" }, "c1");
    const held = gate();
    w.vault.pause = async (operation) => (operation === "remove" ? held.wait() : undefined);

    // Act: the DELETE removes the row, the PUT creates the subscription again, then the DELETE goes on.
    const deleting = w.push.delete(admin, "siem", "c2");
    await held.reached;
    w.vault.pause = async () => Promise.resolve();
    await w.push.put(admin, "siem", { url: "https://new.example.com/audit", secret: "the-new-receivers-secret" }, "c3");
    held.open();
    await deleting;
    const post = await w.deliverNow("siem");

    // Assess: the new subscription posts, signed with the new secret.
    expect(post?.url).toBe("https://new.example.com/audit");
    expect(post?.signature).toBe(signature("the-new-receivers-secret", post!.body));
  });

  it("leaves no secret behind when the DELETE wins over a PUT that replaced the subscription first", async () => {
    // Prepare: a subscription; the DELETE will be held after it read the subscription.
    const w = world();
    await w.push.put(admin, "siem", { url: "https://old.example.com/audit", secret: "the-old-receivers-secret" }, "c1");
    const held = gate();
    w.store.pause = async (operation) => (operation === "delete" ? held.wait() : undefined);

    // Act
    const deleting = w.push.delete(admin, "siem", "c2");
    await held.reached;
    w.store.pause = async () => Promise.resolve();
    await w.push.put(admin, "siem", { url: "https://new.example.com/audit", secret: "the-new-receivers-secret" }, "c3");
    held.open();
    await deleting;

    // Assess
    expect(await w.store.get(tenantId, "siem")).toBeUndefined();
    expect(w.vault.size).toBe(0);
  });
});

describe("two PUTs of one audit subscription at once", () => {
  it("leave it delivering signed with the secret of the PUT whose URL it has", async () => {
    // Prepare: a subscription; the first PUT will be held after it stored its secret.
    const w = world();
    await w.push.put(admin, "siem", { url: "https://old.example.com/audit", secret: "the-old-receivers-secret" }, "c1");
    const held = gate();
    let sets = 0;
    w.store.pause = async (operation) => (operation === "get" && sets === 1 ? held.wait() : undefined);
    w.vault.pause = async (operation) => void (operation === "set" && sets++);

    // Act: the second PUT runs whole while the first waits between its secret and its row.
    const first = w.push.put(admin, "siem", { url: "https://first.example.com/audit", secret: "the-first-receivers-secret" }, "c2");
    await held.reached;
    w.store.pause = async () => Promise.resolve();
    await w.push.put(admin, "siem", { url: "https://second.example.com/audit", secret: "the-second-receivers-secret" }, "c3");
    held.open();
    await first;
    const post = await w.deliverNow("siem");

    // Assess: the first PUT wrote its row last, so its URL and its secret.
    expect(post?.url).toBe("https://first.example.com/audit");
    expect(post?.signature).toBe(signature("the-first-receivers-secret", post!.body));
  });
});

describe("a delivery under way while a PUT replaces its subscription", () => {
  it("posts to the new receiver, signed with the new secret, when the PUT removed the secret it was about to read", async () => {
    // Prepare: the delivery has read the subscription and waits to read its secret.
    const w = world();
    await w.push.put(admin, "siem", { url: "https://old.example.com/audit", secret: "the-old-receivers-secret" }, "c1");
    const held = gate();
    w.vault.pause = async (operation) => (operation === "get" ? held.wait() : undefined);

    // Act
    const delivering = w.deliverNow("siem");
    await held.reached;
    w.vault.pause = async () => Promise.resolve();
    await w.push.put(admin, "siem", { url: "https://new.example.com/audit", secret: "the-new-receivers-secret" }, "c2");
    held.open();
    const post = await delivering;

    // Assess: delivered now, not failed and left for a retry.
    expect(post?.url).toBe("https://new.example.com/audit");
    expect(post?.signature).toBe(signature("the-new-receivers-secret", post!.body));
    expect((await w.store.get(tenantId, "siem"))?.lastError).toBeNull();
  });
});
