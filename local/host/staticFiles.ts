// Serves a folder for paths outside the route prefix (the portal at "/"), the way a static site sits
// beside the API. Unknown extension-less GETs that want HTML fall back to index.html (client-side routes).
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

async function fileAt(path: string): Promise<{ path: string; size: number } | undefined> {
  try {
    const s = await stat(path);
    if (s.isFile()) return { path, size: s.size };
    if (s.isDirectory()) return fileAt(join(path, "index.html"));
  } catch {
    // missing: fall through
  }
  return undefined;
}

/** Answers the request from `root`; returns false when nothing there fits (the caller answers 404). */
export async function serveStatic(
  root: string,
  rawPath: string,
  req: IncomingMessage,
  res: ServerResponse,
  headers: Readonly<Record<string, string>> = {},
): Promise<boolean> {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return false;
  }
  const base = resolve(root);
  const target = resolve(base, `.${decoded.startsWith("/") ? decoded : `/${decoded}`}`);
  if (target !== base && !target.startsWith(base + sep)) return false;
  let file = await fileAt(target);
  if (!file && extname(target) === "" && (req.headers.accept ?? "").includes("text/html")) file = await fileAt(join(base, "index.html"));
  if (!file) return false;
  res.writeHead(200, {
    ...headers,
    "content-type": contentTypes[extname(file.path).toLowerCase()] ?? "application/octet-stream",
    "content-length": file.size,
    "cache-control": "no-cache",
  });
  if (req.method === "HEAD") {
    res.end();
    return true;
  }
  await new Promise<void>((done) => {
    const stream = createReadStream(file.path);
    stream.on("error", () => {
      res.destroy();
      done();
    });
    res.on("close", done);
    stream.pipe(res);
  });
  return true;
}
