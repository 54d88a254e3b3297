// HTTP contracts of the administration API: role assignments, settings, audit events.
import { z } from "zod";
import { assignablePermissions, tenantWidePermissions } from "../domain/permissions.js";
import { maxApprovalScopeTags, maxApprovalTimeoutMinutes, teamViewerCallsPerMinuteRange } from "../domain/tenantSettings.js";
import { continuationTokenSchema, idSchema, isoDateTimeSchema, listOf, topSchema } from "./common.js";

export const roleAssignmentIdParams = z.strictObject({ id: idSchema });

/**
 * A scope tag id as role assignments and the approval rule name it: one shape for both, so
 * every tag the help desk can be scoped to can also be made to need approval.
 */
const scopeTagSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, underscores and dashes, at most 64");

/** Update, ViewReports and Approve exist only tenant-wide: they take no scope tags. */
export const roleAssignmentBody = z
  .strictObject({
    principalId: idSchema,
    principalType: z.enum(["user", "group"]),
    permission: z.enum(assignablePermissions),
    scopeTags: z.array(scopeTagSchema).max(50).default([]),
  })
  .refine((a) => a.scopeTags.length === 0 || !tenantWidePermissions.has(a.permission), {
    message: "this permission is tenant-wide: it takes no scope tags",
    path: ["scopeTags"],
  });

export const roleAssignmentSchema = z.object({
  id: z.string(),
  principalId: z.string(),
  principalType: z.enum(["user", "group"]),
  permission: z.enum(assignablePermissions),
  scopeTags: z.array(z.string()),
});
export type RoleAssignment = z.output<typeof roleAssignmentSchema>;
export const roleAssignmentListSchema = listOf(roleAssignmentSchema);

/** The users the service knows (from user.upserted), for picking a role assignment's principal. */
export const userListQuery = z.strictObject({
  /** Part of the display name, user principal name or mail, any case; blank (spaces) is no search. */
  search: z
    .string()
    .trim()
    .max(100)
    .optional()
    .transform((v) => (v === "" ? undefined : v)),
  top: topSchema(200, 100),
  continuationToken: continuationTokenSchema.optional(),
});

export const userSchema = z.object({
  id: z.string(),
  userPrincipalName: z.string(),
  displayName: z.string(),
  mail: z.string().optional(),
  intuneLicensed: z.boolean(),
  /** Object ids of the user's groups (the service learns no group names). */
  groups: z.array(z.string()),
});
export type KnownUser = z.output<typeof userSchema>;
export const userListSchema = listOf(userSchema);

/** Where a permission applies: every device (`allDevices`) or devices with one of `scopeTags`. */
const scopeSchema = z.object({ allDevices: z.boolean(), scopeTags: z.array(z.string()) }).nullable();

/** What the caller may do: app roles and role assignments, as the API decides it. */
export const myPermissionsSchema = z.object({
  administrator: z.boolean(),
  update: z.boolean(),
  request: scopeSchema,
  read: scopeSchema,
  reports: z.boolean(),
  approve: z.boolean(),
});
export type MyPermissions = z.output<typeof myPermissionsSchema>;

export const settingsSchema = z.object({
  allowUnlicensedAdmins: z.boolean(),
  allowPossiblyUnsupportedWindowsEditions: z.boolean(),
  sessionTimeoutMinutes: z.number().int().min(1).max(1440),
  teamViewerCallsPerMinute: z.number().int().min(teamViewerCallsPerMinuteRange.min).max(teamViewerCallsPerMinuteRange.max),
  requireTicketId: z.boolean(),
  approvalRequiredScopeTags: z.array(z.string()),
  approvalTimeoutMinutes: z.number().int().min(1).max(maxApprovalTimeoutMinutes),
});
export type SettingsView = z.output<typeof settingsSchema>;

export const settingsPatchBody = z
  .strictObject({
    allowUnlicensedAdmins: z.boolean().optional(),
    allowPossiblyUnsupportedWindowsEditions: z.boolean().optional(),
    sessionTimeoutMinutes: z.number().int().min(1).max(1440).optional(),
    /** TeamViewer Web API calls allowed in any 60 seconds; more wait (sessions stay requested). */
    teamViewerCallsPerMinute: z.number().int().min(teamViewerCallsPerMinuteRange.min).max(teamViewerCallsPerMinuteRange.max).optional(),
    /** Every session request must name a ticket. */
    requireTicketId: z.boolean().optional(),
    /** Scope tag ids (as on devices) whose devices need a second person's approval. */
    approvalRequiredScopeTags: z
      .array(scopeTagSchema)
      .max(maxApprovalScopeTags, `at most ${maxApprovalScopeTags} scope tags`)
      .transform((tags) => [...new Set(tags)])
      .optional(),
    approvalTimeoutMinutes: z.number().int().min(1).max(maxApprovalTimeoutMinutes).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: "name at least one setting to change" });

export const auditQuery = z
  .strictObject({
    from: isoDateTimeSchema.optional(),
    to: isoDateTimeSchema.optional(),
    activity: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional(),
    top: topSchema(200, 50),
    continuationToken: continuationTokenSchema.optional(),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { message: "from must not be after to", path: ["from"] })
  // Events are kept per month; a bounded range keeps a page to a bounded number of partitions.
  .refine((q) => !q.from || Date.parse(q.to ?? new Date().toISOString()) - Date.parse(q.from) <= 400 * 86_400_000, {
    message: "the range may span at most 400 days",
    path: ["from"],
  });

export const auditEventSchema = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.object({ id: z.string(), displayName: z.string(), type: z.enum(["user", "automation", "system"]) }),
  activity: z.string(),
  target: z.object({ type: z.string(), id: z.string() }),
  result: z.enum(["success", "failure"]),
  detail: z.string().optional(),
  correlationId: z.string().optional(),
});
export type AuditEvent = z.output<typeof auditEventSchema>;
export const auditEventListSchema = listOf(auditEventSchema);

export const auditDeltaQuery = z.strictObject({ deltaToken: continuationTokenSchema.optional() });
export const auditDeltaSchema = z.object({ value: z.array(auditEventSchema), deltaToken: z.string() });
