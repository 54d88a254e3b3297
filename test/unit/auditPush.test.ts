// Audit push deliveries that keep failing, on in-memory ports and a clock moved by hand:
// each retry is delivered as Service Bus would (the scheduled message's first delivery
// counts 1; a thrown delivery comes back with the count one higher, until the 10th goes to
// the dead-letter queue). What is shown: the last retry, scheduled at the give-up age, is
// made; the subscription's lastError then says it gave up; nothing is posted or scheduled
// after that. Against the whole stack: test/integration/auditExport.push.test.ts. Also: no two
// tenants' subscriptions share a Key Vault secret name.
import { describe, expect, it } from "vitest";
import type { Access } from "../../shared/app/access.js";
import type { AuditEvent, AuditLog, AuditStream } from "../../shared/app/audit/auditLog.js";
import { AuditDeliveryGaveUp, AuditPush, subscriptionSecretName, type SubscriptionSecrets } from "../../shared/app/audit/auditPush.js";
import type { AuditSubscriptionStore, StoredSubscription } from "../../shared/app/audit/auditSubscriptionPorts.js";
import type { AuditDeliverData } from "../../shared/contracts/messages.js";
import { ManualClock, MemoryMessageBus, recordingLogger } from "../support/memoryPorts.js";

const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00001111";
const hour = 3_600_000;
const policy = { firstRetryMs: 30_000, giveUpMs: 24 * hour };
const event: AuditEvent = {
  id: "01JDX4K2V3N8Q5R7T9W1Y3Z5A7",
  at: "2026-12-01T00:00:00.000Z",
  actor: { id: "admin-1", displayName: "Adele Vance", type: "user" },
  activity: "settings.update",
  target: { type: "settings", id: tenantId },
  result: "success",
};

/** One subscription whose receiver answers 503 to every POST. */
function failingReceiver(lastError: StoredSubscription["lastError"] = null, lastDeliveredAt: string | null = null) {
  const clock = new ManualClock("2026-12-01T00:00:00.000Z");
  let sub: StoredSubscription = {
    id: "siem",
    url: "https://siem.example.com/audit",
    generation: "0b8c4c1e-8f35-4c47-9d44-6f2a9a1a0b11",
    secretVersion: "v1",
    createdAt: "2026-11-30T00:00:00.000Z",
    createdBy: { id: "admin-1", displayName: "Adele Vance", type: "user" },
    cursor: 1,
    lastDeliveredAt,
    lastError,
    etag: "e1",
  };
  const store: Pick<AuditSubscriptionStore, "get" | "recordOutcome"> = {
    get: async (_t, id) => Promise.resolve(id === sub.id ? sub : undefined),
    recordOutcome: async (_t, _id, outcome) => {
      await Promise.resolve();
      sub = "error" in outcome ? { ...sub, lastError: outcome.error } : { ...sub, lastDeliveredAt: outcome.deliveredAt, lastError: null };
    },
  };
  const stream: Pick<AuditStream, "get"> = { get: async (_t, sequence) => Promise.resolve(sequence === 1 ? event : undefined) };
  const secrets: Pick<SubscriptionSecrets, "get"> = { get: async () => Promise.resolve("a-long-enough-secret") };
  const posts: { readonly at: string; readonly attempt: string | undefined }[] = [];
  const bus = new MemoryMessageBus();
  const { log } = recordingLogger();
  const push = new AuditPush({
    // Deliveries use neither the caller checks nor the audit log.
    access: {} as Access,
    audit: () => ({}) as AuditLog,
    store: store as AuditSubscriptionStore,
    stream: stream as AuditStream,
    secrets: secrets as SubscriptionSecrets,
    bus,
    receiver: {
      post: async (_url, _body, headers) => {
        await Promise.resolve();
        posts.push({ at: clock.now().toISOString(), attempt: headers["x-delivery-attempt"] });
        return { ok: false, reason: "the receiver answered 503" };
      },
    },
    clock,
    policy,
    allowInsecureLoopback: false,
    log,
  });
  const deliver = (data: AuditDeliverData, deliveryCount: number) => push.deliver({ tenantId, data, deliveryCount, log });
  return {
    clock,
    bus,
    posts,
    push,
    deliver,
    subscription: () => sub,
    rotateSecret: (secretVersion: string) => (sub = { ...sub, secretVersion }),
    data: { subscriptionId: sub.id, generation: sub.generation, sequence: 1, attempt: 0 },
  };
}

describe("an audit delivery that keeps failing", () => {
  it("makes its last attempt at the give-up age, records the give-up in lastError, then goes to the dead-letter queue without another POST", async () => {
    // Prepare
    const t = failingReceiver();
    const firstFailedAt = t.clock.now().toISOString();

    // Act: the fan-out's delivery, then each scheduled retry's first delivery at its time, until one throws.
    let data: AuditDeliverData = t.data;
    let thrown: unknown;
    for (let scheduled = 0; scheduled < 100 && thrown === undefined; scheduled++) {
      const sentBefore = t.bus.sent.length;
      thrown = await t.deliver(data, 1).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (thrown !== undefined) break;
      expect(t.bus.sent).toHaveLength(sentBefore + 1);
      const retry = t.bus.sent[t.bus.sent.length - 1];
      data = (retry.body as { data: AuditDeliverData }).data;
      t.clock.set(retry.notBefore ?? t.clock.now());
    }
    const postsAtGiveUp = t.posts.length;
    const lastErrorAtGiveUp = t.subscription().lastError;
    // Service Bus delivers the thrown message again, up to its 10th delivery.
    const redeliveries: unknown[] = [];
    for (let delivery = 2; delivery <= 10; delivery++) {
      t.clock.advance(1_000);
      redeliveries.push(await t.deliver(data, delivery).catch((e: unknown) => e));
    }

    // Assess: the last POST was made exactly at the give-up age, and was the last of all.
    expect(thrown).toBeInstanceOf(AuditDeliveryGaveUp);
    expect(t.posts.at(-1)).toEqual({ at: "2026-12-02T00:00:00.000Z", attempt: String(data.attempt + 1) });
    expect(t.posts.map((p) => p.attempt)).toEqual(Array.from({ length: data.attempt + 1 }, (_, i) => String(i + 1)));
    expect(lastErrorAtGiveUp).toEqual({
      message: `Gave up on event ${event.id} after ${data.attempt + 1} attempts since ${firstFailedAt}: the receiver answered 503`,
      at: "2026-12-02T00:00:00.000Z",
    });
    expect(redeliveries.every((e) => e instanceof AuditDeliveryGaveUp)).toBe(true);
    expect(t.posts).toHaveLength(postsAtGiveUp);
    expect(t.subscription().lastError).toEqual(lastErrorAtGiveUp);
    expect(t.bus.sent.every((m) => (m.notBefore?.getTime() ?? 0) <= Date.parse(firstFailedAt) + policy.giveUpMs)).toBe(true);
  });

  it("says it gave up when the delivery past the give-up age was not finished, and posts nothing more", async () => {
    // Prepare: the last retry's first delivery failed before its POST (say, storage was out);
    // lastError still holds the failure before it.
    const t = failingReceiver({ message: "the receiver answered 503", at: "2026-11-30T23:00:00.000Z" });
    const firstFailedAt = "2026-11-29T23:59:00.000Z";
    const data: AuditDeliverData = { ...t.data, attempt: 30, firstFailedAt };

    // Act: its redelivery
    const thrown = await t.deliver(data, 2).catch((e: unknown) => e);

    // Assess
    expect(thrown).toBeInstanceOf(AuditDeliveryGaveUp);
    expect(t.posts).toEqual([]);
    expect(t.bus.sent).toEqual([]);
    expect(t.subscription().lastError).toEqual({
      message: `Gave up on event ${event.id} after 31 attempts since ${firstFailedAt}: the delivery goes to the dead-letter queue`,
      at: "2026-12-01T00:00:00.000Z",
    });
  });
});

describe("a retry whose subscription was given a new receiver (PUT) after its failures", () => {
  it("counts its attempts and first failure afresh for the new receiver: not given up at the old receiver's give-up age", async () => {
    // Prepare: the old receiver failed 30 times since a day ago; a PUT then replaced the
    // receiver (a new secret version), and the last retry is delivered at the old give-up age.
    const t = failingReceiver();
    const oldFirstFailure = "2026-11-30T00:00:00.000Z";
    const data: AuditDeliverData = { ...t.data, attempt: 30, firstFailedAt: oldFirstFailure, secretVersion: "v1" };
    t.rotateSecret("v2");

    // Act: its delivery fails at the new receiver too, and so does a redelivery of the retry it schedules.
    const thrown = await t.deliver(data, 1).catch((e: unknown) => e);
    const retry = t.bus.sent.at(-1)?.body as { data: AuditDeliverData } | undefined;
    const redelivered = retry && (await t.deliver(retry.data, 2).catch((e: unknown) => e));

    // Assess: the new receiver's first failure is now; it is retried as a first failure is.
    expect(thrown).toBeUndefined();
    expect(t.posts.map((p) => p.attempt)).toEqual(["1", "2"]);
    expect(retry?.data).toMatchObject({ attempt: 1, firstFailedAt: "2026-12-01T00:00:00.000Z", secretVersion: "v2" });
    expect(redelivered).toBeUndefined();
    expect(t.bus.sent.map((m) => m.id)).toHaveLength(new Set(t.bus.sent.map((m) => m.id)).size);
    expect(t.subscription().lastError?.message).toBe("the receiver answered 503");
  });

  it("sends the new receiver's retries under ids of their own: the old receiver's same-numbered retries cannot make Service Bus drop them", async () => {
    // Prepare: the old receiver's first retry (attempt 1) was sent a moment ago.
    const t = failingReceiver();
    await t.deliver(t.data, 1);
    const oldRetry = t.bus.sent.at(-1)!;
    t.rotateSecret("v2");

    // Act: that retry fails at the new receiver: its retry is the new receiver's attempt 1 again
    t.clock.advance(30_000);
    await t.deliver((oldRetry.body as { data: AuditDeliverData }).data, 1);

    // Assess
    const newRetry = t.bus.sent.at(-1)!;
    expect((newRetry.body as { data: AuditDeliverData }).data).toMatchObject({ attempt: 1, secretVersion: "v2" });
    expect(newRetry.id).not.toBe(oldRetry.id);
  });
});

describe("a given-up delivery delivered again after the receiver recovered", () => {
  it("does not show the give-up as the receiver's current error: a delivery after the give-up age succeeded", async () => {
    // Prepare: the last attempt (at 2026-11-30T23:59) failed; another event was delivered after it,
    // so readers no longer see the give-up as lastError.
    const t = failingReceiver(null, "2026-11-30T23:59:30.000Z");
    const data: AuditDeliverData = { ...t.data, attempt: 30, firstFailedAt: "2026-11-29T23:59:00.000Z" };

    // Act: Service Bus delivers the given-up message again.
    const thrown = await t.deliver(data, 2).catch((e: unknown) => e);

    // Assess: on towards the dead-letter queue, nothing posted, no old error made current again.
    expect(thrown).toBeInstanceOf(AuditDeliveryGaveUp);
    expect(t.posts).toEqual([]);
    expect(t.subscription().lastError).toBeNull();
  });
});

describe("the secrets an instance keeps for deliveries", () => {
  it("are one per subscription: a rotated secret replaces the old one in memory instead of adding to it", async () => {
    // Prepare
    const t = failingReceiver();

    // Act: the secret is rotated (a PUT with a new one) before each of 20 deliveries
    for (let version = 1; version <= 20; version++) {
      t.rotateSecret(`v${version}`);
      await t.deliver(t.data, 1);
    }

    // Assess
    expect(t.posts).toHaveLength(20);
    expect(t.push.cachedSecrets).toBe(1);
  });
});

describe("the Key Vault secret name of a subscription", () => {
  const version = "0b8c4c1e-8f35-4c47-9d44-6f2a9a1a0b11";

  it("is the documented audit-subv-<tenantId>-<id>-<version> for a GUID tenant, within Key Vault's 127 characters", () => {
    expect(subscriptionSecretName(tenantId, "siem", version)).toBe(`audit-subv-${tenantId}-siem-0b8c4c1e8f354c479d446f2a`);
    expect(subscriptionSecretName(tenantId, "s".repeat(48), version)).toMatch(/^[0-9a-zA-Z-]{1,127}$/);
  });

  it("is one per PUT: two versions of one subscription never share a name", () => {
    expect(subscriptionSecretName(tenantId, "siem", version)).not.toBe(subscriptionSecretName(tenantId, "siem", "1b8c4c1e-8f35-4c47-9d44-6f2a9a1a0b11"));
  });

  it("is never one name for two (tenant, subscription) pairs, even when tenant ids are not GUIDs", () => {
    // Tenant ids are letters, digits and dashes: joined with a dash, x + x-sub and x-x + sub met.
    const pairs: [string, string][] = [
      ["x", "x-sub"],
      ["x-x", "sub"],
      [tenantId, "a-b"],
      [`${tenantId}-a`, "b"],
      ["aaaabbbb-cccc-dddd-eeee-ffff0000111", "1-a"],
    ];
    const names = pairs.map(([t, id]) => subscriptionSecretName(t, id, version));
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(pairs.length);
    for (const n of names) expect(n).toMatch(/^[0-9a-zA-Z-]{1,127}$/);
    expect(subscriptionSecretName("x", "x-sub", version)).toMatch(/^audit-subv-x[0-9a-f]{64}-[0-9a-f]{24}$/);
  });
});

describe("two subscriptions of one tenant whose ids differ only in case", () => {
  it("cannot share one Key Vault secret (Key Vault names are case-insensitive): the second is refused, the first keeps its secret", async () => {
    // Prepare: Key Vault as it treats names, and a store that keeps ids as given (Table RowKeys are case-sensitive).
    const clock = new ManualClock("2026-12-01T00:00:00.000Z");
    const vault = new Map<string, string>();
    const secrets: SubscriptionSecrets = {
      get: async (name) => Promise.resolve(vault.get(name.toLowerCase())),
      set: async (name, value) => void vault.set(name.toLowerCase(), value),
      remove: async (name) => void vault.delete(name.toLowerCase()),
    };
    const subs = new Map<string, StoredSubscription>();
    const store: Pick<AuditSubscriptionStore, "get" | "list" | "create" | "replace"> = {
      list: async () => Promise.resolve([...subs.values()]),
      get: async (_t, id) => Promise.resolve(subs.get(id)),
      create: async (_t, sub) => {
        if (subs.has(sub.id)) return Promise.resolve("exists" as const);
        subs.set(sub.id, { ...sub, cursor: 0, lastDeliveredAt: null, lastError: null, etag: "e1" });
        return Promise.resolve("created" as const);
      },
      replace: async () => Promise.resolve(true),
    };
    const { log } = recordingLogger();
    const push = new AuditPush({
      access: { permissionsOf: async () => Promise.resolve({ administrator: true, reports: true }) } as unknown as Access,
      audit: () => ({ record: async () => Promise.resolve() }) as unknown as AuditLog,
      store: store as AuditSubscriptionStore,
      stream: {} as AuditStream,
      secrets,
      bus: new MemoryMessageBus(),
      receiver: { post: async () => Promise.resolve({ ok: true as const }) },
      clock,
      policy,
      allowInsecureLoopback: false,
      log,
    });
    const admin = { type: "user", tenantId, userId: "admin-1", displayName: "Adele Vance", roles: [], groups: [] } as const;
    await push.put(admin, "Siem", { url: "https://siem.example.com/audit", secret: "the-first-receivers-secret" }, "c1");

    // Act
    const second = await push
      .put(admin, "siem", { url: "https://other.example.com/audit", secret: "the-second-receivers-secret" }, "c2")
      .catch((e: unknown) => e);

    // Assess
    expect(second).toMatchObject({ code: "conflict" });
    expect(await secrets.get(subscriptionSecretName(tenantId, "Siem", subs.get("Siem")!.secretVersion))).toBe("the-first-receivers-secret");
  });
});
