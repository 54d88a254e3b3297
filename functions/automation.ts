// The automation-events queue: inventory events (devices and users) from external
// automation. Handlers are thin: map the validated message to a use case call.
import { queueNames } from "../shared/queueDefinitions.js";
import type { DeviceFacts } from "../shared/domain/deviceInventory.js";
import type { EventContext } from "../shared/app/devices/deviceService.js";
import type { MessageData } from "../shared/contracts/messages.js";
import type { FunctionDefinition } from "./definition.js";
import { deadLetterConsumer, queueConsumer, type QueueHandlerInput, type QueueHandlers } from "./queue/consumer.js";
import { systemActor } from "../shared/domain/caller.js";
import { remoteAssistanceRequestedDeadLetterHandler, remoteAssistanceRequestedHandler } from "./sessionWorker.js";

// Ids compare lower-case everywhere (the authenticator lower-cases tid and oid); producers
// do not all send GUIDs that way, so the envelope and data ids are folded here.
const lower = (v: string): string => v.toLowerCase();
const lowerOrNull = (v: string | null | undefined): string | null => (v ? v.toLowerCase() : null);

function eventContext({ message, messageId, log }: QueueHandlerInput<{ tenantId: string; occurredAt: string; correlationId?: string; id: string }>): EventContext {
  return { tenantId: lower(message.tenantId), occurredAt: message.occurredAt, messageId: messageId === "unknown" ? message.id : messageId, correlationId: message.correlationId, log };
}

export function deviceFactsOf(d: MessageData<"device.upserted">): DeviceFacts {
  return {
    id: lower(d.id),
    deviceName: d.deviceName,
    operatingSystem: d.operatingSystem,
    osVersion: d.osVersion,
    managedDeviceOwnerType: d.managedDeviceOwnerType,
    deviceEnrollmentType: d.deviceEnrollmentType,
    ...(d.deviceType ? { deviceType: d.deviceType } : {}),
    userId: lowerOrNull(d.userId),
    userPrincipalName: d.userPrincipalName ?? null,
    userDisplayName: d.userDisplayName ?? null,
    emailAddress: d.emailAddress ?? null,
    roleScopeTagIds: d.roleScopeTagIds,
    ...(d.lastSyncDateTime ? { lastSyncDateTime: d.lastSyncDateTime } : {}),
  };
}

/** The handlers of automation-events; the sessions area adds remoteAssistance.requested here. */
export const automationEventHandlers = {
  "device.upserted": async (input) => {
    await input.services.devices.recordUpsert(eventContext(input), deviceFactsOf(input.message.data));
  },
  "device.removed": async (input) => {
    await input.services.devices.recordRemoval(eventContext(input), lower(input.message.data.id));
  },
  "user.upserted": async (input) => {
    const u = input.message.data;
    await input.services.devices.recordUser(eventContext(input), {
      id: lower(u.id),
      userPrincipalName: u.userPrincipalName,
      displayName: u.displayName,
      mail: u.mail,
      intuneLicensed: u.intuneLicensed,
      groups: u.groups.map(lower),
    });
  },
  ...remoteAssistanceRequestedHandler,
} satisfies QueueHandlers;

// An inventory event that failed every delivery (storage down for longer than the retries
// last) is not lost silently: it is audited so an operator can have automation resend it.
const deadLettered = async (input: QueueHandlerInput<{ type: string; id: string; tenantId: string; correlationId?: string }>): Promise<void> => {
  const { message, services, log, deadLetterReason } = input;
  log.warn(`${message.type} was dead-lettered; recorded for a resend`, { reason: deadLetterReason });
  await services.audit.record({
    tenantId: lower(message.tenantId),
    actor: systemActor,
    activity: `${message.type}.deadLettered`,
    target: { type: "message", id: message.id },
    result: "failure",
    detail: `gave up after repeated failures${deadLetterReason ? `: ${deadLetterReason}` : ""}; ask the automation to send it again`,
    correlationId: message.correlationId,
  });
};

export const automationDeadLetterHandlers = {
  "device.upserted": deadLettered,
  "device.removed": deadLettered,
  "user.upserted": deadLettered,
  ...remoteAssistanceRequestedDeadLetterHandler,
} satisfies QueueHandlers;

export const automationFunctions: FunctionDefinition[] = [
  queueConsumer({ name: "automationEvents", queue: queueNames.automationEvents, handlers: automationEventHandlers }),
  deadLetterConsumer({ name: "automationEventsDeadLetter", queue: queueNames.automationEvents, handlers: automationDeadLetterHandlers }),
];
