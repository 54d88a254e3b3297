// How a timer treats one row it cannot process: it skips it, logs it, audits it (once per
// row per instance, so a row that stays bad does not write an audit event every minute)
// and goes on with the rest. Only an outage of the storage or messaging service itself
// stops a run: then every row would fail alike, and the next tick tries again.
import { systemActor } from "../domain/caller.js";
import type { AuditLog } from "./audit/auditLog.js";
import type { Logger } from "./logging.js";

const outageCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "REQUEST_SEND_ERROR",
]);

/** True for a failure of the service as a whole (unreachable, 5xx, throttled), not of one row. */
export function isOutage(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const { statusCode, code, name } = e as { statusCode?: unknown; code?: unknown; name?: unknown };
  if (typeof statusCode === "number") return statusCode >= 500 || statusCode === 408 || statusCode === 429;
  if (typeof code === "string" && outageCodes.has(code)) return true;
  return name === "AbortError" || name === "TimeoutError";
}

/**
 * What went wrong, without the message: messages can quote the row (a JSON parse error
 * quotes its input, and a session row holds links) or a request URL.
 */
export function failureKind(e: unknown): string {
  if (e instanceof SyntaxError) return "the stored row is not valid JSON";
  if (typeof e === "object" && e !== null) {
    const { statusCode, code, name } = e as { statusCode?: unknown; code?: unknown; name?: unknown };
    if (typeof statusCode === "number") return `storage answered ${statusCode}${typeof code === "string" ? ` ${code.slice(0, 64)}` : ""}`;
    if (typeof name === "string") return name.slice(0, 64);
  }
  return "unexpected failure";
}

export interface SkippedRow {
  readonly tenantId: string;
  readonly target: { readonly type: string; readonly id: string };
}

/**
 * Audited rows remembered per tenant; past it, the tenant's own are forgotten (and audited
 * once more on their next run), never another tenant's: one tenant's flood of bad rows
 * must not make every other tenant's bad rows be audited again every minute.
 */
const rememberedRowsPerTenant = 1_000;
/** Audited rows remembered in all; past it, the tenant with the most is forgotten first. */
const rememberedRows = 10_000;

export class TimerRows {
  readonly #audit: AuditLog;
  /** Per tenant, the rows audited as skipped while they stay bad. */
  readonly #audited = new Map<string, Set<string>>();
  #remembered = 0;

  constructor(audit: AuditLog) {
    this.#audit = audit;
  }

  /**
   * Runs `work` for one row. An outage propagates (the run stops); anything else is
   * logged, audited as `<target type>.maintenanceSkipped` and answered with false.
   */
  async process(timer: string, row: SkippedRow, log: Logger, work: () => Promise<void>): Promise<boolean> {
    try {
      await work();
      return true;
    } catch (e) {
      if (isOutage(e)) throw e;
      await this.skipped(timer, row, log, e);
      return false;
    }
  }

  /** Records a row the timer could not process. Never throws. */
  async skipped(timer: string, row: SkippedRow, log: Logger, e: unknown, afterwards = "It is skipped until it is repaired."): Promise<void> {
    const kind = failureKind(e);
    // A parse error's message quotes the row: logged by its kind only.
    log.error(`${timer} skipped a ${row.target.type} it could not process`, e instanceof SyntaxError ? undefined : e, {
      tenantId: row.tenantId,
      target: `${row.target.type}/${row.target.id}`,
      failure: kind,
    });
    const key = `${timer}\n${row.target.type}\n${row.target.id}\n${kind}`;
    if (this.#audited.get(row.tenantId)?.has(key)) return;
    try {
      await this.#audit.record({
        tenantId: row.tenantId,
        actor: systemActor,
        activity: `${row.target.type}.maintenanceSkipped`,
        target: row.target,
        result: "failure",
        detail: `${timer} skipped it: ${kind}. ${afterwards}`,
      });
      this.#remember(row.tenantId, key);
    } catch (auditError) {
      log.warn("could not audit a skipped row", { tenantId: row.tenantId, error: failureKind(auditError) });
    }
  }

  #remember(tenantId: string, key: string): void {
    if ((this.#audited.get(tenantId)?.size ?? 0) >= rememberedRowsPerTenant) this.#forget(tenantId);
    if (this.#remembered >= rememberedRows) {
      const [largest] = [...this.#audited].reduce((a, b) => (b[1].size > a[1].size ? b : a));
      this.#forget(largest);
    }
    const keys = this.#audited.get(tenantId) ?? new Set<string>();
    this.#audited.set(tenantId, keys);
    keys.add(key);
    this.#remembered++;
  }

  #forget(tenantId: string): void {
    this.#remembered -= this.#audited.get(tenantId)?.size ?? 0;
    this.#audited.delete(tenantId);
  }
}
