// GET /api/health (anonymous): liveness plus reachability of Tables, Service Bus and Key Vault.
import { z } from "zod";
import type { FunctionDefinition } from "./definition.js";
import { endpoint } from "./http/endpoint.js";

const dependencyTimeoutMs = 5_000;

async function probe(check: () => Promise<void>): Promise<{ status: "up" | "down"; durationMs: number; error?: string }> {
  const started = Date.now();
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${dependencyTimeoutMs} ms`)), dependencyTimeoutMs).unref()),
    ]);
    return { status: "up", durationMs: Date.now() - started };
  } catch (e) {
    // Only the error's kind and first line: dependency errors can quote connection details.
    const message = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0].slice(0, 200)}` : "unreachable";
    return { status: "down", durationMs: Date.now() - started, error: message };
  }
}

const dependency = z.object({ status: z.enum(["up", "down"]), durationMs: z.number(), error: z.string().optional() });
export const healthResponseSchema = z.object({
  status: z.enum(["healthy", "unhealthy"]),
  checkedAt: z.string(),
  dependencies: z.object({ tables: dependency, serviceBus: dependency, keyVault: dependency }),
});

export const healthFunctions: FunctionDefinition[] = [
  endpoint({
    name: "health",
    method: "GET",
    route: "health",
    summary: "Liveness and reachability of Tables, Service Bus and Key Vault",
    tag: "Operations",
    authenticated: false,
    access: "anonymous",
    skipStorageInit: true,
    responses: {
      200: { description: "Every dependency is reachable", schema: healthResponseSchema },
      503: { description: "At least one dependency is down", schema: healthResponseSchema },
    },
    handle: async ({ services }) => {
      const [tables, serviceBus, keyVault] = await Promise.all([
        probe(() => services.tables.ping()),
        probe(() => services.bus.ping()),
        probe(() => services.secrets.ping()),
      ]);
      const healthy = [tables, serviceBus, keyVault].every((d) => d.status === "up");
      return {
        status: healthy ? 200 : 503,
        body: { status: healthy ? "healthy" : "unhealthy", checkedAt: services.clock.now().toISOString(), dependencies: { tables, serviceBus, keyVault } },
      };
    },
  }),
];
