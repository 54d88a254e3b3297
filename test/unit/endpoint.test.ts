// The one HTTP builder, `endpoint()`, run as the host runs it: a real `HttpRequest` and
// `InvocationContext` into a function definition, over services installed through the
// runtime seam. Everything here is decided before the use case runs (or by the error
// mapper after it), so the services are the authenticator and the rate limits only: a
// handler that touched anything else would answer 500 and fail the test.
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose";
import { ulid } from "ulid";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { endpoint } from "../../functions/http/endpoint.js";
import { JwtAuthenticator, type Authenticator } from "../../shared/adapters/auth/jwtAuthenticator.js";
import { sessionFunctions } from "../../functions/sessions.js";
import { sessionListQuery } from "../../shared/contracts/sessions.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import { appRoles, type AutomationCaller, type UserCaller } from "../../shared/domain/caller.js";
import { DomainError, errorCodes } from "../../shared/domain/errors.js";
import { ManualClock } from "../support/memoryPorts.js";
import { Contended } from "../../shared/app/contention.js";
import { installServices, invokeHttp, rateLimits, StaticAuthenticator, uninstallServices } from "../support/functionHarness.js";

const admin: UserCaller = {
  type: "user",
  tenantId: "t1",
  userId: "a1",
  displayName: "Adele Vance",
  roles: [appRoles.administrator],
  groups: [],
};
const automation: AutomationCaller = {
  type: "automation",
  tenantId: "t1",
  userId: "app-1",
  displayName: "Ticketing",
  clientId: "c1",
  roles: [appRoles.automation],
};
const authenticator = new StaticAuthenticator({ "admin-token": admin, "app-token": automation });
const asAdmin = { authorization: "Bearer admin-token" };

const definition = (name: string): FunctionDefinition => {
  const d = sessionFunctions.find((f) => f.name === name);
  if (!d) throw new Error(`no function ${name}`);
  return d;
};
const getSession = definition("getSession");
const requestSession = definition("requestSession");

/** An endpoint of this test's own: echoes what the builder handed its use case. */
const echo = endpoint({
  name: "unitEcho",
  method: "POST",
  route: "unit/echo/{thingId}",
  summary: "Echo (unit test)",
  tag: "test",
  authenticated: true,
  access: "read",
  params: z.strictObject({ thingId: z.string().regex(/^[a-z0-9-]{1,16}$/) }),
  query: z.strictObject({ top: z.coerce.number().int().min(1).max(10).optional() }),
  body: z.strictObject({ note: z.string().max(20) }),
  maxBodyBytes: 256,
  responses: { 200: { description: "echo" } },
  handle: async ({ caller, params, query, body, correlationId }) => {
    if (body.note === "boom") throw new Error("a bug in the use case");
    if (body.note === "taken") throw new DomainError(errorCodes.conflict, "Already taken.", { extensions: { existingId: "x1" } });
    if (body.note === "contended") throw new Contended("session s1", 8);
    return { status: 200, body: { caller: caller.userId, params, query, body, correlationId } };
  },
});

let clock: ManualClock;
beforeEach(() => {
  clock = new ManualClock();
  installServices({ clock, authenticator, rateLimits: rateLimits(clock) });
});
afterEach(uninstallServices);

describe("endpoint(): authentication", () => {
  it("answers 401 problem+json with a Bearer challenge when there is no token", async () => {
    // Act
    const answer = await invokeHttp(getSession, { url: `/api/sessions/${ulid()}`, params: { sessionId: ulid() } });

    // Assess
    expect(answer.status).toBe(401);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(answer.headers["www-authenticate"]).toMatch(/^Bearer /);
    expect(answer.json).toMatchObject({ status: 401, code: errorCodes.unauthenticated, correlationId: answer.headers["x-correlation-id"] });
  });

  it("charges requests without a valid token to the client address: the next one is 429 with Retry-After", async () => {
    // Prepare
    installServices({ clock, authenticator, rateLimits: rateLimits(clock, 1) });
    const call = { url: "/api/sessions/x", params: { sessionId: "x" }, headers: { authorization: "Bearer forged", "x-forwarded-for": "203.0.113.9" } };

    // Act
    const first = await invokeHttp(getSession, call);
    const second = await invokeHttp(getSession, call);

    // Assess
    expect(first.status).toBe(401);
    expect(second.status).toBe(429);
    expect(Number(second.headers["retry-after"])).toBeGreaterThanOrEqual(1);
  });

  it("charges a request to its address when the token cannot be checked at all (the key set is down), so it cannot make every request fetch it", async () => {
    // Prepare
    const keySetDown: Authenticator = { authenticate: () => Promise.reject(new Error("could not load the identity provider's signing keys (JWKS)")) };
    installServices({ clock, authenticator: keySetDown, rateLimits: rateLimits(clock, 1) });
    const call = { url: "/api/sessions/x", params: { sessionId: "x" }, headers: { authorization: "Bearer any", "x-forwarded-for": "203.0.113.9" } };

    // Act
    const first = await invokeHttp(getSession, call);
    const second = await invokeHttp(getSession, call);

    // Assess
    expect(first.status).toBe(500);
    expect(second.status).toBe(429);
  });

  it("answers 403 to an app-only token anywhere but the automation door", async () => {
    // Act
    const answer = await invokeHttp(getSession, {
      url: `/api/sessions/${ulid()}`,
      params: { sessionId: ulid() },
      headers: { authorization: "Bearer app-token" },
    });

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ code: errorCodes.forbidden, detail: expect.stringMatching(/app-only token/) });
  });
});

describe("endpoint(): the Bearer challenge of a 401", () => {
  it.each([
    ["no Authorization header", {}],
    ["another scheme", { authorization: "Basic YWRlbGU6c2VjcmV0" }],
  ])("names no error when the request carries no bearer token (%s)", async (_what, headers) => {
    // Act
    const answer = await invokeHttp(getSession, { url: `/api/sessions/${ulid()}`, params: { sessionId: ulid() }, headers });

    // Assess
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Bearer realm="remote-assistance-connector"');
  });

  it.each([
    ["a token the authenticator does not know", "Bearer forged-token-value"],
    ["a token that is no JWT", "Bearer not-a-jwt-at-all"],
    ["a bearer header that is malformed", "Bearer  forged-token-value, Bearer other-token-value"],
  ])("says invalid_token when it refuses %s, without echoing it", async (_what, authorization) => {
    // Act
    const answer = await invokeHttp(getSession, { url: `/api/sessions/${ulid()}`, params: { sessionId: ulid() }, headers: { authorization } });

    // Assess
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Bearer realm="remote-assistance-connector", error="invalid_token"');
    expect(JSON.stringify(answer.headers)).not.toMatch(/forged|not-a-jwt|other-token/);
  });
});

describe("endpoint(): a refused token", () => {
  it("is logged with the reason, and neither the log, the answer nor its headers carry the token", async () => {
    // Prepare: a real authenticator and a token it refuses for having expired.
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256" }] });
    const jwt = new JwtAuthenticator({ issuer: "https://issuer.example", audience: "api://rac", jwksUri: "http://unused.invalid/jwks", keys });
    installServices({ clock, authenticator: jwt, rateLimits: rateLimits(clock) });
    const expired = await new SignJWT({ tid: "t1", oid: "a1", roles: [appRoles.administrator] })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer("https://issuer.example")
      .setAudience("api://rac")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(privateKey);

    // Act
    const answer = await invokeHttp(getSession, {
      url: `/api/sessions/${ulid()}`,
      params: { sessionId: ulid() },
      headers: { authorization: `Bearer ${expired}` },
    });

    // Assess
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ code: errorCodes.unauthenticated, detail: "The token has expired." });
    expect(answer.logs).toContainEqual(expect.objectContaining({ text: expect.stringContaining("The token has expired.") }));
    const signature = expired.split(".")[2];
    const everything = JSON.stringify([answer.json, answer.headers, answer.logs]);
    expect(everything).not.toContain(signature);
    expect(everything).not.toContain(expired.split(".")[1]);
  });
});

describe("endpoint(): input", () => {
  it("answers 404, not 400, for an id that cannot exist, without running the use case", async () => {
    // Act
    const answer = await invokeHttp(getSession, { url: "/api/sessions/not_a_session!", params: { sessionId: "not_a_session!" }, headers: asAdmin });

    // Assess
    expect(answer.status).toBe(404);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(answer.json).toMatchObject({ type: expect.stringMatching(/\/notFound$/), code: errorCodes.notFound });
  });

  it("answers 400 problem+json naming the field of a body that does not fit the schema", async () => {
    // Act
    const answer = await invokeHttp(requestSession, {
      method: "POST",
      url: "/api/devices/d1/remoteAssistanceSessions",
      params: { deviceId: "d1" },
      headers: asAdmin,
      body: { description: 42 },
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: errorCodes.validationFailed, errors: [expect.objectContaining({ path: "body.description" })] });
  });

  it.each([
    ["a right-to-left override in the ticket id", { ticketId: "INC-1\u202e2-CNI" }, "body.ticketId"],
    ["a lone surrogate in the ticket id", { ticketId: "INC-\ud800" }, "body.ticketId"],
    ["a NUL in the description", { description: "Outlook\u0000 crashes" }, "body.description"],
  ])("answers 400 problem+json naming the field for %s", async (_, body, path) => {
    // Act
    const answer = await invokeHttp(requestSession, {
      method: "POST",
      url: "/api/devices/d1/remoteAssistanceSessions",
      params: { deviceId: "d1" },
      headers: asAdmin,
      body,
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(answer.json).toMatchObject({ code: errorCodes.validationFailed, errors: [{ path, message: expect.stringMatching(/U\+202E/) }] });
  });

  it.each([
    ["a body that is not JSON", { body: "{not json", headers: { ...asAdmin, "content-type": "application/json" } }, /not valid JSON/],
    ["a body that is not declared JSON", { body: "note=x", headers: { ...asAdmin, "content-type": "application/x-www-form-urlencoded" } }, /must be JSON/],
    ["an unknown query parameter", { body: { note: "x" }, url: "/api/unit/echo/t1?color=red", headers: asAdmin }, /query/],
    ["a repeated query parameter", { body: { note: "x" }, url: "/api/unit/echo/t1?top=1&top=2", headers: asAdmin }, /repeated/],
  ])("answers 400 for %s", async (_, call, detail) => {
    // Act
    const answer = await invokeHttp(echo, { method: "POST", url: "/api/unit/echo/t1", params: { thingId: "t1" }, ...call });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: errorCodes.validationFailed, detail: expect.stringMatching(detail) });
  });

  it.each([
    ["?top=", {}],
    ["?top=&top=", undefined],
    ["?top=3", { top: 3 }],
  ])("reads a blank query value as absent (%s)", async (query, expected) => {
    // Act
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: `/api/unit/echo/t1${query}`,
      params: { thingId: "t1" },
      headers: asAdmin,
      body: { note: "x" },
    });

    // Assess: a blank is no value (a client filling ?name=&other= sends names without values); a name sent twice is still refused.
    if (expected === undefined) {
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ code: errorCodes.validationFailed, detail: expect.stringMatching(/repeated/) });
    } else {
      expect(answer.status).toBe(200);
      expect((answer.json as { query: unknown }).query).toEqual(expected);
    }
  });

  it.each(["0x10", "1e1", " 10", "+10", "10.0", "-1", "0b11", "Infinity"])(
    "answers 400 naming query.top for a page size that is not plain decimal digits (%j), without running the use case",
    async (top) => {
      // Act
      const answer = await invokeHttp(definition("listSessions"), { url: `/api/sessions?top=${encodeURIComponent(top)}`, headers: asAdmin });

      // Assess: the services hold no session store, so a use case that ran would answer 500.
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ code: errorCodes.validationFailed, errors: [expect.objectContaining({ path: "query.top" })] });
    },
  );

  it.each([
    ["10", 10],
    ["010", 10],
    [undefined, 25],
  ])("reads the page size %j as %j", (top, expected) => {
    // Act
    const parsed = sessionListQuery.parse({ top });

    // Assess
    expect(parsed.top).toBe(expected);
  });

  it.each(["toString", "constructor", "__proto__", "hasOwnProperty"])(
    "answers 400 naming %s as an unknown query parameter, not a repeated one",
    async (name) => {
      // Act
      const answer = await invokeHttp(echo, {
        method: "POST",
        url: `/api/unit/echo/t1?${name}=1`,
        params: { thingId: "t1" },
        headers: asAdmin,
        body: { note: "x" },
      });

      // Assess
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ code: errorCodes.validationFailed, detail: "The request query is not valid." });
      expect(JSON.stringify(answer.json)).toContain(name);
    },
  );

  it.each([
    ["bytes that are not UTF-8", Buffer.from('{"note":"Caf\xe9"}', "latin1"), "application/json"],
    ["a charset other than UTF-8", Buffer.from('{"note":"Caf\xe9"}', "latin1"), "application/json; charset=ISO-8859-1"],
    ["UTF-16", Buffer.from('{"note":"Caf\xe9"}', "utf16le"), "application/json; charset=utf-16"],
  ])("answers 400 to a body in %s, rather than reading it with replacement characters", async (_, bytes, contentType) => {
    // Act
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: "/api/unit/echo/t1",
      params: { thingId: "t1" },
      headers: { ...asAdmin, "content-type": contentType },
      body: new Uint8Array(bytes),
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: errorCodes.validationFailed, detail: expect.stringMatching(/UTF-8/) });
  });

  it("reads a body declared UTF-8 in any spelling", async () => {
    // Act
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: "/api/unit/echo/t1",
      params: { thingId: "t1" },
      headers: { ...asAdmin, "content-type": 'application/json; Charset="UTF-8"' },
      body: new Uint8Array(Buffer.from(JSON.stringify({ note: "Café ☕" }), "utf8")),
    });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ body: { note: "Café ☕" } });
  });

  it.each(["utf-7", "UTF-16", "ucs-2"])("refuses an all-ASCII body labelled charset=%s: its bytes mean something else there", async (charset) => {
    // Act: in UTF-7, +AOk- is "é"; read as UTF-8 it would be stored as typed.
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: "/api/unit/echo/t1",
      params: { thingId: "t1" },
      headers: { ...asAdmin, "content-type": `application/json; charset=${charset}` },
      body: new Uint8Array(Buffer.from(JSON.stringify({ note: "Caf+AOk-" }), "latin1")),
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: errorCodes.validationFailed, detail: expect.stringMatching(/UTF-8/) });
  });

  it.each(["ISO-8859-1", "us-ascii", "windows-1252"])("still reads an ASCII body labelled charset=%s: its bytes mean the same in UTF-8", async (charset) => {
    // Act
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: "/api/unit/echo/t1",
      params: { thingId: "t1" },
      headers: { ...asAdmin, "content-type": `application/json; charset=${charset}` },
      body: new Uint8Array(Buffer.from(JSON.stringify({ note: "INC0012345" }), "latin1")),
    });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ body: { note: "INC0012345" } });
  });

  it("answers 413 for a body over the endpoint's limit", async () => {
    // Act
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: "/api/unit/echo/t1",
      params: { thingId: "t1" },
      headers: asAdmin,
      body: { note: "x".repeat(300) },
    });

    // Assess
    expect(answer.status).toBe(413);
    expect(answer.json).toMatchObject({ code: errorCodes.payloadTooLarge });
  });
});

describe("endpoint(): the answer", () => {
  it("hands the use case the parsed input and answers JSON with the offered correlation id and the security headers", async () => {
    // Act
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: "/api/unit/echo/t1?top=3",
      params: { thingId: "t1" },
      headers: { ...asAdmin, "x-correlation-id": "corr-unit-0001" },
      body: { note: "hello" },
    });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ caller: "a1", params: { thingId: "t1" }, query: { top: 3 }, body: { note: "hello" }, correlationId: "corr-unit-0001" });
    expect(answer.headers).toMatchObject({ "x-correlation-id": "corr-unit-0001", "cache-control": "no-store", "x-content-type-options": "nosniff" });
  });

  it("replaces a correlation id that does not fit the pattern with a new one", async () => {
    // Act
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: "/api/unit/echo/t1",
      params: { thingId: "t1" },
      headers: { ...asAdmin, "x-correlation-id": "<script>" },
      body: { note: "x" },
    });

    // Assess
    expect(answer.headers["x-correlation-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("maps a DomainError of the use case to its status, extensions included", async () => {
    // Act
    const answer = await invokeHttp(echo, { method: "POST", url: "/api/unit/echo/t1", params: { thingId: "t1" }, headers: asAdmin, body: { note: "taken" } });

    // Assess
    expect(answer.status).toBe(409);
    expect(answer.json).toMatchObject({ code: errorCodes.conflict, detail: "Already taken.", existingId: "x1" });
  });

  it("answers 429 with Retry-After, not 500, when a write kept losing its race to other writers", async () => {
    // Act
    const answer = await invokeHttp(echo, {
      method: "POST",
      url: "/api/unit/echo/t1",
      params: { thingId: "t1" },
      headers: asAdmin,
      body: { note: "contended" },
    });

    // Assess
    expect(answer.status).toBe(429);
    expect(answer.headers["retry-after"]).toBe("1");
    expect(answer.json).toMatchObject({ code: errorCodes.rateLimited, detail: expect.stringContaining("Try again") });
  });

  it("answers 500 without the error's text for anything else, and logs it as an error", async () => {
    // Act
    const answer = await invokeHttp(echo, { method: "POST", url: "/api/unit/echo/t1", params: { thingId: "t1" }, headers: asAdmin, body: { note: "boom" } });

    // Assess
    expect(answer.status).toBe(500);
    expect(answer.json).toMatchObject({ code: errorCodes.internal });
    expect(JSON.stringify(answer.json)).not.toContain("a bug in the use case");
    expect(answer.logs).toContainEqual(expect.objectContaining({ level: "error", text: expect.stringContaining("a bug in the use case") }));
  });
});
