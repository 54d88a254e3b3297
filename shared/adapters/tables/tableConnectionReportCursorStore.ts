// The per-tenant cursor of the connection report: table `connectors`, partition = tenant,
// row `teamviewer.connectionReports`, beside the connector it belongs to. Etag-guarded.
import type { TableClient } from "@azure/data-tables";
import { z } from "zod";
import type { ConnectionReportCursor, ConnectionReportCursorStore, StoredCursor } from "../../app/sessions/connectionPorts.js";
import { getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

const rowKey = "teamviewer.connectionReports";

type CursorEntity = { through?: string; pendingFrom?: string; pendingTo?: string; pendingOffsetId?: string };

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not a time");
const entitySchema = z.object({
  through: isoTime.nullish(),
  pendingFrom: isoTime.nullish(),
  pendingTo: isoTime.nullish(),
  pendingOffsetId: z.string().min(1).nullish(),
});

export class TableConnectionReportCursorStore implements ConnectionReportCursorStore {
  readonly #table: TableClient;

  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.connectors);
  }

  async get(tenantId: string): Promise<StoredCursor | undefined> {
    const e = await getOrUndefined<CursorEntity>(this.#table, tenantId, rowKey);
    if (!e?.etag) return undefined;
    const parsed = entitySchema.safeParse(e);
    // An unreadable cursor is read as "no window pending, read from the default lookback": dedupe keeps that safe.
    const v = parsed.success ? parsed.data : {};
    const pending = v.pendingFrom && v.pendingTo && v.pendingOffsetId ? { from: v.pendingFrom, to: v.pendingTo, offsetId: v.pendingOffsetId } : null;
    return { cursor: { through: v.through ?? null, pending }, etag: e.etag };
  }

  async save(tenantId: string, cursor: ConnectionReportCursor, current: StoredCursor | undefined): Promise<StoredCursor | undefined> {
    const entity: CursorEntity & { partitionKey: string; rowKey: string } = { partitionKey: tenantId, rowKey };
    if (cursor.through !== null) entity.through = cursor.through;
    if (cursor.pending !== null) {
      entity.pendingFrom = cursor.pending.from;
      entity.pendingTo = cursor.pending.to;
      entity.pendingOffsetId = cursor.pending.offsetId;
    }
    try {
      const result = current ? await this.#table.updateEntity(entity, "Replace", { etag: current.etag }) : await this.#table.createEntity(entity);
      return { cursor, etag: result.etag ?? "" };
    } catch (e) {
      if (isStatus(e, 412) || isStatus(e, 409)) return undefined;
      throw e;
    }
  }
}
