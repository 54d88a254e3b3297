// HTTP triggers on node:http: route prefix + ASP.NET route templates, the request handed to the library as
// RPC http data (so it builds its own HttpRequest) and its RPC response written back (status, headers, cookies).
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RpcHttpCookie, RpcHttpData, RpcInvocationResponse, RpcTypedData } from "./coreTypes.js";
import type { RegisteredFunction } from "./functionsCore.js";
import type { HostLog } from "./hostLog.js";
import type { InFlight } from "./inFlight.js";
import type { Invoker } from "./invoker.js";
import { comparePrecedence, type RouteTemplate } from "./routeTemplate.js";
import { serveStatic } from "./staticFiles.js";

/** The documented request size limit (D-http): 100 MB. */
export const maxRequestBodyBytes = 104_857_600;
/** The documented URL length limit (D-http): 4 KB. */
export const maxUrlLength = 4096;

export interface HttpRoute {
  readonly fn: RegisteredFunction;
  readonly triggerName: string;
  readonly template: RouteTemplate;
  /** Upper-case methods the trigger accepts. */
  readonly methods: ReadonlySet<string>;
}

export interface HttpTriggerServerOptions {
  readonly host: string;
  readonly port: number;
  readonly routePrefix: string;
  readonly routes: readonly HttpRoute[];
  readonly staticDir?: string;
  readonly staticHeaders?: Readonly<Record<string, string>>;
  /**
   * The host's admin API (`POST /admin/functions/{name}` with `{"input": "…"}`): runs a non-HTTP function now.
   * Resolves false when no such function runs here.
   */
  readonly invokeByName?: (name: string, input: string) => boolean;
  readonly invoker: Invoker;
  readonly inFlight: InFlight;
  readonly log: HostLog;
  readonly maxBodyBytes?: number;
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  // Repeated headers are joined with "," as ASP.NET's StringValues.ToString() does before the host sends them.
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = req.rawHeaders[i + 1];
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return headers;
}

/**
 * X-Forwarded-For as the App Service front end passes it on: whatever the client sent,
 * then the address the connection came from, with its port (`ip:port`, `[ipv6]:port`).
 */
export function forwardedFor(existing: string | undefined, remoteAddress: string | undefined, remotePort: number | undefined): string | undefined {
  if (!remoteAddress) return existing;
  const peer = remoteAddress.includes(":") ? `[${remoteAddress}]` : remoteAddress;
  const entry = remotePort === undefined ? peer : `${peer}:${remotePort}`;
  return existing ? `${existing}, ${entry}` : entry;
}

function queryRecord(rawQuery: string): Record<string, string> {
  // ASP.NET's query collection is case-insensitive and joins repeated keys with ",".
  const query: Record<string, string> = {};
  const keys = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    const existing = keys.get(key.toLowerCase());
    if (existing === undefined) {
      keys.set(key.toLowerCase(), key);
      query[key] = value;
    } else query[existing] = `${query[existing]},${value}`;
  }
  return query;
}

function cookieHeader(cookie: RpcHttpCookie): string {
  // ASP.NET's Response.Cookies.Append: escaped name/value, path defaults to "/", lower-case attributes.
  const parts = [`${encodeURIComponent(cookie.name ?? "")}=${encodeURIComponent(cookie.value ?? "")}`];
  const expires = cookie.expires?.value?.seconds;
  if (typeof expires === "number") parts.push(`expires=${new Date(expires * 1000).toUTCString()}`);
  const maxAge = cookie.maxAge?.value;
  if (typeof maxAge === "number") parts.push(`max-age=${Math.trunc(maxAge)}`);
  if (cookie.domain?.value) parts.push(`domain=${cookie.domain.value}`);
  parts.push(`path=${cookie.path?.value || "/"}`);
  if (cookie.secure?.value) parts.push("secure");
  const sameSite = { lax: "lax", strict: "strict", explicitNone: "none", none: undefined }[cookie.sameSite ?? "none"];
  if (sameSite) parts.push(`samesite=${sameSite}`);
  if (cookie.httpOnly?.value) parts.push("httponly");
  return parts.join("; ");
}

function bodyBytes(body: RpcTypedData | null | undefined): Buffer {
  if (!body) return Buffer.alloc(0);
  if (body.bytes) return Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength);
  if (typeof body.string === "string") return Buffer.from(body.string, "utf8");
  if (typeof body.json === "string") return Buffer.from(body.json, "utf8");
  return Buffer.alloc(0);
}

function httpResponseOf(response: RpcInvocationResponse): RpcHttpData | undefined {
  if (response.returnValue?.http) return response.returnValue.http;
  return response.outputData?.find((o) => o.data?.http)?.data?.http ?? undefined;
}

type BodyResult = { ok: true; body: Buffer } | { ok: false };

function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve({ ok: false });
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!over) resolve({ ok: true, body: Buffer.concat(chunks) });
    });
    req.on("error", reject);
  });
}

export class HttpTriggerServer {
  #options: HttpTriggerServerOptions;
  #server: Server;
  #routes: readonly HttpRoute[];
  #stopping = false;
  #port = 0;

  private constructor(options: HttpTriggerServerOptions) {
    this.#options = options;
    this.#routes = [...options.routes].sort((a, b) => comparePrecedence(a.template.precedence, b.template.precedence));
    this.#server = createServer((req, res) => {
      void this.#handle(req, res).catch((error: unknown) => {
        // The path only: a query may carry an OAuth code and state, or a token.
        const path = (req.url ?? "/").split("?")[0];
        options.log.error(`HTTP request ${req.method} ${path} failed in the host: ${String(error)}`);
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    // Large bodies and slow handlers are legitimate here; the host's own limits apply instead.
    this.#server.requestTimeout = 0;
  }

  static async start(options: HttpTriggerServerOptions): Promise<HttpTriggerServer> {
    const server = new HttpTriggerServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once("error", reject);
      server.#server.listen(options.port, options.host, () => {
        server.#server.off("error", reject);
        resolve();
      });
    });
    server.#port = (server.#server.address() as AddressInfo).port;
    return server;
  }

  get port(): number {
    return this.#port;
  }

  /** Stops accepting connections; requests still arriving on open connections get 503. */
  stopAccepting(): void {
    this.#stopping = true;
    this.#server.close();
    this.#server.closeIdleConnections();
  }

  /** Drops whatever connections remain (after in-flight invocations have finished). */
  closeConnections(): void {
    this.#server.closeAllConnections();
  }

  #routePath(rawPath: string): string | undefined {
    const prefix = this.#options.routePrefix;
    if (prefix === "") return rawPath;
    const lower = rawPath.toLowerCase();
    const p = `/${prefix.toLowerCase()}`;
    if (lower === p) return "";
    if (lower.startsWith(`${p}/`)) return rawPath.slice(p.length);
    return undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#stopping) {
      res.writeHead(503, { connection: "close" }).end();
      return;
    }
    const rawUrl = req.url ?? "/";
    if (Buffer.byteLength(rawUrl) > maxUrlLength) {
      res.writeHead(414).end();
      return;
    }
    const q = rawUrl.indexOf("?");
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q < 0 ? "" : rawUrl.slice(q + 1);
    const method = (req.method ?? "GET").toUpperCase();

    const admin = /^\/admin\/functions\/([^/]+)\/?$/i.exec(rawPath);
    if (admin && method === "POST" && this.#options.invokeByName) {
      await this.#adminInvoke(decodeURIComponent(admin[1]), req, res);
      return;
    }

    const routePath = this.#routePath(rawPath);
    if (routePath !== undefined) {
      for (const route of this.#routes) {
        // A method the trigger does not accept is no match at all: the host answers 404, not 405.
        if (!route.methods.has(method)) continue;
        const match = route.template.match(routePath);
        if (match) {
          await this.#options.inFlight.track(this.#invoke(route, match.params, req, res, rawUrl, rawQuery, method));
          return;
        }
      }
    }
    const staticDir = this.#options.staticDir;
    if (staticDir && (routePath === undefined || this.#options.routePrefix === "")) {
      if (await serveStatic(staticDir, rawPath, req, res, this.#options.staticHeaders)) return;
    }
    res.writeHead(404, { "content-length": 0 }).end();
  }

  async #adminInvoke(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, 1_048_576);
    let input = "";
    if (body.ok && body.body.length > 0) {
      try {
        const parsed: unknown = JSON.parse(body.body.toString("utf8"));
        const value = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>).input : undefined;
        input = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
      } catch {
        res.writeHead(400, { "content-length": 0 }).end();
        return;
      }
    }
    // Like the host: accepted at once, the invocation runs in the background.
    const accepted = this.#options.invokeByName?.(name, input) ?? false;
    res.writeHead(accepted ? 202 : 404, { "content-length": 0 }).end();
  }

  async #invoke(
    route: HttpRoute,
    params: Record<string, string>,
    req: IncomingMessage,
    res: ServerResponse,
    rawUrl: string,
    rawQuery: string,
    method: string,
  ): Promise<void> {
    const limit = this.#options.maxBodyBytes ?? maxRequestBodyBytes;
    const declared = Number(req.headers["content-length"] ?? 0);
    const body = declared > limit ? ({ ok: false } as const) : await readBody(req, limit);
    if (!body.ok) {
      res.writeHead(413, { connection: "close", "content-length": 0 }).end();
      req.resume();
      return;
    }

    const headers = headerRecord(req);
    const forwarded = forwardedFor(headers["x-forwarded-for"], req.socket.remoteAddress, req.socket.remotePort);
    if (forwarded !== undefined) headers["x-forwarded-for"] = forwarded;
    const query = queryRecord(rawQuery);
    const http: RpcHttpData = {
      method,
      url: `http://${req.headers.host ?? `${this.#options.host}:${this.#port}`}${rawUrl}`,
      headers,
      query,
      params,
      body: body.body.length > 0 ? { bytes: body.body } : undefined,
    };
    // The host's binding data for HTTP: route values, Query and Headers (the library ignores it for HTTP).
    const triggerMetadata: Record<string, RpcTypedData> = {
      Query: { json: JSON.stringify(query) },
      Headers: { json: JSON.stringify(headers) },
    };
    for (const [k, v] of Object.entries(params)) triggerMetadata[k] = { string: v };

    const outcome = await this.#options.invoker.invoke(route.fn, {
      inputData: [{ name: route.triggerName, data: { http } }],
      triggerMetadata,
      traceParent: headers.traceparent,
    });
    if (!outcome.ok) {
      res.writeHead(500, { "content-length": 0 }).end();
      return;
    }
    const out = httpResponseOf(outcome.response);
    if (!out) {
      // No response from the function: the documented default is 204 No Content (D-http).
      res.writeHead(204).end();
      return;
    }
    this.#write(res, out, method);
  }

  #write(res: ServerResponse, out: RpcHttpData, method: string): void {
    const status = Number(out.statusCode ?? 200);
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(out.headers ?? {})) headers[k.toLowerCase()] = v;
    const cookies = (out.cookies ?? []).map(cookieHeader);
    if (cookies.length > 0) {
      const existing = headers["set-cookie"];
      headers["set-cookie"] = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]), ...cookies];
    }
    const noBody = status === 204 || status === 304 || (status >= 100 && status < 200) || method === "HEAD";
    const body = noBody ? Buffer.alloc(0) : bodyBytes(out.body);
    if (!noBody) headers["content-length"] = body.length;
    res.writeHead(status, headers);
    res.end(body);
  }
}
