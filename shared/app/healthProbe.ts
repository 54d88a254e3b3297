// Reachability of the app's dependencies, probed at most once per `maxAgeMs` per instance:
// GET /api/health is anonymous, so its callers must not be able to turn it into Key Vault,
// Service Bus and Table traffic. Callers that arrive while a probe runs share it.
import type { Clock } from "./clock.js";

export interface DependencyStatus {
  readonly status: "up" | "down";
  readonly durationMs: number;
  readonly error?: string;
}

export interface HealthReport {
  readonly healthy: boolean;
  /** When the probe this report comes from started. */
  readonly checkedAt: string;
  readonly dependencies: { readonly tables: DependencyStatus; readonly serviceBus: DependencyStatus; readonly keyVault: DependencyStatus };
}

export interface HealthDependencies {
  readonly tables: () => Promise<void>;
  readonly serviceBus: () => Promise<void>;
  readonly keyVault: () => Promise<void>;
}

export const healthProbeMaxAgeMs = 10_000;
const dependencyTimeoutMs = 5_000;

async function probe(check: () => Promise<void>): Promise<DependencyStatus> {
  // Durations are wall time on purpose: they measure the probe, not the app's clock.
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${dependencyTimeoutMs} ms`)), dependencyTimeoutMs);
        timer.unref();
      }),
    ]);
    return { status: "up", durationMs: Math.round(performance.now() - started) };
  } catch (e) {
    // Only the error's kind and first line: dependency errors can quote connection details.
    const message = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0].slice(0, 200)}` : "unreachable";
    return { status: "down", durationMs: Math.round(performance.now() - started), error: message };
  } finally {
    clearTimeout(timer);
  }
}

export class HealthProbe {
  readonly #deps: HealthDependencies;
  readonly #clock: Clock;
  readonly #maxAgeMs: number;
  #last: { readonly at: number; readonly report: Promise<HealthReport> } | undefined;

  constructor(deps: HealthDependencies, clock: Clock, maxAgeMs = healthProbeMaxAgeMs) {
    this.#deps = deps;
    this.#clock = clock;
    this.#maxAgeMs = maxAgeMs;
  }

  /** The latest report, probing again only when it is older than `maxAgeMs` (an in-flight probe is shared). */
  report(): Promise<HealthReport> {
    const now = this.#clock.now().getTime();
    const last = this.#last;
    if (last && now - last.at < this.#maxAgeMs && now >= last.at) return last.report;
    const report = this.#probe(now);
    this.#last = { at: now, report };
    return report;
  }

  async #probe(at: number): Promise<HealthReport> {
    const [tables, serviceBus, keyVault] = await Promise.all([probe(this.#deps.tables), probe(this.#deps.serviceBus), probe(this.#deps.keyVault)]);
    return {
      healthy: [tables, serviceBus, keyVault].every((d) => d.status === "up"),
      checkedAt: new Date(at).toISOString(),
      dependencies: { tables, serviceBus, keyVault },
    };
  }
}
