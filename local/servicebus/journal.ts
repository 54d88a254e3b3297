// Append-only JSON-lines journal of the broker's state changes. Replayed on start and then rewritten
// as a snapshot, so the file only holds live state plus the traffic since the last start.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const entity = z.string().min(1);
const seq = z.number().int().nonnegative();
const messageState = z.enum(["active", "deferred", "scheduled"]);

/** Field names are short because a busy queue writes several records per message. */
export const journalRecordSchema = z.discriminatedUnion("t", [
  // The whole message: raw = base64 of the client's bytes; tok/u = lock token and locked-until.
  z.object({
    t: z.literal("put"),
    e: entity,
    s: seq,
    raw: z.string(),
    st: messageState,
    at: z.number(),
    x: z.number().nullable(),
    sch: z.number().nullable(),
    d: z.number().int().nonnegative(),
    dls: z.string().nullable(),
    tok: z.string().nullable(),
    u: z.number().nullable(),
  }),
  z.object({ t: z.literal("lock"), e: entity, s: seq, tok: z.string(), u: z.number(), d: z.number().int().nonnegative() }),
  z.object({ t: z.literal("unlock"), e: entity, s: seq }),
  z.object({ t: z.literal("state"), e: entity, s: seq, st: messageState, at: z.number(), x: z.number().nullable() }),
  z.object({ t: z.literal("del"), e: entity, s: seq }),
  // A message id seen by duplicate detection, remembered until u; s = the sequence number it got.
  z.object({ t: z.literal("dup"), e: entity, id: z.string(), u: z.number(), s: seq }),
  z.object({ t: z.literal("seq"), e: entity, s: seq }),
]);
export type JournalRecord = z.infer<typeof journalRecordSchema>;

/** Where the broker writes its changes; the in-memory emulator uses `noJournal`. */
export interface Journal {
  append(records: readonly JournalRecord[]): void;
  /** Replaces the journal's content with `snapshot`, atomically. */
  compact(snapshot: Iterable<JournalRecord>): void;
  readonly appendedSinceCompaction: number;
  close(): void;
}

export const noJournal: Journal = {
  append: () => undefined,
  compact: () => undefined,
  appendedSinceCompaction: 0,
  close: () => undefined,
};

const fileName = "journal.jsonl";

/**
 * Each append is one synchronous write, done before the client hears "accepted", so a crashed
 * process loses nothing it acknowledged (a crashed machine may: there is no fsync per write).
 */
export class FileJournal implements Journal {
  readonly #path: string;
  #fd: number | undefined;
  #appended = 0;

  private constructor(path: string) {
    this.#path = path;
    this.#fd = openSync(path, "a");
  }

  /** Opens (creating if needed) the journal in `dir` and returns what it already holds. */
  static open(dir: string, log: (line: string) => void): { journal: FileJournal; records: JournalRecord[] } {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, fileName);
    const records: JournalRecord[] = [];
    if (existsSync(path)) {
      const lines = readFileSync(path, "utf8").split("\n");
      lines.forEach((line, i) => {
        if (line.trim() === "") return;
        const parsed = safeJson(line);
        const result = journalRecordSchema.safeParse(parsed);
        if (result.success) records.push(result.data);
        // A torn last line is what a crash mid-write leaves; anything else is worth a louder note.
        else log(`journal ${path}:${i + 1}: skipped unreadable record${i === lines.length - 1 ? " (torn final write)" : ""}`);
      });
    }
    return { journal: new FileJournal(path), records };
  }

  get appendedSinceCompaction(): number {
    return this.#appended;
  }

  append(records: readonly JournalRecord[]): void {
    if (records.length === 0 || this.#fd === undefined) return;
    writeSync(this.#fd, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    this.#appended += records.length;
  }

  compact(snapshot: Iterable<JournalRecord>): void {
    if (this.#fd === undefined) return;
    const tmp = `${this.#path}.tmp`;
    const fd = openSync(tmp, "w");
    try {
      let chunk: string[] = [];
      let size = 0;
      for (const record of snapshot) {
        const line = JSON.stringify(record);
        chunk.push(line);
        size += line.length;
        if (size > 1 << 20) {
          writeSync(fd, chunk.join("\n") + "\n");
          chunk = [];
          size = 0;
        }
      }
      if (chunk.length > 0) writeSync(fd, chunk.join("\n") + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    closeSync(this.#fd);
    renameSync(tmp, this.#path);
    this.#fd = openSync(this.#path, "a");
    this.#appended = 0;
  }

  close(): void {
    if (this.#fd === undefined) return;
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}
