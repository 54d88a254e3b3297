// OAuth states in Table storage: table `oauthStates`, partition `oauth`, row = SHA-256 of
// the state. Status changes are etag-guarded, which is what makes a state single use.
import { odata, type TableClient } from "@azure/data-tables";
import { z } from "zod";
import { oauthStateStatuses, type OAuthStateRecord, type OAuthStateStatus, type OAuthStateStore } from "../../app/connector/ports.js";
import { getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

const partition = "oauth";

const entitySchema = z.object({
  tenantId: z.string(),
  status: z.enum(oauthStateStatuses),
  createdBy: z.string(),
  createdByName: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  generation: z.number().int().nonnegative().optional(),
});
type StateEntity = z.input<typeof entitySchema>;

export class TableOAuthStateStore implements OAuthStateStore {
  readonly #table: TableClient;

  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.oauthStates);
  }

  async create(r: OAuthStateRecord): Promise<void> {
    const entity: StateEntity & { partitionKey: string; rowKey: string } = {
      partitionKey: partition,
      rowKey: r.id,
      tenantId: r.tenantId,
      status: r.status,
      createdBy: r.createdBy,
      createdByName: r.createdByName,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
      ...(r.generation === undefined ? {} : { generation: r.generation }),
    };
    await this.#table.createEntity(entity);
  }

  async get(id: string): Promise<OAuthStateRecord | undefined> {
    const e = await getOrUndefined<StateEntity>(this.#table, partition, id);
    if (!e) return undefined;
    const parsed = entitySchema.safeParse(e);
    if (!parsed.success) throw new Error("a stored OAuth state is not valid");
    const { generation, ...rest } = parsed.data;
    return { id, ...rest, ...(generation === undefined ? {} : { generation }) };
  }

  async transition(id: string, from: OAuthStateStatus, to: OAuthStateStatus): Promise<boolean> {
    const e = await getOrUndefined<StateEntity>(this.#table, partition, id);
    if (!e || e.status !== from) return false;
    try {
      await this.#table.updateEntity({ partitionKey: partition, rowKey: id, status: to }, "Merge", { etag: e.etag });
      return true;
    } catch (err) {
      if (isStatus(err, 412) || isStatus(err, 404)) return false;
      throw err;
    }
  }

  async purgeExpired(before: Date): Promise<number> {
    let purged = 0;
    // An `exchanged` state stays: its token is in Key Vault until its message (or the dead letter) discards it.
    const filter = odata`PartitionKey eq ${partition} and expiresAt lt ${before.toISOString()} and status ne ${oauthStateStatuses.exchanged}`;
    for await (const e of this.#table.listEntities<StateEntity>({ queryOptions: { filter } })) {
      try {
        await this.#table.deleteEntity(partition, e.rowKey!, { etag: e.etag });
        purged++;
      } catch (err) {
        if (!(isStatus(err, 404) || isStatus(err, 412))) throw err;
      }
    }
    return purged;
  }
}
