// The DeviceStore on Table storage: the record and its index rows (deviceIndex.ts) written in
// one etag-guarded transaction, and list pages served by merging a few RowKey range queries.
import { odata, type TableClient, type TableEntityResult, type TransactionAction } from "@azure/data-tables";
import type { Device } from "../../domain/device.js";
import type { DeviceRecord } from "../../domain/deviceInventory.js";
import { conflict, DomainError, errorCodes } from "../../domain/errors.js";
import type { DeviceChange, DeviceListQuery, DevicePage, DeviceStore, DeviceUpdate, ReindexPage } from "../../app/devices/ports.js";
import { updateDevices } from "./tableDeviceBulk.js";
import {
  deviceIndexVersion,
  filterFingerprint,
  indexKeysOf,
  planFor,
  recordKey,
  recordPrefix,
  recordRangeEnd,
  unversioned,
  type RangeSpec,
  type SearchField,
} from "./deviceIndex.js";
import { deleteIfExists, getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";
import { openContinuation, sealContinuation } from "./sealedContinuation.js";
import { inParallel, maxTransactionOperations, pack } from "./tableBatches.js";

// Type aliases, not interfaces: the Tables SDK wants entities assignable to Record<string, unknown>.
/** The device as every row of it stores it (the record and each index row carry a full copy). */
type DeviceEntity = {
  deviceId: string;
  deviceName: string;
  operatingSystem: string;
  osVersion: string;
  managedDeviceOwnerType: string;
  deviceEnrollmentType: string;
  deviceType?: string;
  userId?: string;
  userPrincipalName?: string;
  userDisplayName?: string;
  emailAddress?: string;
  roleScopeTagIds: string; // a JSON array
  scopeTagsSince?: string;
  lastSyncDateTime?: string;
  complianceState?: string;
  removed: boolean;
  removedAt?: string;
  restoredAt?: string;
  updatedAt: string;
};

export type RecordEntity = Partial<DeviceEntity> & {
  kind: "device" | "tombstone";
  deviceId: string;
  removedAt?: string;
  /** JSON array of this device's index RowKeys, so the next write can delete the stale ones. */
  indexKeys: string;
  /** deviceIndexVersion of the code that wrote the rows; absent = written before versions (1). */
  indexVersion?: number;
};

const maxWriteAttempts = 8;
// Per-page budget: a page reads at most 2 x top entities (and a few queries), so its cost follows its size
// whatever the filter; a merge of more ranges than that reads one row per range (it needs every range's head
// before it can return a row). A single exact range reads top + 1 (the extra row says whether there is more).
// Merged ranges start with top / k rows each and keep the rest of the budget for the ranges that run dry; rows
// filtered out or merged away spend it too. A page that hits the budget ends early, possibly short, with a
// continuation token (the API's paging rule: follow the token until it is absent), so no request becomes a scan.
const entitiesPerItem = 2;
const maxQueriesPerPage = (ranges: number): number => 2 * ranges + 8;
const maxRowsPerQuery = 1_000;
const queryConcurrency = 8;

/** The rows a range's first query asks for: all the page needs (+1) alone, a share of it when merged. */
const firstFetchSize = (top: number, ranges: number): number => (ranges === 1 ? top + 1 : Math.max(1, Math.floor(top / ranges)));

const optional = <K extends string>(key: K, value: string | null | undefined): { [P in K]?: string } =>
  (value === null || value === undefined || value === "" ? {} : { [key]: value }) as { [P in K]?: string };

function toEntity(d: Device): DeviceEntity {
  return {
    deviceId: d.id,
    deviceName: d.deviceName,
    operatingSystem: d.operatingSystem,
    osVersion: d.osVersion,
    managedDeviceOwnerType: d.managedDeviceOwnerType,
    deviceEnrollmentType: d.deviceEnrollmentType,
    ...optional("deviceType", d.deviceType),
    ...optional("userId", d.userId),
    ...optional("userPrincipalName", d.userPrincipalName),
    ...optional("userDisplayName", d.userDisplayName),
    ...optional("emailAddress", d.emailAddress),
    roleScopeTagIds: JSON.stringify(d.roleScopeTagIds),
    ...optional("scopeTagsSince", d.scopeTagsSince),
    ...optional("lastSyncDateTime", d.lastSyncDateTime),
    ...optional("complianceState", d.complianceState),
    removed: d.removed,
    ...optional("removedAt", d.removed ? d.removedAt : undefined),
    ...optional("restoredAt", d.restoredAt),
    updatedAt: d.updatedAt,
  };
}

function toDevice(tenantId: string, e: DeviceEntity): Device {
  return {
    tenantId,
    id: e.deviceId,
    deviceName: e.deviceName,
    operatingSystem: e.operatingSystem,
    osVersion: e.osVersion,
    managedDeviceOwnerType: e.managedDeviceOwnerType,
    deviceEnrollmentType: e.deviceEnrollmentType,
    ...(e.deviceType ? { deviceType: e.deviceType } : {}),
    userId: e.userId ?? null,
    userPrincipalName: e.userPrincipalName ?? null,
    userDisplayName: e.userDisplayName ?? null,
    emailAddress: e.emailAddress ?? null,
    roleScopeTagIds: JSON.parse(e.roleScopeTagIds) as string[],
    ...(e.scopeTagsSince ? { scopeTagsSince: e.scopeTagsSince } : {}),
    ...(e.lastSyncDateTime ? { lastSyncDateTime: e.lastSyncDateTime } : {}),
    ...(e.complianceState ? { complianceState: e.complianceState } : {}),
    removed: e.removed,
    ...(e.removedAt ? { removedAt: e.removedAt } : {}),
    ...(e.restoredAt ? { restoredAt: e.restoredAt } : {}),
    updatedAt: e.updatedAt,
  };
}

export function toRecord(tenantId: string, e: RecordEntity): DeviceRecord {
  if (e.kind === "tombstone") return { kind: "tombstone", tenantId, id: e.deviceId, removedAt: e.removedAt! };
  return { kind: "device", device: toDevice(tenantId, e as RecordEntity & DeviceEntity) };
}

function recordEntity(tenantId: string, r: DeviceRecord, indexKeys: readonly string[]): RecordEntity & { partitionKey: string; rowKey: string } {
  const id = r.kind === "device" ? r.device.id : r.id;
  const base = { partitionKey: tenantId, rowKey: recordKey(id), indexKeys: JSON.stringify(indexKeys), indexVersion: deviceIndexVersion };
  return r.kind === "device"
    ? { ...base, kind: "device", ...toEntity(r.device) }
    : { ...base, kind: "tombstone", deviceId: id, removed: true, removedAt: r.removedAt };
}

/** Every row of a new device, all created: a row that exists already means the device does. */
function creationActions(tenantId: string, d: Device): TransactionAction[] {
  const keys = indexKeysOf(d);
  const copy = toEntity(d);
  return [
    ["create", recordEntity(tenantId, { kind: "device", device: d }, keys)],
    ...keys.map((k): TransactionAction => ["create", { partitionKey: tenantId, rowKey: k, ...copy }]),
  ];
}

/**
 * The transaction that replaces a device's rows: the record (etag-guarded when it exists),
 * every index row of `after`, and deletes of the rows `stored` lists that `after` no longer has.
 */
export function writeActions(
  tenantId: string,
  stored: TableEntityResult<RecordEntity> | undefined,
  after: DeviceRecord,
  gone: ReadonlySet<string> = new Set(),
): { actions: TransactionAction[]; stale: string[] } {
  const keys = after.kind === "device" ? indexKeysOf(after.device) : [];
  const wanted = new Set(keys);
  // Rows known to be gone already get no delete: one that finds no row fails the whole transaction.
  const stale = (stored ? (JSON.parse(stored.indexKeys) as string[]) : []).filter((k) => !wanted.has(k) && !gone.has(k));
  const record = recordEntity(tenantId, after, keys);
  const copy = after.kind === "device" ? toEntity(after.device) : undefined;
  const actions: TransactionAction[] = [
    // The etag makes the whole transaction fail if another writer got there first.
    stored ? ["update", record, "Replace", { etag: stored.etag }] : ["create", record],
    ...keys.map((k): TransactionAction => ["upsert", { partitionKey: tenantId, rowKey: k, ...copy }, "Replace"]),
    ...stale.map((k): TransactionAction => ["delete", { partitionKey: tenantId, rowKey: k }]),
  ];
  if (actions.length > maxTransactionOperations) {
    // deviceIndex.ts bounds a device to 48 index rows; getting here means that bound broke.
    const id = after.kind === "device" ? after.device.id : after.id;
    throw new Error(`device ${id} needs ${actions.length} operations in one transaction (limit ${maxTransactionOperations})`);
  }
  return { actions, stale };
}

interface Row {
  readonly key: string;
  readonly device: Device;
}

/** One RowKey range being read in order, a page of rows at a time. */
class RangeCursor {
  readonly spec: RangeSpec;
  readonly buffer: Row[] = [];
  exhausted = false;
  #after: string | undefined;
  #nextSize: number;

  constructor(spec: RangeSpec, resumeAfter: string | undefined, firstSize: number) {
    this.spec = spec;
    this.#after = resumeAfter === undefined ? undefined : spec.family + resumeAfter;
    this.#nextSize = firstSize;
  }

  get head(): Row | undefined {
    return this.buffer[0];
  }

  /** One query: the next rows of the range after everything read so far, at most `limit`. */
  async fetch(table: TableClient, tenantId: string, limit: number): Promise<number> {
    let filter = odata`PartitionKey eq ${tenantId} and RowKey ge ${this.spec.from} and RowKey lt ${this.spec.to}`;
    if (this.#after !== undefined) filter += odata` and RowKey gt ${this.#after}`;
    const size = Math.max(1, Math.min(this.#nextSize, limit));
    // Rows the merge throws away (filtered, or a device seen in another range) mean this
    // range is sparse for the query: read more at a time next round.
    this.#nextSize = Math.min(maxRowsPerQuery, size * 2);
    const pages = table.listEntities<DeviceEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: size });
    const next = await pages.next();
    const page = next.done ? undefined : next.value;
    const rows = page ?? [];
    for (const e of rows) this.buffer.push({ key: e.rowKey!.slice(this.spec.family.length), device: toDevice(tenantId, e) });
    if (rows.length > 0) this.#after = rows[rows.length - 1].rowKey!;
    this.exhausted = !page?.continuationToken;
    return rows.length;
  }
}

interface ResumePoint {
  v: 1;
  /** The merge key of the last row consumed. */
  k: string;
  /** filterFingerprint of the query. */
  f: string;
}

// Every merge key this store issues is printable ASCII (deviceIndex.ts); anything else in a
// token was not issued here and must not reach a query filter.
const isResumePoint = (v: Record<string, unknown>): v is ResumePoint & Record<string, unknown> =>
  typeof v.k === "string" && /^[\x21-\x7e]{1,600}$/.test(v.k) && typeof v.f === "string";

export class TableDeviceStore implements DeviceStore {
  readonly #table: TableClient;
  readonly #tables: Tables;
  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.devices);
    this.#tables = tables;
  }

  async get(tenantId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const e = await getOrUndefined<RecordEntity>(this.#table, tenantId, recordKey(deviceId));
    return e && toRecord(tenantId, e);
  }

  async update(
    tenantId: string,
    deviceId: string,
    change: (current: DeviceRecord | undefined) => DeviceRecord | undefined,
  ): Promise<{ written: boolean; before?: DeviceRecord; after?: DeviceRecord }> {
    // Index rows found gone, as of the record's etag then: a newer record may have written them again.
    let gone = { etag: "", keys: new Set<string>() };
    for (let attempt = 0; attempt < maxWriteAttempts; attempt++) {
      const stored: TableEntityResult<RecordEntity> | undefined = await getOrUndefined<RecordEntity>(this.#table, tenantId, recordKey(deviceId));
      const before = stored && toRecord(tenantId, stored);
      const after = change(before);
      if (!after) return { written: false, before };

      const { actions, stale } = writeActions(tenantId, stored, after, stored?.etag === gone.etag ? gone.keys : undefined);
      try {
        await this.#table.submitTransaction(actions);
        return { written: true, before, after };
      } catch (e) {
        // 412: the record changed since we read it; 409: someone created it meanwhile. Read again.
        if (isStatus(e, 412) || isStatus(e, 409)) continue;
        if (isStatus(e, 404) && stale.length > 0) {
          // An index row the record lists is already gone (only after manual repair or a
          // partial restore). The stale rows are deleted one by one, tolerating absence, and
          // the next attempt's transaction leaves them out; the record etag still guards it.
          await inParallel(stale, queryConcurrency, (k) => deleteIfExists(this.#table, tenantId, k));
          gone = { etag: stored?.etag ?? "", keys: new Set([...(stored?.etag === gone.etag ? gone.keys : []), ...stale]) };
          continue;
        }
        throw e;
      }
    }
    // Thrown as a plain Error: a transient failure, so the message is redelivered later.
    throw new Error(`device ${deviceId} kept changing while being written (${maxWriteAttempts} attempts)`);
  }

  updateMany(tenantId: string, changes: readonly DeviceChange[]): Promise<Map<string, DeviceUpdate>> {
    return updateDevices(this.#table, tenantId, changes, (id, change) => this.update(tenantId, id, change));
  }

  async createMany(tenantId: string, devices: readonly Device[]): Promise<void> {
    const batches = pack(devices.map((d) => ({ item: d.id, actions: creationActions(tenantId, d) })));
    await inParallel(batches, queryConcurrency, async ({ actions }) => {
      try {
        await this.#table.submitTransaction(actions);
      } catch (e) {
        if (isStatus(e, 409)) throw conflict("A device in the batch is already stored; nothing of that batch was written.");
        throw e;
      }
    });
  }

  readonly indexVersion = deviceIndexVersion;

  async reindexPage(tenantId: string, after: string | undefined, limit: number): Promise<ReindexPage> {
    let filter = odata`PartitionKey eq ${tenantId} and RowKey lt ${recordRangeEnd}`;
    filter += after === undefined ? odata` and RowKey ge ${recordPrefix}` : odata` and RowKey gt ${recordKey(after)}`;
    let rows: TableEntityResult<RecordEntity>[] = [];
    let done = true;
    // A page may come back empty with a continuation token (Azure ends a query after 5 s);
    // the iterator follows the token to the first rows.
    for await (const page of this.#table.listEntities<RecordEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: limit })) {
      rows = page;
      done = !page.continuationToken;
      if (rows.length > 0) break;
    }
    const failed: { deviceId: string; error: unknown }[] = [];
    const writes: { item: string; actions: TransactionAction[] }[] = [];
    for (const e of rows) {
      if ((e.indexVersion ?? unversioned) >= deviceIndexVersion) continue;
      try {
        writes.push({ item: e.deviceId, actions: writeActions(tenantId, e, toRecord(tenantId, e)).actions });
      } catch (error) {
        failed.push({ deviceId: e.deviceId, error });
      }
    }
    let rewritten = 0;
    await inParallel(pack(writes), queryConcurrency, async ({ items, actions }) => {
      try {
        await this.#table.submitTransaction(actions);
        rewritten += items.length;
        return;
      } catch {
        // One device of the batch changed meanwhile (412), lost an index row (404), or is
        // bad: each one alone, through the read-and-write path of update.
      }
      for (const id of items) {
        try {
          // Unchanged content, written by this code: the current rows and version.
          if ((await this.update(tenantId, id, (current) => current)).written) rewritten++;
        } catch (error) {
          failed.push({ deviceId: id, error });
        }
      }
    });
    const last = rows.length > 0 ? rows[rows.length - 1].rowKey!.slice(recordPrefix.length) : undefined;
    return { scanned: rows.length, rewritten, failed, ...(last === undefined ? {} : { last }), done };
  }

  async list(q: DeviceListQuery): Promise<DevicePage> {
    const plan = planFor(q);
    const fingerprint = filterFingerprint(q);
    // Sealed: a scoped page can end on a row outside the caller's scope (sealedContinuation.ts).
    const resume = await openContinuation<ResumePoint & Record<string, unknown>>(this.#tables, q.continuationToken, isResumePoint);
    if (resume && resume.f !== fingerprint) {
      throw new DomainError(errorCodes.validationFailed, "The continuation token belongs to a different query.", {
        errors: [{ path: "query.continuationToken", message: "pass the same search, platform and eligible values as the first page" }],
      });
    }
    const cursors = plan.ranges.map((r) => new RangeCursor(r, resume?.k, firstFetchSize(q.top, plan.ranges.length)));
    const entityBudget = Math.max(entitiesPerItem * q.top, firstFetchSize(q.top, cursors.length) * cursors.length);
    const value: Device[] = [];
    let lastKey = resume?.k;
    let queries = 0;
    let rowsRead = 0;
    let consumed = 0;
    const queryBudget = maxQueriesPerPage(cursors.length);

    for (;;) {
      if (value.length === q.top) break;
      // A cursor with nothing buffered might hold the smallest next key: read it before merging.
      const empty = cursors.filter((c) => c.buffer.length === 0 && !c.exhausted);
      if (empty.length > 0) {
        // Only after this page has made progress may the budget end it, so every page moves on.
        const left = entityBudget - rowsRead;
        if (consumed > 0 && (queries + empty.length > queryBudget || left < empty.length)) break;
        // Before any progress the budget may not stop the page (every page moves on): each range gets a row at least.
        const share = Math.max(1, Math.floor(left / empty.length));
        await inParallel(empty, queryConcurrency, async (c) => {
          // (Read first, then add: `rowsRead += await …` would add to the value from before the await.)
          const read = await c.fetch(this.#table, q.tenantId, share);
          rowsRead += read;
        });
        queries += empty.length;
        continue;
      }
      const heads = cursors.filter((c) => c.head !== undefined);
      if (heads.length === 0) return { value }; // every range is read to its end
      let min = heads[0].head!.key;
      for (const c of heads) if (c.head!.key < min) min = c.head!.key;
      // The same merge key in several ranges is one device (found by several scope tags, or
      // by name and UPN with equal values): consume them together, emit it at most once.
      const found: { device: Device; field: SearchField }[] = [];
      for (const c of heads) if (c.head!.key === min) found.push({ device: c.buffer.shift()!.device, field: c.spec.field });
      lastKey = min;
      consumed++;
      const accepted = found.find((f) => plan.accept(f.device, f.field));
      if (accepted) value.push(accepted.device);
    }

    const more = cursors.some((c) => c.buffer.length > 0 || !c.exhausted);
    if (!more || lastKey === undefined) return { value };
    return { value, continuationToken: await sealContinuation(this.#tables, { k: lastKey, f: fingerprint }) };
  }
}
