// The portal's start (portal/src/main.ts) when the service refuses the token it holds:
// the reader lands on the sign-in page, told why, with a way to sign in again.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { byId, container, installFakeDom, textOf } from "../support/fakeDom.js";

const globals = ["window", "history", "sessionStorage", "fetch"] as const;
const saved: Partial<Record<(typeof globals)[number], unknown>> = {};
let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
  for (const k of globals) saved[k] = (globalThis as Record<string, unknown>)[k];
});
afterAll(() => {
  removeDom();
  for (const k of globals) {
    if (saved[k] === undefined) delete (globalThis as Record<string, unknown>)[k];
    else (globalThis as Record<string, unknown>)[k] = saved[k];
  }
});

const base64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
const token = `${base64url({ alg: "none" })}.${base64url({ tid: "t", oid: "o", name: "Ada Admin", exp: Math.floor(Date.now() / 1000) + 3600 })}.x`;

const config = {
  apiBaseUrl: "/api",
  auth: {
    kind: "local",
    identityUrl: "http://127.0.0.1:7074",
    users: [{ key: "admin", label: "Admin", claims: { tid: "t", oid: "o", name: "Ada Admin", preferred_username: "ada@x", roles: [], groups: [] } }],
  },
};

describe("portal start with a token the service refuses", () => {
  it("shows the sign-in page with the expired notice, not the 401 over it", async () => {
    // Arrange: a stored token the API answers 401 for.
    const root = container();
    const doc = document as unknown as Record<string, unknown>;
    doc.getElementById = (id: string) => (id === "app" ? root : null);
    const store = new Map<string, string>([["rac.portal.token", token]]);
    Object.assign(globalThis, {
      window: { location: { hash: "", href: "http://127.0.0.1:7071/" }, addEventListener: () => undefined },
      history: { state: null, replaceState: () => undefined },
      sessionStorage: {
        getItem: (k: string) => store.get(k) ?? null,
        setItem: (k: string, v: string) => store.set(k, v),
        removeItem: (k: string) => store.delete(k),
      },
      fetch: vi.fn(async (url: string | URL) => {
        if (String(url) === "config.json") return new Response(JSON.stringify(config));
        return new Response(JSON.stringify({ title: "Unauthenticated", status: 401, code: "unauthenticated", detail: "The token was refused." }), {
          status: 401,
          headers: { "content-type": "application/problem+json" },
        });
      }),
    });

    // Act
    // main.ts starts the portal when loaded (no other unit file loads it).
    await import("../../portal/src/main.js");
    await vi.waitFor(() => expect(store.has("rac.portal.token")).toBe(false));
    await new Promise((r) => setTimeout(r, 50));

    // Assess
    expect(byId(root, "sign-in")).toBeDefined();
    expect(textOf(root)).toContain("Your sign-in has expired or was refused by the service.");
    expect(textOf(root)).not.toContain("Unauthenticated (401)");
  });
});
