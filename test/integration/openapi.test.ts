// GET /api/openapi.json is a valid OpenAPI 3.1 document listing every endpoint.
import { compileErrors, validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import { allDefinitions } from "../../functions/all.js";
import { endpointDescriptions } from "../../functions/http/endpoint.js";
import { api } from "../support/api.js";

allDefinitions();

describe("GET /api/openapi.json", () => {
  it("validates as OpenAPI 3.1", async () => {
    // Act
    const res = await api<Record<string, unknown>>("/openapi.json");
    // Assess
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(res.body) as never);
    expect(result.valid, result.valid ? "" : compileErrors(result)).toBe(true);
  });

  it("lists every HTTP endpoint of the app with its method", async () => {
    const res = await api<{ paths: Record<string, Record<string, { operationId: string }>> }>("/openapi.json");
    const listed = Object.entries(res.body.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([m, op]) => `${m.toUpperCase()} ${path} ${op.operationId}`),
    );
    const expected = endpointDescriptions().map((d) => `${d.method} /api/${d.route} ${d.name}`);
    expect(listed.sort()).toEqual(expected.sort());
    expect(expected.length).toBeGreaterThan(5);
  });

  it("marks a request body required only where the endpoint refuses a request without one", async () => {
    type Op = { operationId: string; requestBody?: { required: boolean } };
    const res = await api<{ paths: Record<string, Record<string, Op>> }>("/openapi.json");
    const ops = Object.values(res.body.paths).flatMap((byMethod) => Object.values(byMethod));
    const required = (id: string): boolean | undefined => ops.find((o) => o.operationId === id)?.requestBody?.required;
    // { description?, ticketId?, acknowledgeWarnings? } and { comment? }: a request with no body is taken.
    expect(required("requestSession")).toBe(false);
    expect(required("approveSession")).toBe(false);
    // { acceptLicenseAgreement: true } and a role assignment cannot be left out.
    expect(required("connectConnector")).toBe(true);
    expect(required("putRoleAssignment")).toBe(true);
  });

  it("describes problem responses and bearer security", async () => {
    const res = await api<{ components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> } }>("/openapi.json");
    expect(res.body.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(res.body.components.schemas.Problem).toBeDefined();
  });

  it("documents the health probe's answer as the running stack gives it", async () => {
    // Prepare / Act
    const res = await api<{ status: string; dependencies: Record<string, { status: string }> }>("/health");
    const doc = await api<{ paths: Record<string, { get: { responses: Record<string, unknown> } }> }>("/openapi.json");

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("healthy");
    expect(Object.keys(res.body.dependencies).sort()).toEqual(["keyVault", "serviceBus", "tables"]);
    expect(Object.keys(doc.body.paths["/api/health"].get.responses)).toEqual(expect.arrayContaining(["200", "503"]));
  });

  it("declares Idempotency-Key, Location and an open problem schema", async () => {
    // Act
    const res = await api<{
      paths: Record<string, Record<string, { parameters: { name: string; in: string }[]; responses: Record<string, { headers?: Record<string, unknown> }> }>>;
      components: { schemas: { Problem: { additionalProperties?: unknown; properties: Record<string, unknown> } } };
    }>("/openapi.json");
    const request = res.body.paths["/api/devices/{deviceId}/remoteAssistanceSessions"].post;

    // Assess
    expect(request.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "Idempotency-Key", in: "header" })]));
    expect(request.responses["202"].headers).toHaveProperty("Location");
    expect(request.responses["429"].headers).toHaveProperty("Retry-After");
    expect(res.body.components.schemas.Problem.additionalProperties).toBe(true);
    expect(Object.keys(res.body.components.schemas.Problem.properties)).toEqual(
      expect.arrayContaining(["reason", "warnings", "existingSessionId", "retryAfterSeconds"]),
    );
  });

  it("declares every member a problem carries, and Retry-After in whole seconds of at least 1 where the API sends it", async () => {
    // Act (a conflict with a session's status, e.g. closing a closed session, names currentStatus)
    const doc = await api<{
      paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, { schema: { type: string; minimum: number } }> }> }>>;
      components: { schemas: { Problem: { properties: Record<string, { minimum?: number }> } } };
    }>("/openapi.json");
    const problem = doc.body.components.schemas.Problem.properties;
    const health = doc.body.paths["/api/health"].get.responses;
    const retryAfter = doc.body.paths["/api/sessions/{sessionId}/resendNotification"].post.responses["429"].headers?.["Retry-After"];

    // Assess
    expect(Object.keys(problem)).toContain("currentStatus");
    expect(retryAfter?.schema).toEqual({ type: "integer", minimum: 1 });
    expect(problem.retryAfterSeconds.minimum).toBe(1);
    // Health's 503 reports the dependencies; it never asks the client to wait.
    expect(health["503"].headers ?? {}).not.toHaveProperty("Retry-After");
  });
});
