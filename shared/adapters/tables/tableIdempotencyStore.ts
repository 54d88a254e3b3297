// Idempotency records in Table storage: partition = tenant, row = the key's hash (the app
// hashes caller and key together). Create answers 409 when the key exists; replace is
// etag-guarded (412 = lost the race), as the powertools persistence layer does it.
// Records that expired are deleted by the session timer (purgeExpired).
import { odata, type TableClient } from "@azure/data-tables";
import type { IdempotencyRecord, IdempotencyStatus, IdempotencyStore } from "../../app/sessions/ports.js";
import { inParallel } from "./tableBatches.js";
import { deleteIfExists, getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

/** Deletes of expired records in flight at once. */
const purgeConcurrency = 8;

interface IdempotencyEntity {
  status: IdempotencyStatus;
  payloadHash: string;
  /** ISO times: epoch milliseconds do not fit Int32, and the emulator and Azure type large integers differently. */
  expiresAt: string;
  inProgressExpiresAt: string;
  sessionId?: string;
}

export class TableIdempotencyStore implements IdempotencyStore {
  readonly #table: TableClient;
  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.idempotency);
  }

  async tryCreate(tenantId: string, key: string, record: IdempotencyRecord): Promise<string | undefined> {
    try {
      const created = await this.#table.createEntity({ partitionKey: tenantId, rowKey: key, ...entityOf(record) });
      if (created.etag) return created.etag;
      return (await this.get(tenantId, key))?.etag;
    } catch (e) {
      if (isStatus(e, 409)) return undefined;
      throw e;
    }
  }

  async get(tenantId: string, key: string): Promise<{ record: IdempotencyRecord; etag: string } | undefined> {
    const e = await getOrUndefined<IdempotencyEntity>(this.#table, tenantId, key);
    if (!e?.etag) return undefined;
    return {
      etag: e.etag,
      record: {
        status: e.status,
        payloadHash: e.payloadHash,
        expiresAt: Date.parse(e.expiresAt),
        inProgressExpiresAt: Date.parse(e.inProgressExpiresAt),
        ...(e.sessionId ? { sessionId: e.sessionId } : {}),
      },
    };
  }

  async replace(tenantId: string, key: string, record: IdempotencyRecord, etag: string): Promise<string | undefined> {
    try {
      const updated = await this.#table.updateEntity({ partitionKey: tenantId, rowKey: key, ...entityOf(record) }, "Replace", { etag });
      return updated.etag ?? (await this.get(tenantId, key))?.etag;
    } catch (e) {
      if (isStatus(e, 412) || isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async delete(tenantId: string, key: string): Promise<void> {
    await deleteIfExists(this.#table, tenantId, key);
  }

  async purgeExpired(tenantId: string, before: Date, max: number): Promise<number> {
    // ISO times of one format compare as strings: the filter is a plain range on expiresAt.
    const filter = odata`PartitionKey eq ${tenantId} and expiresAt lt ${before.toISOString()}`;
    const expired: { rowKey: string; etag: string }[] = [];
    for await (const e of this.#table.listEntities<IdempotencyEntity>({ queryOptions: { filter, select: ["RowKey"] } })) {
      if (expired.length >= max) break;
      expired.push({ rowKey: e.rowKey!, etag: e.etag });
    }
    let purged = 0;
    // A few at a time: the session timer goes through its tenants one by one.
    await inParallel(expired, purgeConcurrency, async ({ rowKey, etag }) => {
      try {
        // Etag-guarded: a request that took the expired record over meanwhile keeps it.
        await this.#table.deleteEntity(tenantId, rowKey, { etag });
        purged++;
      } catch (err) {
        if (!(isStatus(err, 404) || isStatus(err, 412))) throw err;
      }
    });
    return purged;
  }
}

function entityOf(r: IdempotencyRecord): IdempotencyEntity {
  return {
    status: r.status,
    payloadHash: r.payloadHash,
    expiresAt: new Date(r.expiresAt).toISOString(),
    inProgressExpiresAt: new Date(r.inProgressExpiresAt).toISOString(),
    ...(r.sessionId ? { sessionId: r.sessionId } : {}),
  };
}
