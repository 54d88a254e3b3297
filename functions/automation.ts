// Automation: the automation-events queue (inventory events from the platform's inventory
// sync, and remoteAssistance.requested), and the automation door, POST /automation/events,
// where a tenant's own app raises requests with an app-only token. Handlers are thin:
// map the validated message or request to a use case call.
import { randomUUID } from "node:crypto";
import { queueNames } from "../shared/queueDefinitions.js";
import type { DeviceFacts } from "../shared/domain/deviceInventory.js";
import type { EventContext } from "../shared/app/devices/deviceService.js";
import type { MessageData } from "../shared/contracts/messages.js";
import type { FunctionDefinition } from "./definition.js";
import { endpoint } from "./http/endpoint.js";
import { problemSchema } from "../shared/contracts/common.js";
import { automationDoorAcceptedSchema, automationDoorEventSchema } from "../shared/contracts/automationEvents.js";
import { forbidden } from "../shared/domain/errors.js";
import { deadLetterConsumer, type QueueHandlerInput, type QueueHandlers } from "./queue/consumer.js";
import { queueBatchConsumer, type BulkHandlers } from "./queue/batchConsumer.js";
import { systemActor } from "../shared/domain/caller.js";
import { remoteAssistanceRequestedDeadLetterHandler, remoteAssistanceRequestedHandler } from "./sessionQueues.js";

// Ids arrive folded to lower case: the message and door schemas fold them on parse
// (shared/contracts/automationEvents.ts, foldedIdSchema).

function eventContext({
  message,
  messageId,
  log,
}: QueueHandlerInput<{ tenantId: string; occurredAt: string; correlationId?: string; id: string }>): EventContext {
  return {
    tenantId: message.tenantId,
    occurredAt: message.occurredAt,
    messageId: messageId === "unknown" ? message.id : messageId,
    correlationId: message.correlationId,
    log,
  };
}

export function deviceFactsOf(d: MessageData<"device.upserted">): DeviceFacts {
  return {
    id: d.id,
    deviceName: d.deviceName,
    operatingSystem: d.operatingSystem,
    osVersion: d.osVersion,
    managedDeviceOwnerType: d.managedDeviceOwnerType,
    deviceEnrollmentType: d.deviceEnrollmentType,
    ...(d.deviceType ? { deviceType: d.deviceType } : {}),
    userId: d.userId || null,
    userPrincipalName: d.userPrincipalName ?? null,
    userDisplayName: d.userDisplayName ?? null,
    emailAddress: d.emailAddress ?? null,
    roleScopeTagIds: d.roleScopeTagIds,
    ...(d.lastSyncDateTime ? { lastSyncDateTime: d.lastSyncDateTime } : {}),
    ...(d.complianceState ? { complianceState: d.complianceState } : {}),
  };
}

/**
 * The handlers of automation-events, one message at a time; the sessions area adds
 * remoteAssistance.requested here. In the automationEvents function device.upserted goes to
 * its bulk handler (below) instead; this one is the same use case for one event.
 */
export const automationEventHandlers = {
  "device.upserted": async (input) => {
    await input.services.devices.recordUpsert(eventContext(input), deviceFactsOf(input.message.data));
  },
  "device.removed": async (input) => {
    await input.services.devices.recordRemoval(eventContext(input), input.message.data.id);
  },
  "user.upserted": async (input) => {
    const u = input.message.data;
    await input.services.devices.recordUser(eventContext(input), {
      id: u.id,
      userPrincipalName: u.userPrincipalName,
      displayName: u.displayName,
      mail: u.mail,
      intuneLicensed: u.intuneLicensed,
      groups: u.groups,
    });
  },
  ...remoteAssistanceRequestedHandler,
} satisfies QueueHandlers;

/**
 * device.upserted in bulk: the automation-events function takes batches (a platform sync sends
 * thousands at once), and each tenant's devices are written many per Table transaction.
 */
export const automationBulkHandlers = {
  "device.upserted": async (inputs) => {
    const byTenant = new Map<string, { ctx: EventContext; facts: DeviceFacts }[]>();
    for (const input of inputs) {
      const ctx = eventContext(input);
      const events = byTenant.get(ctx.tenantId) ?? [];
      events.push({ ctx, facts: deviceFactsOf(input.message.data) });
      byTenant.set(ctx.tenantId, events);
    }
    for (const [tenantId, events] of byTenant) await inputs[0].services.devices.recordUpserts(tenantId, events);
  },
} satisfies BulkHandlers;

// An inventory event that failed every delivery (storage down for longer than the retries
// last) is not lost silently: it is audited so an operator can have automation resend it.
// A batch is dead-lettered whole when one of its messages failed every delivery, so an
// event whose content is stored already (`stored`) is audited as needing no resend.
type DeadLetteredInventory = QueueHandlerInput<{ type: string; id: string; tenantId: string; correlationId?: string }>;
const deadLettered = async (input: DeadLetteredInventory, stored = false): Promise<void> => {
  const { message, services, log, deadLetterReason } = input;
  const reason = deadLetterReason ? `: ${deadLetterReason}` : "";
  log.warn(`${message.type} was dead-lettered; ${stored ? "what it says is stored already" : "recorded for a resend"}`, { reason: deadLetterReason });
  await services.audit.record({
    tenantId: message.tenantId,
    actor: systemActor,
    activity: `${message.type}.deadLettered`,
    target: { type: "message", id: message.id },
    result: stored ? "success" : "failure",
    detail: stored
      ? `dead-lettered${reason}; what it says is stored already (an earlier delivery wrote it, or a newer event did): nothing to resend`
      : `gave up after repeated failures${reason}; ask the automation to send it again`,
    correlationId: message.correlationId,
  });
};

export const automationDeadLetterHandlers = {
  "device.upserted": async (input) => {
    const { tenantId, occurredAt, data } = input.message;
    await deadLettered(input, await input.services.devices.upsertIsStored(tenantId, deviceFactsOf(data), occurredAt));
  },
  "device.removed": (input) => deadLettered(input),
  "user.upserted": async (input) => {
    const { tenantId, occurredAt, data } = input.message;
    await deadLettered(input, await input.services.devices.userIsStored(tenantId, data.id, occurredAt));
  },
  ...remoteAssistanceRequestedDeadLetterHandler,
} satisfies QueueHandlers;

const automationDoor = endpoint({
  name: "postAutomationEvent",
  method: "POST",
  route: "automation/events",
  summary:
    "A tenant's own automation (help-desk or ITSM tool) requests a remote assistance session with an app-only token (client credentials, app role " +
    "RemoteAssistance.Automation). The tenant and the requester come from the token; the checks are a user's, role assignments naming the app scope it. " +
    "The same id twice is one request.",
  tag: "Automation",
  authenticated: true,
  access: "automation",
  body: automationDoorEventSchema,
  responses: {
    202: { description: "Requested; the session is created at TeamViewer in the background", schema: automationDoorAcceptedSchema },
    403: {
      description: "Not an app-only token with RemoteAssistance.Automation, the event names another tenant, or the device is outside the app's scope",
      schema: problemSchema,
    },
    404: { description: "No such device in the app's tenant and scope", schema: problemSchema },
    400: { description: "Not valid, or the tenant requires a ticketId and none was sent", schema: problemSchema },
    409: {
      description:
        "The connector is not onboarded, the id was used for another request, the device already has an open session (`existingSessionId`), " +
        "or the device is not compliant and the warning was not acknowledged (`acknowledgementRequired`, `warnings`)",
      schema: problemSchema,
    },
    422: { description: "The device is not eligible; `reason` says why", schema: problemSchema },
  },
  errors: ["notFound", "connectorNotOnboarded", "conflict", "acknowledgementRequired", "deviceNotEligible"],
  handle: async ({ caller, body, services, correlationId, log }) => {
    if (body.tenantId !== undefined && body.tenantId !== caller.tenantId) {
      // Nothing is written for either tenant: the named one must gain nothing from another's app.
      log.warn("an app's event named another tenant; refused", { appId: caller.userId, clientId: caller.clientId });
      throw forbidden(
        "The event names another tenant. An app raises requests for its own tenant only (the tenant of its token); leave tenantId out or send that one.",
      );
    }
    const id = body.id ?? randomUUID();
    const result = await services.sessions.requests.request(
      {
        source: "app",
        caller,
        tenantId: caller.tenantId,
        eventId: id,
        deviceId: body.data.deviceId,
        ...(body.data.description === undefined ? {} : { description: body.data.description }),
        ...(body.data.ticketId === undefined ? {} : { ticketId: body.data.ticketId }),
        ...(body.data.acknowledgeWarnings === undefined ? {} : { acknowledgeWarnings: body.data.acknowledgeWarnings }),
      },
      { correlationId: body.correlationId ?? correlationId, log },
    );
    if (!result.ok) throw result.refusal.error;
    return { status: 202, body: { id } };
  },
});

export const automationFunctions: FunctionDefinition[] = [
  automationDoor,
  queueBatchConsumer({ name: "automationEvents", queue: queueNames.automationEvents, handlers: automationEventHandlers, bulk: automationBulkHandlers }),
  deadLetterConsumer({ name: "automationEventsDeadLetter", queue: queueNames.automationEvents, handlers: automationDeadLetterHandlers }),
];
