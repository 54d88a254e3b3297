// DeviceStore.updateMany on Table storage: a bulk inventory sync's devices of one tenant read
// with point reads, changed, and written many per transaction (up to 100 operations, each
// device's record and index rows together, as reindexPage packs them). A transaction that
// fails because one of its devices changed meanwhile (412/409) or lost an index row (404)
// is retried device by device through update(), which reads again and decides again.
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { DeviceRecord } from "../../domain/deviceInventory.js";
import type { DeviceChange, DeviceUpdate } from "../../app/devices/ports.js";
import { recordKey } from "./deviceIndex.js";
import { getOrUndefined, isStatus } from "./tables.js";
import { inBatches, pack, toRecord, writeActions, type RecordEntity } from "./tableDeviceStore.js";

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
  const writes: { item: Planned; actions: TransactionAction[] }[] = [];
  await inBatches([...byDevice], readConcurrency, async ([id, list]) => {
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
  await inBatches(pack(writes), transactionConcurrency, async ({ items, actions }) => {
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
