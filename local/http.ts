// What the local emulators' node:http servers have in common: reading a request body up to
// a limit, answering JSON (OAuth-style errors included), closing, and stopping on Ctrl+C.
import type { IncomingMessage, Server, ServerResponse } from "node:http";

/** The request body went over the emulator's limit; the rest of it is not read. */
export class BodyTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`the body exceeds ${maxBytes} bytes`);
  }
}

/** The whole body as UTF-8 text; throws BodyTooLarge as soon as it passes `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLarge(maxBytes);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Answers once: nothing happens when the answer has begun or the caller is gone. */
export function send(res: ServerResponse, status: number, body?: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, headers);
  res.end(body);
}

/** `headers` may replace the content type (e.g. without the charset, as an emulator's original does). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { "content-type": "application/json; charset=utf-8", ...headers });
}

/** The OAuth 2.0 error answer (RFC 6749 §5.2), which both sign-in emulators speak. */
export function sendOAuthError(res: ServerResponse, status: number, error: string, description: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error, error_description: description }, headers);
}

/** Stops listening and drops open connections (keep-alive ones too), so close() does not wait on clients. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((e) => (e ? reject(e) : resolve()));
    server.closeAllConnections();
  });
}

/**
 * For an emulator's main.ts: on SIGINT or SIGTERM, say so, close, and exit 0 (1 when closing
 * fails). A second signal while closing is ignored. `prefix` starts each line, e.g. "[keyvault] ".
 */
export function stopOnSignals(close: () => Promise<void>, prefix = ""): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${prefix}${signal}: stopping`);
    close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`${prefix}close failed: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
