// The TeamViewer quota limiter in Table storage: table `quotas`, partition = tenant, row
// `teamviewer`, holding the sliding log of the tenant's last calls (slidingWindow.ts). Every
// instance reads it and writes it back etag-guarded; a lost race (412, or 409 on the first
// write) reads again and decides again, so two instances can never both take the last slot.
// Within one instance the changes of a tenant's row asked for while a write is under way
// are decided together and written in one go (group commit), so an instance's concurrent
// handlers neither race each other on the row nor wait for one read and write each.
import type { TableClient } from "@azure/data-tables";
import type { Clock } from "../../app/clock.js";
import type { QuotaDecision, QuotaLimiter } from "../../app/quota/ports.js";
import { block, decide, decodeTimes, emptyWindow, encodeTimes, type WindowState } from "../../app/quota/slidingWindow.js";
import { getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

interface QuotaEntity {
  base: number;
  log: string;
  blockedUntil: number;
}

const row = "teamviewer";
// Every TeamViewer call of a busy tenant goes through this row: many instances may race.
const maxAttempts = 40;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class TableQuotaLimiter implements QuotaLimiter {
  readonly #table: TableClient;
  readonly #clock: Clock;
  readonly #random: () => number;
  /** Per tenant, this instance's changes waiting for the write under way (group commit). */
  readonly #pending = new Map<string, { change: (state: WindowState) => WindowState | undefined; resolve: () => void; reject: (e: unknown) => void }[]>();
  readonly #flushing = new Set<string>();

  constructor(tables: Tables, clock: Clock, random: () => number = Math.random) {
    this.#table = tables.client(tableNames.quotas);
    this.#clock = clock;
    this.#random = random;
  }

  async tryAcquire(tenantId: string, callsPerMinute: number): Promise<QuotaDecision> {
    let decision: QuotaDecision | undefined;
    await this.#change(tenantId, (state) => {
      const d = decide(state, this.#clock.now().getTime(), callsPerMinute);
      decision = d.granted ? { granted: true } : { granted: false, retryAt: new Date(d.retryAt) };
      return d.granted ? d.next : undefined;
    });
    return decision!;
  }

  async blockUntil(tenantId: string, until: Date): Promise<void> {
    await this.#change(tenantId, (state) => (state.blockedUntil >= until.getTime() ? undefined : block(state, until.getTime())));
  }

  /**
   * Group commit: the changes of a tenant's row asked for on this instance while a write is
   * under way wait, then go together: one read, each change decided in turn on the result
   * of the one before, one write. A lost race decides them all again.
   */
  async #change(tenantId: string, change: (state: WindowState) => WindowState | undefined): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const queue = this.#pending.get(tenantId) ?? [];
      queue.push({ change, resolve, reject });
      this.#pending.set(tenantId, queue);
      if (!this.#flushing.has(tenantId)) void this.#flush(tenantId);
    });
  }

  async #flush(tenantId: string): Promise<void> {
    this.#flushing.add(tenantId);
    try {
      for (;;) {
        const batch = (this.#pending.get(tenantId) ?? []).splice(0);
        if (batch.length === 0) break;
        try {
          await this.#changeNow(tenantId, (state) => {
            let current = state;
            let changed = false;
            for (const p of batch) {
              const next = p.change(current);
              if (next) {
                current = next;
                changed = true;
              }
            }
            return changed ? current : undefined;
          });
          for (const p of batch) p.resolve();
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.#pending.delete(tenantId);
      this.#flushing.delete(tenantId);
    }
  }

  /** Read, decide, write etag-guarded; again on a lost race. `change` answers undefined to write nothing. */
  async #changeNow(tenantId: string, change: (state: WindowState) => WindowState | undefined): Promise<void> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const e = await getOrUndefined<QuotaEntity>(this.#table, tenantId, row);
      const next = change(e ? { times: decodeTimes(Number(e.base), String(e.log ?? "")), blockedUntil: Number(e.blockedUntil ?? 0) } : emptyWindow);
      if (!next) return;
      const { base, log } = encodeTimes(next.times);
      const entity = { partitionKey: tenantId, rowKey: row, base, log, blockedUntil: next.blockedUntil };
      try {
        if (e) await this.#table.updateEntity(entity, "Replace", { etag: e.etag });
        else await this.#table.createEntity(entity);
        return;
      } catch (err) {
        if (!(isStatus(err, 412) || isStatus(err, 409) || isStatus(err, 404))) throw err;
      }
      // Spread the racers out a little, more after each loss.
      await sleep(Math.floor(this.#random() * Math.min(200, 10 * (attempt + 1))));
    }
    // Transient: the message is redelivered (or the HTTP caller retries).
    throw new Error(`the TeamViewer quota row of tenant ${tenantId} kept changing (${maxAttempts} attempts)`);
  }
}
