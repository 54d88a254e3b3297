// A call as the TeamViewer fake's routes see it, and the answers they share: TeamViewer's
// OAuth-style JSON errors, the sign-in's HTML and redirects.
import type { ServerResponse } from "node:http";
import { z } from "zod";
import { send, sendOAuthError } from "../http.js";

export interface Context {
  readonly method: string;
  readonly path: string;
  /** Lower case, no trailing slash: TeamViewer's paths are case-insensitive. */
  readonly route: string;
  readonly query: URLSearchParams;
  readonly body: string;
  readonly contentType: string;
  readonly authorization?: string;
  /** Who called, for the call log: set by whatever checks the bearer token. */
  tokenId?: string;
  grantId?: string;
  /** Answered by an injected fault or throttle, not by the route. */
  fault?: boolean;
}

export type Json = Record<string, unknown>;

/** A refusal a route throws; the server answers it as `{ error: "invalid_request" }`. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const apiPrefix = "/api/v1";

export function parseJsonBody<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  if (!ctx.contentType.startsWith("application/json")) throw new HttpFailure(400, "Send the body as application/json.");
  let json: unknown;
  try {
    json = JSON.parse(ctx.body);
  } catch {
    throw new HttpFailure(400, "The request body is not valid JSON.");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new HttpFailure(400, z.prettifyError(parsed.error));
  return parsed.data;
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  send(res, status, html, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // The page's URL holds the OAuth state: keep it out of Referer headers and frames.
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  });
}

export function redirect(res: ServerResponse, target: URL, params: Record<string, string | undefined>): void {
  const location = new URL(target);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) location.searchParams.set(k, v);
  send(res, 302, undefined, { location: location.toString(), "cache-control": "no-store", "referrer-policy": "no-referrer" });
}

export function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendOAuthError(res, 405, "invalid_request", "Method not allowed.", { allow });
}

export function notFound(res: ServerResponse, description = "No such endpoint."): void {
  sendOAuthError(res, 404, "not_found", description);
}
