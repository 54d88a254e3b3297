// Table storage implementations of the administration ports (settings, role assignments, users).
import { odata, type TableClient } from "@azure/data-tables";
import type { RoleAssignment, AssignablePermission } from "../../domain/permissions.js";
import { defaultTenantSettings, type TenantSettings } from "../../domain/tenantSettings.js";
import type { RoleAssignmentStore, SettingsStore, UserListQuery, UserRecord, UserStore } from "../../app/admin/ports.js";
import { Contended } from "../../app/contention.js";
import { joinProperty, splitProperty } from "./propertyParts.js";
import { decodeContinuation, encodeContinuation, getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

const settingsRow = "settings";

export class TableSettingsStore implements SettingsStore {
  readonly #table: TableClient;
  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.settings);
  }

  async get(tenantId: string): Promise<TenantSettings> {
    const e = await getOrUndefined<SettingsEntity>(this.#table, tenantId, settingsRow);
    return fromEntity(e, tenantId);
  }

  async update(tenantId: string, change: Partial<TenantSettings>): Promise<TenantSettings> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await getOrUndefined<SettingsEntity>(this.#table, tenantId, settingsRow);
      // A change that sets the approval tags replaces a stored value that cannot be read: the way to repair it.
      const stored = change.approvalRequiredScopeTags === undefined ? e : e && { ...e, approvalRequiredScopeTags: undefined };
      const next = { ...fromEntity(stored, tenantId), ...change };
      // Table entities hold no arrays: the scope tags are stored as JSON.
      const entity = { partitionKey: tenantId, rowKey: settingsRow, ...next, approvalRequiredScopeTags: JSON.stringify(next.approvalRequiredScopeTags) };
      try {
        if (e) {
          await this.#table.updateEntity(entity, "Replace", { etag: e.etag });
        } else {
          await this.#table.createEntity(entity);
        }
        return next;
      } catch (err) {
        // Lost a race with another writer: read again and re-apply the change.
        if (isStatus(err, 412) || isStatus(err, 409)) continue;
        throw err;
      }
    }
    // Many admins (or a script) changing the settings at once: 429, try again, not a 500.
    throw new Contended(`the settings of tenant ${tenantId}`, 5);
  }
}

type SettingsEntity = Partial<Omit<TenantSettings, "approvalRequiredScopeTags">> & { approvalRequiredScopeTags?: string; etag?: string };

/** The stored approval rule cannot be read: nothing may be decided on the tenant's settings until an admin sets the tags again. */
export class UnreadableSettingsError extends Error {
  constructor(tenantId: string) {
    super(
      `The settings of tenant ${tenantId} hold approvalRequiredScopeTags that are not a JSON array of strings; ` +
        "sessions are refused rather than requested without the approval rule. Set approvalRequiredScopeTags (PATCH /api/settings) to repair it.",
    );
    this.name = "UnreadableSettingsError";
  }
}

// Fails closed: a value that cannot be read is an error, never "no tags" (which would switch approvals off).
function scopeTagsOf(json: string | undefined, tenantId: string): readonly string[] {
  if (json === undefined) return defaultTenantSettings.approvalRequiredScopeTags;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new UnreadableSettingsError(tenantId);
  }
  if (!Array.isArray(parsed) || !parsed.every((t): t is string => typeof t === "string")) throw new UnreadableSettingsError(tenantId);
  return parsed;
}

function fromEntity(e: SettingsEntity | undefined, tenantId: string): TenantSettings {
  return {
    allowUnlicensedAdmins: e?.allowUnlicensedAdmins ?? defaultTenantSettings.allowUnlicensedAdmins,
    allowPossiblyUnsupportedWindowsEditions: e?.allowPossiblyUnsupportedWindowsEditions ?? defaultTenantSettings.allowPossiblyUnsupportedWindowsEditions,
    sessionTimeoutMinutes: e?.sessionTimeoutMinutes ?? defaultTenantSettings.sessionTimeoutMinutes,
    teamViewerCallsPerMinute: e?.teamViewerCallsPerMinute ?? defaultTenantSettings.teamViewerCallsPerMinute,
    requireTicketId: e?.requireTicketId ?? defaultTenantSettings.requireTicketId,
    approvalRequiredScopeTags: scopeTagsOf(e?.approvalRequiredScopeTags, tenantId),
    approvalTimeoutMinutes: e?.approvalTimeoutMinutes ?? defaultTenantSettings.approvalTimeoutMinutes,
  };
}

interface RoleAssignmentEntity {
  principalId: string;
  principalType: "user" | "group";
  permission: AssignablePermission;
  scopeTags: string;
}

export class TableRoleAssignmentStore implements RoleAssignmentStore {
  readonly #table: TableClient;
  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.roleAssignments);
  }

  async list(tenantId: string): Promise<RoleAssignment[]> {
    const out: RoleAssignment[] = [];
    // A tenant has few role assignments (they are admin-managed), so one partition read is bounded.
    for await (const e of this.#table.listEntities<RoleAssignmentEntity>({ queryOptions: { filter: odata`PartitionKey eq ${tenantId}` } })) {
      out.push(toAssignment(e.rowKey!, e));
    }
    return out;
  }

  async get(tenantId: string, id: string): Promise<RoleAssignment | undefined> {
    const e = await getOrUndefined<RoleAssignmentEntity>(this.#table, tenantId, id);
    return e ? toAssignment(id, e) : undefined;
  }

  async put(tenantId: string, a: RoleAssignment): Promise<{ created: boolean }> {
    const entity = {
      partitionKey: tenantId,
      rowKey: a.id,
      principalId: a.principalId,
      principalType: a.principalType,
      permission: a.permission,
      scopeTags: JSON.stringify(a.scopeTags),
    };
    try {
      await this.#table.createEntity(entity);
      return { created: true };
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
      await this.#table.upsertEntity(entity, "Replace");
      return { created: false };
    }
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    try {
      await this.#table.deleteEntity(tenantId, id);
      return true;
    } catch (e) {
      if (isStatus(e, 404)) return false;
      throw e;
    }
  }
}

function toAssignment(id: string, e: RoleAssignmentEntity): RoleAssignment {
  return { id, principalId: e.principalId, principalType: e.principalType, permission: e.permission, scopeTags: JSON.parse(e.scopeTags) as string[] };
}

interface UserEntity {
  userPrincipalName: string;
  displayName: string;
  mail?: string;
  intuneLicensed: boolean;
  /** JSON array of group ids; when longer than one property holds, continued in groups2, groups3… */
  groups: string;
  updatedAt: string;
}

// user.upserted allows 2,000 group ids (up to ~134K characters as JSON), more than a string
// property holds: the JSON is split over `groups`, `groups2`, `groups3`… (propertyParts.ts).
const groupsProperties = (groups: readonly string[]): Record<string, string> => splitProperty("groups", JSON.stringify(groups), 2);

const groupsOf = (e: UserEntity): string[] => JSON.parse(joinProperty(e as unknown as Record<string, unknown>, "groups", 2)) as string[];

/** Users one search call reads at most (Table storage cannot match substrings itself). */
const maxUsersScanned = 1000;

const isUserCursor = (v: Record<string, unknown>): v is { rk: string } => typeof v.rk === "string" && v.rk.length <= 64;

function toUser(id: string, e: UserEntity): UserRecord {
  return {
    id,
    userPrincipalName: e.userPrincipalName,
    displayName: e.displayName,
    ...(e.mail ? { mail: e.mail } : {}),
    intuneLicensed: e.intuneLicensed,
    groups: groupsOf(e),
    updatedAt: e.updatedAt,
  };
}

export class TableUserStore implements UserStore {
  readonly #table: TableClient;
  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.users);
  }

  async get(tenantId: string, userId: string): Promise<UserRecord | undefined> {
    const e = await getOrUndefined<UserEntity>(this.#table, tenantId, userId);
    return e ? toUser(userId, e) : undefined;
  }

  async list(q: UserListQuery): Promise<{ value: UserRecord[]; continuationToken?: string }> {
    const cursor = decodeContinuation(q.continuationToken, isUserCursor);
    const filter = cursor ? odata`PartitionKey eq ${q.tenantId} and RowKey gt ${cursor.rk}` : odata`PartitionKey eq ${q.tenantId}`;
    if (q.search !== undefined) return this.#search(q.tenantId, filter, q.search.toLowerCase(), q.top);
    const value: UserRecord[] = [];
    const pages = this.#table.listEntities<UserEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: q.top });
    for await (const page of pages) {
      for (const e of page) {
        value.push(toUser(e.rowKey!, e));
        if (value.length === q.top) return { value, continuationToken: encodeContinuation({ rk: e.rowKey! }) };
      }
    }
    return { value };
  }

  /**
   * A search cannot be handed to Table storage: it reads at most maxUsersScanned users per
   * call, matches them here and hands back where it got to. It reads their names only: a
   * user's groups can be 2,000 ids (over 100,000 characters), and a scan that read whole
   * users held a thousand of those to match a name. The matches are then read whole.
   */
  async #search(tenantId: string, filter: string, needle: string, top: number): Promise<{ value: UserRecord[]; continuationToken?: string }> {
    const matched: string[] = [];
    let scanned = 0;
    let resumeAfter: string | undefined;
    const select = ["RowKey", "userPrincipalName", "displayName", "mail"];
    const pages = this.#table.listEntities<Pick<UserEntity, "userPrincipalName" | "displayName" | "mail">>({ queryOptions: { filter, select } });
    scan: for await (const page of pages.byPage({ maxPageSize: maxUsersScanned })) {
      for (const e of page) {
        scanned++;
        if ([e.displayName, e.userPrincipalName, e.mail ?? ""].some((v) => (v ?? "").toLowerCase().includes(needle))) matched.push(e.rowKey!);
        if (matched.length === top || scanned === maxUsersScanned) {
          resumeAfter = e.rowKey!;
          break scan;
        }
      }
    }
    // A user removed between the two reads is left out; one renamed since is shown as it is now.
    const value = (await Promise.all(matched.map((id) => this.get(tenantId, id)))).filter((u): u is UserRecord => u !== undefined);
    return resumeAfter === undefined ? { value } : { value, continuationToken: encodeContinuation({ rk: resumeAfter }) };
  }

  async upsertIfNewer(tenantId: string, user: UserRecord): Promise<boolean> {
    const entity = {
      partitionKey: tenantId,
      rowKey: user.id,
      userPrincipalName: user.userPrincipalName,
      displayName: user.displayName,
      mail: user.mail,
      intuneLicensed: user.intuneLicensed,
      ...groupsProperties(user.groups),
      updatedAt: user.updatedAt,
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await getOrUndefined<UserEntity>(this.#table, tenantId, user.id);
      if (current && Date.parse(current.updatedAt) >= Date.parse(user.updatedAt)) return false;
      try {
        if (current) await this.#table.updateEntity(entity, "Replace", { etag: current.etag });
        else await this.#table.createEntity(entity);
        return true;
      } catch (e) {
        if (isStatus(e, 412) || isStatus(e, 409)) continue;
        throw e;
      }
    }
    throw new Error("user upsert kept losing races");
  }
}
