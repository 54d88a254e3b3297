// The TeamViewer quota limiter in Table storage: table `quotas`, partition = tenant, row
// `teamviewer`, holding the sliding log of the tenant's last calls (slidingWindow.ts). Every
// instance reads it and writes it back etag-guarded; a lost race (412, or 409 on the first
// write) reads again and decides again, so two instances can never both take the last slot.
// Within one instance the changes of a tenant's row are made one after the other, so an
// instance's own concurrent handlers queue up here instead of racing each other on the row.
// The instance keeps the row as it last read or wrote it, with its etag, and decides on that
// copy first: while no other instance wrote since, a call costs one write and no read; when
// one did, the write fails on the etag (412) and the row is read again, as in any lost race.
import type { TableClient } from "@azure/data-tables";
import type { Clock } from "../../app/clock.js";
import { Contended } from "../../app/contention.js";
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
  /** Per tenant, the row as this instance last read or wrote it (a hint: every write is etag-guarded). */
  readonly #known = new Map<string, { readonly state: WindowState; readonly etag: string }>();

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
      // The first try decides on this instance's copy; a lost race always reads.
      const current = (attempt === 0 ? this.#known.get(tenantId) : undefined) ?? (await this.#read(tenantId));
      // A "no room" decided on the copy is safe: other instances only ever add calls and blocks.
      const next = change(current?.state ?? emptyWindow);
      if (!next) return;
      const { base, log } = encodeTimes(next.times);
      const entity = { partitionKey: tenantId, rowKey: row, base, log, blockedUntil: next.blockedUntil };
      try {
        const written = current ? await this.#table.updateEntity(entity, "Replace", { etag: current.etag }) : await this.#table.createEntity(entity);
        if (written.etag) this.#known.set(tenantId, { state: next, etag: written.etag });
        else this.#known.delete(tenantId);
        return;
      } catch (err) {
        this.#known.delete(tenantId);
        if (!(isStatus(err, 412) || isStatus(err, 409) || isStatus(err, 404))) throw err;
      }
      // Spread the racers out a little, more after each loss.
      await sleep(Math.floor(this.#random() * Math.min(200, 10 * (attempt + 1))));
    }
    // Transient: the message is redelivered; an HTTP caller gets 429 with Retry-After, not a 500.
    throw new Contended(`the TeamViewer quota row of tenant ${tenantId}`, maxAttempts);
  }

  /** The row as stored now (undefined before the tenant's first call), remembered as this instance's copy. */
  async #read(tenantId: string): Promise<{ readonly state: WindowState; readonly etag: string } | undefined> {
    const e = await getOrUndefined<QuotaEntity>(this.#table, tenantId, row);
    if (!e?.etag) {
      this.#known.delete(tenantId);
      return undefined;
    }
    const read = { state: { times: decodeTimes(Number(e.base), String(e.log ?? "")), blockedUntil: Number(e.blockedUntil ?? 0) }, etag: e.etag };
    this.#known.set(tenantId, read);
    return read;
  }
}
