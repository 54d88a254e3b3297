// The tenant's TeamViewer token lease: the one lease row that decides, across instances,
// who refreshes or replaces a tenant's token. Renewed every third of its length for as
// long as its work runs, released afterwards.
import { randomUUID } from "node:crypto";
import type { Logger } from "../logging.js";
import type { Lease, LeaseStore } from "./ports.js";

export const refreshLeaseName = "teamviewer-refresh";

export interface TokenLeaseOptions {
  readonly leases: LeaseStore;
  readonly log: Logger;
  /** How long the lease lasts if its holder dies. */
  readonly leaseMs: number;
  /** Identifies this instance in lease owners (each acquisition adds a unique suffix). */
  readonly instanceId: string;
}

export class TokenLease {
  readonly #leases: LeaseStore;
  readonly #log: Logger;
  readonly #leaseMs: number;
  readonly #instanceId: string;

  constructor(options: TokenLeaseOptions) {
    this.#leases = options.leases;
    this.#log = options.log;
    this.#leaseMs = options.leaseMs;
    this.#instanceId = options.instanceId;
  }

  /** The lease, or undefined while another flow holds it. */
  async tryTake(tenantId: string): Promise<Lease | undefined> {
    // A fresh owner per acquisition: two flows of one instance never share a lease.
    return this.#leases.tryAcquire(tenantId, refreshLeaseName, `${this.#instanceId}/${randomUUID()}`, this.#leaseMs);
  }

  /** Runs `work` while renewing the lease every third of its length; releases it afterwards. */
  async holding<T>(tenantId: string, lease: Lease, work: (lost: () => boolean) => Promise<T>): Promise<T> {
    let lost = false;
    const renew = (): void => {
      this.#leases.renew(tenantId, refreshLeaseName, lease.owner, lease.fence, this.#leaseMs).then(
        (held) => {
          if (!held) lost = true;
        },
        (e: unknown) => this.#log.warn("could not renew the TeamViewer token lease", { tenantId, error: e instanceof Error ? e.message : String(e) }),
      );
    };
    const timer = setInterval(renew, Math.max(1, Math.floor(this.#leaseMs / 3)));
    timer.unref();
    try {
      return await work(() => lost);
    } finally {
      clearInterval(timer);
      await this.#leases.release(tenantId, refreshLeaseName, lease.owner, lease.fence).catch((e: unknown) => {
        // It expires by itself within leaseMs; others only wait that long.
        this.#log.warn("could not release the TeamViewer token lease", { tenantId, error: e instanceof Error ? e.message : String(e) });
      });
    }
  }
}
