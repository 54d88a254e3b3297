// How inventory events change a stored device: pure rules that make upserts idempotent and
// order-safe (Service Bus delivers out of order and more than once), so the store only
// has to read, apply one of these, and write with an etag.
import type { Device } from "./device.js";

/**
 * A removal for a device this service has never seen is kept as a tombstone: it has no
 * details to list, but it stops an older upsert that arrives later from bringing the
 * device back as if it were managed.
 */
export interface DeviceTombstone {
  readonly kind: "tombstone";
  readonly tenantId: string;
  readonly id: string;
  readonly removedAt: string;
}

export type DeviceRecord = { readonly kind: "device"; readonly device: Device } | DeviceTombstone;

/** What a device.upserted event says about a device (Graph's managedDevice, ids lower-cased). */
export type DeviceFacts = Omit<Device, "tenantId" | "removed" | "removedAt" | "updatedAt" | "scopeTagsSince">;

const time = (iso: string): number => Date.parse(iso);
/** Stored times are UTC with milliseconds, whatever offset or precision the producer used. */
export const normalizeTime = (iso: string): string => new Date(time(iso)).toISOString();

/**
 * Two clocks, because details and removal are independent facts:
 * - `updatedAt` is when the stored details were true; an upsert with an older or equal
 *   occurredAt is a duplicate or arrived late, and is ignored.
 * - `removedAt` is when the device was removed. An upsert that happened before the removal
 *   may still bring newer details (the removed device keeps its latest name for session
 *   history) but does not bring the device back; one that happened after it means the
 *   device is managed again.
 * Returns undefined when the event changes nothing.
 */
export function applyUpsert(current: DeviceRecord | undefined, tenantId: string, facts: DeviceFacts, occurredAt: string): Device | undefined {
  const at = normalizeTime(occurredAt);
  if (current?.kind === "device" && time(current.device.updatedAt) >= time(at)) return undefined;
  const removedAt = current?.kind === "tombstone" ? current.removedAt : current?.device.removed ? current.device.removedAt : undefined;
  // A removal at the same instant as an upsert wins: "removed" is the safer reading of a tie.
  const stillRemoved = removedAt !== undefined && time(removedAt) >= time(at);
  const roleScopeTagIds = [...new Set(facts.roleScopeTagIds)];
  const scopeTagsSince =
    current?.kind !== "device" ? undefined : sameTags(current.device.roleScopeTagIds, roleScopeTagIds) ? current.device.scopeTagsSince : at;
  return {
    ...facts,
    tenantId,
    roleScopeTagIds,
    ...(scopeTagsSince === undefined ? {} : { scopeTagsSince }),
    removed: stillRemoved,
    ...(stillRemoved ? { removedAt } : {}),
    // Kept until the next upsert: a redelivery of this very event finds it and audits the restore again.
    ...(removedAt !== undefined && !stillRemoved ? { restoredAt: at } : {}),
    updatedAt: at,
  };
}

/** Whether two lists hold the same scope tags, in any order. */
export const sameTags = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((t) => b.includes(t));

/**
 * A removal applies unless the device's details are newer than the removal (it was
 * re-enrolled or re-synced after the removal happened). A tie with the details' time
 * counts as removed, matching `applyUpsert`. Of several removals the latest is kept, so an
 * upsert from between two removals cannot bring the device back.
 */
export function applyRemoval(current: DeviceRecord | undefined, tenantId: string, deviceId: string, occurredAt: string): DeviceRecord | undefined {
  const at = normalizeTime(occurredAt);
  if (!current) return { kind: "tombstone", tenantId, id: deviceId, removedAt: at };
  if (current.kind === "tombstone") return time(at) > time(current.removedAt) ? { ...current, removedAt: at } : undefined;
  const d = current.device;
  if (time(d.updatedAt) > time(at)) return undefined;
  if (d.removed && d.removedAt !== undefined && time(d.removedAt) >= time(at)) return undefined;
  return { kind: "device", device: { ...d, removed: true, removedAt: at } };
}
