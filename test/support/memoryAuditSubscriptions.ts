// Audit push subscriptions and Key Vault in memory, behaving as the Table store and the
// vault do where the push depends on it: etag-guarded replace and delete, outcomes kept
// per secret version, Key Vault names without regard to case. `pause` lets a test hold an
// operation at its start, to interleave two requests exactly as a race would.
import type { SubscriptionSecrets } from "../../shared/app/audit/auditPush.js";
import type { AuditSubscriptionStore, NewSubscription, StoredSubscription } from "../../shared/app/audit/auditSubscriptionPorts.js";

type Row = Omit<StoredSubscription, "lastDeliveredAt" | "lastError">;
interface Status {
  lastDeliveredAt?: string;
  deliveredVersion?: string;
  lastError?: { message: string; at: string };
  errorVersion?: string;
}

/** Resolves when the test lets the paused operation go on. */
export type Pause = (operation: string) => Promise<void>;

export class MemoryAuditSubscriptionStore implements AuditSubscriptionStore {
  readonly #rows = new Map<string, Row>();
  readonly #status = new Map<string, Status>();
  #etags = 0;
  pause: Pause = async () => Promise.resolve();

  async list(tenantId: string): Promise<StoredSubscription[]> {
    await this.pause("list");
    return [...this.#rows.entries()].filter(([k]) => k.startsWith(`${tenantId}|`)).map(([k]) => this.#stored(k)!);
  }

  async get(tenantId: string, id: string): Promise<StoredSubscription | undefined> {
    await this.pause("get");
    return this.#stored(`${tenantId}|${id}`);
  }

  async create(tenantId: string, sub: NewSubscription, limit: number): Promise<"created" | "exists" | "limit"> {
    await this.pause("create");
    if (this.#rows.has(`${tenantId}|${sub.id}`)) return "exists";
    if ((await this.list(tenantId)).length >= limit) return "limit";
    this.#rows.set(`${tenantId}|${sub.id}`, { ...sub, cursor: 0, etag: this.#etag() });
    return "created";
  }

  async replace(tenantId: string, current: StoredSubscription, change: { url: string; secretVersion: string }): Promise<boolean> {
    await this.pause("replace");
    const key = `${tenantId}|${current.id}`;
    const row = this.#rows.get(key);
    if (!row || row.etag !== current.etag) return false;
    this.#rows.set(key, { ...row, ...change, etag: this.#etag() });
    this.#status.delete(key);
    return true;
  }

  async delete(tenantId: string, id: string): Promise<{ secretVersion: string } | undefined> {
    await this.pause("delete");
    const key = `${tenantId}|${id}`;
    const row = this.#rows.get(key);
    if (!row) return undefined;
    this.#rows.delete(key);
    this.#status.delete(key);
    return { secretVersion: row.secretVersion };
  }

  async advanceCursor(tenantId: string, current: StoredSubscription, cursor: number): Promise<string | undefined> {
    await this.pause("advanceCursor");
    const key = `${tenantId}|${current.id}`;
    const row = this.#rows.get(key);
    if (!row || row.etag !== current.etag) return undefined;
    const etag = this.#etag();
    this.#rows.set(key, { ...row, cursor, etag });
    return etag;
  }

  async recordOutcome(
    tenantId: string,
    sub: Pick<StoredSubscription, "id" | "secretVersion">,
    outcome: { deliveredAt: string } | { error: { message: string; at: string } },
  ): Promise<void> {
    await this.pause("recordOutcome");
    const key = `${tenantId}|${sub.id}`;
    const status = this.#status.get(key) ?? {};
    this.#status.set(
      key,
      "deliveredAt" in outcome
        ? { ...status, lastDeliveredAt: outcome.deliveredAt, deliveredVersion: sub.secretVersion }
        : { ...status, lastError: outcome.error, errorVersion: sub.secretVersion },
    );
  }

  async tenants(): Promise<string[]> {
    await Promise.resolve();
    return [...new Set([...this.#rows.keys()].map((k) => k.split("|")[0]!))];
  }

  #stored(key: string): StoredSubscription | undefined {
    const row = this.#rows.get(key);
    if (!row) return undefined;
    const status = this.#status.get(key) ?? {};
    const delivered = status.deliveredVersion === row.secretVersion ? (status.lastDeliveredAt ?? null) : null;
    const superseded = delivered !== null && status.lastError !== undefined && Date.parse(status.lastError.at) < Date.parse(delivered);
    const error = status.errorVersion === row.secretVersion && !superseded ? (status.lastError ?? null) : null;
    return { ...row, lastDeliveredAt: delivered, lastError: error };
  }

  #etag(): string {
    return `e${++this.#etags}`;
  }
}

/** Key Vault as the push uses it: names without regard to case; `pause` holds an operation at its start. */
export class MemoryVault implements SubscriptionSecrets {
  readonly #values = new Map<string, string>();
  pause: Pause = async () => Promise.resolve();

  async get(name: string): Promise<string | undefined> {
    await this.pause("get");
    return this.#values.get(name.toLowerCase());
  }

  async set(name: string, value: string): Promise<void> {
    await this.pause("set");
    this.#values.set(name.toLowerCase(), value);
  }

  async remove(name: string): Promise<void> {
    await this.pause("remove");
    this.#values.delete(name.toLowerCase());
  }

  get size(): number {
    return this.#values.size;
  }
}

/** A gate a paused operation waits at: `reached` resolves when it gets there, `open()` lets it go on. */
export function gate(): { reached: Promise<void>; wait: () => Promise<void>; open: () => void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const opened = new Promise<void>((r) => (release = r));
  return {
    reached,
    wait: async () => {
      arrive();
      await opened;
    },
    open: () => release(),
  };
}
