// DeviceStore.updateMany on Table storage: a bulk inventory sync's devices of one tenant
// created without a read when they are new, else read with point reads, changed, and written
// many per transaction (up to 100 operations, each device's record and index rows together,
// as reindexPage packs them). A transaction that
// fails because one of its devices changed meanwhile (412/409) or lost an index row (404)
// is retried device by device through update(), which reads again and decides again.
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { DeviceRecord } from "../../domain/deviceInventory.js";
import type { DeviceChange, DeviceUpdate } from "../../app/devices/ports.js";
import { recordKey } from "./deviceIndex.js";
import { getOrUndefined, isStatus } from "./tables.js";
import { inParallel, pack } from "./tableBatches.js";
import { toRecord, writeActions, type RecordEntity } from "./tableDeviceStore.js";

type Change = DeviceChange["change"];

/** Point reads in flight at once, and transactions in flight at once. */
const readConcurrency = 16;
const transactionConcurrency = 8;

/** The changes of one device, applied in order: undefined when none of them changes anything. */
function composed(changes: readonly Change[]): Change {
  return (current) => {
    let record = current;
    let changed = false;
    for (const change of changes) {
      const next = change(record);
      if (next) {
        record = next;
        changed = true;
      }
    }
    return changed ? record : undefined;
  };
}

interface Planned {
  readonly id: string;
  readonly change: Change;
  readonly before?: DeviceRecord;
  readonly after: DeviceRecord;
}

/**
 * A first sync brings devices not stored yet: those are written without reading, each as a
 * creation (the record's create fails the transaction if the device exists after all). The
 * first transaction tells which kind of sync this is: when it fails on an existing device,
 * the rest is read first. Returns the devices still to be read and written.
 */
async function createNew(
  table: TableClient,
  tenantId: string,
  byDevice: ReadonlyMap<string, Change[]>,
  results: Map<string, DeviceUpdate>,
): Promise<[string, Change[]][]> {
  const rest: [string, Change[]][] = [];
  const creations: { item: [string, Change[]]; actions: TransactionAction[] }[] = [];
  for (const [id, list] of byDevice) {
    const after = composed(list)(undefined);
    if (!after) {
      rest.push([id, list]);
      continue;
    }
    // Every row created, not upserted (a quarter faster on Azurite): any row that exists means
    // the device does, or left rows behind, and the read path (update's upserts) deals with it.
    const actions = writeActions(tenantId, undefined, after).actions.map((a): TransactionAction => (a[0] === "upsert" ? ["create", a[1]] : a));
    creations.push({ item: [id, list], actions });
  }
  const batches = pack(creations);
  const submit = async ({ items, actions }: { items: [string, Change[]][]; actions: TransactionAction[] }): Promise<boolean> => {
    try {
      await table.submitTransaction(actions);
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
      rest.push(...items);
      return false;
    }
    for (const [id, list] of items) results.set(id, { written: true, after: composed(list)(undefined) });
    return true;
  };
  if (batches.length === 0) return rest;
  if (!(await submit(batches[0]))) {
    for (const b of batches.slice(1)) rest.push(...b.items);
    return rest;
  }
  await inParallel(batches.slice(1), transactionConcurrency, submit);
  return rest;
}

export async function updateDevices(
  table: TableClient,
  tenantId: string,
  changes: readonly DeviceChange[],
  updateOne: (deviceId: string, change: Change) => Promise<DeviceUpdate>,
): Promise<Map<string, DeviceUpdate>> {
  const byDevice = new Map<string, Change[]>();
  for (const { deviceId, change } of changes) {
    const list = byDevice.get(deviceId);
    if (list) list.push(change);
    else byDevice.set(deviceId, [change]);
  }
  const results = new Map<string, DeviceUpdate>();
  const unread = await createNew(table, tenantId, byDevice, results);
  const writes: { item: Planned; actions: TransactionAction[] }[] = [];
  await inParallel(unread, readConcurrency, async ([id, list]) => {
    const stored = await getOrUndefined<RecordEntity>(table, tenantId, recordKey(id));
    const before = stored && toRecord(tenantId, stored);
    const change = composed(list);
    const after = change(before);
    if (!after) {
      results.set(id, { written: false, before });
      return;
    }
    writes.push({ item: { id, change, before, after }, actions: writeActions(tenantId, stored, after).actions });
  });
  await inParallel(pack(writes), transactionConcurrency, async ({ items, actions }) => {
    try {
      await table.submitTransaction(actions);
      for (const i of items) results.set(i.id, { written: true, before: i.before, after: i.after });
      return;
    } catch (e) {
      // Anything but a conflict of one of its devices (an outage, a throttle) is for the
      // caller: the whole batch is tried again later, and every write here is idempotent.
      if (!isStatus(e, 412) && !isStatus(e, 409) && !isStatus(e, 404)) throw e;
    }
    for (const i of items) results.set(i.id, await updateOne(i.id, i.change));
  });
  return results;
}
