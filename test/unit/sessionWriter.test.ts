// The session writer's read-decide-write loop when other writers keep winning the etag race:
// it gives up after a bounded number of attempts with a Contended error (an HTTP caller gets
// 429 with Retry-After, a queue handler a redelivery), never loops for ever.
import { describe, expect, it } from "vitest";
import { Contended } from "../../shared/app/contention.js";
import { SessionWriter } from "../../shared/app/sessions/sessionWriter.js";
import { MemoryMessageBus, MemorySessionStore, recordingLogger } from "../support/memoryPorts.js";
import { requestedSession, tenantId } from "../support/sessionWorkerHarness.js";

describe("SessionWriter.change", () => {
  it("gives up with Contended after 8 lost races, having read and decided each time", async () => {
    // Prepare: a store where someone else always wrote first.
    const store = new MemorySessionStore();
    const s = requestedSession(new Date("2026-11-23T10:00:00.000Z"));
    await store.create(s, []);
    let updates = 0;
    store.update = async () => {
      updates++;
      return undefined;
    };
    const writer = new SessionWriter({ store, bus: new MemoryMessageBus() });
    let decisions = 0;

    // Act
    const attempt = writer.change(tenantId, s.id, (cur) => (decisions++, { next: { ...cur, description: "changed" } }), recordingLogger().log);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(Contended);
    expect(updates).toBe(8);
    expect(decisions).toBe(8);
  });
});
