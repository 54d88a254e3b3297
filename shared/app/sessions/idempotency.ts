// Idempotency-Key handling in the powertools way: a record per (caller, key) that is
// INPROGRESS while the request runs and COMPLETED with the session id after; EXPIRED is a
// record past its expiry. Same key + same payload → the same session; same key + another
// payload → 409 conflict; same key while the first is still running → 409 conflict.
import { createHash } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import { conflict } from "../../domain/errors.js";
import { idempotencyStatuses, type IdempotencyRecord, type IdempotencyStore } from "./ports.js";

/** How long a completed key keeps answering with its session. */
export const idempotencyRecordTtlMs = 24 * 60 * 60 * 1000;
/** After this an INPROGRESS record is presumed abandoned (its request crashed) and may be taken over. */
export const idempotencyInProgressTtlMs = 60 * 1000;

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

export type IdempotentOutcome = { readonly kind: "fresh"; readonly sessionId: string } | { readonly kind: "replayed"; readonly sessionId: string };

export class Idempotency {
  readonly #store: IdempotencyStore;
  readonly #clock: Clock;
  readonly #log: Logger;

  constructor(deps: { store: IdempotencyStore; clock: Clock; log: Logger }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#log = deps.log;
  }

  /**
   * Runs `work` once per (caller, key, payload). `work` answers the session id it created;
   * if it throws, the record is deleted so the client may retry with the same key.
   */
  async run(tenantId: string, callerId: string, key: string, payload: unknown, work: () => Promise<string>): Promise<IdempotentOutcome> {
    // The caller is part of the key: two admins who happen to pick the same key do not collide.
    const recordKey = sha256(`${callerId}\n${key}`);
    const payloadHash = sha256(JSON.stringify(payload));
    const etag = await this.#begin(tenantId, recordKey, payloadHash);
    if (etag.kind === "replayed") return etag;
    let sessionId: string;
    try {
      sessionId = await work();
    } catch (e) {
      await this.#store.delete(tenantId, recordKey).catch((deleteError: unknown) => {
        // The request's own error is what the caller gets; the key frees itself when the record's in-progress time runs out.
        this.#log.warn("could not delete the Idempotency-Key record of a failed request; the key is busy until its in-progress time ends", {
          tenantId,
          error: deleteError instanceof Error ? deleteError.message : String(deleteError),
        });
      });
      throw e;
    }
    const now = this.#clock.now().getTime();
    const completed: IdempotencyRecord = {
      status: idempotencyStatuses.completed,
      payloadHash,
      expiresAt: now + idempotencyRecordTtlMs,
      inProgressExpiresAt: now,
      sessionId,
    };
    // Losing this race means our INPROGRESS record was presumed abandoned and taken over:
    // the session exists either way, and the taker will record its own.
    await this.#store.replace(tenantId, recordKey, completed, etag.etag);
    return { kind: "fresh", sessionId };
  }

  async #begin(tenantId: string, recordKey: string, payloadHash: string): Promise<{ kind: "begun"; etag: string } | { kind: "replayed"; sessionId: string }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.#clock.now().getTime();
      const inProgress: IdempotencyRecord = {
        status: idempotencyStatuses.inProgress,
        payloadHash,
        expiresAt: now + idempotencyRecordTtlMs,
        inProgressExpiresAt: now + idempotencyInProgressTtlMs,
      };
      const created = await this.#store.tryCreate(tenantId, recordKey, inProgress);
      if (created) return { kind: "begun", etag: created };

      const existing = await this.#store.get(tenantId, recordKey);
      if (!existing) continue; // deleted in between (a failed request): try again
      const r = existing.record;
      const expired = r.expiresAt <= now || (r.status === idempotencyStatuses.inProgress && r.inProgressExpiresAt <= now);
      if (expired) {
        const taken = await this.#store.replace(tenantId, recordKey, inProgress, existing.etag);
        if (taken) return { kind: "begun", etag: taken };
        continue; // someone else took it over first: look again
      }
      if (r.payloadHash !== payloadHash) {
        throw conflict("This Idempotency-Key was already used with a different request. Use a new key for a new request.");
      }
      if (r.status === idempotencyStatuses.completed && r.sessionId) return { kind: "replayed", sessionId: r.sessionId };
      throw conflict("A request with this Idempotency-Key is still being processed. Retry in a few seconds.");
    }
    throw conflict("A request with this Idempotency-Key is being processed concurrently. Retry in a few seconds.");
  }
}
