// The port the device use cases need: a device store with atomic, race-safe updates and
// paged, filtered listing. How filters are indexed is the adapter's business.
import type { Device, Platform } from "../../domain/device.js";
import type { DeviceRecord } from "../../domain/deviceInventory.js";
import type { EligibilitySettings } from "../../domain/eligibility.js";
import type { Scope } from "../../domain/permissions.js";

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

export interface DeviceStore {
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
  list(query: DeviceListQuery): Promise<DevicePage>;
  /**
   * Loads devices that are not stored yet (an initial import, a benchmark, a test), many per
   * write. A device that already exists makes its write fail, with nothing of it written.
   */
  createMany(tenantId: string, devices: readonly Device[]): Promise<void>;
}
