// Administration endpoints: role assignments, tenant settings, audit events.
import type { FunctionDefinition } from "./definition.js";
import { endpoint } from "./http/endpoint.js";
import { problemSchema } from "../shared/contracts/common.js";
import {
  auditDeltaQuery,
  auditDeltaSchema,
  auditEventListSchema,
  auditQuery,
  roleAssignmentBody,
  roleAssignmentIdParams,
  roleAssignmentListSchema,
  roleAssignmentSchema,
  settingsPatchBody,
  settingsSchema,
  userListQuery,
  userListSchema,
} from "../shared/contracts/admin.js";

const tag = "Administration";
const forbidden = { 403: { description: "The caller lacks the Intune.Administrator role", schema: problemSchema } };

export const adminFunctions: FunctionDefinition[] = [
  endpoint({
    name: "listRoleAssignments",
    method: "GET",
    route: "roleAssignments",
    summary: "List the tenant's role assignments",
    tag,
    authenticated: true,
    access: "administrator",
    responses: { 200: { description: "The role assignments", schema: roleAssignmentListSchema }, ...forbidden },
    handle: async ({ caller, services }) => ({ status: 200, body: { value: await services.admin.listRoleAssignments(caller) } }),
  }),
  endpoint({
    name: "putRoleAssignment",
    method: "PUT",
    route: "roleAssignments/{id}",
    summary: "Create or replace a role assignment (Request, optionally scoped to scope tags; Update, ViewReports and Approve tenant-wide only)",
    tag,
    authenticated: true,
    access: "administrator",
    params: roleAssignmentIdParams,
    body: roleAssignmentBody,
    responses: {
      200: { description: "Replaced", schema: roleAssignmentSchema },
      201: { description: "Created", schema: roleAssignmentSchema },
      ...forbidden,
      409: { description: "The tenant already has 1,000 role assignments and this id is not one of them", schema: problemSchema },
    },
    handle: async ({ caller, params, body, services, correlationId }) => {
      const { assignment, created } = await services.admin.putRoleAssignment(caller, params.id, body, correlationId);
      return created ? { status: 201, body: assignment, headers: { location: `/api/roleAssignments/${assignment.id}` } } : { status: 200, body: assignment };
    },
  }),
  endpoint({
    name: "listUsers",
    method: "GET",
    route: "users",
    summary:
      "The tenant's users the service knows (from inventory), in id order, for picking a role assignment's principal. search matches part of the " +
      "display name, user principal name or mail; a search page reads at most 1,000 users, so it may hold fewer than top and still have a continuationToken",
    tag,
    authenticated: true,
    access: "administrator",
    query: userListQuery,
    responses: {
      200: { description: "A page of users", schema: userListSchema },
      400: { description: "A malformed query or continuation token", schema: problemSchema },
      ...forbidden,
    },
    handle: async ({ caller, query, services }) => ({ status: 200, body: await services.admin.listUsers(caller, query) }),
  }),
  endpoint({
    name: "deleteRoleAssignment",
    method: "DELETE",
    route: "roleAssignments/{id}",
    summary: "Delete a role assignment",
    tag,
    authenticated: true,
    access: "administrator",
    params: roleAssignmentIdParams,
    responses: { 204: { description: "Deleted" }, ...forbidden, 404: { description: "No such role assignment", schema: problemSchema } },
    handle: async ({ caller, params, services, correlationId }) => {
      await services.admin.deleteRoleAssignment(caller, params.id, correlationId);
      return { status: 204 };
    },
  }),
  endpoint({
    name: "getSettings",
    method: "GET",
    route: "settings",
    summary: "Read the tenant's remote assistance settings",
    tag,
    authenticated: true,
    access: "administrator",
    responses: { 200: { description: "The settings", schema: settingsSchema }, ...forbidden },
    handle: async ({ caller, services }) => ({ status: 200, body: await services.admin.getSettings(caller) }),
  }),
  endpoint({
    name: "patchSettings",
    method: "PATCH",
    route: "settings",
    summary: "Change one or more tenant settings",
    tag,
    authenticated: true,
    access: "administrator",
    body: settingsPatchBody,
    responses: { 200: { description: "The settings after the change", schema: settingsSchema }, ...forbidden },
    handle: async ({ caller, body, services, correlationId }) => ({
      status: 200,
      body: await services.admin.patchSettings(caller, body, correlationId),
    }),
  }),
  endpoint({
    name: "listAuditEvents",
    method: "GET",
    route: "auditEvents",
    summary: "Audit events of the tenant, newest first (default: the last 90 days)",
    tag,
    authenticated: true,
    access: "reports",
    query: auditQuery,
    responses: {
      200: { description: "A page of audit events", schema: auditEventListSchema },
      403: { description: "The caller has neither Intune.Administrator nor the tenant-wide View Reports permission", schema: problemSchema },
    },
    handle: async ({ caller, query, services }) => ({ status: 200, body: await services.admin.queryAudit(caller, query) }),
  }),
  endpoint({
    name: "auditEventsDelta",
    method: "GET",
    route: "auditEvents/delta",
    summary: "Every audit event of the tenant once, in recorded order, from the last delta token (at most 1,000 a call; call again while value is full)",
    tag,
    authenticated: true,
    access: "reports",
    query: auditDeltaQuery,
    responses: {
      200: { description: "The events after the token, and the token to pass next time", schema: auditDeltaSchema },
      400: { description: "A malformed token, or one issued for another tenant", schema: problemSchema },
      403: { description: "Neither Intune.Administrator nor RemoteAssistance.ViewReports", schema: problemSchema },
    },
    handle: async ({ caller, query, services }) => ({ status: 200, body: await services.auditDelta.read(caller, query.deltaToken) }),
  }),
];
