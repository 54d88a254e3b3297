// The audit sweep (a timer, every minute) hands on the recorded events a fan-out left out,
// tenant after tenant. After a Service Bus outage every tenant has a backlog, and a quiet
// tenant (one recording nothing new, so no fan-out of its own) gets its events only from the
// sweep: one tenant's big backlog must not make the sweep hand on thousands of its events
// before the next tenant gets any. A sweep hands on a bounded share of each subscription's
// backlog; the next sweeps carry on from the subscription's cursor.
import { describe, expect, it } from "vitest";
import type { Access } from "../../shared/app/access.js";
import type { AuditLog, AuditStream, SequencedAuditEvent } from "../../shared/app/audit/auditLog.js";
import { AuditPush, type SubscriptionSecrets } from "../../shared/app/audit/auditPush.js";
import type { AuditReceiverClient } from "../../shared/app/audit/auditSubscriptionPorts.js";
import { ManualClock, MemoryMessageBus, recordingLogger } from "../support/memoryPorts.js";
import { MemoryAuditSubscriptionStore } from "../support/memoryAuditSubscriptions.js";

/** The documented share (docs/audit-export.md): events of one subscription a sweep hands on. */
const perSweep = 1_000;
const big = "aaaaaaaa-0000-0000-0000-000000000001";
const quiet = "bbbbbbbb-0000-0000-0000-000000000002";

/** Each tenant's stream: `counts` events, none handed on yet (the subscriptions' cursors are 0). */
async function backlog(counts: Record<string, number>) {
  const clock = new ManualClock("2026-12-01T00:00:00.000Z");
  const store = new MemoryAuditSubscriptionStore();
  for (const tenantId of Object.keys(counts)) {
    await store.create(
      tenantId,
      {
        id: "siem",
        url: "https://siem.example.com/audit",
        generation: "0b8c4c1e-8f35-4c47-9d44-6f2a9a1a0b11",
        secretVersion: "v1",
        createdAt: "2026-11-30T00:00:00.000Z",
        createdBy: { id: "admin-1", displayName: "Adele Vance", type: "user" },
      },
      5,
    );
  }
  const eventAt = (sequence: number): SequencedAuditEvent => ({
    sequence,
    event: {
      id: `01JDX4K2V3N8Q5R7T9W${String(sequence).padStart(7, "0")}`,
      at: "2026-12-01T00:00:00.000Z",
      actor: { id: "admin-1", displayName: "Adele Vance", type: "user" },
      activity: "settings.update",
      target: { type: "settings", id: "settings" },
      result: "success",
    },
  });
  const stream: Pick<AuditStream, "readAfter"> = {
    readAfter: async (tenantId, after, max) => {
      await Promise.resolve();
      const last = Math.min(counts[tenantId] ?? 0, after + max);
      return Array.from({ length: Math.max(0, last - after) }, (_, i) => eventAt(after + 1 + i));
    },
  };
  const bus = new MemoryMessageBus();
  const { log } = recordingLogger();
  const push = new AuditPush({
    access: {} as Access,
    audit: () => ({}) as AuditLog,
    store,
    stream: stream as AuditStream,
    secrets: {} as SubscriptionSecrets,
    bus,
    receiver: {} as AuditReceiverClient,
    clock,
    policy: { firstRetryMs: 30_000, giveUpMs: 24 * 3_600_000 },
    allowInsecureLoopback: false,
    log,
  });
  const handedOn = (tenantId: string): number => bus.sent.filter((m) => (m.body as { tenantId: string }).tenantId === tenantId).length;
  return { sweep: () => push.sweep(log), handedOn };
}

describe("the audit sweep shares a run between tenants", () => {
  it("hands on a bounded share of one subscription's backlog a sweep, and the rest in the next sweeps", async () => {
    // Prepare: a big backlog in a tenant listed first, one event in a quiet tenant
    const t = await backlog({ [big]: 3 * perSweep + 10, [quiet]: 1 });

    // Act
    await t.sweep();
    const afterFirst = { big: t.handedOn(big), quiet: t.handedOn(quiet) };
    for (let i = 0; i < 3; i++) await t.sweep();

    // Assess
    expect(afterFirst).toEqual({ big: perSweep, quiet: 1 });
    expect(t.handedOn(big)).toBe(3 * perSweep + 10);
  });
});
