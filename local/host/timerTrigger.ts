// Timer triggers: NCRONTAB schedules (six fields with seconds, five accepted, `%Setting%` indirection) or
// TimeSpan intervals, run by a port of WebJobs' TimerListener: runOnStartup, no overlapping runs, and the
// TimerInfo JSON the host sends ({Schedule, ScheduleStatus, IsPastDue}, camel-cased by the library).
import { CronExpressionParser, type CronExpression } from "cron-parser";
import type { RegisteredFunction } from "./functionsCore.js";
import type { HostLog } from "./hostLog.js";
import type { InFlight } from "./inFlight.js";
import type { Invoker } from "./invoker.js";

export interface TimerSchedule {
  readonly expression: string;
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
}

/** Replaces `%Name%` with the app setting, as binding expressions do; a missing setting is an error. */
export function resolveSettingExpressions(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const setting = env[name];
    if (setting === undefined) throw new Error(`'%${name}%' does not resolve to a value (no app setting named "${name}")`);
    return setting;
  });
}

// One NCRONTAB field: a list of `*`, a value or a range (numbers or names such as Mon, Jan), each with an optional step.
const ncrontabValue = String.raw`(?:\d+|[A-Za-z]{3,})`;
const ncrontabItem = String.raw`(?:\*|${ncrontabValue}(?:-${ncrontabValue})?)(?:\/\d+)?`;
const ncrontabField = new RegExp(`^${ncrontabItem}(?:,${ncrontabItem})*$`);
const timeSpanSchedule = /^(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

function intervalSchedule(expression: string, ms: number): TimerSchedule {
  if (ms <= 0) throw new Error(`Timer schedule "${expression}" must be a positive interval`);
  // WebJobs' ConstantSchedule: the next occurrence is always "now + interval".
  return { expression, next: (after) => new Date(after.getTime() + ms) };
}

/** Parses a timer schedule the way the Timer extension does; `tz` is an IANA zone (UTC in Azure by default). */
export function parseTimerSchedule(expression: string, tz = "UTC"): TimerSchedule {
  const text = expression.trim();
  const span = timeSpanSchedule.exec(text);
  if (span) {
    const [, d, h, m, s] = span;
    return intervalSchedule(text, (((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s ?? 0)) * 1000);
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 6 && fields.length !== 5) {
    throw new Error(`Timer schedule "${expression}": expected six NCRONTAB fields ({second} {minute} {hour} {day} {month} {day-of-week}) or five`);
  }
  const bad = fields.find((f) => !ncrontabField.test(f));
  if (bad !== undefined) {
    // NCRONTAB has no ?, L, W, # or H: the host would reject these at start-up.
    throw new Error(`Timer schedule "${expression}": "${bad}" is not valid NCRONTAB (use *, numbers, names, -, / and ,)`);
  }
  let cron: CronExpression;
  try {
    cron = CronExpressionParser.parse(text, { tz, currentDate: new Date() });
  } catch (error) {
    throw new Error(`Timer schedule "${expression}": ${(error as Error).message}`, { cause: error });
  }
  const [domField, dowField] = fields.length === 6 ? [fields[3], fields[5]] : [fields[2], fields[4]];
  // cron-parser ORs day-of-month and day-of-week when both are restricted (vixie cron); NCRONTAB needs both.
  const both = domField !== "*" && dowField !== "*";
  const numbers = (values: readonly unknown[]): number[] => values.filter((v): v is number => typeof v === "number");
  const daysOfMonth = new Set(numbers(cron.fields.dayOfMonth.values));
  const daysOfWeek = new Set(numbers(cron.fields.dayOfWeek.values).map((v) => v % 7));
  return {
    expression: text,
    next(after: Date): Date {
      const it = CronExpressionParser.parse(text, { tz, currentDate: after });
      for (let i = 0; i < 10_000; i++) {
        const candidate = it.next();
        if (!both || (daysOfMonth.has(candidate.getDate()) && daysOfWeek.has(candidate.getDay()))) return candidate.toDate();
      }
      throw new Error(`Timer schedule "${expression}" has no next occurrence`);
    },
  };
}

interface ScheduleStatus {
  last: Date | undefined;
  next: Date;
  lastUpdated: Date | undefined;
}

/** Offset (minutes) of `tz` at `date`, for rendering times the way .NET serializes a local DateTime. */
function offsetMinutes(date: Date, tz: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(date);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round((asUtc - (date.getTime() - date.getUTCMilliseconds())) / 60_000);
}

/** Newtonsoft's rendering of a local DateTime: `2024-03-10T12:34:56.789+00:00`, trailing zero fractions dropped. */
export function formatDotNetLocal(date: Date | undefined, tz: string): string {
  if (!date) return "0001-01-01T00:00:00"; // DateTime.MinValue: the status before a first run
  const offset = offsetMinutes(date, tz);
  const local = new Date(date.getTime() + offset * 60_000).toISOString().replace("Z", "");
  const [whole, frac] = local.split(".");
  const fraction = frac.replace(/0+$/, "");
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${whole}${fraction ? `.${fraction}` : ""}${sign}${hh}:${mm}`;
}

// setTimeout holds a 32-bit interval; longer waits are chained, as the extension does with its 24-day cap.
const maxTimerIntervalMs = 24 * 24 * 60 * 60 * 1000;

export interface TimerListenerOptions {
  readonly fn: RegisteredFunction;
  readonly triggerName: string;
  readonly schedule: TimerSchedule;
  readonly runOnStartup: boolean;
  readonly useMonitor: boolean;
  readonly tz: string;
  readonly invoker: Invoker;
  readonly inFlight: InFlight;
  readonly log: HostLog;
}

/** One timer function's schedule loop (WebJobs TimerListener, without storage-backed monitoring). */
export class TimerListener {
  #o: TimerListenerOptions;
  #status: ScheduleStatus | undefined;
  #timer: NodeJS.Timeout | undefined;
  #remainingMs = 0;
  #startup: "runOnStartup" | undefined;
  #cancelled = false;
  #running: Promise<void> | undefined;

  constructor(options: TimerListenerOptions) {
    this.#o = options;
  }

  get name(): string {
    return this.#o.fn.metadata.name;
  }

  /** An invocation outside the schedule (the admin API), with the current status, not counted as a run. */
  async invokeNow(): Promise<void> {
    await this.#o.invoker.invoke(this.#o.fn, { inputData: [{ name: this.#o.triggerName, data: { json: JSON.stringify(this.#timerInfo(false)) } }] });
  }

  start(): void {
    const now = new Date();
    this.#status = { last: undefined, next: this.#o.schedule.next(now), lastUpdated: undefined };
    const upcoming: string[] = [];
    for (let t = now, i = 0; i < 5; i++) upcoming.push((t = this.#o.schedule.next(t)).toISOString());
    this.#o.log.info(`Timer '${this.#o.fn.metadata.name}' (${this.#o.schedule.expression}, ${this.#o.tz}) next: ${upcoming.join(", ")}`);
    if (this.#o.runOnStartup) {
      this.#startup = "runOnStartup";
      this.#startTimer(1);
    } else this.#startTimerFrom(now);
  }

  /** Stops scheduling and waits for a running invocation (the host's drain bounds the wait). */
  async stop(): Promise<void> {
    this.#cancelled = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #startTimerFrom(now: Date): void {
    const next = this.#status?.next ?? this.#o.schedule.next(now);
    this.#startTimer(Math.max(1, next.getTime() - now.getTime()));
  }

  #startTimer(intervalMs: number): void {
    if (this.#cancelled) return;
    let interval = intervalMs;
    if (interval > maxTimerIntervalMs) {
      this.#remainingMs = interval - maxTimerIntervalMs;
      interval = maxTimerIntervalMs;
    } else this.#remainingMs = 0;
    this.#timer = setTimeout(() => void this.#onTimer(), interval);
  }

  async #onTimer(): Promise<void> {
    this.#timer = undefined;
    if (this.#remainingMs > 0) {
      this.#startTimer(this.#remainingMs);
      return;
    }
    const startup = this.#startup;
    this.#startup = undefined;
    const run = this.#invoke(new Date(), startup === "runOnStartup");
    this.#running = run;
    try {
      await this.#o.inFlight.track(run);
    } catch (error) {
      this.#o.log.error(`Error occurred during scheduled invocation for '${this.#o.fn.metadata.name}': ${String(error)}`);
    } finally {
      this.#running = undefined;
      this.#startTimerFrom(new Date());
    }
  }

  /** The TimerInfo the host serializes; ScheduleStatus only when monitoring is on (interval ≥ 1 minute by default). */
  #timerInfo(isPastDue: boolean): Record<string, unknown> {
    const status = this.#status;
    const tz = this.#o.tz;
    return {
      Schedule: { AdjustForDST: true },
      ScheduleStatus:
        this.#o.useMonitor && status
          ? { Last: formatDotNetLocal(status.last, tz), Next: formatDotNetLocal(status.next, tz), LastUpdated: formatDotNetLocal(status.lastUpdated, tz) }
          : null,
      IsPastDue: isPastDue,
    };
  }

  async #invoke(invocationTime: Date, runOnStartup: boolean): Promise<void> {
    if (this.#cancelled) return;
    const status = this.#status;
    const timerInfo = this.#timerInfo(false);
    await this.#o.invoker.invoke(this.#o.fn, { inputData: [{ name: this.#o.triggerName, data: { json: JSON.stringify(timerInfo) } }] });
    // A timer that fired a little early counts from its scheduled time, so "Next" never repeats.
    const adjusted = !runOnStartup && status && status.next > invocationTime ? status.next : invocationTime;
    this.#status = { last: adjusted, next: this.#o.schedule.next(adjusted), lastUpdated: adjusted };
  }
}

/** The Timer extension turns monitoring off for schedules that recur more often than once a minute. */
export function defaultUseMonitor(schedule: TimerSchedule, configured: boolean | undefined): boolean {
  const first = schedule.next(new Date());
  const second = schedule.next(first);
  if (second.getTime() - first.getTime() < 60_000) return false;
  return configured ?? true;
}
