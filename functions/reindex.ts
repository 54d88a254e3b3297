// The device re-index job's functions (shared/app/devices/deviceReindex.ts): the timer that
// schedules a job per tenant when the index version changes and restarts stalled ones, the
// device-index worker that moves a job on, and its dead-letter function. Run the timer at
// once through the host's admin API: POST /admin/functions/deviceReindexTimer.
import { queueNames } from "../shared/queueDefinitions.js";
import type { FunctionDefinition } from "./definition.js";
import { deadLetterConsumer, queueConsumer, type QueueHandlerInput, type QueueHandlers } from "./queue/consumer.js";
import { scheduled } from "./timer/scheduled.js";

const contextOf = (input: QueueHandlerInput<{ tenantId: string; correlationId?: string; data: { version: number } }>) => ({
  tenantId: input.message.tenantId,
  version: input.message.data.version,
  ...(input.message.correlationId === undefined ? {} : { correlationId: input.message.correlationId }),
  log: input.log,
});

export const deviceIndexHandlers = {
  "device.reindex": (input) => input.services.deviceReindex.run(contextOf(input)),
} satisfies QueueHandlers;

export const deviceIndexDeadLetterHandlers = {
  "device.reindex": (input) =>
    input.services.deviceReindex.deadLettered({ ...contextOf(input), ...(input.deadLetterReason === undefined ? {} : { reason: input.deadLetterReason }) }),
} satisfies QueueHandlers;

export const reindexFunctions: FunctionDefinition[] = [
  queueConsumer({ name: "deviceIndexWorker", queue: queueNames.deviceIndex, handlers: deviceIndexHandlers }),
  deadLetterConsumer({ name: "deviceIndexDeadLetters", queue: queueNames.deviceIndex, handlers: deviceIndexDeadLetterHandlers }),
  scheduled({
    name: "deviceReindexTimer",
    // Every two minutes, at second 45 (off the other timers' seconds): a deploy with new
    // rules has its jobs queued within two minutes of starting.
    schedule: "45 */2 * * * *",
    run: ({ services, log }) => services.deviceReindex.tick(log),
  }),
];
