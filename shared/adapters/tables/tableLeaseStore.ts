// Short leases in Table storage: table `leases`, partition = tenant, row = lease name.
// Taken by creating the row (409 = someone holds it) or by an etag-guarded update of an
// expired row (412 = another instance took it first), so exactly one owner wins.
import type { TableClient } from "@azure/data-tables";
import type { Lease, LeaseStore } from "../../app/connector/ports.js";
import type { Clock } from "../../app/clock.js";
import { getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

interface LeaseEntity {
  owner: string;
  expiresAt: string;
}

export class TableLeaseStore implements LeaseStore {
  readonly #table: TableClient;
  readonly #clock: Clock;

  constructor(tables: Tables, clock: Clock) {
    this.#table = tables.client(tableNames.leases);
    this.#clock = clock;
  }

  async tryAcquire(tenantId: string, name: string, owner: string, durationMs: number): Promise<boolean> {
    const now = this.#clock.now().getTime();
    const entity = { partitionKey: tenantId, rowKey: name, owner, expiresAt: new Date(now + durationMs).toISOString() };
    try {
      await this.#table.createEntity(entity);
      return true;
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
    }
    const held = await getOrUndefined<LeaseEntity>(this.#table, tenantId, name);
    // Released between our create and read: the next attempt will create it.
    if (!held) return false;
    if (held.owner !== owner && Date.parse(held.expiresAt) > now) return false;
    try {
      await this.#table.updateEntity(entity, "Replace", { etag: held.etag });
      return true;
    } catch (e) {
      if (isStatus(e, 412) || isStatus(e, 404)) return false;
      throw e;
    }
  }

  async release(tenantId: string, name: string, owner: string): Promise<void> {
    const held = await getOrUndefined<LeaseEntity>(this.#table, tenantId, name);
    if (!held || held.owner !== owner) return;
    try {
      await this.#table.deleteEntity(tenantId, name, { etag: held.etag });
    } catch (e) {
      if (!(isStatus(e, 412) || isStatus(e, 404))) throw e;
    }
  }

  async get(tenantId: string, name: string): Promise<Lease | undefined> {
    const held = await getOrUndefined<LeaseEntity>(this.#table, tenantId, name);
    return held ? { owner: held.owner, expiresAt: new Date(held.expiresAt) } : undefined;
  }
}
