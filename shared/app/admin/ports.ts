// Ports of the administration area: tenant settings, role assignments and users.
import type { RoleAssignment } from "../../domain/permissions.js";
import type { TenantSettings } from "../../domain/tenantSettings.js";

export interface SettingsStore {
  get(tenantId: string): Promise<TenantSettings>;
  /** Applies a partial change with optimistic concurrency and returns the result. */
  update(tenantId: string, change: Partial<TenantSettings>): Promise<TenantSettings>;
}

export interface RoleAssignmentStore {
  list(tenantId: string): Promise<RoleAssignment[]>;
  get(tenantId: string, id: string): Promise<RoleAssignment | undefined>;
  put(tenantId: string, assignment: RoleAssignment): Promise<{ created: boolean }>;
  delete(tenantId: string, id: string): Promise<boolean>;
}

export interface UserRecord {
  readonly id: string;
  readonly userPrincipalName: string;
  readonly displayName: string;
  readonly mail?: string;
  readonly intuneLicensed: boolean;
  readonly groups: readonly string[];
  readonly updatedAt: string;
}

export interface UserListQuery {
  readonly tenantId: string;
  /** Case-insensitive part of the display name, user principal name or mail. */
  readonly search?: string;
  readonly top: number;
  readonly continuationToken?: string;
}

export interface UserStore {
  get(tenantId: string, userId: string): Promise<UserRecord | undefined>;
  /**
   * A page of the tenant's users in id order. With a search, one call reads a bounded
   * number of users: a page may hold fewer than `top` matches and still go on.
   */
  list(q: UserListQuery): Promise<{ value: UserRecord[]; continuationToken?: string }>;
  /** Writes unless a newer version (by updatedAt) is stored; returns whether it wrote. */
  upsertIfNewer(tenantId: string, user: UserRecord): Promise<boolean>;
}
