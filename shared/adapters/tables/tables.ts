// Table storage access: one TableClient per table, from a connection string locally or
// an endpoint plus DefaultAzureCredential in Azure, and the helpers every store shares.
import { RestError, TableClient, TableServiceClient, type TableEntityResult } from "@azure/data-tables";
import type { TokenCredential } from "@azure/core-auth";
import type { Config } from "../../config.js";
import { DomainError, errorCodes } from "../../domain/errors.js";
import { tableOperations } from "./tableOperations.js";

export const tableNames = {
  connectors: "connectors",
  oauthStates: "oauthStates",
  devices: "devices",
  users: "users",
  sessions: "sessions",
  roleAssignments: "roleAssignments",
  settings: "settings",
  auditEvents: "auditEvents",
  inbox: "inbox",
  idempotency: "idempotency",
  leases: "leases",
  quotas: "quotas",
} as const;
export type TableName = (typeof tableNames)[keyof typeof tableNames];

export interface Tables {
  client(name: TableName): TableClient;
  /** Creates every table that is missing (idempotent). */
  ensureAll(): Promise<void>;
  /** Lists tables once: proves the account answers (for /api/health). */
  ping(): Promise<void>;
}

/**
 * The Table endpoint a configuration talks to: the endpoint itself, or what a connection
 * string names (`TableEndpoint`, the development-storage shortcut, else the account's default).
 */
export function tableEndpoint(config: Config["tables"]): string {
  if (config.kind === "identity") return config.endpoint;
  const parts = new Map(
    config.connectionString
      .split(";")
      .filter((p) => p.includes("="))
      .map((p) => [p.slice(0, p.indexOf("=")).trim().toLowerCase(), p.slice(p.indexOf("=") + 1).trim()] as const),
  );
  if (parts.get("usedevelopmentstorage")?.toLowerCase() === "true") return "http://127.0.0.1:10002/devstoreaccount1";
  const explicit = parts.get("tableendpoint");
  if (explicit) return explicit;
  const protocol = parts.get("defaultendpointsprotocol") ?? "https";
  return `${protocol}://${parts.get("accountname") ?? ""}.table.${parts.get("endpointsuffix") ?? "core.windows.net"}`;
}

/**
 * Plain http only when configuration says so (TABLES_ALLOW_INSECURE), and then only to a
 * loopback emulator, as KEYVAULT_ALLOW_INSECURE does for Key Vault: throws at start-up
 * otherwise. The message names the endpoint, never the connection string (it holds the key).
 */
function assertTransportAllowed(config: Config["tables"]): void {
  const endpoint = tableEndpoint(config);
  const origin = /^[a-z]+:\/\/[^/]*/i.exec(endpoint)?.[0] ?? endpoint;
  if (!/^https:\/\//i.test(endpoint) && !config.allowInsecure) {
    throw new Error(`Table storage at ${origin} is not https: set TABLES_ALLOW_INSECURE=true, for a local emulator (Azurite) only`);
  }
  if (config.allowInsecure && !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/i.test(endpoint)) {
    throw new Error(`TABLES_ALLOW_INSECURE is only for a loopback emulator (Azurite), not Table storage at ${origin}`);
  }
}

export function createTables(config: Config["tables"], credential: TokenCredential): Tables {
  assertTransportAllowed(config);
  const clients = new Map<TableName, TableClient>();
  // Every client counts its requests (tableOperations.ts): the cost model the benchmarks print.
  const options = {
    additionalPolicies: [{ policy: tableOperations.policy, position: "perCall" as const }],
    allowInsecureConnection: config.allowInsecure,
  };
  const service =
    config.kind === "connectionString"
      ? TableServiceClient.fromConnectionString(config.connectionString, options)
      : new TableServiceClient(config.endpoint, credential, options);
  const client = (name: TableName): TableClient => {
    let c = clients.get(name);
    if (!c) {
      c =
        config.kind === "connectionString"
          ? TableClient.fromConnectionString(config.connectionString, name, options)
          : new TableClient(config.endpoint, name, credential, options);
      clients.set(name, c);
    }
    return c;
  };
  return {
    client,
    ensureAll: async () => {
      await Promise.all(Object.values(tableNames).map((n) => client(n).createTable()));
    },
    ping: async () => {
      const iterator = service.listTables().byPage({ maxPageSize: 1 });
      await iterator.next();
    },
  };
}

export const isStatus = (e: unknown, status: number): boolean => e instanceof RestError && e.statusCode === status;

/**
 * The action of a transaction that failed it: Table storage (and Azurite) start a failed
 * transaction's error message with the index of the failing action ("2:The specified
 * resource does not exist."). Undefined when the message does not say.
 */
export function failedActionIndex(e: unknown): number | undefined {
  if (!(e instanceof RestError)) return undefined;
  const match = /^(\d{1,3}):/.exec(e.message);
  return match ? Number(match[1]) : undefined;
}

/** Reads one entity, or undefined when it does not exist. */
export async function getOrUndefined<T extends object>(table: TableClient, partitionKey: string, rowKey: string): Promise<TableEntityResult<T> | undefined> {
  try {
    return await table.getEntity<T>(partitionKey, rowKey);
  } catch (e) {
    if (isStatus(e, 404)) return undefined;
    throw e;
  }
}

/** Deletes one entity; one that is not there (any more) is fine. */
export async function deleteIfExists(table: TableClient, partitionKey: string, rowKey: string): Promise<void> {
  try {
    await table.deleteEntity(partitionKey, rowKey);
  } catch (e) {
    if (!isStatus(e, 404)) throw e;
  }
}

/** 13-digit inverted epoch milliseconds: ascending RowKey order = newest first. */
export function invertedTime(ms: number): string {
  return String(9_999_999_999_999 - ms).padStart(13, "0");
}

/** The JSON a continuation token holds (plain in encodeContinuation's tokens, sealed in sealedContinuation.ts's). */
export const continuationJson = (value: Record<string, string | number>): string => JSON.stringify({ v: 1, ...value });

/** Opaque continuation tokens: base64url JSON the client passes back unchanged. */
export function encodeContinuation(value: Record<string, string | number>): string {
  return Buffer.from(continuationJson(value)).toString("base64url");
}

export function decodeContinuation<T extends Record<string, unknown>>(
  token: string | undefined,
  check: (value: Record<string, unknown>) => value is T,
): T | undefined {
  if (token === undefined) return undefined;
  return checkContinuation(Buffer.from(token, "base64url").toString("utf8"), check);
}

/** A token's JSON, checked: its value, or a validation error naming the token. */
export function checkContinuation<T extends Record<string, unknown>>(json: string, check: (value: Record<string, unknown>) => value is T): T {
  try {
    const parsed: unknown = JSON.parse(json);
    // Every key this API puts in a token is printable ASCII; anything else (a lone surrogate,
    // a control character) would only reach the query to fail there.
    const printable = (v: unknown): boolean => typeof v !== "string" || /^[\x20-\x7e]{0,1024}$/.test(v);
    if (
      parsed &&
      typeof parsed === "object" &&
      (parsed as { v?: unknown }).v === 1 &&
      Object.values(parsed).every(printable) &&
      check(parsed as Record<string, unknown>)
    ) {
      return parsed as T;
    }
  } catch {
    // fall through to the validation error below
  }
  throw new DomainError(errorCodes.validationFailed, "The continuation token is not valid.", {
    errors: [{ path: "query.continuationToken", message: "not a token this API issued" }],
  });
}
