// GET /api/openapi.json (anonymous): the OpenAPI 3.1 document, generated from the same
// zod schemas that validate requests and describe responses.
import { z } from "zod";
import type { FunctionDefinition } from "./definition.js";
import { endpoint, endpointDescriptions, type EndpointDescription } from "./http/endpoint.js";
import { problemSchema } from "../shared/contracts/common.js";

type JsonSchema = Record<string, unknown>;

const toSchema = (schema: z.ZodType, io: "input" | "output"): JsonSchema => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
};

function parameters(d: EndpointDescription): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, schema] of [["path", d.params], ["query", d.query]] as const) {
    if (!schema) continue;
    const json = toSchema(schema, "input") as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, prop] of Object.entries(json.properties ?? {})) {
      out.push({ name, in: where, required: where === "path" || (json.required ?? []).includes(name), schema: prop });
    }
  }
  return out;
}

const problem = (description: string): JsonSchema => ({ description, content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } });

function operation(d: EndpointDescription): JsonSchema {
  const responses: JsonSchema = {};
  for (const [status, r] of Object.entries(d.responses)) {
    const isProblem = r.schema === problemSchema;
    responses[status] = isProblem
      ? problem(r.description)
      : r.schema
        ? { description: r.description, content: { "application/json": { schema: toSchema(r.schema, "output") } } }
        : { description: r.description };
  }
  responses["400"] ??= problem("The request is not valid (validationFailed)");
  if (d.params) responses["404"] ??= problem("Nothing exists under this id (notFound)");
  if (d.authenticated) responses["401"] ??= problem("No valid bearer token (unauthenticated)");
  // Every endpoint is rate limited by the endpoint builder (per caller, or per client address).
  responses["429"] ??= problem("Too many requests (rateLimited); the Retry-After header says in how many seconds to try again");
  responses["500"] ??= problem("Unexpected error (internal)");
  return {
    operationId: d.name,
    summary: d.summary,
    tags: [d.tag],
    "x-access": d.access,
    ...(d.authenticated ? {} : { security: [] }),
    parameters: [...parameters(d), { name: "x-correlation-id", in: "header", required: false, schema: { type: "string", pattern: "^[A-Za-z0-9._:-]{8,128}$" } }],
    ...(d.body ? { requestBody: { required: true, content: { "application/json": { schema: toSchema(d.body, "input") } } } } : {}),
    responses,
  };
}

export function buildOpenApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const d of endpointDescriptions()) {
    const path = `/api/${d.route}`;
    paths[path] ??= {};
    paths[path][d.method.toLowerCase()] = operation(d);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Remote Assistance Connector",
      version: "1.0.0",
      description: "Remote assistance sessions through TeamViewer for managed devices. Errors are application/problem+json.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: { Problem: toSchema(problemSchema, "output") },
    },
  };
}

export const openApiFunctions: FunctionDefinition[] = [
  endpoint({
    name: "openapi",
    method: "GET",
    route: "openapi.json",
    summary: "This OpenAPI 3.1 document",
    tag: "Operations",
    authenticated: false,
    access: "anonymous",
    skipStorageInit: true,
    responses: { 200: { description: "The OpenAPI document" } },
    handle: async () => ({ status: 200, body: buildOpenApiDocument() }),
  }),
];
