// Test helpers for driving the API as a portal, automation or the Company Portal would.
import { inject } from "vitest";
import type { TokenClaims } from "../../local/identity/server.js";
import { demoUser } from "../../local/demoTenant.js";
import type { StackEndpoints } from "../../local/stack.js";

let override: StackEndpoints | undefined;

/** The stack every helper talks to: the shared one, or one a test file started for itself. */
export const stack = (): StackEndpoints => override ?? inject("stack");

/** Points every helper at another stack (a test file's own), or back at the shared one (undefined). */
export function useStack(endpoints: StackEndpoints | undefined): void {
  override = endpoints;
}

export async function tokenFor(claims: TokenClaims): Promise<string> {
  const res = await fetch(`${stack().identityUrl}/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(claims),
  });
  if (res.status !== 200) throw new Error(`identity emulator answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export const tokenOf = (userKey: string): Promise<string> => tokenFor(demoUser(userKey).claims);

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export async function api<T = unknown>(
  path: string,
  options: { method?: string; token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${stack().apiUrl}${path}`, { method: options.method ?? "GET", headers, body, redirect: "manual" });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}
