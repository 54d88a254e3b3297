// The end users' inbox in Table storage: partition `tenant|userId`, one row per open
// request, keyed like the session (newest first), so a user's list is one partition read.
import { odata, type TableClient } from "@azure/data-tables";
import type { InboxEntry, InboxStore } from "../../app/sessions/ports.js";
import { isStatus, tableNames, type Tables } from "./tables.js";
import { isSessionId } from "../../domain/session.js";
import { sessionRowKey } from "./tableSessionStore.js";

interface InboxEntity {
  sessionId: string;
  deviceId: string;
  deviceName: string;
  requestedByDisplayName: string;
  requestedAt: string;
  description?: string;
}

const partitionOf = (tenantId: string, userId: string): string => `${tenantId}|${userId}`;

/** Entries a user can have at once is bounded by how many open requests their devices have; this caps a hostile case. */
const maxEntries = 200;

export class TableInboxStore implements InboxStore {
  readonly #table: TableClient;
  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.inbox);
  }

  async put(entry: InboxEntry): Promise<void> {
    await this.#table.upsertEntity(
      {
        partitionKey: partitionOf(entry.tenantId, entry.userId),
        rowKey: sessionRowKey(entry.sessionId),
        sessionId: entry.sessionId,
        deviceId: entry.deviceId,
        deviceName: entry.deviceName,
        requestedByDisplayName: entry.requestedBy.displayName,
        requestedAt: entry.requestedAt,
        ...(entry.description === null ? {} : { description: entry.description }),
      },
      "Replace",
    );
  }

  async remove(tenantId: string, userId: string, sessionId: string): Promise<void> {
    if (!isSessionId(sessionId)) return; // names no session, so no inbox entry either
    try {
      await this.#table.deleteEntity(partitionOf(tenantId, userId), sessionRowKey(sessionId));
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }

  async list(tenantId: string, userId: string): Promise<InboxEntry[]> {
    const out: InboxEntry[] = [];
    const filter = odata`PartitionKey eq ${partitionOf(tenantId, userId)}`;
    for await (const e of this.#table.listEntities<InboxEntity>({ queryOptions: { filter } })) {
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
    return out;
  }
}
