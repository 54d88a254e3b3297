// How the API reads a bearer token through the real host: only from the Authorization
// header, in HTTP's credentials syntax, as large as Entra makes them, and never echoed in
// an answer or the log (the authenticator's own rules: test/unit/jwtAuthenticator.test.ts).
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api, eventually, stack, tokenFor, type ApiResponse } from "../support/api.js";
import { hostLog } from "./connectorSupport.js";

const tenantId = randomUUID();
const userToken = () => tokenFor({ tid: tenantId, oid: randomUUID(), name: "Bearer tests" });
/** The answer's status, headers and body as one string, to search for a token in. */
const everything = (r: ApiResponse) => `${r.status} ${JSON.stringify([...r.headers.entries()])} ${r.text}`;
const signatureOf = (token: string) => token.split(".")[2];

describe("bearer tokens through the host", () => {
  it.each([
    ["the query string", (t: string) => ({ path: `/me/permissions?access_token=${t}`, headers: {} })],
    ["a cookie", (t: string) => ({ path: "/me/permissions", headers: { cookie: `access_token=${t}; token=${t}` } })],
  ])("takes a valid token in %s for no credential, and does not echo it", async (_where, place) => {
    // Prepare
    const token = await userToken();
    const { path, headers } = place(token);

    // Act
    const res = await api(path, { headers });

    // Assess
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: "unauthenticated" });
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(everything(res)).not.toContain(signatureOf(token));
  });

  it("refuses two Authorization headers, even both valid", async () => {
    // Prepare
    const [first, second] = [await userToken(), await userToken()];

    // Act
    const res = await fetch(`${stack().apiUrl}/me/permissions`, {
      headers: [
        ["authorization", `Bearer ${first}`],
        ["authorization", `Bearer ${second}`],
      ],
    });
    const text = await res.text();

    // Assess
    expect(res.status).toBe(401);
    expect(text).not.toContain(signatureOf(first));
    expect(text).not.toContain(signatureOf(second));
  });

  it.each([
    ["the scheme in lower case", (t: string) => `bearer ${t}`],
    ["two spaces after the scheme", (t: string) => `Bearer  ${t}`],
  ])("accepts %s", async (_what, header) => {
    // Act
    const res = await api("/me/permissions", { headers: { authorization: header(await userToken()) } });

    // Assess
    expect(res.status).toBe(200);
  });

  it("accepts a token with the 200 groups Entra lists before an overage", async () => {
    // Prepare
    const groups = Array.from({ length: 200 }, () => randomUUID());
    const token = await tokenFor({ tid: tenantId, oid: randomUUID(), name: "Many groups", groups });

    // Act
    const res = await api("/me/permissions", { token });

    // Assess
    expect(token.length).toBeGreaterThan(8192);
    expect(res.status).toBe(200);
  });

  it.each([
    ["a user's token without scp", "/me/permissions", { omitScp: true }],
    [
      "an app's token without idtyp (roles, no scp), where users go",
      "/me/permissions",
      { azp: randomUUID(), roles: ["RemoteAssistance.Automation"], omitScp: true },
    ],
    [
      "an app's token without idtyp (roles, no scp), at the automation door",
      "/automation/events",
      { azp: randomUUID(), roles: ["RemoteAssistance.Automation"], omitScp: true },
    ],
    [
      "an app-only token (idtyp app) that carries scp",
      "/automation/events",
      { idtyp: "app", azp: randomUUID(), roles: ["RemoteAssistance.Automation"], scp: "access_as_user" },
    ],
  ] as const)("refuses %s with 401 invalid_token, naming scp", async (_what, path, claims) => {
    // Prepare
    const token = await tokenFor({ tid: tenantId, oid: randomUUID(), ...claims });

    // Act
    const res = await api(path, { token, method: path.startsWith("/automation") ? "POST" : "GET", body: path.startsWith("/automation") ? {} : undefined });

    // Assess
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: "unauthenticated", detail: expect.stringContaining("scp") });
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("logs why a token was refused, and neither the answer nor the log carries it", async () => {
    // Prepare
    const token = await tokenFor({ tid: tenantId, oid: randomUUID(), audience: "api://someone-else" });

    // Act
    const res = await api("/me/permissions", { token, headers: { "x-correlation-id": `bearer-${randomUUID()}` } });

    // Assess
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ detail: "The token's aud claim is not accepted." });
    expect(everything(res)).not.toContain(signatureOf(token));
    const correlationId = res.headers.get("x-correlation-id")!;
    const line = await eventually(
      async () =>
        hostLog()
          .split("\n")
          .find((l) => l.includes(correlationId) && l.includes("authentication refused")),
      10_000,
      "the refusal's log line",
    );
    expect(line).toContain("aud claim");
    expect(hostLog()).not.toContain(signatureOf(token));
  });
});
