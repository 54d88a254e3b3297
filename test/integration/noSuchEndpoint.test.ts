// A path or method no endpoint serves gets a 404 in application/problem+json, through the real
// host, and the catch-all behind it never shadows an endpoint.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { problemSchema } from "../../shared/contracts/common.js";
import { api, stack, tokenFor } from "../support/api.js";

describe("a path or method no endpoint serves", () => {
  it.each([
    ["GET", "/nope"],
    ["POST", "/sessions/01J0000000000000000000000/nope"],
    ["DELETE", "/devices/a/b/c/d"],
    ["GET", "/"],
    ["PUT", "/connector/oauth"],
  ])("%s %s answers 404 notFound as problem+json, pointing to the OpenAPI document", async (method, path) => {
    // Act
    const res = await api(path, { method });
    // Assess
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const problem = problemSchema.parse(res.body);
    expect(problem).toMatchObject({ status: 404, code: "notFound" });
    expect(problem.detail).toContain("/api/openapi.json");
    expect(res.headers.get("x-correlation-id")).toBe(problem.correlationId);
  });

  it("names the methods a path takes when it is asked with another", async () => {
    // Act
    const patch = await api("/sessions", { method: "PATCH" });
    const getClose = await api("/sessions/01J0000000000000000000000/close");
    // Assess
    expect(patch.status).toBe(404);
    expect(problemSchema.parse(patch.body).detail).toBe("This path does not take PATCH; it takes GET.");
    expect(getClose.status).toBe(404);
    expect(problemSchema.parse(getClose.body).detail).toBe("This path does not take GET; it takes POST.");
  });

  it("answers HEAD with the status and no body", async () => {
    // Act
    const res = await fetch(`${stack().apiUrl}/nope`, { method: "HEAD" });
    // Assess
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("");
  });

  it("never takes a request an endpoint serves: the endpoints still answer as before", async () => {
    // Prepare
    const token = await tokenFor({ tid: randomUUID(), oid: randomUUID(), name: "Admin", roles: ["Intune.Administrator"], groups: [] });
    // Act
    const health = await api("/health");
    const openapi = await api("/openapi.json");
    const sessions = await api("/sessions", { token });
    const unauthenticated = await api("/sessions");
    // Assess: each answered by its own endpoint (a 401 is the sessions list's, not a 404).
    expect([200, 503]).toContain(health.status);
    expect(openapi.status).toBe(200);
    expect(sessions.status).toBe(200);
    expect(unauthenticated.status).toBe(401);
  });
});
