// The authorization matrix: every HTTP endpoint that exists, against no token, malformed
// and forged tokens, expired / wrong-audience / wrong-issuer tokens, each role, a scoped
// assignment, and a caller from another tenant — each with its expected status and code.
import { randomUUID } from "node:crypto";
import { generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { allDefinitions } from "../../functions/all.js";
import { endpointDescriptions, type Access, type EndpointDescription } from "../../functions/http/endpoint.js";
import { api, stack, tokenFor } from "../support/api.js";
import { sampleRequest } from "../support/samples.js";

allDefinitions();
const endpoints = endpointDescriptions().filter((d) => d.authenticated);

type Role = "none" | "administrator" | "update" | "request" | "scopedRequest" | "endUser";
const roleClaims: Record<Role, string[]> = {
  none: [],
  administrator: ["Intune.Administrator"],
  update: ["RemoteAssistance.Update"],
  request: ["RemoteAssistance.Request"],
  scopedRequest: [],
  endUser: [],
};

/** Which roles an access level admits (the use case may still refuse on scope or license). */
const admits: Record<Exclude<Access, "anonymous">, readonly Role[]> = {
  administrator: ["administrator"],
  update: ["administrator", "update"],
  request: ["administrator", "request", "scopedRequest"],
  read: ["administrator", "update", "request", "scopedRequest"],
  endUser: ["none", "administrator", "update", "request", "scopedRequest", "endUser"],
  // Used by wave 2 endpoints; their rows are added with them. No user token passes the
  // automation door: it takes app-only tokens (test/integration/automationDoor.test.ts).
  reports: ["administrator"],
  approve: [],
  automation: [],
};

const tenantId = randomUUID();
const scopedGroup = randomUUID();
const tokens = new Map<Role, string>();

async function call(d: EndpointDescription, token?: string, headers: Record<string, string> = {}) {
  const r = sampleRequest(d);
  return api<{ code?: string }>(r.path, { method: d.method, token, body: r.body, headers });
}

beforeAll(async () => {
  for (const role of Object.keys(roleClaims) as Role[]) {
    tokens.set(
      role,
      await tokenFor({ tid: tenantId, oid: randomUUID(), name: `Matrix ${role}`, roles: roleClaims[role], groups: role === "scopedRequest" ? [scopedGroup] : [] }),
    );
  }
  const put = await api(`/roleAssignments/${randomUUID()}`, {
    method: "PUT",
    token: tokens.get("administrator"),
    body: { principalId: scopedGroup, principalType: "group", permission: "RemoteAssistance.Request", scopeTags: ["berlin"] },
  });
  expect(put.status).toBe(201);
});

describe("authentication", () => {
  it("lists endpoints to check", () => {
    expect(endpoints.length).toBeGreaterThanOrEqual(6);
  });

  describe.each(endpoints.map((d) => [`${d.method} /api/${d.route}`, d] as const))("%s", (_label, d) => {
    it("no token → 401 unauthenticated", async () => {
      const res = await call(d);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthenticated");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    });

    it("malformed Authorization header → 401", async () => {
      const res = await call(d, undefined, { authorization: "Basic dXNlcjpwYXNz" });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthenticated");
    });

    it("a token that is not a JWT → 401", async () => {
      const res = await call(d, "not-a-jwt-at-all-but-long-enough");
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthenticated");
    });

    it("a token signed by someone else's key → 401", async () => {
      const { privateKey } = await generateKeyPair("RS256");
      const forged = await new SignJWT({ tid: tenantId, oid: randomUUID(), roles: ["Intune.Administrator"] })
        .setProtectedHeader({ alg: "RS256", kid: "forged-key" })
        .setIssuer(stack().issuer)
        .setAudience(stack().audience)
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(privateKey);
      const res = await call(d, forged);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthenticated");
    });

    it.each([
      ["expired", { expiresAt: Math.floor(Date.now() / 1000) - 3600 }],
      ["wrong audience", { audience: "api://someone-else" }],
      ["wrong issuer", { issuer: "https://login.example.com/evil" }],
    ])("an %s token → 401", async (_what, override) => {
      const token = await tokenFor({ tid: tenantId, oid: randomUUID(), roles: ["Intune.Administrator"], ...override });
      const res = await call(d, token);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthenticated");
    });
  });
});

describe("roles", () => {
  const cases = endpoints.flatMap((d) =>
    (Object.keys(roleClaims) as Role[]).map((role) => ({
      label: `${d.method} /api/${d.route} as ${role}`,
      d,
      role,
      admitted: admits[d.access as Exclude<Access, "anonymous">].includes(role),
    })),
  );

  it.each(cases)("$label → admitted=$admitted", async ({ d, role, admitted }) => {
    const res = await call(d, tokens.get(role));
    expect(res.status).not.toBe(401);
    expect(res.status).toBeLessThan(500);
    if (admitted) {
      // Admitted: the use case may still answer 404/409/422 or 403 intuneLicenseRequired, never 'forbidden'.
      expect(res.body?.code).not.toBe("forbidden");
    } else {
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("forbidden");
    }
  });
});
