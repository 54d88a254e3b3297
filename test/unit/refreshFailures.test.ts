// What failed TeamViewer token refreshes leave in the audit log: during an outage every
// queue delivery and timer run retries the refresh, so the log gets one event per tenant
// every few minutes with a count of the failures since, not one per attempt.
import { describe, expect, it } from "vitest";
import { RefreshFailures, refreshFailureAuditIntervalMs } from "../../shared/app/connector/refreshFailures.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { ManualClock, MemoryAuditLog, MemoryConnectorStore, recordingLogger } from "../support/memoryPorts.js";

function harness() {
  const clock = new ManualClock();
  const audit = new MemoryAuditLog(clock);
  const { log, lines } = recordingLogger();
  const failures = new RefreshFailures({ audit, connectors: new MemoryConnectorStore(), clock, log });
  return { clock, audit, lines, failures };
}

describe("failed token refreshes in the audit log", () => {
  it("records the first failure of a tenant, counts the next ones within the interval, and records again after it with the count", async () => {
    // Prepare
    const { clock, audit, lines, failures } = harness();
    // Act: 30 failures a few seconds apart, then one after the interval.
    for (let i = 0; i < 30; i++) {
      await failures.record("t1", "unreachable: TeamViewer did not answer");
      clock.advance(5_000);
    }
    clock.advance(refreshFailureAuditIntervalMs);
    await failures.record("t1", "unreachable: TeamViewer did not answer");
    // Assess
    const events = audit.events.filter((e) => e.activity === "connector.tokenRefresh");
    expect(events.map((e) => e.detail)).toEqual([
      "unreachable: TeamViewer did not answer",
      "unreachable: TeamViewer did not answer (29 more failures since the last event)",
    ]);
    // Every failure is still in the log.
    expect(lines.filter((l) => l.line.includes("token refresh failed")).length).toBe(31);
  });

  it("keeps tenants apart, and always records the refusal that needs reauthorization", async () => {
    // Prepare
    const { audit, failures } = harness();
    // Act
    await failures.record("t1", "unreachable: down");
    await failures.record("t2", "unreachable: down");
    await failures.record("t1", "unreachable: down");
    await failures.markReauthorizationRequired("t1", 1, new TeamViewerError("invalidGrant", "refused", { status: 400 }));
    // Assess
    expect(audit.events.map((e) => [e.tenantId, e.detail])).toEqual([
      ["t1", "unreachable: down"],
      ["t2", "unreachable: down"],
      ["t1", "invalidGrant: refused (1 more failure since the last event)"],
    ]);
  });
});
