// GET /api/openapi.json is anonymous (60 a minute per address): building the document from
// every endpoint's zod contracts takes some 10 ms of one core, so an instance that built it
// for every request could be kept busy by a few hundred addresses at their limit. The
// document cannot change while the process runs (the endpoints are registered at load), so
// it is built once and every request answers that one.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import "../../functions/all.js";
import { openApiFunctions } from "../../functions/openapi.js";
import { ManualClock } from "../support/memoryPorts.js";
import { installServices, invokeHttp, rateLimits, StaticAuthenticator, uninstallServices } from "../support/functionHarness.js";

beforeEach(() => {
  const clock = new ManualClock();
  installServices({ clock, authenticator: new StaticAuthenticator({}), rateLimits: rateLimits(clock) });
});
afterEach(uninstallServices);

describe("GET /api/openapi.json", () => {
  it("answers the document built once, not one built for each request", async () => {
    // Prepare
    const [openapi] = openApiFunctions;
    const call = { url: "/api/openapi.json", headers: { "x-forwarded-for": "203.0.113.9" } };

    // Act
    const first = await invokeHttp(openapi, call);
    const second = await invokeHttp(openapi, { ...call, headers: { "x-forwarded-for": "198.51.100.4" } });

    // Assess: the same document, served from one build.
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect((first.json as { paths: Record<string, unknown> }).paths["/api/sessions"]).toBeDefined();
    expect(second.json).toBe(first.json);
  });
});
