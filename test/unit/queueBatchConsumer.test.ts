// The batch consumer (automationEvents, `cardinality: "many"`), run as the host runs it: an
// array of bodies and the metadata as arrays in the same order. A message of the batch that
// cannot be processed is audited as it would be alone, whether it arrives as an object, as
// JSON text or as bytes (what producers other than ours send), and the batch is completed.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { automationFunctions } from "../../functions/automation.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import { ManualClock, MemoryAuditLog } from "../support/memoryPorts.js";
import { deliverBatch, installServices, uninstallServices } from "../support/functionHarness.js";

const automationEvents: FunctionDefinition = automationFunctions.find((f) => f.name === "automationEvents")!;

let audit: MemoryAuditLog;

beforeEach(() => {
  const clock = new ManualClock();
  audit = new MemoryAuditLog(clock);
  installServices({ clock, audit });
});
afterEach(uninstallServices);

describe("a batch with messages that cannot be processed", () => {
  it("audits each under the tenant it names, sent as an object, JSON text or bytes, and is completed", async () => {
    // Prepare: device.upserted without its data, once in each form, and one naming no tenant
    const bad = (tenantId: string) => ({ type: "device.upserted", tenantId, data: {} });
    const messages = [
      { body: bad("T1"), messageId: "m-object" },
      { body: JSON.stringify(bad("T2")), messageId: "m-text" },
      { body: new TextEncoder().encode(JSON.stringify(bad("T3"))), messageId: "m-bytes" },
      { body: new TextEncoder().encode("not json at all"), messageId: "m-no-tenant" },
    ];

    // Act
    const result = await deliverBatch(automationEvents, messages);

    // Assess
    expect(result.settled).toBe("completed");
    expect(audit.events).toHaveLength(3);
    expect(audit.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ tenantId: "t1", activity: "message.rejected", target: { type: "message", id: "m-object" } }),
        expect.objectContaining({ tenantId: "t2", activity: "message.rejected", target: { type: "message", id: "m-text" } }),
        expect.objectContaining({ tenantId: "t3", activity: "message.rejected", target: { type: "message", id: "m-bytes" } }),
      ]),
    );
    expect(result.logs.filter((l) => l.level === "warning" && /discarded a message on automation-events/.test(l.text))).toHaveLength(4);
  });
});
