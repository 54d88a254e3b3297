// Audit export, push: the subscription endpoints, the audit-export queue worker and the
// sweep that hands recorded events to the queue (see shared/app/audit/auditPush.ts).
// Managing a subscription sends the tenant's audit log to a URL: an administrator's act;
// reading them is for whoever may read the audit log's export ("reports").
import { problemSchema } from "../shared/contracts/common.js";
import {
  auditSubscriptionBody,
  auditSubscriptionIdParams,
  auditSubscriptionListSchema,
  auditSubscriptionSchema,
} from "../shared/contracts/auditSubscriptions.js";
import { queueNames } from "../shared/queueDefinitions.js";
import type { FunctionDefinition } from "./definition.js";
import { endpoint } from "./http/endpoint.js";
import { deadLetterConsumer, queueConsumer, type QueueHandlers } from "./queue/consumer.js";
import { scheduled } from "./timer/scheduled.js";

const tag = "Audit export";
const notFoundResponse = { 404: { description: "No such subscription", schema: problemSchema } };

export const auditExportHandlers = {
  "audit.deliver": (input) =>
    input.services.auditPush.deliver({
      tenantId: input.message.tenantId,
      data: input.message.data,
      deliveryCount: input.deliveryCount,
      log: input.log,
    }),
} satisfies QueueHandlers;

/** Given-up deliveries: recorded on the subscription and logged (never audited: see AuditPush.deadLettered). */
export const auditExportDeadLetterHandlers = {
  "audit.deliver": (input) =>
    input.services.auditPush.deadLettered({ tenantId: input.message.tenantId, data: input.message.data, reason: input.deadLetterReason, log: input.log }),
} satisfies QueueHandlers;

export const auditExportFunctions: FunctionDefinition[] = [
  endpoint({
    name: "listAuditSubscriptions",
    method: "GET",
    route: "auditSubscriptions",
    summary: "The tenant's audit push subscriptions",
    tag,
    authenticated: true,
    access: "reports",
    responses: {
      200: { description: "The subscriptions", schema: auditSubscriptionListSchema },
      403: { description: "No report permission", schema: problemSchema },
    },
    handle: async ({ caller, services }) => ({ status: 200, body: { value: await services.auditPush.list(caller) } }),
  }),
  endpoint({
    name: "getAuditSubscription",
    method: "GET",
    route: "auditSubscriptions/{id}",
    summary: "One audit push subscription (never its secret)",
    tag,
    authenticated: true,
    access: "reports",
    params: auditSubscriptionIdParams,
    responses: {
      200: { description: "The subscription", schema: auditSubscriptionSchema },
      403: { description: "No report permission", schema: problemSchema },
      ...notFoundResponse,
    },
    handle: async ({ caller, params, services }) => ({ status: 200, body: await services.auditPush.get(caller, params.id) }),
  }),
  endpoint({
    name: "putAuditSubscription",
    method: "PUT",
    route: "auditSubscriptions/{id}",
    summary: "Create or replace an audit push subscription: every new audit event is POSTed to url, signed with secret (at most 5 per tenant)",
    tag,
    authenticated: true,
    access: "administrator",
    params: auditSubscriptionIdParams,
    body: auditSubscriptionBody,
    errors: ["conflict"],
    responses: {
      200: { description: "Replaced", schema: auditSubscriptionSchema },
      201: { description: "Created", schema: auditSubscriptionSchema },
      403: { description: "The caller lacks the Intune.Administrator role", schema: problemSchema },
      409: { description: "The tenant already has 5 subscriptions", schema: problemSchema },
    },
    handle: async ({ caller, params, body, services, correlationId }) => {
      const { subscription, created } = await services.auditPush.put(caller, params.id, body, correlationId);
      return created
        ? { status: 201, body: subscription, headers: { location: `/api/auditSubscriptions/${subscription.id}` } }
        : { status: 200, body: subscription };
    },
  }),
  endpoint({
    name: "deleteAuditSubscription",
    method: "DELETE",
    route: "auditSubscriptions/{id}",
    summary: "Delete an audit push subscription and its secret",
    tag,
    authenticated: true,
    access: "administrator",
    params: auditSubscriptionIdParams,
    responses: {
      204: { description: "Deleted" },
      403: { description: "The caller lacks the Intune.Administrator role", schema: problemSchema },
      ...notFoundResponse,
    },
    handle: async ({ caller, params, services, correlationId }) => {
      await services.auditPush.delete(caller, params.id, correlationId);
      return { status: 204 };
    },
  }),
  queueConsumer({ name: "auditExportWorker", queue: queueNames.auditExport, handlers: auditExportHandlers }),
  deadLetterConsumer({ name: "auditExportDeadLetter", queue: queueNames.auditExport, handlers: auditExportDeadLetterHandlers }),
  scheduled({ name: "auditExportSweep", schedule: "30 * * * * *", run: ({ services, log }) => services.auditPush.sweep(log) }),
];
