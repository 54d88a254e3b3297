// Short leases in Table storage: table `leases`, partition = tenant, row = lease name.
// Taken by creating the row (409 = it exists) or by an etag-guarded update of a free or
// expired row (412 = another instance took it first), so exactly one owner wins. The row
// stays after a release (owner emptied) so its fence keeps growing: every acquisition gets
// a higher fence than the one before, and a holder whose lease was taken over can tell.
import type { TableClient } from "@azure/data-tables";
import type { Lease, LeaseStore } from "../../app/connector/ports.js";
import type { Clock } from "../../app/clock.js";
import { getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

interface LeaseEntity {
  /** Empty when released. */
  owner: string;
  expiresAt: string;
  /** Absent on rows written before fences existed (read as 0). */
  fence?: number;
}

const fenceOf = (e: { fence?: unknown }): number => (typeof e.fence === "number" && Number.isInteger(e.fence) && e.fence >= 0 ? e.fence : 0);

export class TableLeaseStore implements LeaseStore {
  readonly #table: TableClient;
  readonly #clock: Clock;

  constructor(tables: Tables, clock: Clock) {
    this.#table = tables.client(tableNames.leases);
    this.#clock = clock;
  }

  async tryAcquire(tenantId: string, name: string, owner: string, durationMs: number): Promise<Lease | undefined> {
    if (owner === "") throw new Error("a lease owner must not be empty");
    const now = this.#clock.now().getTime();
    const expiresAt = new Date(now + durationMs);
    try {
      await this.#table.createEntity<LeaseEntity>({ partitionKey: tenantId, rowKey: name, owner, expiresAt: expiresAt.toISOString(), fence: 1 });
      return { owner, expiresAt, fence: 1 };
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
    }
    const held = await getOrUndefined<LeaseEntity>(this.#table, tenantId, name);
    // Deleted between our create and read (rows of older versions were): the next attempt creates it.
    if (!held) return undefined;
    if (held.owner !== "" && held.owner !== owner && Date.parse(held.expiresAt) > now) return undefined;
    const fence = fenceOf(held) + 1;
    try {
      await this.#table.updateEntity<LeaseEntity>({ partitionKey: tenantId, rowKey: name, owner, expiresAt: expiresAt.toISOString(), fence }, "Replace", {
        etag: held.etag,
      });
      return { owner, expiresAt, fence };
    } catch (e) {
      if (isStatus(e, 412) || isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async renew(tenantId: string, name: string, owner: string, fence: number, durationMs: number): Promise<boolean> {
    const held = await getOrUndefined<LeaseEntity>(this.#table, tenantId, name);
    if (!held || held.owner !== owner || fenceOf(held) !== fence) return false;
    const expiresAt = new Date(this.#clock.now().getTime() + durationMs).toISOString();
    try {
      await this.#table.updateEntity<LeaseEntity>({ partitionKey: tenantId, rowKey: name, owner, expiresAt, fence }, "Replace", { etag: held.etag });
      return true;
    } catch (e) {
      if (isStatus(e, 412) || isStatus(e, 404)) return false;
      throw e;
    }
  }

  async release(tenantId: string, name: string, owner: string, fence?: number): Promise<void> {
    const held = await getOrUndefined<LeaseEntity>(this.#table, tenantId, name);
    if (!held || held.owner !== owner || (fence !== undefined && fenceOf(held) !== fence)) return;
    const free: LeaseEntity = { owner: "", expiresAt: this.#clock.now().toISOString(), fence: fenceOf(held) };
    try {
      await this.#table.updateEntity({ partitionKey: tenantId, rowKey: name, ...free }, "Replace", { etag: held.etag });
    } catch (e) {
      if (!(isStatus(e, 412) || isStatus(e, 404))) throw e;
    }
  }

  async get(tenantId: string, name: string): Promise<Lease | undefined> {
    const held = await getOrUndefined<LeaseEntity>(this.#table, tenantId, name);
    return held && held.owner !== "" ? { owner: held.owner, expiresAt: new Date(held.expiresAt), fence: fenceOf(held) } : undefined;
  }
}
