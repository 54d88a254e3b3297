// The re-index jobs on Table storage: one row per tenant in the devices table's partition
// "~reindex" (tenant ids are letters, digits and dashes, so no tenant's partition can be
// named so, and "~" sorts after every one of them), plus the row that says for which index
// version every tenant got its job. Tenants are found by a skip-scan of the record rows:
// one query per tenant, however many devices it has.
import { odata, type TableClient } from "@azure/data-tables";
import type { ReindexJob, ReindexJobStore } from "../../app/devices/ports.js";
import { recordPrefix, recordRangeEnd } from "./deviceIndex.js";
import { getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

const jobsPartition = "~reindex";
/** Sorts after every tenant id, so the jobs query can leave it out by RowKey. */
const scheduleRow = "~scheduled";

type JobEntity = {
  version: number;
  after?: string;
  scanned: number;
  rewritten: number;
  failed: number;
  createdAt: string;
  startedAt?: string;
  updatedAt: string;
  finishedAt?: string;
  deadLetters: number;
  abandonedAt?: string;
  /** Neither finished nor abandoned: the timer's query asks for these. */
  open: boolean;
};

function toEntity(job: ReindexJob): JobEntity & { partitionKey: string; rowKey: string } {
  const { tenantId, ...rest } = job;
  return { partitionKey: jobsPartition, rowKey: tenantId, ...rest, open: job.finishedAt === undefined && job.abandonedAt === undefined };
}

function toJob(tenantId: string, e: JobEntity): ReindexJob {
  return {
    tenantId,
    version: e.version,
    ...(e.after ? { after: e.after } : {}),
    scanned: e.scanned,
    rewritten: e.rewritten,
    failed: e.failed,
    createdAt: e.createdAt,
    ...(e.startedAt ? { startedAt: e.startedAt } : {}),
    updatedAt: e.updatedAt,
    ...(e.finishedAt ? { finishedAt: e.finishedAt } : {}),
    deadLetters: e.deadLetters ?? 0,
    ...(e.abandonedAt ? { abandonedAt: e.abandonedAt } : {}),
  };
}

const maxCreateAttempts = 5;

export class TableReindexJobStore implements ReindexJobStore {
  readonly #table: TableClient;
  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.devices);
  }

  async scheduledVersion(): Promise<number | undefined> {
    return (await getOrUndefined<{ version: number }>(this.#table, jobsPartition, scheduleRow))?.version;
  }

  async markScheduled(version: number): Promise<void> {
    await this.#table.upsertEntity({ partitionKey: jobsPartition, rowKey: scheduleRow, version }, "Replace");
  }

  async nextTenantWithDevices(after: string | undefined): Promise<string | undefined> {
    // Record rows ("d|…") sort before a partition's index rows ("i|…"), so the first match
    // of the next partition comes at once; "~" bounds the scan below the jobs partition.
    const filter = odata`PartitionKey gt ${after ?? ""} and PartitionKey lt ${jobsPartition} and RowKey ge ${recordPrefix} and RowKey lt ${recordRangeEnd}`;
    // Pages may come back empty with a continuation token; the iterator follows them.
    for await (const page of this.#table.listEntities({ queryOptions: { filter, select: ["PartitionKey"] } }).byPage({ maxPageSize: 1 })) {
      if (page.length > 0) return page[0].partitionKey;
    }
    return undefined;
  }

  async createJob(tenantId: string, version: number, now: string): Promise<boolean> {
    const fresh: ReindexJob = { tenantId, version, scanned: 0, rewritten: 0, failed: 0, createdAt: now, updatedAt: now, deadLetters: 0 };
    for (let attempt = 0; attempt < maxCreateAttempts; attempt++) {
      const current = await getOrUndefined<JobEntity>(this.#table, jobsPartition, tenantId);
      if (current && current.version >= version) return false;
      try {
        // A job of an older version is replaced: the new one covers whatever it had left.
        if (current) await this.#table.updateEntity(toEntity(fresh), "Replace", { etag: current.etag });
        else await this.#table.createEntity(toEntity(fresh));
        return true;
      } catch (e) {
        if (isStatus(e, 409) || isStatus(e, 412)) continue; // another timer got there first: look again
        throw e;
      }
    }
    throw new Error(`the re-index job of tenant ${tenantId} kept changing while being created`);
  }

  async unfinished(): Promise<ReindexJob[]> {
    const filter = odata`PartitionKey eq ${jobsPartition} and RowKey lt ${scheduleRow} and open eq true`;
    const jobs: ReindexJob[] = [];
    for await (const e of this.#table.listEntities<JobEntity>({ queryOptions: { filter } })) jobs.push(toJob(e.rowKey!, e));
    return jobs;
  }

  async get(tenantId: string): Promise<{ job: ReindexJob; etag: string } | undefined> {
    const e = await getOrUndefined<JobEntity>(this.#table, jobsPartition, tenantId);
    return e && { job: toJob(tenantId, e), etag: e.etag };
  }

  async save(job: ReindexJob, etag: string): Promise<string | undefined> {
    try {
      return (await this.#table.updateEntity(toEntity(job), "Replace", { etag })).etag;
    } catch (e) {
      if (isStatus(e, 412)) return undefined;
      throw e;
    }
  }
}
