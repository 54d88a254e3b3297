// Idempotency records in Table storage: partition = tenant, row = the key's hash (the app
// hashes caller and key together). Create answers 409 when the key exists; replace is
// etag-guarded (412 = lost the race), as the powertools persistence layer does it.
import type { TableClient } from "@azure/data-tables";
import type { IdempotencyRecord, IdempotencyStatus, IdempotencyStore } from "../../app/sessions/ports.js";
import { deleteIfExists, getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

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
