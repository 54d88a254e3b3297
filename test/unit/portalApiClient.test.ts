// The portal's HTTP client (portal/src/api.ts) when the API refuses the bearer token it was
// sent (401, error="invalid_token"): it renews the token once and sends the request again;
// a second refusal, or no new token, sends the reader to sign in, once.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiClient, ApiProblem } from "../../portal/src/api.js";

const refused = (): Response =>
  new Response(JSON.stringify({ title: "Unauthenticated", status: 401, code: "unauthenticated", detail: "The token is not valid." }), {
    status: 401,
    headers: { "content-type": "application/problem+json", "www-authenticate": 'Bearer realm="remote-assistance-connector", error="invalid_token"' },
  });

/** A fetch that answers 200 to the bearer token `good`, 401 to any other. */
function apiAccepting(good: string | undefined) {
  return vi.fn(async (_url: URL, init: RequestInit) => {
    const auth = (init.headers as Record<string, string>).authorization;
    return good !== undefined && auth === `Bearer ${good}` ? new Response(JSON.stringify({ ok: true })) : refused();
  });
}

beforeEach(() => {
  vi.stubGlobal("window", { location: { href: "http://127.0.0.1:7071/" } });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe("portal API client on a refused token", () => {
  it("renews the token once and sends the request again with the new one", async () => {
    // Arrange: the token held was refused (revoked, or issued before a change); a fresh one is accepted.
    const fetch = apiAccepting("new");
    vi.stubGlobal("fetch", fetch);
    const token = vi.fn(async (options?: { instead?: string }) => (options?.instead ? "new" : "old"));
    const onUnauthenticated = vi.fn();
    const api = new ApiClient("/api", token, onUnauthenticated);

    // Act
    const answer = await api.get<{ ok: boolean }>("/connector");

    // Assess
    expect(answer).toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(token).toHaveBeenCalledWith({ instead: "old" });
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it("sends the reader to sign in, once, when the renewed token is refused too", async () => {
    // Arrange
    const fetch = apiAccepting(undefined);
    vi.stubGlobal("fetch", fetch);
    const token = vi.fn(async (options?: { instead?: string }) => (options?.instead ? "new" : "old"));
    const onUnauthenticated = vi.fn();
    const api = new ApiClient("/api", token, onUnauthenticated);

    // Act
    const error = await api.get("/connector").catch((e: unknown) => e);

    // Assess: two requests, no more; one sign-in.
    expect(error).toBeInstanceOf(ApiProblem);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it("sends the reader to sign in without sending again when no new token can be had", async () => {
    // Arrange: the local sign-in cannot renew a token without the reader picking a user.
    const fetch = apiAccepting(undefined);
    vi.stubGlobal("fetch", fetch);
    const token = vi.fn(async (options?: { instead?: string }) => (options?.instead ? undefined : "old"));
    const onUnauthenticated = vi.fn();
    const api = new ApiClient("/api", token, onUnauthenticated);

    // Act
    await api.get("/connector").catch(() => undefined);

    // Assess
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it("sends the reader to sign in at once when no token was sent", async () => {
    // Arrange
    const fetch = apiAccepting("new");
    vi.stubGlobal("fetch", fetch);
    const token = vi.fn(async () => undefined);
    const onUnauthenticated = vi.fn();
    const api = new ApiClient("/api", token, onUnauthenticated);

    // Act
    await api.get("/connector").catch(() => undefined);

    // Assess
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(token).toHaveBeenCalledTimes(1);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it("renews once for requests refused at the same time", async () => {
    // Arrange: a page that sends several requests at once (the audit log names each row's device).
    const fetch = apiAccepting("new");
    vi.stubGlobal("fetch", fetch);
    const token = vi.fn(async (options?: { instead?: string }) => (options?.instead ? "new" : "old"));
    const api = new ApiClient("/api", token, vi.fn());

    // Act
    const answers = await Promise.all([api.get("/devices/a"), api.get("/devices/b"), api.get("/devices/c")]);

    // Assess: one new token for all three, each sent again with it.
    expect(answers).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(token.mock.calls.filter(([options]) => options?.instead)).toHaveLength(1);
    expect(fetch).toHaveBeenCalledTimes(6);
  });

  it("does not sign out a reader who signed in again when a request sent with the old token is refused late", async () => {
    // Arrange: the token held is refused and cannot be renewed, so the reader signs in again; one
    // request sent with the old token was still on its way.
    let held: string | undefined = "old";
    const token = vi.fn(async (options?: { instead?: string }) => (options?.instead !== undefined && held === options.instead ? undefined : held));
    let answerLate: () => void = () => undefined;
    const late = new Promise<void>((resolve) => (answerLate = resolve));
    const fetch = vi.fn(async (url: URL, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).authorization;
      if (url.pathname === "/api/slow" && auth === "Bearer old") await late;
      return auth === "Bearer new" ? new Response(JSON.stringify({ ok: true })) : refused();
    });
    vi.stubGlobal("fetch", fetch);
    const onUnauthenticated = vi.fn(() => (held = undefined));
    const api = new ApiClient("/api", token, onUnauthenticated);
    const slow = api.get("/slow");
    await api.get("/connector").catch(() => undefined);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    held = "new"; // signed in again

    // Act
    answerLate();

    // Assess: the late refusal is mended with the token held now; nobody is signed out.
    await expect(slow).resolves.toEqual({ ok: true });
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });
});
