// The portal is served with its security headers (the same definition Static Web Apps gets
// in Azure, portal/securityHeaders.ts), and every API answer says nosniff.
import { describe, expect, it } from "vitest";
import { staticWebAppConfig } from "../../infra/portalSite.js";
import { api, stack } from "../support/api.js";

const directives = (csp: string): Map<string, string[]> =>
  new Map(
    csp
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((p) => p[0] !== "")
      .map(([name, ...values]) => [name, values]),
  );

describe("the portal's static files", () => {
  it.each(["/", "/main.js", "/styles.css", "/config.json", "/entra/", "/sessions/some-client-route"])(
    "%s carries the CSP, nosniff and no-referrer",
    async (path) => {
      // Act
      const res = await fetch(`${stack().hostUrl}${path}`, { headers: { accept: "text/html" } });
      await res.arrayBuffer();

      // Assess
      expect(res.status).toBe(200);
      const csp = directives(res.headers.get("content-security-policy") ?? "");
      expect(csp.get("default-src")).toEqual(["'self'"]);
      expect(csp.get("script-src")).toEqual(["'self'"]);
      expect(csp.get("style-src")).toEqual(["'self'"]);
      expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
      expect(csp.get("object-src")).toEqual(["'none'"]);
      expect(csp.get("base-uri")).toEqual(["'none'"]);
      // The API is this origin; the identity emulator (dev tokens, and MSAL's authority over https) is the only other.
      expect(csp.get("connect-src")).toEqual(["'self'", new URL(stack().identityUrl).origin, new URL(stack().identityTlsUrl).origin]);
      expect(csp.get("frame-src")).toEqual([new URL(stack().identityTlsUrl).origin]);
      expect([...csp.values()].flat().join(" ")).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
    },
  );

  it("Static Web Apps in Azure gets the same policy, for its own API and authority, plus HSTS", () => {
    // Act
    const config = staticWebAppConfig("https://rac-api.azurewebsites.net/api", "https://login.microsoftonline.com/organizations") as {
      globalHeaders: Record<string, string>;
    };

    // Assess
    const csp = directives(config.globalHeaders["Content-Security-Policy"]);
    expect(csp.get("connect-src")).toEqual(["'self'", "https://rac-api.azurewebsites.net", "https://login.microsoftonline.com"]);
    expect(csp.get("frame-src")).toEqual(["https://login.microsoftonline.com"]);
    expect(csp.get("style-src")).toEqual(["'self'"]);
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
    expect(config.globalHeaders).toMatchObject({
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
      "Strict-Transport-Security": "max-age=31536000",
    });
  });

  it("no inline script or style in index.html that the policy would block", async () => {
    // Act
    const html = await (await fetch(`${stack().hostUrl}/`)).text();

    // Assess: scripts and styles come from files of the site.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
  });
});

describe("API answers", () => {
  it("say nosniff on success and on problems alike", async () => {
    // Act
    const health = await api("/health");
    const openapi = await fetch(`${stack().apiUrl}/openapi.json`);
    await openapi.arrayBuffer();
    const unauthenticated = await api("/sessions");

    // Assess
    expect(unauthenticated.status).toBe(401);
    for (const res of [health, openapi, unauthenticated]) expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
