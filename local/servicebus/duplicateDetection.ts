// Duplicate detection for one queue: the message ids it has accepted, each remembered (with the
// sequence number it got) until the queue's duplicate-detection window closes.
import type { JournalRecord } from "./journal.js";

export class DuplicateHistory {
  readonly #key: string;
  /** message id → when it may be sent again, in insertion (and so expiry) order. */
  readonly #seen = new Map<string, { until: number; seq: number }>();

  /** `key` is the entity's journal key. */
  constructor(key: string) {
    this.#key = key;
  }

  /** The sequence number `id` got, while a resend of it still counts as a duplicate. */
  duplicateOf(id: string, now: number): number | undefined {
    this.prune(now);
    const seen = this.#seen.get(id);
    return seen && seen.until > now ? seen.seq : undefined;
  }

  /** Remembers an accepted id until `until`; returns the journal record that says so. */
  remember(id: string, until: number, seq: number): JournalRecord {
    this.#seen.set(id, { until, seq });
    return { t: "dup", e: this.#key, id, u: until, s: seq };
  }

  /** Journal replay: the newest record for an id wins and moves it to the end, keeping expiry order. */
  restore(id: string, until: number, seq: number): void {
    this.#seen.delete(id);
    this.#seen.set(id, { until, seq });
  }

  prune(now: number): void {
    for (const [id, { until }] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(id);
    }
  }

  *snapshot(): Generator<JournalRecord> {
    for (const [id, { until, seq }] of this.#seen) yield { t: "dup", e: this.#key, id, u: until, s: seq };
  }
}
