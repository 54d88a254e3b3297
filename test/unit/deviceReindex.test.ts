// The re-index job's audit trail when an audit write fails: the page's entries are written
// before its checkpoint moves on, so a redelivery writes them (at least once) instead of
// resuming past a page that was never reported. In-memory job store and device store
// (only what DeviceReindex.run uses); the job against Azurite is test/integration/reindex.test.ts.
import { describe, expect, it } from "vitest";
import { DeviceReindex } from "../../shared/app/devices/deviceReindex.js";
import type { DeviceStore, ReindexJob, ReindexJobStore, ReindexPage } from "../../shared/app/devices/ports.js";
import { ManualClock, MemoryAuditLog, MemoryMessageBus, recordingLogger } from "../support/memoryPorts.js";

class MemoryJobs implements Pick<ReindexJobStore, "get" | "save"> {
  job: ReindexJob | undefined;
  #etag = 0;

  async get(): Promise<{ job: ReindexJob; etag: string } | undefined> {
    await Promise.resolve();
    return this.job && { job: this.job, etag: String(this.#etag) };
  }

  async save(job: ReindexJob, etag: string): Promise<string | undefined> {
    await Promise.resolve();
    if (etag !== String(this.#etag)) return undefined;
    this.job = job;
    return String(++this.#etag);
  }
}

describe("device.reindex when an audit write fails", () => {
  it("reports the page on the redelivery: the skipped device, the start and the finish are all audited", async () => {
    // Prepare: one page of two devices, one of which cannot be rewritten; the first audit write fails.
    const clock = new ManualClock();
    const audit = new MemoryAuditLog(clock);
    const jobs = new MemoryJobs();
    const now = clock.now().toISOString();
    jobs.job = { tenantId: "t1", version: 3, scanned: 0, rewritten: 0, failed: 0, createdAt: now, updatedAt: now, deadLetters: 0 };
    const page: ReindexPage = {
      scanned: 2,
      rewritten: 1,
      failed: [{ deviceId: "d-bad", error: new SyntaxError("unreadable record") }],
      last: "d2",
      done: true,
    };
    const store = { indexVersion: 3, reindexPage: async () => Promise.resolve(page) } as unknown as DeviceStore;
    const reindex = new DeviceReindex({ store, jobs: jobs as unknown as ReindexJobStore, bus: new MemoryMessageBus(), audit, clock });
    const record = audit.record.bind(audit);
    let failures = 1;
    audit.record = async (event) => {
      if (failures-- > 0) throw Object.assign(new Error("storage answered 503"), { statusCode: 503 });
      return record(event);
    };
    const { log } = recordingLogger();

    // Act: the first delivery fails on the audit write; Service Bus delivers the message again.
    await expect(reindex.run({ tenantId: "t1", version: 3, log })).rejects.toThrow(/503/);
    await reindex.run({ tenantId: "t1", version: 3, log });

    // Assess
    expect(audit.activities("t1")).toEqual(["deviceIndex.deviceSkipped", "deviceIndex.reindexStarted", "deviceIndex.reindexFinished"]);
    expect(jobs.job).toMatchObject({ scanned: 2, rewritten: 1, failed: 1, after: "d2" });
    expect(jobs.job?.finishedAt).toBeDefined();
  });
});
