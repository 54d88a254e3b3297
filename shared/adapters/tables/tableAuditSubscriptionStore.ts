// Audit push subscriptions in Table storage, beside the tenant's audit stream (partition
// `tenant|log`, row `sub|<id>`), so creating or deleting one and counting it on the
// stream's counter row is one transaction: the limit of subscriptions per tenant holds
// under concurrent PUTs, and recording an event learns from the counter it advances
// anyway whether the tenant has any. Delivery results go to a separate row
// (`status|<id>`) so they never contend with the cursor. Partition `subscriptions|index`
// lists the tenants that have subscriptions, for the sweep.
// A delete turns the row into a tombstone (`deleted`, and the secret version it had) in the
// counter's transaction, guarded by the etag of the row it read, then removes it: so the
// version it answers is exactly the one deleted, even when a PUT replaced the subscription
// between the read and the delete (a transaction cannot make a delete conditional).
// Readers take a tombstone for no subscription, and a create writes over one.
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import type { AuditSubscriptionStore, NewSubscription, StoredSubscription } from "../../app/audit/auditSubscriptionPorts.js";
import { counterRow, streamPartition, type CounterEntity } from "./tableAuditLog.js";
import { deleteIfExists, getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

interface SubscriptionEntity {
  url: string;
  generation: string;
  secretVersion: string;
  createdAt: string;
  createdById: string;
  createdByName: string;
  createdByType: string;
  cursor: number;
  /** A tombstone: deleted, the row not removed yet (or its removal failed). */
  deleted?: boolean;
}

/**
 * Each outcome names the secret version it was for (new on every create and PUT): a delivery
 * still under way when its subscription was replaced, or deleted and created again, records
 * an outcome of the old receiver, which must not show on the new one. Rows written before
 * the versions were recorded have none and show as they are.
 */
interface StatusEntity {
  lastDeliveredAt?: string;
  deliveredVersion?: string;
  lastErrorMessage?: string;
  lastErrorAt?: string;
  errorVersion?: string;
}

const subRow = (id: string): string => `sub|${id}`;
const statusRow = (id: string): string => `status|${id}`;
const indexPartition = "subscriptions|index";
const maxAttempts = 20;

export class TableAuditSubscriptionStore implements AuditSubscriptionStore {
  readonly #table: TableClient;
  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.auditEvents);
  }

  async list(tenantId: string): Promise<StoredSubscription[]> {
    const pk = streamPartition(tenantId);
    const rows = this.#table.listEntities<SubscriptionEntity & StatusEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${pk} and RowKey ge ${"status|"} and RowKey lt ${"sub}"}` },
    });
    const subs = new Map<string, SubscriptionEntity & { etag: string }>();
    const statuses = new Map<string, StatusEntity>();
    for await (const r of rows) {
      if (r.rowKey!.startsWith("sub|")) {
        if (!r.deleted) subs.set(r.rowKey!.slice(4), { ...r, etag: r.etag });
      } else statuses.set(r.rowKey!.slice(7), r);
    }
    return [...subs.entries()].map(([id, s]) => toStored(id, s, statuses.get(id))).sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(tenantId: string, id: string): Promise<StoredSubscription | undefined> {
    const pk = streamPartition(tenantId);
    const s = await getOrUndefined<SubscriptionEntity>(this.#table, pk, subRow(id));
    if (!s?.etag || s.deleted) return undefined;
    return toStored(id, { ...s, etag: s.etag }, await getOrUndefined<StatusEntity>(this.#table, pk, statusRow(id)));
  }

  async create(tenantId: string, sub: NewSubscription, limit: number): Promise<"created" | "exists" | "limit"> {
    const pk = streamPartition(tenantId);
    await this.#table.upsertEntity({ partitionKey: indexPartition, rowKey: tenantId }, "Replace");
    for (let attempt = 1; ; attempt++) {
      const counter = await getOrUndefined<CounterEntity>(this.#table, pk, counterRow);
      const tombstone = await getOrUndefined<SubscriptionEntity>(this.#table, pk, subRow(sub.id));
      const count = counter?.subscriptions ?? 0;
      if (count >= limit) return (await this.get(tenantId, sub.id)) ? "exists" : "limit";
      const entity: SubscriptionEntity = {
        url: sub.url,
        generation: sub.generation,
        secretVersion: sub.secretVersion,
        createdAt: sub.createdAt,
        createdById: sub.createdBy.id,
        createdByName: sub.createdBy.displayName,
        createdByType: sub.createdBy.type,
        cursor: counter?.last ?? 0,
      };
      const count1: TransactionAction = counter?.etag
        ? ["update", { partitionKey: pk, rowKey: counterRow, subscriptions: count + 1 }, "Merge", { etag: counter.etag }]
        : ["create", { partitionKey: pk, rowKey: counterRow, last: 0, subscriptions: 1 }];
      try {
        const row = { partitionKey: pk, rowKey: subRow(sub.id), ...entity };
        const write: TransactionAction = tombstone?.deleted && tombstone.etag ? ["update", row, "Replace", { etag: tombstone.etag }] : ["create", row];
        await this.#table.submitTransaction([count1, write]);
        return "created";
      } catch (e) {
        const conflict = isStatus(e, 409) || isStatus(e, 412);
        const existing = conflict ? await this.get(tenantId, sub.id) : undefined;
        // Its own generation: this very create committed on a try whose answer was lost (the
        // SDK sent the transaction again and met its own row and counter).
        if (existing) return existing.generation === sub.generation ? "created" : "exists";
        if (!conflict || attempt >= maxAttempts) throw e;
      }
    }
  }

  async replace(tenantId: string, current: StoredSubscription, change: { url: string; secretVersion: string }): Promise<boolean> {
    try {
      await this.#table.updateEntity({ partitionKey: streamPartition(tenantId), rowKey: subRow(current.id), ...change }, "Merge", { etag: current.etag });
      await deleteIfExists(this.#table, streamPartition(tenantId), statusRow(current.id));
      return true;
    } catch (e) {
      if (isStatus(e, 412) || isStatus(e, 404)) return false;
      throw e;
    }
  }

  async delete(tenantId: string, id: string): Promise<{ secretVersion: string } | undefined> {
    const pk = streamPartition(tenantId);
    // Once a delete was sent, a row found gone may be its work: the SDK sends a transaction
    // again when its answer is lost, and that try meets the moved counter or the tombstone.
    // Answering "not found" then would leave the secret behind and the delete unrecorded.
    let sent: { secretVersion: string } | undefined;
    for (let attempt = 1; ; attempt++) {
      const counter = await getOrUndefined<CounterEntity>(this.#table, pk, counterRow);
      const row = await getOrUndefined<SubscriptionEntity>(this.#table, pk, subRow(id));
      if (!counter?.etag || !row?.etag || row.deleted) {
        if (sent) break;
        return undefined;
      }
      try {
        sent = { secretVersion: row.secretVersion };
        const tombstone = { partitionKey: pk, rowKey: subRow(id), deleted: true, secretVersion: row.secretVersion };
        await this.#table.submitTransaction([
          ["update", { partitionKey: pk, rowKey: counterRow, subscriptions: Math.max(0, (counter.subscriptions ?? 1) - 1) }, "Merge", { etag: counter.etag }],
          ["update", tombstone, "Replace", { etag: row.etag }],
        ]);
        break;
      } catch (e) {
        if (!(isStatus(e, 404) || isStatus(e, 412)) || attempt >= maxAttempts) throw e;
      }
    }
    await this.#removeTombstone(pk, id);
    await deleteIfExists(this.#table, pk, statusRow(id));
    return sent;
  }

  /**
   * Removes the tombstone, unless a create wrote over it meanwhile (etag). Best effort: one
   * left behind reads as no subscription and the next create writes over it.
   */
  async #removeTombstone(pk: string, id: string): Promise<void> {
    try {
      const row = await getOrUndefined<SubscriptionEntity>(this.#table, pk, subRow(id));
      if (row?.deleted && row.etag) await this.#table.deleteEntity(pk, subRow(id), { etag: row.etag });
    } catch {
      // Left behind: see above.
    }
  }

  async advanceCursor(tenantId: string, current: StoredSubscription, cursor: number): Promise<string | undefined> {
    try {
      const r = await this.#table.updateEntity({ partitionKey: streamPartition(tenantId), rowKey: subRow(current.id), cursor }, "Merge", {
        etag: current.etag,
      });
      return r.etag;
    } catch (e) {
      if (isStatus(e, 412) || isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async recordOutcome(
    tenantId: string,
    sub: Pick<StoredSubscription, "id" | "secretVersion">,
    outcome: { deliveredAt: string } | { error: { message: string; at: string } },
  ): Promise<void> {
    const fields: StatusEntity =
      "deliveredAt" in outcome
        ? { lastDeliveredAt: outcome.deliveredAt, deliveredVersion: sub.secretVersion }
        : { lastErrorMessage: outcome.error.message.slice(0, 500), lastErrorAt: outcome.error.at, errorVersion: sub.secretVersion };
    await this.#table.upsertEntity({ partitionKey: streamPartition(tenantId), rowKey: statusRow(sub.id), ...fields }, "Merge");
  }

  async tenants(): Promise<string[]> {
    const out: string[] = [];
    for await (const r of this.#table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${indexPartition}` } })) out.push(r.rowKey!);
    return out;
  }
}

/**
 * The stored subscription with the outcomes of its current secret version. A failure shows
 * only while no delivery that started later succeeded: once one did, the receiver works and
 * the old failure is history (the log keeps it, and a give-up's event is in the audit log).
 */
function toStored(id: string, s: SubscriptionEntity & { etag: string }, row: StatusEntity | undefined): StoredSubscription {
  const ours = (version: string | undefined): boolean => version === undefined || version === s.secretVersion;
  const lastDeliveredAt = ours(row?.deliveredVersion) ? row?.lastDeliveredAt : undefined;
  const superseded = lastDeliveredAt !== undefined && row?.lastErrorAt !== undefined && Date.parse(row.lastErrorAt) < Date.parse(lastDeliveredAt);
  const status = {
    lastDeliveredAt,
    lastErrorMessage: ours(row?.errorVersion) && !superseded ? row?.lastErrorMessage : undefined,
    lastErrorAt: row?.lastErrorAt,
  };
  return {
    id,
    url: s.url,
    generation: s.generation,
    secretVersion: s.secretVersion,
    createdAt: s.createdAt,
    createdBy: { id: s.createdById, displayName: s.createdByName, type: s.createdByType as StoredSubscription["createdBy"]["type"] },
    cursor: s.cursor ?? 0,
    lastDeliveredAt: status.lastDeliveredAt ?? null,
    lastError: status.lastErrorMessage && status.lastErrorAt ? { message: status.lastErrorMessage, at: status.lastErrorAt } : null,
    etag: s.etag,
  };
}
