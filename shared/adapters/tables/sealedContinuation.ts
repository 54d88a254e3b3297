// Sealed continuation tokens, for lists whose resume point can name a row the caller may not
// see. A scoped device list reads tenant-wide index ranges (a search's UPN and display-name
// ranges, the "w" range) and drops the rows outside the caller's scope after reading them; a
// page that ends on such a row resumes after it, so its key (`<upn>!<device id>`) is the
// resume point. In a plain base64 token that key would tell a scoped admin the UPN and
// device id of a device outside their scope. Sealed, a token is opaque and cannot be altered:
// AES-256-GCM under one key per deployment, kept in the `leases` table (partition
// `~service`, which no tenant id can be) and created by the first instance that needs it.
// Anyone who can read that table can read every device already; callers of the API cannot.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { checkContinuation, continuationJson, getOrUndefined, isStatus, tableNames, type Tables } from "./tables.js";

const keyPartition = "~service";
const keyRow = "continuationTokenKey";
const ivLength = 12;
const tagLength = 16;
const keys = new WeakMap<Tables, Promise<Buffer>>();

async function loadKey(tables: Tables): Promise<Buffer> {
  const table = tables.client(tableNames.leases);
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await getOrUndefined<{ key?: unknown }>(table, keyPartition, keyRow);
    if (row) {
      const key = typeof row.key === "string" ? Buffer.from(row.key, "base64") : Buffer.alloc(0);
      if (key.length !== 32) throw new Error(`the continuation token key (${tableNames.leases}/${keyPartition}/${keyRow}) is not a 32-byte key`);
      return key;
    }
    try {
      await table.createEntity({ partitionKey: keyPartition, rowKey: keyRow, key: randomBytes(32).toString("base64") });
    } catch (e) {
      if (!isStatus(e, 409)) throw e; // another instance created it first: read theirs
    }
  }
  throw new Error("the continuation token key could not be read");
}

/** The deployment's key, read once per Tables (a failed read is not kept). */
function keyOf(tables: Tables): Promise<Buffer> {
  let key = keys.get(tables);
  if (!key) {
    key = loadKey(tables);
    keys.set(tables, key);
    key.catch(() => keys.delete(tables));
  }
  return key;
}

/** A token holding `value`, opaque to the caller. */
export async function sealContinuation(tables: Tables, value: Record<string, string | number>): Promise<string> {
  const iv = randomBytes(ivLength);
  const cipher = createCipheriv("aes-256-gcm", await keyOf(tables), iv);
  const sealed = Buffer.concat([cipher.update(continuationJson(value), "utf8"), cipher.final()]);
  return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString("base64url");
}

/** The value of a token sealContinuation issued, checked by `check`; anything else is a validation error. */
export async function openContinuation<T extends Record<string, unknown>>(
  tables: Tables,
  token: string | undefined,
  check: (value: Record<string, unknown>) => value is T,
): Promise<T | undefined> {
  if (token === undefined) return undefined;
  const key = await keyOf(tables);
  let opened = "";
  try {
    const raw = Buffer.from(token, "base64url");
    if (raw.length > ivLength + tagLength) {
      const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, ivLength));
      decipher.setAuthTag(raw.subarray(raw.length - tagLength));
      opened = Buffer.concat([decipher.update(raw.subarray(ivLength, raw.length - tagLength)), decipher.final()]).toString("utf8");
    }
  } catch {
    opened = ""; // altered, or sealed under another key: not a token this API issued
  }
  return checkContinuation(opened, check);
}
