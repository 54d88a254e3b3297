// Audit push deliveries of several tenants sharing one instance's queue calls, on in-memory
// ports: the host is modelled as it runs the audit-export queue (host.json's
// maxConcurrentCalls handlers at once, messages taken in the order they were queued), and
// one tenant's receiver holds every request without answering (until its timeout, which
// never comes here). What is shown: that tenant gets only a few of the calls; the rest of
// its deliveries are sent again for later (not counted as failed attempts, lost nowhere),
// so another tenant's delivery queued behind them is made at once; and a delivery held
// back for the give-up age is given up like one that failed for that long.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Access } from "../../shared/app/access.js";
import type { AuditEvent, AuditLog, AuditStream } from "../../shared/app/audit/auditLog.js";
import { AuditDeliveryGaveUp, AuditPush, type SubscriptionSecrets } from "../../shared/app/audit/auditPush.js";
import type { AuditSubscriptionStore, ReceiverOutcome, StoredSubscription } from "../../shared/app/audit/auditSubscriptionPorts.js";
import type { AuditDeliverData } from "../../shared/contracts/messages.js";
import { deliveryMessageId } from "../../shared/domain/auditExport.js";
import { ManualClock, MemoryMessageBus, recordingLogger } from "../support/memoryPorts.js";

const hostile = "aaaaaaaa-0000-0000-0000-000000000001";
const other = "bbbbbbbb-0000-0000-0000-000000000002";
const hour = 3_600_000;
const policy = { firstRetryMs: 30_000, giveUpMs: 24 * hour };
const maxConcurrentCalls = (
  JSON.parse(readFileSync(new URL("../../host.json", import.meta.url), "utf8")) as {
    extensions: { serviceBus: { maxConcurrentCalls: number } };
  }
).extensions.serviceBus.maxConcurrentCalls;

interface Delivery {
  readonly tenantId: string;
  readonly data: AuditDeliverData;
}

/** One subscription per tenant; the hostile tenant's receiver never answers until `answerAll`. */
function twoTenants() {
  const clock = new ManualClock("2026-12-01T00:00:00.000Z");
  const subs = new Map<string, StoredSubscription>();
  for (const tenantId of [hostile, other]) {
    subs.set(tenantId, {
      id: "siem",
      url: `https://${tenantId === hostile ? "slow" : "fast"}.example.com/audit`,
      generation: tenantId === hostile ? "0b8c4c1e-8f35-4c47-9d44-6f2a9a1a0b11" : "1b8c4c1e-8f35-4c47-9d44-6f2a9a1a0b11",
      secretVersion: "5b8c4c1e-8f35-4c47-9d44-6f2a9a1a0b11",
      createdAt: "2026-11-30T00:00:00.000Z",
      createdBy: { id: "admin-1", displayName: "Adele Vance", type: "user" },
      cursor: 0,
      lastDeliveredAt: null,
      lastError: null,
      etag: "e1",
    });
  }
  const store: Pick<AuditSubscriptionStore, "get" | "recordOutcome"> = {
    get: async (t, id) => Promise.resolve(subs.get(t)?.id === id ? subs.get(t) : undefined),
    recordOutcome: async (t, _sub, outcome) => {
      await Promise.resolve();
      const s = subs.get(t)!;
      subs.set(t, "error" in outcome ? { ...s, lastError: outcome.error } : { ...s, lastDeliveredAt: outcome.deliveredAt, lastError: null });
    },
  };
  const eventOf = (sequence: number): AuditEvent => ({
    id: `01JDX4K2V3N8Q5R7T9W1Y3Z${String(sequence).padStart(3, "0")}`,
    at: "2026-12-01T00:00:00.000Z",
    actor: { id: "admin-1", displayName: "Adele Vance", type: "user" },
    activity: "settings.update",
    target: { type: "settings", id: "settings" },
    result: "success",
  });
  const stream: Pick<AuditStream, "get"> = { get: async (_t, sequence) => Promise.resolve(eventOf(sequence)) };
  const secrets: Pick<SubscriptionSecrets, "get"> = { get: async () => Promise.resolve("a-long-enough-secret") };
  const posts: { readonly url: string; readonly eventId: string; readonly attempt: string | undefined }[] = [];
  const held: ((outcome: ReceiverOutcome) => void)[] = [];
  let slowAnswer: ReceiverOutcome | undefined;
  const bus = new MemoryMessageBus();
  const { log } = recordingLogger();
  const push = new AuditPush({
    access: {} as Access,
    audit: () => ({}) as AuditLog,
    store: store as AuditSubscriptionStore,
    stream: stream as AuditStream,
    secrets: secrets as SubscriptionSecrets,
    bus,
    receiver: {
      post: async (url, _body, headers) => {
        posts.push({ url, eventId: headers["x-event-id"], attempt: headers["x-delivery-attempt"] });
        if (!url.startsWith("https://slow.")) return Promise.resolve({ ok: true });
        return slowAnswer ? Promise.resolve(slowAnswer) : new Promise<ReceiverOutcome>((resolve) => held.push(resolve));
      },
    },
    clock,
    policy,
    allowInsecureLoopback: false,
    log,
  });

  // The queue as the Functions host runs it: at most maxConcurrentCalls handlers at once, in queue order.
  const queue: Delivery[] = [];
  const failures: unknown[] = [];
  let running = 0;
  const pump = (): void => {
    while (running < maxConcurrentCalls && queue.length > 0) {
      const { tenantId, data } = queue.shift()!;
      running++;
      void push
        .deliver({ tenantId, data, deliveryCount: 1, log })
        .catch((e: unknown) => void failures.push(e))
        .finally(() => {
          running--;
          pump();
        });
    }
  };
  /** Lets every handler that can go on do so (no time passes: the in-memory ports only yield). */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const fanOutData = (tenantId: string, sequence: number): AuditDeliverData => ({
    subscriptionId: "siem",
    generation: subs.get(tenantId)!.generation,
    sequence,
    attempt: 0,
  });
  return {
    clock,
    bus,
    posts,
    held,
    failures,
    push,
    log,
    subscription: (tenantId: string) => subs.get(tenantId)!,
    fanOutData,
    enqueue: (...deliveries: Delivery[]) => {
      queue.push(...deliveries);
      pump();
    },
    settle,
    inFlight: () => running,
    /** The hostile receiver answers its held requests, and from now on every request at once, with `outcome`. */
    answerSlowly: (outcome: ReceiverOutcome = { ok: true }) => {
      slowAnswer = outcome;
      for (const resolve of held.splice(0)) resolve(outcome);
    },
  };
}

const postsTo = <P extends { readonly url: string }>(posts: readonly P[], host: string): P[] => posts.filter((p) => p.url.startsWith(`https://${host}.`));

describe("a tenant whose receiver holds every request, with a burst of events", () => {
  it("does not hold up another tenant's delivery queued behind its burst: it gets a few of the queue's calls, not all", async () => {
    // Prepare: the hostile tenant's burst fills more than all the calls, then the other tenant's event.
    const t = twoTenants();
    const burst = maxConcurrentCalls + 4;

    // Act
    t.enqueue(...Array.from({ length: burst }, (_, i) => ({ tenantId: hostile, data: t.fanOutData(hostile, i + 1) })));
    t.enqueue({ tenantId: other, data: t.fanOutData(other, 1) });
    await t.settle();

    // Assess: the other tenant's event was posted while the hostile receiver still holds its requests.
    expect(postsTo(t.posts, "fast")).toHaveLength(1);
    expect(t.subscription(other).lastDeliveredAt).not.toBeNull();
    const slowPosts = postsTo(t.posts, "slow");
    expect(t.held).toHaveLength(slowPosts.length);
    expect(slowPosts.length).toBeLessThanOrEqual(maxConcurrentCalls / 4);
    expect(t.inFlight()).toBe(slowPosts.length);
    // Every delivery not posted was sent again for later: same event, subscription and attempt, a
    // message id of its own (Service Bus would drop a copy with the original's id as a duplicate).
    const later = t.bus.delivered();
    expect(later).toHaveLength(burst - slowPosts.length);
    const now = t.clock.now().getTime();
    for (const m of later) {
      const data = (m.body as { data: AuditDeliverData }).data;
      expect(m.notBefore!.getTime()).toBeGreaterThan(now);
      expect(data).toMatchObject({ subscriptionId: "siem", generation: t.subscription(hostile).generation, attempt: 0 });
      expect(data.firstFailedAt).toBeUndefined();
      expect(m.id).not.toBe(deliveryMessageId({ tenantId: hostile, ...t.fanOutData(hostile, data.sequence) }));
    }
    const heldBackSequences = later.map((m) => (m.body as { data: AuditDeliverData }).data.sequence);
    const postedEventIds = new Set(slowPosts.map((p) => p.eventId));
    expect(heldBackSequences).toHaveLength(new Set(heldBackSequences).size);
    expect(heldBackSequences.every((s) => !postedEventIds.has(`01JDX4K2V3N8Q5R7T9W1Y3Z${String(s).padStart(3, "0")}`))).toBe(true);
    // Held back is not failed: the subscription shows no error, nothing failed.
    expect(t.subscription(hostile).lastError).toBeNull();
    expect(t.failures).toEqual([]);
  });

  it("delivers every event of the burst once the receiver answers, each as its first attempt", async () => {
    // Prepare
    const t = twoTenants();
    const burst = maxConcurrentCalls + 4;
    t.enqueue(...Array.from({ length: burst }, (_, i) => ({ tenantId: hostile, data: t.fanOutData(hostile, i + 1) })));
    await t.settle();

    // Act: the receiver answers; the held-back copies come back when they are due (and again, should they be held again).
    t.answerSlowly();
    await t.settle();
    for (let round = 0; round < 20 && t.bus.sent.length > 0; round++) {
      const due = t.bus.delivered().splice(0);
      t.bus.sent.splice(0);
      t.clock.set(new Date(Math.max(...due.map((m) => m.notBefore!.getTime()))));
      t.enqueue(...due.map((m) => ({ tenantId: hostile, data: (m.body as { data: AuditDeliverData }).data })));
      await t.settle();
    }

    // Assess
    expect(t.bus.sent).toEqual([]);
    expect(new Set(t.posts.map((p) => p.eventId)).size).toBe(burst);
    expect(t.posts).toHaveLength(burst);
    expect(t.posts.every((p) => p.attempt === "1")).toBe(true);
    expect(t.subscription(hostile).lastError).toBeNull();
    expect(t.failures).toEqual([]);
  });

  it("holds a retry back as it is (attempt, first failure, secret version), and counts a failure of it as the next attempt, held no more", async () => {
    // Prepare: the tenant's calls are all taken; a retry of an earlier failure comes in.
    const t = twoTenants();
    t.enqueue(...Array.from({ length: maxConcurrentCalls }, (_, i) => ({ tenantId: hostile, data: t.fanOutData(hostile, i + 1) })));
    await t.settle();
    t.bus.sent.splice(0);
    const firstFailedAt = new Date(t.clock.now().getTime() - hour).toISOString();
    const retry: AuditDeliverData = { ...t.fanOutData(hostile, 50), attempt: 7, firstFailedAt, secretVersion: t.subscription(hostile).secretVersion };

    // Act: it is held back; then the receiver answers 503 to all, and the copy comes when due.
    t.enqueue({ tenantId: hostile, data: retry });
    await t.settle();
    const copies = t.bus.delivered().map((m) => (m.body as { data: AuditDeliverData }).data);
    t.answerSlowly({ ok: false, reason: "the receiver answered 503" });
    await t.settle();
    t.bus.sent.splice(0);
    await t.push.deliver({ tenantId: hostile, data: copies[0], deliveryCount: 1, log: t.log });

    // Assess: the copy is the retry as it was; its failure is attempt 8, and the retry after it is an ordinary one.
    expect(copies).toEqual([{ ...retry, deferrals: 1, heldSince: t.clock.now().toISOString() }]);
    expect(t.posts.filter((p) => p.eventId.endsWith("050")).map((p) => p.attempt)).toEqual(["8"]);
    const next = t.bus.delivered();
    expect(next.map((m) => (m.body as { data: AuditDeliverData }).data)).toEqual([{ ...retry, attempt: 8 }]);
    expect(next[0].id).toBe(deliveryMessageId({ tenantId: hostile, ...retry, attempt: 8 }));
  });

  it("gives a delivery held back for the give-up age up, like one that failed for that long, without a POST", async () => {
    // Prepare: the tenant's calls are all taken by held requests.
    const t = twoTenants();
    t.enqueue(...Array.from({ length: maxConcurrentCalls }, (_, i) => ({ tenantId: hostile, data: t.fanOutData(hostile, i + 1) })));
    await t.settle();
    const postsBefore = t.posts.length;
    const heldSince = new Date(t.clock.now().getTime() - policy.giveUpMs).toISOString();
    t.bus.sent.splice(0);

    // Act: a copy that has been held back since the give-up age comes in.
    let thrown: unknown;
    void t.push
      .deliver({ tenantId: hostile, data: { ...t.fanOutData(hostile, 99), deferrals: 500, heldSince }, deliveryCount: 1, log: t.log })
      .catch((e: unknown) => (thrown = e));
    await t.settle();

    // Assess
    expect(thrown).toBeInstanceOf(AuditDeliveryGaveUp);
    expect(t.posts).toHaveLength(postsBefore);
    expect(t.bus.sent).toEqual([]);
    expect(t.subscription(hostile).lastError?.message).toMatch(/^Gave up on event 01JDX4K2V3N8Q5R7T9W1Y3Z099 /);
  });

  it("keeps a held-back delivery given up so when it comes again (deliveryCount > 1) with slots free: no POST, no retry", async () => {
    // Prepare: the tenant has no request under way (its receiver answers at once, 503); the copy
    // was given up at the give-up age and thrown back.
    const t = twoTenants();
    t.answerSlowly({ ok: false, reason: "the receiver answered 503" });
    const heldSince = new Date(t.clock.now().getTime() - policy.giveUpMs).toISOString();
    const data: AuditDeliverData = { ...t.fanOutData(hostile, 99), deferrals: 500, heldSince };

    // Act: the queue delivers it again.
    const thrown = await t.push.deliver({ tenantId: hostile, data, deliveryCount: 2, log: t.log }).catch((e: unknown) => e);

    // Assess: given up as before, on towards the dead-letter queue, nothing posted or sent again.
    expect(thrown).toBeInstanceOf(AuditDeliveryGaveUp);
    expect(t.posts).toEqual([]);
    expect(t.bus.sent).toEqual([]);
    expect(t.subscription(hostile).lastError?.message).toMatch(/^Gave up on event 01JDX4K2V3N8Q5R7T9W1Y3Z099 /);
  });
});
