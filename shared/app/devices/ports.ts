// The port the device use cases need: a device store with atomic, race-safe updates and
// paged, filtered listing. How filters are indexed is the adapter's business.
import type { Device, Platform } from "../../domain/device.js";
import type { DeviceRecord } from "../../domain/deviceInventory.js";
import type { EligibilitySettings } from "../../domain/eligibility.js";
import type { Scope } from "../../domain/permissions.js";
import type { Logger } from "../logging.js";

export interface DeviceListQuery {
  readonly tenantId: string;
  /** Only devices the caller may read: everything, or devices with one of these scope tags. */
  readonly scope: Scope;
  /** Prefix of the device name, the user's UPN or display name; case-insensitive. */
  readonly search?: string;
  readonly platform?: Platform;
  /** Eligibility as evaluated with `settings` (the tenant's current settings). */
  readonly eligible?: boolean;
  readonly settings: EligibilitySettings;
  readonly top: number;
  /** Opaque, from the previous page of the same query. */
  readonly continuationToken?: string;
}

export interface DevicePage {
  readonly value: Device[];
  /** Present when there may be more; a page can hold fewer than `top` devices and still have one. */
  readonly continuationToken?: string;
}

/** One page of the re-index job (see DeviceStore.reindexPage). */
export interface ReindexPage {
  /** Records read, whatever their version (devices and tombstones). */
  readonly scanned: number;
  /** Records of an older index version now written under the current one. */
  readonly rewritten: number;
  /** Records of an older version that could not be rewritten, and why. */
  readonly failed: readonly { readonly deviceId: string; readonly error: unknown }[];
  /** The id of the last record read: the next page starts after it. Absent when none was read. */
  readonly last?: string;
  /** Nothing comes after this page. */
  readonly done: boolean;
}

/** One change of update() for updateMany; several for one device apply in their order. */
export interface DeviceChange {
  readonly deviceId: string;
  readonly change: (current: DeviceRecord | undefined) => DeviceRecord | undefined;
}

/** The sessions area, as far as the inventory needs it: an open session follows its device, and a removed device loses it. */
export interface DeviceSessions {
  /**
   * Moves the device's open session, if it has one, to the device's scope tags as given
   * here (etag-guarded; a session that ended, or follows newer details already, is left alone).
   */
  followScopeTags(device: Device, ctx: { readonly correlationId?: string; readonly log: Logger }): Promise<void>;
  /** Closes the device's open session, if any; a session already ended is left alone. */
  closeOpen(tenantId: string, deviceId: string, ctx: { readonly eventId: string; readonly correlationId?: string; readonly log: Logger }): Promise<void>;
}

export interface DeviceUpdate {
  readonly written: boolean;
  readonly before?: DeviceRecord;
  readonly after?: DeviceRecord;
}

export interface DeviceStore {
  /** The version of the index rules this code writes; every write stamps it on the record. */
  readonly indexVersion: number;
  /**
   * Reads up to `limit` of the tenant's device records after device id `after` (in id
   * order) and rewrites those stored under an older index version: same content, the
   * current rows. Safe to repeat: a record already current is left alone.
   */
  reindexPage(tenantId: string, after: string | undefined, limit: number): Promise<ReindexPage>;
  get(tenantId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  /**
   * Reads the record, lets `change` decide the next one (undefined = no change) and writes
   * it with everything derived from it atomically. A concurrent writer makes it read and
   * decide again, so `change` must be pure.
   */
  update(
    tenantId: string,
    deviceId: string,
    change: (current: DeviceRecord | undefined) => DeviceRecord | undefined,
  ): Promise<{ readonly written: boolean; readonly before?: DeviceRecord; readonly after?: DeviceRecord }>;
  /**
   * update() for many devices of one tenant at once (a bulk inventory sync): each device's
   * changes applied in order to its stored record, the devices written in transactions of up
   * to 100 operations, a device's record and index rows always in the same one. Each device
   * is written atomically and race-safely as with update(); the result is per device id.
   * Throws when a device cannot be written (nothing is lost: a retry applies the same changes).
   */
  updateMany(tenantId: string, changes: readonly DeviceChange[]): Promise<Map<string, DeviceUpdate>>;
  list(query: DeviceListQuery): Promise<DevicePage>;
  /**
   * Loads devices that are not stored yet (an initial import, a benchmark, a test), many per
   * write. A device that already exists makes its write fail, with nothing of it written.
   */
  createMany(tenantId: string, devices: readonly Device[]): Promise<void>;
}

/**
 * A tenant's re-index job: brings every device record of the tenant to `version`, a page at
 * a time, resuming after `after` (its checkpoint) whatever happened to the last attempt.
 */
export interface ReindexJob {
  readonly tenantId: string;
  readonly version: number;
  /** The id of the last device record handled; the next page starts after it. */
  readonly after?: string;
  /** Records read (a page read again after a crash counts again). */
  readonly scanned: number;
  readonly rewritten: number;
  readonly failed: number;
  readonly createdAt: string;
  /** When the job first found a record to rewrite (and audited that it started). */
  readonly startedAt?: string;
  /** The last checkpoint (or creation, or revival): how the timer tells a stalled job. */
  readonly updatedAt: string;
  readonly finishedAt?: string;
  /** Dead-lettered messages since the job last moved on. */
  readonly deadLetters: number;
  /** Set when the timer gave up on a job that kept being dead-lettered without moving. */
  readonly abandonedAt?: string;
}

export interface ReindexJobStore {
  /** The index version every tenant with devices got a job for; undefined before the first time. */
  scheduledVersion(): Promise<number | undefined>;
  markScheduled(version: number): Promise<void>;
  /** The first tenant after `after` (in id order) with at least one device record: one query. */
  nextTenantWithDevices(after: string | undefined): Promise<string | undefined>;
  /** A fresh job for `version`, unless the tenant has one of that version or newer: true when created. */
  createJob(tenantId: string, version: number, now: string): Promise<boolean>;
  /** Jobs neither finished nor abandoned. */
  unfinished(): Promise<ReindexJob[]>;
  get(tenantId: string): Promise<{ readonly job: ReindexJob; readonly etag: string } | undefined>;
  /** Replaces the job if it is unchanged since `etag`: the new etag, or undefined when someone else saved first. */
  save(job: ReindexJob, etag: string): Promise<string | undefined>;
}
