// Key Vault emulator: the secrets REST API as @azure/keyvault-secrets 4.11 speaks it (see
// docs/architecture.md, "Local runtime") over plain HTTP on loopback, with the 401 bearer challenge.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import { BodyTooLarge, closeServer, readBody, send as sendText } from "../http.js";
import { isLoopbackHost, listen, urlHost } from "../loopback.js";
import {
  latest,
  recoverableDays,
  SecretVault,
  secretNamePattern,
  VaultError,
  type SecretVersion,
  type StoredSecret,
  type VaultErrorCode,
} from "./secretVault.js";

export const defaultKeyVaultPort = 7073;

export interface KeyVaultEmulatorOptions {
  /** Default 7073; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1; loopback only, since any bearer token is accepted. */
  host?: string;
  /** Where the secrets are kept across restarts; in memory when absent. */
  dataDir?: string;
  log?: (line: string) => void;
  /** Epoch milliseconds; tests move it to see deleted secrets pass their purge date. */
  clock?: () => number;
  /** Refuse purges (403) and report recoveryLevel "Recoverable", as a vault with purge protection does. */
  purgeProtection?: boolean;
}

export interface KeyVaultEmulator {
  readonly port: number;
  /** http://127.0.0.1:<port>: the vault URL for SecretClient, and the origin of every `id`. */
  readonly url: string;
  close(): Promise<void>;
}

/** The challenge the SDK's keyVaultAuthenticationPolicy needs before it sends a token. */
const challenge = 'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"';
const maxBodyBytes = 1024 * 1024;
const maxValueBytes = 25 * 1024;
const pageSize = 25;

const statusOf: Record<VaultErrorCode | "Unauthorized" | "NotFound" | "MethodNotAllowed" | "RequestTooLarge" | "InternalError", number> = {
  SecretNotFound: 404,
  Conflict: 409,
  BadParameter: 400,
  Forbidden: 403,
  Unauthorized: 401,
  NotFound: 404,
  MethodNotAllowed: 405,
  RequestTooLarge: 413,
  InternalError: 500,
};
type ErrorCode = keyof typeof statusOf;

/** An emulator-level refusal (routing, body size); vault rules throw VaultError. */
class HttpRefusal extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const unixSeconds = z.number().int().nonnegative().nullish();
// The service limits: 15 tags, names up to 512 and values up to 256 characters.
const tagsSchema = z
  .record(z.string().min(1).max(512), z.string().max(256))
  .refine((t) => Object.keys(t).length <= 15, "at most 15 tags")
  .nullish();
const attributesSchema = z.object({ enabled: z.boolean().nullish(), nbf: unixSeconds, exp: unixSeconds }).nullish();
const setBodySchema = z.object({
  value: z.string().refine((v) => Buffer.byteLength(v, "utf8") <= maxValueBytes, `a secret value holds at most ${maxValueBytes} bytes`),
  contentType: z.string().max(255).nullish(),
  tags: tagsSchema,
  attributes: attributesSchema,
});
const patchBodySchema = z.object({ contentType: z.string().max(255).nullish(), tags: tagsSchema, attributes: attributesSchema });
const restoreBodySchema = z.object({ value: z.string().min(1) });

/** Parses a body against a schema; the message names fields, never the values sent. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  throw new VaultError(
    "BadParameter",
    `The request body is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`,
  );
}

const optional = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

interface Request {
  readonly method: string;
  readonly url: URL;
  readonly params: readonly string[];
  readonly body: unknown;
}
type Reply = readonly [status: number, body?: unknown];
interface Route {
  readonly method: string;
  readonly path: RegExp;
  readonly handle: (req: Request) => Reply;
}

export async function startKeyVaultEmulator(options: KeyVaultEmulatorOptions = {}): Promise<KeyVaultEmulator> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host))
    throw new Error(`the Key Vault emulator only listens on a loopback address (127.0.0.1, ::1, localhost), not ${host}: it accepts any bearer token`);
  const log = options.log ?? (() => undefined);
  const vault = new SecretVault({ dataDir: options.dataDir, clock: options.clock, purgeProtection: options.purgeProtection });
  let origin = "";

  const secretName = (raw: string): string => {
    if (!secretNamePattern.test(raw))
      throw new VaultError("BadParameter", `The secret name '${raw.slice(0, 130)}' is invalid: use 1-127 letters, digits and dashes.`);
    return raw;
  };

  const attributes = (v: SecretVersion): Record<string, unknown> => ({
    enabled: v.enabled,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    created: v.created,
    updated: v.updated,
    recoveryLevel: vault.purgeProtection ? "Recoverable" : "Recoverable+Purgeable",
    recoverableDays,
  });
  /** SecretBundle, or SecretItem when `value` is left out; the service sends values only on set and get. */
  const bundle = (s: StoredSecret, v: SecretVersion, shape: { value: boolean; versionInId: boolean }): Record<string, unknown> => ({
    ...(shape.value ? { value: v.value } : {}),
    id: shape.versionInId ? `${origin}/secrets/${s.name}/${v.version}` : `${origin}/secrets/${s.name}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
    attributes: attributes(v),
  });
  const deletedExtras = (s: StoredSecret): Record<string, unknown> => ({
    recoveryId: `${origin}/deletedsecrets/${s.name}`,
    deletedDate: s.deleted?.deletedDate,
    scheduledPurgeDate: s.deleted?.scheduledPurgeDate,
  });

  /**
   * One page of `items` (already in a stable order) and a nextLink to the rest. The skip
   * token is the key of the last item served, so writes between pages neither repeat
   * nor skip what was already listed.
   */
  const page = <T>(req: Request, items: readonly T[], keyOf: (item: T) => string, render: (item: T) => unknown): Reply => {
    const raw = req.url.searchParams.get("maxresults");
    const max = raw === null ? pageSize : Number(raw);
    if (!Number.isInteger(max) || max < 1 || max > pageSize) throw new VaultError("BadParameter", `maxresults must be an integer from 1 to ${pageSize}.`);
    const token = req.url.searchParams.get("$skiptoken");
    const after = token === null ? undefined : Buffer.from(token, "base64url").toString("utf8");
    const rest = after === undefined ? items : items.filter((i) => keyOf(i) > after);
    const served = rest.slice(0, max);
    const last = served[served.length - 1];
    const apiVersion = req.url.searchParams.get("api-version") ?? "";
    const nextLink =
      rest.length > max && last !== undefined
        ? `${origin}${req.url.pathname}?api-version=${encodeURIComponent(apiVersion)}&maxresults=${max}&$skiptoken=${Buffer.from(keyOf(last), "utf8").toString("base64url")}`
        : null;
    return [200, { value: served.map(render), nextLink }];
  };
  const nameKey = (s: StoredSecret): string => s.name.toLowerCase();

  const routes: readonly Route[] = [
    {
      method: "GET",
      path: /^\/secrets\/?$/,
      handle: (req) => page(req, vault.listLive(), nameKey, (s) => bundle(s, latest(s), { value: false, versionInId: false })),
    },
    {
      method: "POST",
      path: /^\/secrets\/restore\/?$/,
      handle: (req) => {
        const secret = vault.restore(parseBody(restoreBodySchema, req.body).value);
        log(`restored secret ${secret.name} (${secret.versions.length} versions)`);
        return [200, bundle(secret, latest(secret), { value: false, versionInId: true })];
      },
    },
    {
      method: "PUT",
      path: /^\/secrets\/([^/]+)\/?$/,
      handle: (req) => {
        const body = parseBody(setBodySchema, req.body);
        const { secret, version } = vault.set(secretName(req.params[0]), {
          value: body.value,
          contentType: optional(body.contentType),
          tags: optional(body.tags),
          enabled: optional(body.attributes?.enabled),
          nbf: optional(body.attributes?.nbf),
          exp: optional(body.attributes?.exp),
        });
        log(`set secret ${secret.name} (version ${version.version})`);
        return [200, bundle(secret, version, { value: true, versionInId: true })];
      },
    },
    {
      method: "DELETE",
      path: /^\/secrets\/([^/]+)\/?$/,
      handle: (req) => {
        const secret = vault.delete(secretName(req.params[0]));
        log(`deleted secret ${secret.name} (recoverable for ${recoverableDays} days)`);
        return [200, { ...bundle(secret, latest(secret), { value: false, versionInId: true }), ...deletedExtras(secret) }];
      },
    },
    {
      method: "GET",
      path: /^\/secrets\/([^/]+)\/versions\/?$/,
      handle: (req) => {
        const { secret, versions } = vault.listVersions(secretName(req.params[0]));
        // Versions are only ever appended, so the position is a stable key.
        const indexed = versions.map((v, i) => ({ v, key: String(i).padStart(8, "0") }));
        return page(
          req,
          indexed,
          (x) => x.key,
          (x) => bundle(secret, x.v, { value: false, versionInId: true }),
        );
      },
    },
    {
      method: "POST",
      path: /^\/secrets\/([^/]+)\/backup\/?$/,
      handle: (req) => {
        const name = secretName(req.params[0]);
        const value = vault.backup(name);
        log(`backed up secret ${name}`);
        return [200, { value }];
      },
    },
    {
      // `/secrets/{name}/` (the SDK's "latest", trailing slash) and `/secrets/{name}/{version}`.
      method: "GET",
      path: /^\/secrets\/([^/]+)(?:\/([^/]*))?$/,
      handle: (req) => {
        const { secret, version } = vault.get(secretName(req.params[0]), req.params[1] || undefined);
        return [200, bundle(secret, version, { value: true, versionInId: true })];
      },
    },
    {
      method: "PATCH",
      path: /^\/secrets\/([^/]+)\/([^/]*)$/,
      handle: (req) => {
        const body = parseBody(patchBodySchema, req.body);
        const { secret, version } = vault.update(secretName(req.params[0]), req.params[1] || undefined, {
          contentType: optional(body.contentType),
          tags: optional(body.tags),
          enabled: optional(body.attributes?.enabled),
          nbf: body.attributes?.nbf === null ? 0 : body.attributes?.nbf,
          exp: body.attributes?.exp === null ? 0 : body.attributes?.exp,
        });
        log(`updated secret ${secret.name} (version ${version.version})`);
        return [200, bundle(secret, version, { value: false, versionInId: true })];
      },
    },
    {
      method: "GET",
      path: /^\/deletedsecrets\/?$/,
      handle: (req) => page(req, vault.listDeleted(), nameKey, (s) => ({ ...bundle(s, latest(s), { value: false, versionInId: false }), ...deletedExtras(s) })),
    },
    {
      method: "GET",
      path: /^\/deletedsecrets\/([^/]+)\/?$/,
      handle: (req) => {
        const secret = vault.getDeleted(secretName(req.params[0]));
        return [200, { ...bundle(secret, latest(secret), { value: false, versionInId: true }), ...deletedExtras(secret) }];
      },
    },
    {
      method: "DELETE",
      path: /^\/deletedsecrets\/([^/]+)\/?$/,
      handle: (req) => {
        const name = secretName(req.params[0]);
        vault.purge(name);
        log(`purged secret ${name}`);
        return [204];
      },
    },
    {
      method: "POST",
      path: /^\/deletedsecrets\/([^/]+)\/recover\/?$/,
      handle: (req) => {
        const secret = vault.recover(secretName(req.params[0]));
        log(`recovered secret ${secret.name}`);
        return [200, bundle(secret, latest(secret), { value: false, versionInId: true })];
      },
    },
  ];

  const route = (method: string, url: URL, body: unknown): Reply => {
    const matching = routes.map((r) => ({ r, m: r.path.exec(url.pathname) })).filter((x) => x.m !== null);
    const hit = matching.find((x) => x.r.method === method);
    if (!hit?.m) {
      if (matching.length > 0) throw new HttpRefusal("MethodNotAllowed", `${method} is not supported on ${url.pathname}.`);
      throw new HttpRefusal("NotFound", `No operation at ${url.pathname}.`);
    }
    let params: string[];
    try {
      params = hit.m.slice(1).map((p) => decodeURIComponent(p ?? ""));
    } catch {
      throw new VaultError("BadParameter", "The request path is not valid percent-encoding.");
    }
    return hit.r.handle({ method, url, params, body });
  };

  const send = (res: ServerResponse, [status, body]: Reply, headers: Record<string, string> = {}): void => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    sendText(res, status, text, {
      ...(text === undefined
        ? { "content-length": "0" }
        : { "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(text)) }),
      "cache-control": "no-cache",
      "x-ms-keyvault-service-version": "emulator",
      ...headers,
    });
  };
  const errorReply = (code: string, message: string, innerCode?: string): Reply => [
    statusOf[code as ErrorCode] ?? 500,
    { error: { code, message, ...(innerCode ? { innererror: { code: innerCode } } : {}) } },
  ];

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", origin);
    const method = req.method ?? "GET";
    if (method === "GET" && url.pathname === "/health") return send(res, [200, { status: "healthy" }]);
    // Any bearer token is accepted (a dev emulator). Without one, the challenge: the SDK
    // sends each client's first request bare, body stripped, and waits for it.
    if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? "")) {
      req.resume();
      return send(res, errorReply("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."), { "www-authenticate": challenge });
    }
    let text: string;
    try {
      text = await readBody(req, maxBodyBytes);
    } catch (e) {
      if (e instanceof BodyTooLarge)
        return send(res, errorReply("RequestTooLarge", `The request body exceeds ${maxBodyBytes} bytes.`), { connection: "close" });
      throw e;
    }
    // URLSearchParams decodes the SDK's `api%2Dversion` to `api-version`; any value is fine.
    if (!url.searchParams.has("api-version")) return send(res, errorReply("BadParameter", "The 'api-version' query parameter is missing."));
    let body: unknown;
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        return send(res, errorReply("BadParameter", "The request body is not valid JSON."));
      }
    }
    try {
      send(res, route(method, url, body));
    } catch (e) {
      if (e instanceof VaultError) return send(res, errorReply(e.code, e.message, e.innerCode));
      if (e instanceof HttpRefusal) return send(res, errorReply(e.code, e.message));
      log(`${method} ${url.pathname} failed: ${e instanceof Error ? e.message : String(e)}`);
      send(res, errorReply("InternalError", "The emulator failed; see its log."));
    }
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((e: unknown) => {
      log(`request failed: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) send(res, errorReply("InternalError", "The emulator failed; see its log."));
      else res.destroy();
    });
  });

  const port = await listen(server, options.port ?? defaultKeyVaultPort, host);
  origin = `http://${urlHost(host)}:${port}`;
  log(`listening on ${origin}${options.dataDir === undefined ? " (in memory)" : ` (data in ${options.dataDir})`}`);
  return {
    port,
    url: origin,
    // State is written on every change, so closing only has to stop the listener.
    close: () => closeServer(server),
  };
}
