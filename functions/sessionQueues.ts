// The sessions area's queue and timer functions: session-commands (the creation and the
// closing worker), the notification worker (device-notifications), a dead-letter function for each queue, the
// timer that re-sends the outbox and expires unanswered requests, and the handlers that
// automation-events uses for remoteAssistance.requested.
import { queueNames } from "../shared/queueDefinitions.js";
import type { FunctionDefinition } from "./definition.js";
import { deadLetterConsumer, queueConsumer, type QueueHandlerInput, type QueueHandlers } from "./queue/consumer.js";
import { scheduled } from "./timer/scheduled.js";
import type { SessionRequestCommand } from "../shared/app/sessions/sessionRequests.js";

const messageIdOf = (input: QueueHandlerInput<{ id: string }>): string => (input.messageId === "unknown" ? input.message.id : input.messageId);

/** The command context of a session.create or session.close delivery. */
const commandOf = (input: QueueHandlerInput<{ id: string; tenantId: string; correlationId?: string; data: { sessionId: string } }>) => ({
  tenantId: input.message.tenantId,
  sessionId: input.message.data.sessionId,
  messageId: messageIdOf(input),
  deliveryCount: input.deliveryCount,
  correlationId: input.message.correlationId,
  log: input.log,
});

export const sessionCommandHandlers = {
  "session.create": async (input) => {
    await input.services.sessions.creation.create(commandOf(input));
  },
  "session.close": async (input) => {
    await input.services.sessions.closing.close({
      ...commandOf(input),
      reason: input.message.data.reason,
      ...(input.message.data.closedBy ? { closedBy: input.message.data.closedBy } : {}),
    });
  },
} satisfies QueueHandlers;

const deadLetterContext = (input: QueueHandlerInput<{ tenantId: string; correlationId?: string; data: { sessionId: string } }>) => ({
  tenantId: input.message.tenantId,
  sessionId: input.message.data.sessionId,
  reason: input.deadLetterReason,
  correlationId: input.message.correlationId,
  log: input.log,
});

export const sessionCommandDeadLetterHandlers = {
  "session.create": (input) => input.services.sessions.maintenance.createDeadLettered(deadLetterContext(input)),
  "session.close": (input) => input.services.sessions.maintenance.closeDeadLettered(deadLetterContext(input)),
} satisfies QueueHandlers;

export const notificationHandlers = {
  "notification.send": async (input) => {
    await input.services.sessions.notifications.send({
      tenantId: input.message.tenantId,
      sessionId: input.message.data.sessionId,
      userId: input.message.data.userId,
      deliveryCount: input.deliveryCount,
      messageId: messageIdOf(input),
      correlationId: input.message.correlationId,
      log: input.log,
    });
  },
} satisfies QueueHandlers;

export const notificationDeadLetterHandlers = {
  "notification.send": (input) => input.services.sessions.maintenance.notificationDeadLettered(deadLetterContext(input)),
} satisfies QueueHandlers;

/** For functions/automation.ts: automation's session requests, and their dead letters. */
// The envelope id (not the Service Bus messageId) names an automation's request: a producer
// that resends the same event under a new messageId still gets one session.
export const remoteAssistanceRequestedHandler = {
  "remoteAssistance.requested": async (input) => {
    const { data } = input.message;
    const command = {
      source: "queue",
      tenantId: input.message.tenantId,
      eventId: input.message.id,
      requestedBy: data.requestedBy,
      deviceId: data.deviceId,
      ...(data.description === undefined ? {} : { description: data.description }),
      ...(data.ticketId === undefined ? {} : { ticketId: data.ticketId }),
      ...(data.acknowledgeWarnings === undefined ? {} : { acknowledgeWarnings: data.acknowledgeWarnings }),
    } as const satisfies SessionRequestCommand;
    const ctx = { correlationId: input.message.correlationId, log: input.log };
    const requests = input.services.sessions.requests;
    const result = await requests.request(command, ctx);
    // Nobody is there to answer a refusal: it is recorded as a failed session (or audited).
    if (!result.ok) await requests.recordRefusal(command, result.refusal, ctx);
  },
} satisfies QueueHandlers;

export const remoteAssistanceRequestedDeadLetterHandler = {
  "remoteAssistance.requested": async (input) => {
    await input.services.sessions.maintenance.automationRequestDeadLettered(
      {
        tenantId: input.message.tenantId,
        eventId: input.message.id,
        deviceId: input.message.data.deviceId,
        requestedBy: input.message.data.requestedBy,
        ...(input.message.data.description === undefined ? {} : { description: input.message.data.description }),
        ...(input.message.data.ticketId === undefined ? {} : { ticketId: input.message.data.ticketId }),
        ...(input.deadLetterReason ? { reason: input.deadLetterReason } : {}),
        ...(input.message.correlationId ? { correlationId: input.message.correlationId } : {}),
      },
      input.log,
    );
  },
} satisfies QueueHandlers;

export const sessionQueueFunctions: FunctionDefinition[] = [
  queueConsumer({ name: "sessionCommands", queue: queueNames.sessionCommands, handlers: sessionCommandHandlers }),
  deadLetterConsumer({ name: "sessionCommandsDeadLetter", queue: queueNames.sessionCommands, handlers: sessionCommandDeadLetterHandlers }),
  queueConsumer({ name: "deviceNotifications", queue: queueNames.deviceNotifications, handlers: notificationHandlers }),
  deadLetterConsumer({ name: "deviceNotificationsDeadLetter", queue: queueNames.deviceNotifications, handlers: notificationDeadLetterHandlers }),
  scheduled({
    name: "sessionTimers",
    // Every minute: outbox entries are re-sent once older than a minute, and a request's
    // timeout is in whole minutes (reads apply expiry at once, so this only bounds the
    // time until TeamViewer is told).
    schedule: "0 * * * * *",
    run: async ({ services, log }) => {
      const r = await services.sessions.maintenance.runTimers(log);
      if (r.resent > 0 || r.expired > 0 || r.skipped > 0 || r.purgedKeys > 0) log.info("session timers ran", r);
    },
  }),
];
