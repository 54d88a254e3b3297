// Fault points read from a JSON file named by LOCAL_FAULTS_FILE (local stack only; the
// config refuses it elsewhere). Tests write the file to crash a handler on purpose at a
// named point, for a fraction of calls, optionally only for one tenant:
//   { "sessionWorker.afterTeamViewerCreate": { "rate": 0.2, "tenantId": "…", "max": 50 } }
// A missing or unreadable file means no faults. The file is re-read when it changes.
import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { SimulatedCrash, faultPointNames, type FaultPointContext, type FaultPointName, type FaultPoints } from "../../app/sessions/ports.js";

const ruleSchema = z.object({
  /** Fraction of calls that crash, 0–1. */
  rate: z.number().min(0).max(1),
  /** Only calls about this tenant. */
  tenantId: z.string().optional(),
  /** Only calls about this session. */
  sessionId: z.string().optional(),
  /** Stop after this many crashes (per process). */
  max: z.number().int().min(0).optional(),
});
const fileSchema = z.partialRecord(z.enum(Object.values(faultPointNames) as [FaultPointName, ...FaultPointName[]]), ruleSchema);
type FaultFile = z.output<typeof fileSchema>;

export class FileFaultPoints implements FaultPoints {
  readonly #file: string;
  readonly #random: () => number;
  readonly #crashes = new Map<string, number>();
  #cached: { mtimeMs: number; rules: FaultFile } | undefined;

  constructor(file: string, random: () => number = Math.random) {
    this.#file = file;
    this.#random = random;
  }

  async hit(point: FaultPointName, context: FaultPointContext): Promise<void> {
    const rule = (await this.#rules())[point];
    if (!rule) return;
    if (rule.tenantId !== undefined && rule.tenantId !== context.tenantId) return;
    if (rule.sessionId !== undefined && rule.sessionId !== context.sessionId) return;
    // Counted per rule version, so rewriting the file starts a fresh budget.
    const budgetKey = `${this.#cached?.mtimeMs ?? 0}|${point}`;
    const crashed = this.#crashes.get(budgetKey) ?? 0;
    if (rule.max !== undefined && crashed >= rule.max) return;
    if (this.#random() >= rule.rate) return;
    this.#crashes.set(budgetKey, crashed + 1);
    throw new SimulatedCrash(point);
  }

  async #rules(): Promise<FaultFile> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.#file)).mtimeMs;
    } catch {
      this.#cached = undefined;
      return {};
    }
    if (this.#cached?.mtimeMs === mtimeMs) return this.#cached.rules;
    try {
      const parsed = fileSchema.safeParse(JSON.parse(await readFile(this.#file, "utf8")));
      this.#cached = { mtimeMs, rules: parsed.success ? parsed.data : {} };
    } catch {
      this.#cached = { mtimeMs, rules: {} };
    }
    return this.#cached.rules;
  }
}

/** Production: no fault point ever fires. */
export const noFaultPoints: FaultPoints = { hit: () => Promise.resolve() };
