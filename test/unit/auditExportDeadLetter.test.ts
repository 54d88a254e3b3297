// The audit-export queue's dead letters, delivered as the host delivers them to the
// dead-letter function, over in-memory ports. What is shown: every queue has a dead-letter
// reader; a given-up delivery ends with the subscription's lastError saying so (written if
// the delivery did not), a warning in the log, and the message completed; no audit event
// (it would be pushed to the very receiver that failed, and dead-lettered in turn); a
// subscription deleted, created again or given a new receiver since is left alone, and so is
// one whose receiver works again.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { allDefinitions } from "../../functions/all.js";
import { auditExportFunctions } from "../../functions/auditExport.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import type { Access } from "../../shared/app/access.js";
import type { AuditEvent, AuditStream } from "../../shared/app/audit/auditLog.js";
import { AuditPush } from "../../shared/app/audit/auditPush.js";
import { makeEnvelope, type AuditDeliverData } from "../../shared/contracts/messages.js";
import { queueNames } from "../../shared/queueDefinitions.js";
import { deliver, installServices, uninstallServices } from "../support/functionHarness.js";
import { MemoryAuditSubscriptionStore, MemoryVault } from "../support/memoryAuditSubscriptions.js";
import { ManualClock, MemoryAuditLog, MemoryMessageBus, recordingLogger } from "../support/memoryPorts.js";

const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00001111";
const admin = { type: "user", tenantId, userId: "admin-1", displayName: "Adele Vance", roles: [], groups: [] } as const;
const event: AuditEvent = {
  id: "01JDX4K2V3N8Q5R7T9W1Y3Z5A7",
  at: "2026-11-29T23:58:00.000Z",
  actor: { id: "admin-1", displayName: "Adele Vance", type: "user" },
  activity: "settings.update",
  target: { type: "settings", id: tenantId },
  result: "success",
};
const firstFailedAt = "2026-11-29T23:59:00.000Z";
const deadLetterReason = { DeadLetterReason: "MaxDeliveryCountExceeded" };

const deadLetters = (): FunctionDefinition => auditExportFunctions.find((f) => f.name === "auditExportDeadLetter")!;

let clock: ManualClock;
let store: MemoryAuditSubscriptionStore;
let bus: MemoryMessageBus;
let audit: MemoryAuditLog;
let push: AuditPush;

beforeEach(() => {
  clock = new ManualClock("2026-12-01T00:00:00.000Z");
  store = new MemoryAuditSubscriptionStore();
  bus = new MemoryMessageBus();
  audit = new MemoryAuditLog(clock);
  push = new AuditPush({
    access: { permissionsOf: async () => Promise.resolve({ administrator: true, reports: true }) } as unknown as Access,
    audit: () => audit,
    store,
    stream: { get: async (_t: string, sequence: number) => Promise.resolve(sequence === 1 ? event : undefined) } as unknown as AuditStream,
    secrets: new MemoryVault(),
    bus,
    receiver: { post: async () => Promise.resolve({ ok: true as const }) },
    clock,
    policy: { firstRetryMs: 30_000, giveUpMs: 24 * 3_600_000 },
    allowInsecureLoopback: false,
    log: recordingLogger().log,
  });
  installServices({ auditPush: push, audit, clock, bus });
});
afterEach(uninstallServices);

/** A subscription, and the data of its delivery of event 1 that gave up after 31 attempts. */
async function givenUp(url = "https://siem.example.com/audit") {
  await push.put(admin, "siem", { url, secret: "a-long-enough-secret" }, "c1");
  const sub = (await store.get(tenantId, "siem"))!;
  const data: AuditDeliverData = {
    subscriptionId: "siem",
    generation: sub.generation,
    sequence: 1,
    attempt: 30,
    firstFailedAt,
    secretVersion: sub.secretVersion,
  };
  audit.events.length = 0;
  bus.sent.length = 0;
  return { sub, data };
}

const deadLetter = (data: AuditDeliverData) =>
  deliver(deadLetters(), makeEnvelope("audit.deliver", tenantId, data, { now: clock.now() }), {
    messageId: "dl-1",
    deliveryCount: 11,
    applicationProperties: deadLetterReason,
  });

describe("the dead-letter readers", () => {
  it("read every queue's dead-letter queue, audit-export's included", () => {
    // Prepare
    const deadLetterQueue = "/$DeadLetterQueue";

    // Act
    const read = allDefinitions().flatMap((d) =>
      d.kind === "serviceBusQueue" && d.options.queueName.endsWith(deadLetterQueue) ? [d.options.queueName.slice(0, -deadLetterQueue.length)] : [],
    );

    // Assess
    expect([...read].sort()).toEqual(Object.values(queueNames).sort());
  });
});

describe("a dead-lettered audit delivery", () => {
  it("makes lastError say the event was given up when the delivery did not, logs it, completes, and audits nothing", async () => {
    // Prepare: the last attempt never finished, so lastError still shows an earlier failure.
    const { sub, data } = await givenUp();
    await store.recordOutcome(tenantId, sub, { error: { message: "the receiver answered 503", at: "2026-11-30T23:00:00.000Z" } });

    // Act: delivered twice (a dead letter may come again).
    const first = await deadLetter(data);
    const again = await deadLetter(data);

    // Assess
    expect([first.settled, again.settled]).toEqual(["completed", "completed"]);
    expect((await store.get(tenantId, "siem"))?.lastError).toEqual({
      message: `Gave up on event ${event.id} after 31 attempts since ${firstFailedAt}: the delivery was dead-lettered (MaxDeliveryCountExceeded)`,
      at: "2026-12-01T00:00:00.000Z",
    });
    const warning = first.logs.find((l) => l.text.includes("audit delivery given up"));
    expect(warning?.text).toContain(event.id);
    expect(warning?.text).toContain("MaxDeliveryCountExceeded");
    expect(audit.events).toEqual([]);
    expect(bus.sent).toEqual([]);
  });

  it("keeps the give-up the delivery recorded", async () => {
    // Prepare
    const { sub, data } = await givenUp();
    const recorded = {
      message: `Gave up on event ${event.id} after 31 attempts since ${firstFailedAt}: the receiver answered 503`,
      at: "2026-11-30T23:59:00.000Z",
    };
    await store.recordOutcome(tenantId, sub, { error: recorded });

    // Act
    const settled = await deadLetter(data);

    // Assess
    expect(settled.settled).toBe("completed");
    expect((await store.get(tenantId, "siem"))?.lastError).toEqual(recorded);
  });

  it("leaves a subscription deleted and created again with the same id alone", async () => {
    // Prepare
    const { data } = await givenUp();
    await push.delete(admin, "siem", "c2");
    await push.put(admin, "siem", { url: "https://new.example.com/audit", secret: "another-long-secret" }, "c3");

    // Act
    const settled = await deadLetter(data);

    // Assess
    expect(settled.settled).toBe("completed");
    expect((await store.get(tenantId, "siem"))?.lastError).toBeNull();
  });

  it("leaves a subscription whose receiver a PUT replaced since alone", async () => {
    // Prepare
    const { data } = await givenUp();
    await push.put(admin, "siem", { url: "https://new.example.com/audit", secret: "another-long-secret" }, "c2");

    // Act
    const settled = await deadLetter(data);

    // Assess
    expect(settled.settled).toBe("completed");
    expect((await store.get(tenantId, "siem"))?.lastError).toBeNull();
    expect(settled.logs.some((l) => l.text.includes("audit delivery given up"))).toBe(true);
  });

  it("does not make the give-up current again when a delivery after it succeeded", async () => {
    // Prepare: the give-up was recorded, then another event reached the receiver.
    const { sub, data } = await givenUp();
    await store.recordOutcome(tenantId, sub, {
      error: { message: `Gave up on event ${event.id} after 31 attempts since ${firstFailedAt}: the receiver answered 503`, at: "2026-11-30T23:59:00.000Z" },
    });
    await store.recordOutcome(tenantId, sub, { deliveredAt: "2026-11-30T23:59:30.000Z" });

    // Act
    const settled = await deadLetter(data);

    // Assess
    expect(settled.settled).toBe("completed");
    expect((await store.get(tenantId, "siem"))?.lastError).toBeNull();
  });
});
