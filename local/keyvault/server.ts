// Key Vault emulator: the secrets REST API as @azure/keyvault-secrets uses it (see
// shared/KEYVAULT-REST.md), with soft delete, recover and purge, the 401 bearer challenge
// on unauthenticated calls, and state kept in a JSON file in the data directory.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { isLoopbackHost, listen, urlHost } from "../loopback.js";

export const defaultKeyVaultPort = 7073;

export interface KeyVaultEmulatorOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  log?: (line: string) => void;
}

export interface KeyVaultEmulator {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

interface Attributes {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

interface Version {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  attributes: Attributes;
}

interface Secret {
  versions: Version[]; // oldest first
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

interface State {
  secrets: Record<string, Secret>;
}

const recoverableDays = 90;
const namePattern = /^[0-9a-zA-Z-]{1,127}$/;
const now = (): number => Math.floor(Date.now() / 1000);

class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly inner?: string,
  ) {
    super(message);
  }
}

const notFound = (name: string): VaultError =>
  new VaultError(404, "SecretNotFound", `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.`);

export async function startKeyVaultEmulator(options: KeyVaultEmulatorOptions = {}): Promise<KeyVaultEmulator> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host)) throw new Error(`the Key Vault emulator only listens on loopback (asked for ${host})`);
  const log = options.log ?? (() => undefined);
  const file = options.dataDir ? join(options.dataDir, "vault.json") : undefined;
  let state: State = { secrets: {} };
  if (file) {
    mkdirSync(options.dataDir!, { recursive: true });
    if (existsSync(file)) state = JSON.parse(readFileSync(file, "utf8")) as State;
  }
  const persist = (): void => {
    if (!file) return;
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
  };
  let origin = "";

  const attributesOut = (a: Attributes): Record<string, unknown> => ({
    ...a,
    recoveryLevel: "Recoverable+Purgeable",
    recoverableDays,
  });
  const bundle = (name: string, v: Version): Record<string, unknown> => ({
    value: v.value,
    id: `${origin}/secrets/${name}/${v.version}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags ? { tags: v.tags } : {}),
    attributes: attributesOut(v.attributes),
  });
  const item = (name: string, v: Version, withVersion: boolean): Record<string, unknown> => ({
    id: withVersion ? `${origin}/secrets/${name}/${v.version}` : `${origin}/secrets/${name}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags ? { tags: v.tags } : {}),
    attributes: attributesOut(v.attributes),
  });
  const deletedExtras = (name: string, s: Secret): Record<string, unknown> => ({
    recoveryId: `${origin}/deletedsecrets/${name}`,
    deletedDate: s.deleted!.deletedDate,
    scheduledPurgeDate: s.deleted!.scheduledPurgeDate,
  });

  const live = (name: string): Secret => {
    const s = state.secrets[name.toLowerCase()];
    if (!s || s.deleted) throw notFound(name);
    return s;
  };
  const deleted = (name: string): Secret => {
    const s = state.secrets[name.toLowerCase()];
    if (!s?.deleted) throw new VaultError(404, "SecretNotFound", `Deleted Secret not found: ${name}`);
    return s;
  };
  const checkName = (name: string): void => {
    if (!namePattern.test(name)) throw new VaultError(400, "BadParameter", `The secret name '${name.slice(0, 64)}' is invalid: use 1-127 letters, digits and dashes.`);
  };

  /** A page of items with a nextLink that carries its own offset. */
  const page = (items: unknown[], url: URL, path: string): Record<string, unknown> => {
    const max = Math.min(Math.max(Number(url.searchParams.get("maxresults") ?? 25) || 25, 1), 25);
    const skip = Number(url.searchParams.get("$skiptoken") ?? 0) || 0;
    const slice = items.slice(skip, skip + max);
    const next = skip + max < items.length ? `${origin}${path}?api-version=7.5&maxresults=${max}&$skiptoken=${skip + max}` : null;
    return { value: slice, nextLink: next };
  };

  const handle = async (method: string, url: URL, body: Record<string, unknown> | undefined): Promise<[number, unknown]> => {
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const [collection, name, third, fourth] = parts;
    if (collection === "secrets") {
      if (parts.length === 1 && method === "GET") {
        const items = Object.entries(state.secrets)
          .filter(([, s]) => !s.deleted)
          .map(([n, s]) => item(n, s.versions[s.versions.length - 1], false));
        return [200, page(items, url, "/secrets")];
      }
      if (parts.length === 2 && name === "restore" && method === "POST") {
        const raw = JSON.parse(Buffer.from(String(body?.value ?? ""), "base64url").toString("utf8")) as { name: string; secret: Secret };
        if (state.secrets[raw.name] && !state.secrets[raw.name].deleted) throw new VaultError(409, "Conflict", `Secret ${raw.name} already exists.`);
        state.secrets[raw.name] = { versions: raw.secret.versions };
        persist();
        return [200, bundle(raw.name, raw.secret.versions[raw.secret.versions.length - 1])];
      }
      checkName(name);
      const key = name.toLowerCase();
      if (parts.length === 2 && method === "PUT") {
        const existing = state.secrets[key];
        if (existing?.deleted) {
          throw new VaultError(409, "Conflict", `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`, "ObjectIsDeletedButRecoverable");
        }
        if (typeof body?.value !== "string") throw new VaultError(400, "BadParameter", "The request body must carry a string 'value'.");
        const attrs = (body.attributes ?? {}) as { enabled?: boolean; nbf?: number; exp?: number };
        const t = now();
        const v: Version = {
          version: randomBytes(16).toString("hex"),
          value: body.value,
          contentType: typeof body.contentType === "string" ? body.contentType : undefined,
          tags: body.tags as Record<string, string> | undefined,
          attributes: { enabled: attrs.enabled ?? true, ...(attrs.nbf ? { nbf: attrs.nbf } : {}), ...(attrs.exp ? { exp: attrs.exp } : {}), created: t, updated: t },
        };
        state.secrets[key] = { versions: [...(existing?.versions ?? []), v] };
        persist();
        log(`set secret ${name} (version ${v.version})`);
        return [200, bundle(name, v)];
      }
      if (parts.length === 2 && method === "DELETE") {
        const s = live(name);
        const t = now();
        s.deleted = { deletedDate: t, scheduledPurgeDate: t + recoverableDays * 86_400 };
        persist();
        log(`deleted secret ${name}`);
        return [200, { ...bundle(name, s.versions[s.versions.length - 1]), ...deletedExtras(name, s) }];
      }
      if (parts.length === 3 && third === "versions" && method === "GET") {
        const s = live(name);
        return [200, page(s.versions.map((v) => item(name, v, true)), url, `/secrets/${encodeURIComponent(name)}/versions`)];
      }
      if (parts.length === 3 && third === "backup" && method === "POST") {
        const s = live(name);
        return [200, { value: Buffer.from(JSON.stringify({ name: key, secret: { versions: s.versions } })).toString("base64url") }];
      }
      if ((parts.length === 2 || parts.length === 3) && method === "GET") {
        const s = live(name);
        const v = third ? s.versions.find((x) => x.version === third) : s.versions[s.versions.length - 1];
        if (!v) throw notFound(`${name}/${third}`);
        return [200, bundle(name, v)];
      }
      if (parts.length === 3 && method === "PATCH") {
        const s = live(name);
        const v = s.versions.find((x) => x.version === third) ?? (third === "" ? s.versions[s.versions.length - 1] : undefined);
        if (!v) throw notFound(`${name}/${third}`);
        const attrs = (body?.attributes ?? {}) as { enabled?: boolean; nbf?: number; exp?: number };
        if (typeof body?.contentType === "string") v.contentType = body.contentType;
        if (body?.tags) v.tags = body.tags as Record<string, string>;
        if (attrs.enabled !== undefined) v.attributes.enabled = attrs.enabled;
        if (attrs.nbf !== undefined) v.attributes.nbf = attrs.nbf;
        if (attrs.exp !== undefined) v.attributes.exp = attrs.exp;
        v.attributes.updated = now();
        persist();
        return [200, bundle(name, v)];
      }
    }
    if (collection === "deletedsecrets") {
      if (parts.length === 1 && method === "GET") {
        const items = Object.entries(state.secrets)
          .filter(([, s]) => s.deleted)
          .map(([n, s]) => ({ ...item(n, s.versions[s.versions.length - 1], false), ...deletedExtras(n, s) }));
        return [200, page(items, url, "/deletedsecrets")];
      }
      checkName(name);
      if (parts.length === 2 && method === "GET") {
        const s = deleted(name);
        return [200, { ...bundle(name, s.versions[s.versions.length - 1]), ...deletedExtras(name, s) }];
      }
      if (parts.length === 2 && method === "DELETE") {
        deleted(name);
        delete state.secrets[name.toLowerCase()];
        persist();
        log(`purged secret ${name}`);
        return [204, undefined];
      }
      if (parts.length === 3 && third === "recover" && method === "POST") {
        const s = deleted(name);
        delete s.deleted;
        persist();
        log(`recovered secret ${name}`);
        return [200, bundle(name, s.versions[s.versions.length - 1])];
      }
    }
    void fourth;
    throw new VaultError(404, "NotFound", `No operation ${method} ${url.pathname}.`);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", origin);
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }), ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        if (url.pathname === "/health") return reply(200, { status: "healthy" });
        // Any bearer token is accepted (a dev emulator); none at all gets the challenge the SDK expects.
        if (!/^Bearer \S+/i.test(req.headers.authorization ?? "")) {
          return reply(
            401,
            { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } },
            { "www-authenticate": 'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"' },
          );
        }
        let body: Record<string, unknown> | undefined;
        const text = Buffer.concat(chunks).toString("utf8");
        if (text) {
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            return reply(400, { error: { code: "BadParameter", message: "The request body is not valid JSON." } });
          }
        }
        try {
          const [status, out] = await handle(req.method ?? "GET", url, body);
          reply(status, out);
        } catch (e) {
          if (e instanceof VaultError) {
            return reply(e.status, { error: { code: e.code, message: e.message, ...(e.inner ? { innererror: { code: e.inner } } : {}) } });
          }
          log(`internal error: ${e instanceof Error ? e.message : String(e)}`);
          reply(500, { error: { code: "InternalError", message: "The emulator failed." } });
        }
      })();
    });
  });

  const port = await listen(server, options.port ?? defaultKeyVaultPort, host);
  origin = `http://${urlHost(host)}:${port}`;
  return {
    port,
    url: origin,
    close: () =>
      new Promise<void>((resolve) => {
        persist();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
