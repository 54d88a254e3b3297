// Device inventory use cases: apply automation's device and user events, and answer the
// admins' device list and device detail with eligibility evaluated against current settings.
import type { Actor, UserCaller } from "../../domain/caller.js";
import { hasPrimaryUser, ownershipOf, platformOf, type Device, type Platform } from "../../domain/device.js";
import { applyRemoval, applyUpsert, normalizeTime, sameTags, type DeviceFacts, type DeviceRecord } from "../../domain/deviceInventory.js";
import { eligibilityReasonText, evaluateEligibility, type EligibilitySettings } from "../../domain/eligibility.js";
import { notFound } from "../../domain/errors.js";
import { inScope, requireRead } from "../../domain/permissions.js";
import type { DeviceView } from "../../contracts/devices.js";
import type { Access } from "../access.js";
import type { SettingsStore, UserStore } from "../admin/ports.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Logger } from "../logging.js";
import type { DeviceSessions, DeviceStore } from "./ports.js";

/** Who removed a device: the inventory automation that sent the event (events name no person). */
export const inventoryAutomation: Actor = { id: "automation-events", displayName: "Inventory automation", type: "automation" };

export interface EventContext {
  readonly tenantId: string;
  readonly occurredAt: string;
  readonly messageId: string;
  readonly correlationId?: string;
  readonly log: Logger;
}

/** When the stored record says the device was removed; undefined while it is managed. */
function removedAt(record: DeviceRecord | undefined): string | undefined {
  if (record?.kind === "tombstone") return record.removedAt;
  return record?.device.removed ? record.device.removedAt : undefined;
}

export interface UserFacts {
  readonly id: string;
  readonly userPrincipalName: string;
  readonly displayName: string;
  readonly mail?: string | null;
  readonly intuneLicensed: boolean;
  readonly groups: readonly string[];
}

export function toDeviceView(device: Device, settings: EligibilitySettings): DeviceView {
  const e = evaluateEligibility(device, settings);
  const userless = !hasPrimaryUser(device);
  return {
    id: device.id,
    deviceName: device.deviceName,
    operatingSystem: device.operatingSystem,
    osVersion: device.osVersion,
    platform: platformOf(device),
    ownership: ownershipOf(device),
    enrollmentType: device.deviceEnrollmentType,
    deviceType: device.deviceType ?? null,
    userId: userless ? null : (device.userId ?? null),
    userPrincipalName: device.userPrincipalName || null,
    userDisplayName: device.userDisplayName || null,
    emailAddress: device.emailAddress || null,
    scopeTags: [...device.roleScopeTagIds],
    lastSyncDateTime: device.lastSyncDateTime ?? null,
    complianceState: device.complianceState ?? null,
    removed: device.removed,
    removedDateTime: device.removed ? (device.removedAt ?? null) : null,
    remoteAssistance: {
      eligible: e.eligible,
      ...(e.eligible ? {} : { reason: e.reason, reasonText: eligibilityReasonText[e.reason] }),
      warnings: [...e.warnings],
      notificationChannel: e.notificationChannel,
    },
  };
}

/**
 * Of a batch's events for one device, the newest (the first of equal times): applied to the
 * stored device it writes what applying them all in turn would (each upsert replaces the
 * details, and the removal is weighed against the newest time), except which event is
 * recorded as having restored the device. That must be the newest, which the restore is
 * audited under, so that a redelivery of the batch finds it and audits it again.
 */
function newestPerDevice<E extends { readonly ctx: EventContext; readonly facts: DeviceFacts }>(events: readonly E[]): E[] {
  const newest = new Map<string, E>();
  for (const e of events) {
    const kept = newest.get(e.facts.id);
    if (!kept || Date.parse(e.ctx.occurredAt) > Date.parse(kept.ctx.occurredAt)) newest.set(e.facts.id, e);
  }
  return [...newest.values()];
}

export class DeviceService {
  readonly #store: DeviceStore;
  readonly #users: UserStore;
  readonly #access: Access;
  readonly #settings: SettingsStore;
  readonly #audit: AuditLog;
  readonly #sessions: DeviceSessions;

  constructor(deps: { store: DeviceStore; users: UserStore; access: Access; settings: SettingsStore; audit: AuditLog; sessions: DeviceSessions }) {
    this.#store = deps.store;
    this.#sessions = deps.sessions;
    this.#users = deps.users;
    this.#access = deps.access;
    this.#settings = deps.settings;
    this.#audit = deps.audit;
  }

  async list(
    caller: UserCaller,
    q: { search?: string; platform?: Platform; eligible?: boolean; top: number; continuationToken?: string },
  ): Promise<{ value: DeviceView[]; continuationToken?: string }> {
    const permissions = await this.#access.permissionsOf(caller);
    requireRead(permissions);
    const settings = await this.#settings.get(caller.tenantId);
    const page = await this.#store.list({ tenantId: caller.tenantId, scope: permissions.read!, settings, ...q });
    return {
      value: page.value.map((d) => toDeviceView(d, settings)),
      ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
    };
  }

  /** Another tenant's device and a device outside the caller's scope are both "not found". */
  async get(caller: UserCaller, deviceId: string): Promise<DeviceView> {
    const permissions = await this.#access.permissionsOf(caller);
    requireRead(permissions);
    const record = await this.#store.get(caller.tenantId, deviceId);
    if (record?.kind !== "device" || !inScope(permissions.read, record.device.roleScopeTagIds)) throw notFound("The device");
    return toDeviceView(record.device, await this.#settings.get(caller.tenantId));
  }

  /** device.upserted: idempotent and order-safe (see applyUpsert). */
  async recordUpsert(ctx: EventContext, facts: DeviceFacts): Promise<void> {
    const result = await this.#store.update(ctx.tenantId, facts.id, (current) => {
      const next = applyUpsert(current, ctx.tenantId, facts, ctx.occurredAt);
      return next && { kind: "device", device: next };
    });
    if (!result.written) {
      await this.#unchanged(ctx, facts.id, result.before);
      return;
    }
    await this.#upserted(ctx, facts.id, result.before, result.after);
  }

  /**
   * device.upserted in bulk: a batch of one tenant's events (an inventory sync), each with the
   * outcome recordUpsert gives it, the devices written many per transaction. Two events for
   * one device in the batch end as the newer one says, in either order (see applyUpsert).
   */
  async recordUpserts(tenantId: string, events: readonly { readonly ctx: EventContext; readonly facts: DeviceFacts }[]): Promise<void> {
    const results = await this.#store.updateMany(
      tenantId,
      newestPerDevice(events).map(({ ctx, facts }) => ({
        deviceId: facts.id,
        change: (current: DeviceRecord | undefined): DeviceRecord | undefined => {
          const next = applyUpsert(current, tenantId, facts, ctx.occurredAt);
          return next && { kind: "device", device: next };
        },
      })),
    );
    const reported = new Set<string>();
    for (const { ctx, facts } of events) {
      const result = results.get(facts.id);
      const after = result?.after?.kind === "device" ? result.after.device : undefined;
      // An event whose details are not what was written was older than the stored device, or
      // than another event for it in the batch.
      if (!result?.written || after?.updatedAt !== normalizeTime(ctx.occurredAt) || reported.has(facts.id)) {
        // Unwritten: the event that restored the device (if one did) audits it again.
        if (!result?.written && !reported.has(facts.id)) {
          if (await this.#unchanged(ctx, facts.id, result?.before)) reported.add(facts.id);
        } else ctx.log.info("device.upserted changed nothing: the stored details are as new or newer", { deviceId: facts.id });
        continue;
      }
      reported.add(facts.id);
      await this.#upserted(ctx, facts.id, result.before, result.after);
    }
  }

  async #upserted(ctx: EventContext, deviceId: string, stored: DeviceRecord | undefined, written: DeviceRecord | undefined): Promise<void> {
    const before = stored?.kind === "device" ? stored.device : undefined;
    const after = written?.kind === "device" ? written.device : undefined;
    // An open session is judged on the scope tags it records: it moves with its device, so the
    // scope the device left loses it (supporter link and all) and the one it joined gets it.
    // Only a change of tags costs the lookup; a sync resending the same tags does not.
    if (before && after && !sameTags(before.roleScopeTagIds, after.roleScopeTagIds)) await this.#sessions.followScopeTags(after, ctx);
    // Inventory syncs resend every device often, so upserts are logged, not audited; a removed
    // device coming back under management is rare and worth an audit trail.
    if (before?.removed && after && !after.removed) await this.#auditRestore(ctx, deviceId, after.deviceName);
    ctx.log.info(before ? "device updated" : "device added", { deviceId });
  }

  /**
   * An upsert that changed nothing. If this very event is the one stored (a redelivery after
   * the write got through and what follows it did not), that is done again: the open session
   * follows the scope tags this event changed, and a restore it made is audited again (at
   * least once, named by the event id, as for a removal).
   */
  async #unchanged(ctx: EventContext, deviceId: string, stored: DeviceRecord | undefined): Promise<boolean> {
    const device = stored?.kind === "device" ? stored.device : undefined;
    if (device && device.scopeTagsSince === normalizeTime(ctx.occurredAt)) await this.#sessions.followScopeTags(device, ctx);
    if (device && !device.removed && device.restoredAt === normalizeTime(ctx.occurredAt)) {
      await this.#auditRestore(ctx, deviceId, device.deviceName);
      return true;
    }
    ctx.log.info("device.upserted changed nothing: the stored details are as new or newer", { deviceId });
    return false;
  }

  async #auditRestore(ctx: EventContext, deviceId: string, name: string): Promise<void> {
    await this.#auditInventory(ctx, deviceId, "device.restore", `${name} is managed again (event ${ctx.messageId} at ${normalizeTime(ctx.occurredAt)})`);
  }

  /** What the inventory did to a device, recorded as the inventory automation's. */
  async #auditInventory(ctx: EventContext, deviceId: string, activity: "device.restore" | "device.remove", detail: string): Promise<void> {
    await this.#audit.record({
      tenantId: ctx.tenantId,
      actor: inventoryAutomation,
      activity,
      target: { type: "device", id: deviceId },
      result: "success",
      detail,
      correlationId: ctx.correlationId,
    });
  }

  /**
   * device.removed: the device stays listed, ineligible with deviceRemoved, so history keeps
   * its details, and its open session is closed: a removed device loses remote assistance.
   */
  async recordRemoval(ctx: EventContext, deviceId: string): Promise<void> {
    const result = await this.#store.update(ctx.tenantId, deviceId, (current) => applyRemoval(current, ctx.tenantId, deviceId, ctx.occurredAt));
    if (!result.written) {
      // This very removal is stored already: a redelivery after the write got through and the
      // close or audit did not (or the event sent twice). Both are done again: at least once,
      // the audit entry named by the event id, rather than never.
      if (removedAt(result.before) === normalizeTime(ctx.occurredAt)) {
        await this.#closeOpenSession(ctx, deviceId);
        await this.#auditRemoval(ctx, deviceId, result.before?.kind === "device" ? result.before.device.deviceName : undefined);
        return;
      }
      ctx.log.info("device.removed changed nothing: already removed, or the device has newer details", { deviceId });
      return;
    }
    await this.#closeOpenSession(ctx, deviceId);
    // A second, later removal of a device already removed only moves removedAt: not audited again.
    if (result.before?.kind === "device" && result.before.device.removed) return;
    if (result.before?.kind === "tombstone") return;
    await this.#auditRemoval(ctx, deviceId, result.after?.kind === "device" ? result.after.device.deviceName : undefined);
  }

  async #closeOpenSession(ctx: EventContext, deviceId: string): Promise<void> {
    await this.#sessions.closeOpen(ctx.tenantId, deviceId, {
      eventId: ctx.messageId,
      log: ctx.log,
      ...(ctx.correlationId === undefined ? {} : { correlationId: ctx.correlationId }),
    });
  }

  async #auditRemoval(ctx: EventContext, deviceId: string, name: string | undefined): Promise<void> {
    await this.#auditInventory(
      ctx,
      deviceId,
      "device.remove",
      name
        ? `${name} was removed from management (event ${ctx.messageId})`
        : `a device this service had not seen was removed from management (event ${ctx.messageId}); kept as removed so a late upsert cannot restore it`,
    );
  }

  /**
   * Whether sending this device.upserted again would change nothing: the stored device is as
   * new or newer. A batch is dead-lettered whole for one failing message, so most of its
   * events were written on an earlier delivery; only the others need a resend.
   */
  async upsertIsStored(tenantId: string, facts: DeviceFacts, occurredAt: string): Promise<boolean> {
    return applyUpsert(await this.#store.get(tenantId, facts.id), tenantId, facts, occurredAt) === undefined;
  }

  /** Whether sending this user.upserted again would change nothing (as upsertIsStored). */
  async userIsStored(tenantId: string, userId: string, occurredAt: string): Promise<boolean> {
    const stored = await this.#users.get(tenantId, userId);
    return stored !== undefined && Date.parse(stored.updatedAt) >= Date.parse(occurredAt);
  }

  /** user.upserted: the user store keeps the newest version (licensing reads intuneLicensed from it). */
  async recordUser(ctx: EventContext, user: UserFacts): Promise<void> {
    const written = await this.#users.upsertIfNewer(ctx.tenantId, {
      id: user.id,
      userPrincipalName: user.userPrincipalName,
      displayName: user.displayName,
      ...(user.mail ? { mail: user.mail } : {}),
      intuneLicensed: user.intuneLicensed,
      groups: [...new Set(user.groups)],
      updatedAt: normalizeTime(ctx.occurredAt),
    });
    if (!written) ctx.log.info("user.upserted changed nothing: the stored user is as new or newer", { userId: user.id });
  }
}
