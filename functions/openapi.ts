// GET /api/openapi.json (anonymous): the OpenAPI 3.1 document, generated from the same
// zod schemas that validate requests and describe responses.
import { z } from "zod";
import type { FunctionDefinition } from "./definition.js";
import { endpoint, endpointDescriptions, type EndpointDescription } from "./http/endpoint.js";
import { problemSchema } from "../shared/contracts/common.js";
import { idempotencyKeySchema } from "../shared/contracts/sessions.js";

type JsonSchema = Record<string, unknown>;

const toSchema = (schema: z.ZodType, io: "input" | "output"): JsonSchema => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
};

function parameters(d: EndpointDescription): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, schema] of [
    ["path", d.params],
    ["query", d.query],
  ] as const) {
    if (!schema) continue;
    const json = toSchema(schema, "input") as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, prop] of Object.entries(json.properties ?? {})) {
      out.push({ name, in: where, required: where === "path" || (json.required ?? []).includes(name), schema: prop });
    }
  }
  return out;
}

const problem = (description: string): JsonSchema => ({
  description,
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});

/** Operations that honour an Idempotency-Key request header (same key + same body = same answer). */
const idempotentOperations: ReadonlySet<string> = new Set(["requestSession"]);

const headerSchemas = {
  location: { description: "Where the created or accepted resource can be read", schema: { type: "string" } },
  retryAfter: { description: "Whole seconds to wait before trying again (at least 1)", schema: { type: "integer", minimum: 1 } },
  correlationId: { description: "The request's correlation id (the caller's x-correlation-id, or a new one)", schema: { type: "string" } },
} as const;

/**
 * The problem members the API sends beyond RFC 9457's: declared so clients know them, and
 * any other member allowed, so a strict client never rejects a problem for carrying one.
 */
function problemComponent(): JsonSchema {
  const base = toSchema(problemSchema, "output") as { properties?: Record<string, JsonSchema> };
  return {
    ...base,
    properties: {
      ...base.properties,
      reason: { type: "string", description: "Why, for deviceNotEligible and similar refusals (a stable code)" },
      warnings: { type: "array", items: {}, description: "Non-fatal remarks about the request" },
      existingSessionId: { type: "string", description: "The open session that conflicts with this request" },
      currentStatus: { type: "string", description: "The session's status, for a conflict with it (an action its status does not allow)" },
      retryAfterSeconds: { type: "integer", minimum: 1, description: "As the Retry-After header, for rateLimited" },
    },
    additionalProperties: true,
  };
}

/** A small example value that satisfies a JSON schema (first enum/const, minimal strings and arrays). */
function exampleOf(schema: JsonSchema, depth = 0): unknown {
  if (depth > 8) return null;
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if ("default" in schema && schema.default !== undefined) return schema.default;
  for (const k of ["anyOf", "oneOf"] as const) {
    const options = schema[k];
    if (Array.isArray(options) && options.length > 0) return exampleOf(options[0] as JsonSchema, depth + 1);
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "object": {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema.required ?? []) as string[]);
      return Object.fromEntries(
        Object.entries(props)
          .filter(([k]) => required.has(k))
          .map(([k, v]) => [k, exampleOf(v, depth + 1)]),
      );
    }
    case "array":
      return typeof schema.minItems === "number" && schema.minItems > 0 && schema.items ? [exampleOf(schema.items as JsonSchema, depth + 1)] : [];
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : 0;
    case "boolean":
      return false;
    case "null":
      return null;
    case "string":
      if (schema.format === "date-time") return "2026-11-23T10:00:00.000Z";
      if (schema.format === "uri") return "https://example.org/";
      if (schema.format === "uuid") return "00000000-0000-4000-8000-000000000000";
      return typeof schema.pattern === "string" || typeof schema.minLength === "number" ? undefined : "string";
    default:
      return undefined;
  }
}

/** Adds `example` to a JSON media type when a minimal example can be made for its schema. */
function withExample(schema: JsonSchema): JsonSchema {
  const example = exampleOf(schema);
  return example === undefined ? { schema } : { schema, example };
}

function operation(d: EndpointDescription): JsonSchema {
  const responses: JsonSchema = {};
  for (const [status, r] of Object.entries(d.responses)) {
    const isProblem = r.schema === problemSchema;
    responses[status] = isProblem
      ? problem(r.description)
      : r.schema
        ? { description: r.description, content: { "application/json": withExample(toSchema(r.schema, "output")) } }
        : { description: r.description };
  }
  responses["400"] ??= problem("The request is not valid (validationFailed)");
  if (d.params) responses["404"] ??= problem("Nothing exists under this id (notFound)");
  if (d.authenticated) responses["401"] ??= problem("No valid bearer token (unauthenticated)");
  // The endpoint builder refuses the wrong kind of token (an app-only token outside the automation door, a user's at it).
  if (d.authenticated) responses["403"] ??= problem("The token is not accepted here, or lacks the permission (forbidden)");
  // The body limit applies to every request, with a body declared or not.
  responses["413"] ??= problem("The request body is too large (payloadTooLarge)");
  // Answered by the host before the function runs; its body is not part of this contract.
  responses["414"] ??= { description: "The request URI is too long" };
  responses["431"] ??= { description: "The request's header fields are too large" };
  // Every endpoint is rate limited by the endpoint builder (per caller, or per client address).
  responses["429"] ??= problem("Too many requests (rateLimited); the Retry-After header says in how many seconds to try again");
  responses["500"] ??= problem("Unexpected error (internal)");
  for (const [status, response] of Object.entries(responses) as [string, JsonSchema][]) {
    const headers: JsonSchema = { "x-correlation-id": headerSchemas.correlationId };
    if (status === "201" || status === "202" || status === "303" || status === "302") headers.Location = headerSchemas.location;
    // Only a 429 asks the client to wait (health's 503 reports its dependencies and sends none).
    if (status === "429") headers["Retry-After"] = headerSchemas.retryAfter;
    response.headers = headers;
  }
  const idempotencyHeader = idempotentOperations.has(d.name)
    ? [
        {
          name: "Idempotency-Key",
          in: "header",
          required: false,
          description: "Makes a retry safe: the same key with the same body answers the same result; with another body, 409.",
          schema: toSchema(idempotencyKeySchema, "input"),
        },
      ]
    : [];
  return {
    operationId: d.name,
    summary: d.summary,
    tags: [d.tag],
    "x-access": d.access,
    ...(d.authenticated ? {} : { security: [] }),
    parameters: [
      ...parameters(d),
      ...idempotencyHeader,
      { name: "x-correlation-id", in: "header", required: false, schema: { type: "string", pattern: "^[A-Za-z0-9._:-]{8,128}$" } },
    ],
    // A body whose every field is optional may be left out: the endpoint reads none as {}.
    ...(d.body ? { requestBody: { required: !d.body.safeParse({}).success, content: { "application/json": withExample(toSchema(d.body, "input")) } } } : {}),
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
      schemas: { Problem: problemComponent() },
    },
  };
}

// Anonymous, and building it converts every endpoint's contracts (some 10 ms of a core):
// built at the first request, when every endpoint is registered, and kept, since nothing
// registers endpoints later in a running process.
let served: JsonSchema | undefined;

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
    handle: async () => ({ status: 200, body: (served ??= buildOpenApiDocument()) }),
  }),
];
