// The authorization matrix: every HTTP endpoint that exists, against no token, malformed
// and forged tokens, expired / wrong-audience / wrong-issuer tokens, each role, a scoped
// assignment, and a caller from another tenant — each with its expected status and code.
import { randomUUID } from "node:crypto";
import { generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { allDefinitions } from "../../functions/all.js";
import { endpointDescriptions, type Access, type EndpointDescription } from "../../functions/http/endpoint.js";
import type { TokenClaims } from "../../local/identity/server.js";
import { api, stack, tokenFor } from "../support/api.js";
import { sampleRequest } from "../support/samples.js";

allDefinitions();
const endpoints = endpointDescriptions().filter((d) => d.authenticated);

type Role = "none" | "administrator" | "update" | "request" | "viewReports" | "approve" | "scopedRequest" | "endUser" | "otherTenant" | "app";
const roleClaims: Record<Role, Partial<TokenClaims>> = {
  none: { roles: [] },
  administrator: { roles: ["Intune.Administrator"] },
  update: { roles: ["RemoteAssistance.Update"] },
  request: { roles: ["RemoteAssistance.Request"] },
  viewReports: { roles: ["RemoteAssistance.ViewReports"] },
  approve: { roles: ["RemoteAssistance.Approve"] },
  scopedRequest: { roles: [] },
  endUser: { roles: [] },
  // An administrator, but of another tenant: admitted like one, and sees only its own tenant.
  otherTenant: { roles: ["Intune.Administrator"] },
  // An app-only token (client credentials) of the tenant's own automation.
  app: { roles: ["RemoteAssistance.Automation"], idtyp: "app", azp: randomUUID(), app_displayname: "Matrix automation" },
};

/**
 * Which callers an access level admits (the use case may still refuse on scope or license).
 * Every access level needs a row: an endpoint whose level has none fails "every endpoint
 * has a decision" below, and a new level fails the type check.
 */
const admits: Record<Access, readonly Role[]> = {
  anonymous: ["none", "administrator", "update", "request", "viewReports", "approve", "scopedRequest", "endUser", "otherTenant", "app"],
  administrator: ["administrator", "otherTenant"],
  update: ["administrator", "update", "otherTenant"],
  request: ["administrator", "request", "scopedRequest", "otherTenant"],
  read: ["administrator", "update", "request", "scopedRequest", "otherTenant"],
  endUser: ["none", "administrator", "update", "request", "viewReports", "approve", "scopedRequest", "endUser", "otherTenant"],
  reports: ["administrator", "viewReports", "otherTenant"],
  approve: ["approve"],
  automation: ["app"],
};

const tenantId = randomUUID();
const otherTenantId = randomUUID();
const scopedGroup = randomUUID();
const tokens = new Map<Role, string>();

async function call(d: EndpointDescription, token?: string, headers: Record<string, string> = {}) {
  const r = sampleRequest(d);
  return api<{ code?: string; detail?: string }>(r.path, { method: d.method, token, body: r.body, headers });
}

beforeAll(async () => {
  for (const role of Object.keys(roleClaims) as Role[]) {
    tokens.set(
      role,
      await tokenFor({
        tid: role === "otherTenant" ? otherTenantId : tenantId,
        oid: randomUUID(),
        name: `Matrix ${role}`,
        groups: role === "scopedRequest" ? [scopedGroup] : [],
        ...roleClaims[role],
      }),
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

  it.each(endpointDescriptions().map((d) => [`${d.method} /api/${d.route}`, d] as const))("%s has a decision for every caller", (_label, d) => {
    // An access level without a row here is an endpoint nobody decided about.
    expect(Object.keys(admits)).toContain(d.access);
    expect(d.authenticated).toBe(d.access !== "anonymous");
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
      // Every claim a user's token needs (scp included): only the key is wrong.
      const forged = await new SignJWT({ tid: tenantId, oid: randomUUID(), roles: ["Intune.Administrator"], scp: "access_as_user" })
        .setProtectedHeader({ alg: "RS256", kid: "forged-key" })
        .setIssuer(stack().issuer)
        .setAudience(stack().audience)
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(privateKey);
      const res = await call(d, forged);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthenticated");
      expect(res.body.detail).toBe("The token is not valid.");
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
      admitted: admits[d.access].includes(role),
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
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
  });

  it.each(
    endpointDescriptions()
      .filter((d) => !d.authenticated)
      .map((d) => [`${d.method} /api/${d.route}`, d] as const),
  )("%s (anonymous) answers without a token, never 401 or 5xx", async (_label, d) => {
    const res = await call(d);
    expect(res.status).not.toBe(401);
    expect(res.status).toBeLessThan(500);
  });

  it("an app-only token is refused with the app-token detail, a user token never gets it", async () => {
    const d = endpoints.find((e) => e.access === "read")!;
    const app = await call(d, tokens.get("app"));
    expect(app.status).toBe(403);
    expect((app.body as { detail?: string }).detail).toBe(
      "An app-only token is accepted only at POST /api/automation/events; this endpoint needs a signed-in user's token.",
    );
    const none = await call(d, tokens.get("none"));
    expect(none.status).toBe(403);
    expect((none.body as { detail?: string }).detail).not.toMatch(/app-only/);
  });

  it("another tenant's administrator sees none of this tenant's role assignments", async () => {
    const mine = await api<{ value: { principalId: string }[] }>("/roleAssignments", { token: tokens.get("administrator") });
    const theirs = await api<{ value: { principalId: string }[] }>("/roleAssignments", { token: tokens.get("otherTenant") });
    expect(mine.body.value.some((a) => a.principalId === scopedGroup)).toBe(true);
    expect(theirs.body.value.some((a) => a.principalId === scopedGroup)).toBe(false);
  });
});
