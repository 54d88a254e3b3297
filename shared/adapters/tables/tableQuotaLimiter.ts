// The TeamViewer quota limiter in Table storage: table `quotas`, partition = tenant, row
// `teamviewer`, holding the sliding log of the tenant's last calls (slidingWindow.ts). Every
// instance reads it and writes it back etag-guarded; a lost race (412, or 409 on the first
// write) reads again and decides again, so two instances can never both take the last slot.
// Within one instance the changes of a tenant's row are made one after the other, so an
// instance's own concurrent handlers queue up here instead of racing each other on the row.
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
/** A grant older than this when its write returns is not used (see tryAcquire); the window's margin is 1 s. */
const staleGrantMs = 400;
const maxStaleGrants = 3;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class TableQuotaLimiter implements QuotaLimiter {
  readonly #table: TableClient;
  readonly #clock: Clock;
  readonly #random: () => number;
  /** Per tenant, the end of the queue of this instance's changes to its row. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(tables: Tables, clock: Clock, random: () => number = Math.random) {
    this.#table = tables.client(tableNames.quotas);
    this.#clock = clock;
    this.#random = random;
  }

  async tryAcquire(tenantId: string, callsPerMinute: number): Promise<QuotaDecision> {
    for (let attempt = 0; ; attempt++) {
      let decision: QuotaDecision | undefined;
      let grantedAt = 0;
      await this.#change(tenantId, (state) => {
        grantedAt = this.#clock.now().getTime();
        const d = decide(state, grantedAt, callsPerMinute);
        decision = d.granted ? { granted: true } : { granted: false, retryAt: new Date(d.retryAt) };
        return d.granted ? d.next : undefined;
      });
      // The window's margin covers the way from the grant to TeamViewer. A grant whose write
      // took longer (a slow or contended row) is recorded too early to keep that promise: its
      // slot stays spent, and the call asks again, or waits like any call without room.
      if (!decision!.granted || this.#clock.now().getTime() - grantedAt <= staleGrantMs) return decision!;
      if (attempt + 1 >= maxStaleGrants) return { granted: false, retryAt: new Date(this.#clock.now().getTime() + 1_000) };
    }
  }

  async blockUntil(tenantId: string, until: Date): Promise<void> {
    await this.#change(tenantId, (state) => (state.blockedUntil >= until.getTime() ? undefined : block(state, until.getTime())));
  }

  /** Runs `#changeNow` after this instance's earlier changes of the tenant's row. */
  async #change(tenantId: string, change: (state: WindowState) => WindowState | undefined): Promise<void> {
    const previous = this.#queues.get(tenantId) ?? Promise.resolve();
    const mine = previous.then(() => this.#changeNow(tenantId, change));
    const tail = mine.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(tenantId, tail);
    try {
      await mine;
    } finally {
      if (this.#queues.get(tenantId) === tail) this.#queues.delete(tenantId);
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
