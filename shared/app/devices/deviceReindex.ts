// The re-index job: when the code's index version (the eligibility and platform rules the
// device index is derived from) is newer than what stored devices were written under, it
// rewrites their rows, tenant by tenant, a page at a time (docs/architecture.md, "The device
// index"). A timer schedules a job per tenant once per version and restarts jobs that stopped
// moving; each device-index message moves one job on from its checkpoint, so a crash, a
// redelivery or a duplicate message resumes where the last saved page ended.
import { systemActor } from "../../domain/caller.js";
import type { AuditLog } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { MessageBus } from "../messageBus.js";
import { failureKind, isOutage, TimerRows } from "../timerRows.js";
import { makeEnvelope, messageTypes } from "../../contracts/messages.js";
import { queueNames } from "../../queueDefinitions.js";
import { nameBasedUuid } from "../sessions/sessionMessages.js";
import type { DeviceStore, ReindexJob, ReindexJobStore } from "./ports.js";

export const reindexLimits = {
  /** Device records read per page (one query; their rewrites go in transactions of ≤ 100 operations). */
  pageSize: 100,
  /** A message works this long, then hands the job on in a new message (the lock is a minute). */
  messageBudgetMs: 20_000,
  /** An audit event every this many records read. */
  progressEvery: 500,
  /** A job whose checkpoint has not moved for this long gets a new message from the timer. */
  stalledAfterMs: 3 * 60_000,
  /** Dead-lettered messages without progress after which the timer gives up on a job. */
  maxDeadLetters: 3,
} as const;

const timerName = "deviceReindexTimer";

export interface ReindexContext {
  readonly tenantId: string;
  readonly version: number;
  readonly correlationId?: string;
  readonly log: Logger;
}

export class DeviceReindex {
  readonly #store: DeviceStore;
  readonly #jobs: ReindexJobStore;
  readonly #bus: MessageBus;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #rows: TimerRows;
  readonly #limits: typeof reindexLimits;

  constructor(deps: { store: DeviceStore; jobs: ReindexJobStore; bus: MessageBus; audit: AuditLog; clock: Clock; limits?: Partial<typeof reindexLimits> }) {
    this.#store = deps.store;
    this.#jobs = deps.jobs;
    this.#bus = deps.bus;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#rows = new TimerRows(deps.audit);
    this.#limits = { ...reindexLimits, ...deps.limits };
  }

  /** The timer: jobs for a new version, then a new message for every job that stopped moving. */
  async tick(log: Logger): Promise<void> {
    const version = this.#store.indexVersion;
    const scheduled = await this.#jobs.scheduledVersion();
    // A newer version scheduled means a newer deploy runs beside this one: its timer decides.
    if (scheduled === undefined || scheduled < version) await this.#schedule(version, log);

    const now = this.#clock.now();
    for (const job of await this.#jobs.unfinished()) {
      if (job.version !== version || now.getTime() - Date.parse(job.updatedAt) < this.#limits.stalledAfterMs) continue;
      await this.#rows.process(timerName, { tenantId: job.tenantId, target: { type: "deviceIndex", id: `v${job.version}` } }, log, () =>
        this.#restart(job, log),
      );
    }
  }

  async #schedule(version: number, log: Logger): Promise<void> {
    let tenants = 0;
    let created = 0;
    for (let t = await this.#jobs.nextTenantWithDevices(undefined); t !== undefined; t = await this.#jobs.nextTenantWithDevices(t)) {
      tenants++;
      if (!(await this.#jobs.createJob(t, version, this.#clock.now().toISOString()))) continue;
      created++;
      await this.#send(t, version, `start|${version}`);
    }
    // Only after every tenant has its job: a crash before this point schedules again next tick.
    await this.#jobs.markScheduled(version);
    log.info("device re-index jobs scheduled", { version, tenants, created });
  }

  async #restart(job: ReindexJob, log: Logger): Promise<void> {
    const got = await this.#jobs.get(job.tenantId);
    if (!got || got.job.updatedAt !== job.updatedAt) return; // it moved meanwhile
    const now = this.#clock.now().toISOString();
    if (got.job.deadLetters >= this.#limits.maxDeadLetters) {
      if ((await this.#jobs.save({ ...got.job, abandonedAt: now, updatedAt: now }, got.etag)) === undefined) return;
      log.error("gave up on a device re-index job that keeps failing", undefined, { tenantId: job.tenantId, version: job.version });
      await this.#record(
        got.job,
        "deviceIndex.reindexAbandoned",
        "failure",
        `gave up after ${got.job.deadLetters} dead-lettered attempts without progress; ${counts(got.job)}. Devices not yet rewritten are rewritten when their inventory next changes; a new index version starts a new job.`,
      );
      return;
    }
    // Touching updatedAt names the new message, so a second timer instance sends the same one.
    if ((await this.#jobs.save({ ...got.job, updatedAt: now }, got.etag)) === undefined) return;
    await this.#send(job.tenantId, job.version, `restart|${now}`);
    log.warn("restarted a device re-index job that had stopped moving", { tenantId: job.tenantId, version: job.version, after: job.after ?? null });
  }

  /** device.reindex: moves the tenant's job on from its checkpoint, for up to messageBudgetMs. */
  async run(ctx: ReindexContext): Promise<void> {
    const { tenantId, log } = ctx;
    if (ctx.version !== this.#store.indexVersion) {
      log.info("device.reindex for another index version: this deploy does not run it", { version: ctx.version, current: this.#store.indexVersion });
      return;
    }
    const got = await this.#jobs.get(tenantId);
    if (!got || got.job.version !== ctx.version || got.job.finishedAt !== undefined || got.job.abandonedAt !== undefined) {
      log.info("device.reindex has nothing to do: the job is done or replaced", { version: ctx.version });
      return;
    }
    let { job, etag } = got;
    const deadline = this.#clock.now().getTime() + this.#limits.messageBudgetMs;
    for (;;) {
      const page = await this.#store.reindexPage(tenantId, job.after, this.#limits.pageSize);
      // Storage out: every record would fail alike. Thrown, so the message is delivered again.
      const outage = page.failed.find((f) => isOutage(f.error));
      if (outage) throw outage.error;

      const now = this.#clock.now().toISOString();
      const next: ReindexJob = {
        ...job,
        ...(page.last === undefined ? {} : { after: page.last }),
        scanned: job.scanned + page.scanned,
        rewritten: job.rewritten + page.rewritten,
        failed: job.failed + page.failed.length,
        updatedAt: now,
        deadLetters: 0,
        ...(job.startedAt === undefined && page.rewritten + page.failed.length > 0 ? { startedAt: now } : {}),
        ...(page.done ? { finishedAt: now } : {}),
      };
      // Reported before the checkpoint moves past the page: if an audit write fails, the
      // message comes again and reports it again (at least once), where reporting after the
      // save would resume past a page never reported. Another delivery that moved the job on
      // first may have reported the same page too.
      await this.#reportPage(ctx, job, next, page.failed);
      const saved = await this.#jobs.save(next, etag);
      if (saved === undefined) {
        log.info("another delivery moved this re-index job on first; it carries on", { after: job.after ?? null });
        return;
      }
      etag = saved;
      if (page.done) return;
      job = next;
      if (this.#clock.now().getTime() >= deadline) {
        await this.#send(tenantId, job.version, `after|${job.after ?? ""}|${job.scanned}`, ctx.correlationId);
        return;
      }
    }
  }

  /** device.index dead letter: recorded on the job; the timer restarts it, or gives up after maxDeadLetters. */
  async deadLettered(ctx: ReindexContext & { readonly reason?: string }): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const got = await this.#jobs.get(ctx.tenantId);
      if (!got || got.job.version !== ctx.version || got.job.finishedAt !== undefined || got.job.abandonedAt !== undefined) return;
      const job = { ...got.job, deadLetters: got.job.deadLetters + 1 };
      if ((await this.#jobs.save(job, got.etag)) === undefined) continue;
      ctx.log.warn("a device.reindex message was dead-lettered", { reason: ctx.reason ?? null, after: job.after ?? null });
      await this.#record(
        job,
        "deviceIndex.reindexInterrupted",
        "failure",
        `a message of the job was dead-lettered${ctx.reason ? ` (${ctx.reason})` : ""}; ${counts(job)}. It resumes from its checkpoint within minutes.`,
        ctx.correlationId,
      );
      return;
    }
    throw new Error(`the re-index job of tenant ${ctx.tenantId} kept changing`);
  }

  async #reportPage(ctx: ReindexContext, before: ReindexJob, after: ReindexJob, failed: readonly { deviceId: string; error: unknown }[]): Promise<void> {
    for (const f of failed) {
      const kind = failureKind(f.error);
      ctx.log.error("device re-index skipped a device it could not rewrite", f.error instanceof SyntaxError ? undefined : f.error, {
        deviceId: f.deviceId,
        failure: kind,
      });
      await this.#audit.record({
        tenantId: ctx.tenantId,
        actor: systemActor,
        activity: "deviceIndex.deviceSkipped",
        target: { type: "device", id: f.deviceId },
        result: "failure",
        detail: `the re-index to version ${after.version} could not rewrite this device (${kind}); it keeps its older index rows until its inventory next changes`,
        correlationId: ctx.correlationId,
      });
    }
    // A job that never found an older record audits nothing: there was nothing to re-index.
    if (after.startedAt === undefined) {
      if (after.finishedAt !== undefined) ctx.log.info("device re-index: every device was already current", { version: after.version, scanned: after.scanned });
      return;
    }
    if (before.startedAt === undefined) {
      await this.#record(
        after,
        "deviceIndex.reindexStarted",
        "success",
        `re-indexing devices stored under an older index version for version ${after.version}; ${counts(after)}`,
        ctx.correlationId,
      );
    } else if (
      after.finishedAt === undefined &&
      Math.floor(after.scanned / this.#limits.progressEvery) > Math.floor(before.scanned / this.#limits.progressEvery)
    ) {
      await this.#record(
        after,
        "deviceIndex.reindexProgress",
        "success",
        `re-index to version ${after.version} under way; ${counts(after)}`,
        ctx.correlationId,
      );
    }
    if (after.finishedAt !== undefined) {
      const seconds = Math.round((Date.parse(after.finishedAt) - Date.parse(after.startedAt)) / 1000);
      await this.#record(
        after,
        "deviceIndex.reindexFinished",
        after.failed > 0 ? "failure" : "success",
        `re-index to version ${after.version} finished in ${seconds} s; ${counts(after)}`,
        ctx.correlationId,
      );
      ctx.log.info("device re-index finished", { version: after.version, scanned: after.scanned, rewritten: after.rewritten, failed: after.failed });
    }
  }

  #record(job: ReindexJob, activity: string, result: "success" | "failure", detail: string, correlationId?: string): Promise<void> {
    return this.#audit.record({
      tenantId: job.tenantId,
      actor: systemActor,
      activity,
      target: { type: "deviceIndex", id: `v${job.version}` },
      result,
      detail,
      ...(correlationId === undefined ? {} : { correlationId }),
    });
  }

  async #send(tenantId: string, version: number, step: string, correlationId?: string): Promise<void> {
    const id = nameBasedUuid(`device.reindex|${tenantId}|${step}`);
    await this.#bus.send({
      queue: queueNames.deviceIndex,
      id,
      type: messageTypes.deviceReindex,
      ...(correlationId === undefined ? {} : { correlationId }),
      body: makeEnvelope(
        messageTypes.deviceReindex,
        tenantId,
        { version },
        { id, now: this.#clock.now(), ...(correlationId === undefined ? {} : { correlationId }) },
      ),
    });
  }
}

const counts = (job: ReindexJob): string => `${job.scanned} devices read, ${job.rewritten} rewritten, ${job.failed} skipped`;
