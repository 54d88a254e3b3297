// The end users' inbox in Table storage: rows of the tenant's sessions partition,
// `inbox|<userId>|<session RowKey>`, written and deleted by the session store in the same
// transaction as the status that lists or ends the request (tableSessionStore.ts), so a
// user's list is one range query, newest first.
//
// Before that, entries lived in their own table (`inbox`, partition `tenant|userId`),
// written by the notification worker. Entries written there before the change are still
// read and removed here, by the list of a user whose request ended (nothing else deletes
// them): once that table is empty the legacy read can go (docs/cost.md).
import { odata, type TableClient } from "@azure/data-tables";
import type { InboxEntry, InboxStore } from "../../app/sessions/ports.js";
import { deleteIfExists, isStatus, tableNames, type Tables } from "./tables.js";
import { isSessionId } from "../../domain/session.js";
import { inboxRowPrefix, sessionRowKey, type InboxEntity } from "./tableSessionStore.js";

const legacyPartitionOf = (tenantId: string, userId: string): string => `${tenantId}|${userId}`;

/** Entries a user can have at once is bounded by how many open requests their devices have; this caps a hostile case. */
const maxEntries = 200;

export class TableInboxStore implements InboxStore {
  readonly #sessions: TableClient;
  readonly #legacy: TableClient;
  constructor(tables: Tables) {
    this.#sessions = tables.client(tableNames.sessions);
    this.#legacy = tables.client(tableNames.inbox);
  }

  async remove(tenantId: string, userId: string, sessionId: string): Promise<void> {
    if (!isSessionId(sessionId)) return; // names no session, so no inbox entry either
    await Promise.all([
      deleteIfExists(this.#sessions, tenantId, `${inboxRowPrefix(userId)}${sessionRowKey(sessionId)}`),
      deleteIfExists(this.#legacy, legacyPartitionOf(tenantId, userId), sessionRowKey(sessionId)),
    ]);
  }

  async list(tenantId: string, userId: string): Promise<InboxEntry[]> {
    const prefix = inboxRowPrefix(userId);
    const [current, legacy] = await Promise.all([
      this.#read(this.#sessions, odata`PartitionKey eq ${tenantId} and RowKey gt ${prefix} and RowKey lt ${`${prefix}~`}`, tenantId, userId),
      this.#read(this.#legacy, odata`PartitionKey eq ${legacyPartitionOf(tenantId, userId)}`, tenantId, userId),
    ]);
    const seen = new Set(current.map((e) => e.sessionId));
    const merged = [...current, ...legacy.filter((e) => !seen.has(e.sessionId))];
    // Session ids are ULIDs: newest first is descending id order.
    return merged.sort((a, b) => (a.sessionId < b.sessionId ? 1 : a.sessionId > b.sessionId ? -1 : 0)).slice(0, maxEntries);
  }

  async #read(table: TableClient, filter: string, tenantId: string, userId: string): Promise<InboxEntry[]> {
    const out: InboxEntry[] = [];
    try {
      for await (const e of table.listEntities<Omit<InboxEntity, "kind">>({ queryOptions: { filter } })) {
        out.push({
          tenantId,
          userId,
          sessionId: e.sessionId,
          deviceId: e.deviceId,
          deviceName: e.deviceName,
          requestedBy: { displayName: e.requestedByDisplayName },
          requestedAt: e.requestedAt,
          description: e.description ?? null,
        });
        if (out.length >= maxEntries) break;
      }
    } catch (e) {
      // A deployment that never had the legacy table: nothing to read there.
      if (!isStatus(e, 404)) throw e;
    }
    return out;
  }
}
