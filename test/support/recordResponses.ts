// Integration setup file: records every response the tests receive from the API (through
// api() or a raw fetch) as one JSON line in the file the globalSetup names, so that
// test/integration/zz.openapiResponses.test.ts can check each against the OpenAPI document.
import { appendFileSync } from "node:fs";
import { inject } from "vitest";

export interface RecordedResponse {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly contentType: string;
  readonly headers: Record<string, string>;
  readonly text: string;
  /** The body was too big to keep (a full page of the audit delta feed): status and content type only. */
  readonly bodyOmitted?: boolean;
}

const logFile = inject("responseLog");
const apiUrl = inject("stack").apiUrl;
const originalFetch = globalThis.fetch;

/**
 * Per test file, at most this many responses of one kind (method, path with its ids
 * folded, status) are recorded: the load tests poll big lists hundreds of times, and the
 * log must stay small enough to read back (it once passed 512 MB).
 */
const maxPerKind = 50;
/** A body longer than this is not kept (the record says so), for the same reason. */
const maxBodyChars = 200_000;
const recordedKinds = new Map<string, number>();
const kindOf = (method: string, path: string, status: number): string =>
  `${method} ${path
    .split("/")
    .map((segment) => (segment.length >= 16 || /\d/.test(segment) ? "*" : segment))
    .join("/")} ${status}`;

globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const response = await originalFetch(input, init);
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (!url.startsWith(`${apiUrl}/`) && url !== apiUrl) return response;
  const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
  const kind = kindOf(method, new URL(url).pathname, response.status);
  const seen = recordedKinds.get(kind) ?? 0;
  if (seen >= maxPerKind) return response;
  recordedKinds.set(kind, seen + 1);
  let text = "";
  try {
    text = await response.clone().text();
  } catch {
    // A body that cannot be read twice (aborted): recorded without it.
  }
  const record: RecordedResponse = {
    method,
    path: new URL(url).pathname,
    status: response.status,
    contentType: (response.headers.get("content-type") ?? "").split(";")[0].trim(),
    headers: Object.fromEntries(response.headers),
    text: text.length > maxBodyChars ? "" : text,
    ...(text.length > maxBodyChars ? { bodyOmitted: true } : {}),
  };
  appendFileSync(logFile, `${JSON.stringify(record)}\n`);
  return response;
};
