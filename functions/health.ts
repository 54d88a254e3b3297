// GET /api/health (anonymous): liveness plus reachability of Tables, Service Bus and Key Vault,
// from a probe made at most once per 10 seconds per instance (`checkedAt` says when).
import { z } from "zod";
import type { FunctionDefinition } from "./definition.js";
import { endpoint } from "./http/endpoint.js";

const dependency = z.object({ status: z.enum(["up", "down"]), durationMs: z.number(), error: z.string().optional() });
export const healthResponseSchema = z.object({
  status: z.enum(["healthy", "unhealthy"]),
  /** When the dependencies were probed (up to 10 s before the answer). */
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
      200: { description: "Every dependency is reachable (as of checkedAt, at most 10 s ago)", schema: healthResponseSchema },
      503: { description: "At least one dependency is down", schema: healthResponseSchema },
    },
    handle: async ({ services }) => {
      const { healthy, checkedAt, dependencies } = await services.health.report();
      return { status: healthy ? 200 : 503, body: { status: healthy ? "healthy" : "unhealthy", checkedAt, dependencies } };
    },
  }),
];
