// The one way a timer function is built: a logger that redacts, tables ready, the job,
// and a failure logged once (the host then records the invocation as failed; the next
// tick runs again, so a timer job must be safe to repeat).
import type { InvocationContext, Timer } from "@azure/functions";
import { createLogger, type Logger } from "../../shared/app/logging.js";
import type { Services } from "../../shared/composition.js";
import { timer, type FunctionDefinition } from "../definition.js";
import { ensureTables, services } from "../runtime.js";

export interface ScheduledInput {
  readonly services: Services;
  readonly log: Logger;
  /** The host ran this tick later than scheduled (e.g. after a restart). */
  readonly isPastDue: boolean;
}

export function scheduled(spec: {
  readonly name: string;
  /** Six-field NCRONTAB: {second} {minute} {hour} {day} {month} {day-of-week}, UTC. */
  readonly schedule: string;
  readonly run: (input: ScheduledInput) => Promise<void>;
}): FunctionDefinition {
  return timer(spec.name, {
    schedule: spec.schedule,
    handler: async (tick: Timer, ctx: InvocationContext): Promise<void> => {
      const log = createLogger((level, line) => (level === "error" ? ctx.error(line) : level === "warn" ? ctx.warn(line) : ctx.log(line)), {
        timer: spec.name,
      });
      try {
        await ensureTables();
        await spec.run({ services: services(), log, isPastDue: tick.isPastDue });
      } catch (e) {
        log.error(`${spec.name} failed`, e);
        throw e;
      }
    },
  });
}
