// Any path under /api that no endpoint serves, or a method its path does not take: a 404 in
// application/problem+json like every other refusal, naming the methods the path does take,
// instead of the host's empty 404. The route is a catch-all, which ASP.NET routing (the
// Functions host's, and the local host's) tries after every other template, so it never
// shadows an endpoint. OPTIONS is left to the platform's CORS handling.
// It is no endpoint of the API (not in the OpenAPI document); its answers spend the client
// address's budget, as every anonymous request does.
import { randomUUID } from "node:crypto";
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { DomainError, errorCodes, rateLimited } from "../shared/domain/errors.js";
import { http, type FunctionDefinition } from "./definition.js";
import { clientAddress } from "./http/clientAddress.js";
import { endpointDescriptions } from "./http/endpoint.js";
import { problemResponse } from "./http/problem.js";
import { services } from "./runtime.js";

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;

/** Whether a route template (`sessions/{sessionId}/close`) names this path; literals match as ASP.NET's do, ignoring case. */
function routeMatches(route: string, segments: readonly string[]): boolean {
  const parts = route.split("/");
  return parts.length === segments.length && parts.every((p, i) => (p.startsWith("{") ? segments[i] !== "" : p.toLowerCase() === segments[i].toLowerCase()));
}

/** The methods the endpoints at this path (below /api/) take, in a stable order. */
export function methodsAt(path: string): string[] {
  const segments = path.replace(/\/+$/, "").split("/");
  const found = new Set(endpointDescriptions().flatMap((d) => (routeMatches(d.route, segments) ? [d.method] : [])));
  return [...found].sort();
}

function answer(req: HttpRequest): HttpResponseInit {
  const correlationId = randomUUID();
  const decision = services().rateLimits.addresses.take(clientAddress(req.headers));
  if (!decision.allowed) {
    const error = rateLimited(`Too many requests from this address. Try again in ${decision.retryAfterSeconds} s.`, decision.retryAfterSeconds);
    return problemResponse(error, correlationId);
  }
  const path = new URL(req.url).pathname.replace(/^\/api\/?/i, "");
  const served = methodsAt(path);
  const detail =
    served.length > 0
      ? `This path does not take ${req.method}; it takes ${served.join(", ")}.`
      : "No endpoint has this path. The API's endpoints are listed at /api/openapi.json.";
  const response = problemResponse(new DomainError(errorCodes.notFound, detail), correlationId);
  // A HEAD answer has no body.
  return req.method === "HEAD" ? { status: response.status, headers: response.headers } : response;
}

export const noSuchEndpointFunctions: FunctionDefinition[] = [
  http("noSuchEndpoint", {
    methods: [...methods],
    authLevel: "anonymous",
    route: "{*path}",
    handler: (req: HttpRequest): Promise<HttpResponseInit> => Promise.resolve(answer(req)),
  }),
];
