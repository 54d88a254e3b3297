// The Key Vault emulator's state: secrets with versions, soft delete, recover, purge and
// backup, kept in one JSON file (written to a temp file, then renamed) or in memory.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/** Soft-delete retention, as on a vault created with the defaults. */
export const recoverableDays = 90;

export const vaultErrorCodes = {
  secretNotFound: "SecretNotFound",
  conflict: "Conflict",
  badParameter: "BadParameter",
  forbidden: "Forbidden",
} as const;
export type VaultErrorCode = (typeof vaultErrorCodes)[keyof typeof vaultErrorCodes];

/** A refusal the service would answer with `{ error: { code, message, innererror? } }`. */
export class VaultError extends Error {
  readonly code: VaultErrorCode;
  readonly innerCode: string | undefined;

  constructor(code: VaultErrorCode, message: string, innerCode?: string) {
    super(message);
    this.name = "VaultError";
    this.code = code;
    this.innerCode = innerCode;
  }
}

const unixSeconds = z.number().int().nonnegative();
const versionSchema = z.object({
  version: z.string().regex(/^[0-9a-f]{32}$/),
  value: z.string(),
  contentType: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  enabled: z.boolean(),
  nbf: unixSeconds.optional(),
  exp: unixSeconds.optional(),
  created: unixSeconds,
  updated: unixSeconds,
});
const secretSchema = z.object({
  name: z.string().regex(/^[0-9a-zA-Z-]{1,127}$/),
  versions: z.array(versionSchema).min(1),
  deleted: z.object({ deletedDate: unixSeconds, scheduledPurgeDate: unixSeconds }).optional(),
});
const stateFileSchema = z.object({ format: z.literal(1), secrets: z.array(secretSchema) });
const backupSchema = z.object({ format: z.literal("keyvault-emulator-backup/1"), secret: secretSchema.omit({ deleted: true }) });

export type SecretVersion = z.infer<typeof versionSchema>;
export type StoredSecret = Readonly<z.infer<typeof secretSchema>>;

export interface SecretWrite {
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled?: boolean;
  nbf?: number;
  exp?: number;
}

export interface SecretPatch {
  contentType?: string;
  tags?: Record<string, string>;
  enabled?: boolean;
  nbf?: number;
  exp?: number;
}

export const secretNamePattern = /^[0-9a-zA-Z-]{1,127}$/;

/** Names are case-insensitive in Key Vault; the casing of the first write is kept for ids. */
const keyOf = (name: string): string => name.toLowerCase();

export const latest = (s: StoredSecret): SecretVersion => s.versions[s.versions.length - 1];

export class SecretVault {
  readonly #file: string | undefined;
  readonly #clock: () => number;
  /** As on a vault deployed with enablePurgeProtection (this project's): purge is refused until retention ends. */
  readonly purgeProtection: boolean;
  readonly #secrets = new Map<string, z.infer<typeof secretSchema>>();

  /** Loads the state file when there is one; a file that does not parse stops the start. */
  constructor(options: { dataDir?: string; clock?: () => number; purgeProtection?: boolean } = {}) {
    this.#clock = options.clock ?? Date.now;
    this.purgeProtection = options.purgeProtection ?? false;
    this.#file = options.dataDir === undefined ? undefined : join(options.dataDir, "secrets.json");
    if (options.dataDir === undefined || this.#file === undefined) return;
    mkdirSync(options.dataDir, { recursive: true });
    let text: string;
    try {
      text = readFileSync(this.#file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    let parsed: z.infer<typeof stateFileSchema>;
    try {
      parsed = stateFileSchema.parse(JSON.parse(text));
    } catch (e) {
      throw new Error(
        `the Key Vault emulator's state file ${this.#file} is not readable (${e instanceof Error ? e.message.slice(0, 200) : String(e)}); move it away to start empty`,
        { cause: e },
      );
    }
    for (const s of parsed.secrets) this.#secrets.set(keyOf(s.name), s);
  }

  set(name: string, write: SecretWrite): { secret: StoredSecret; version: SecretVersion } {
    const existing = this.#find(name);
    if (existing?.deleted) {
      throw new VaultError(
        "Conflict",
        `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
        "ObjectIsDeletedButRecoverable",
      );
    }
    const t = this.#now();
    const version: SecretVersion = {
      version: randomBytes(16).toString("hex"),
      value: write.value,
      ...(write.contentType !== undefined ? { contentType: write.contentType } : {}),
      ...(write.tags !== undefined ? { tags: write.tags } : {}),
      enabled: write.enabled ?? true,
      ...(write.nbf ? { nbf: write.nbf } : {}),
      ...(write.exp ? { exp: write.exp } : {}),
      created: t,
      updated: t,
    };
    const secret = existing ?? { name, versions: [] };
    secret.versions.push(version);
    this.#secrets.set(keyOf(name), secret);
    this.#persist();
    return { secret, version };
  }

  /** A version's value; a disabled version is refused as the service does (403 SecretDisabled). */
  get(name: string, version?: string): { secret: StoredSecret; version: SecretVersion } {
    const found = this.#version(name, version);
    if (!found.version.enabled) throw new VaultError("Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled");
    return found;
  }

  update(name: string, version: string | undefined, patch: SecretPatch): { secret: StoredSecret; version: SecretVersion } {
    const found = this.#version(name, version);
    const v = found.version;
    if (patch.contentType !== undefined) v.contentType = patch.contentType;
    if (patch.tags !== undefined) v.tags = patch.tags;
    if (patch.enabled !== undefined) v.enabled = patch.enabled;
    // The SDK sends 0 for "no date" (it truncates Dates to seconds and treats 0 as absent).
    if (patch.nbf !== undefined) v.nbf = patch.nbf || undefined;
    if (patch.exp !== undefined) v.exp = patch.exp || undefined;
    v.updated = this.#now();
    this.#persist();
    return found;
  }

  /** Live secrets ordered by name (the order the pager's skip token relies on). */
  listLive(): StoredSecret[] {
    return this.#all().filter((s) => !s.deleted);
  }

  listVersions(name: string): { secret: StoredSecret; versions: readonly SecretVersion[] } {
    const secret = this.#live(name);
    return { secret, versions: secret.versions };
  }

  delete(name: string): StoredSecret {
    const secret = this.#live(name);
    const t = this.#now();
    secret.deleted = { deletedDate: t, scheduledPurgeDate: t + recoverableDays * 86_400 };
    this.#persist();
    return secret;
  }

  getDeleted(name: string): StoredSecret {
    return this.#deleted(name);
  }

  listDeleted(): StoredSecret[] {
    return this.#all().filter((s) => s.deleted);
  }

  recover(name: string): StoredSecret {
    const secret = this.#deleted(name);
    delete secret.deleted;
    this.#persist();
    return secret;
  }

  purge(name: string): void {
    this.#deleted(name);
    if (this.purgeProtection) {
      throw new VaultError(
        "Forbidden",
        'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.',
      );
    }
    this.#secrets.delete(keyOf(name));
    this.#persist();
  }

  /** Not the service's encrypted blob: base64url JSON, readable by anyone (a dev emulator). */
  backup(name: string): string {
    const secret = this.#live(name);
    const blob: z.infer<typeof backupSchema> = { format: "keyvault-emulator-backup/1", secret: { name: secret.name, versions: secret.versions } };
    return Buffer.from(JSON.stringify(blob), "utf8").toString("base64url");
  }

  restore(blob: string): StoredSecret {
    let parsed: z.infer<typeof backupSchema>;
    try {
      parsed = backupSchema.parse(JSON.parse(Buffer.from(blob, "base64url").toString("utf8")));
    } catch {
      throw new VaultError("BadParameter", "Backup blob contains invalid or corrupt version.");
    }
    const existing = this.#find(parsed.secret.name);
    if (existing?.deleted) {
      throw new VaultError(
        "Conflict",
        `Secret ${existing.name} is currently in a deleted but recoverable state; recover or purge it before restoring.`,
        "ObjectIsDeletedButRecoverable",
      );
    }
    if (existing) throw new VaultError("Conflict", `Secret ${existing.name} already exists; a backup can only be restored under a free name.`);
    const secret = { name: parsed.secret.name, versions: parsed.secret.versions };
    this.#secrets.set(keyOf(secret.name), secret);
    this.#persist();
    return secret;
  }

  #now(): number {
    return Math.floor(this.#clock() / 1000);
  }

  /** The secret under this name, live or deleted; deleted ones past retention are purged first. */
  #find(name: string): z.infer<typeof secretSchema> | undefined {
    const secret = this.#secrets.get(keyOf(name));
    if (secret?.deleted && secret.deleted.scheduledPurgeDate <= this.#now()) {
      this.#secrets.delete(keyOf(name));
      this.#persist();
      return undefined;
    }
    return secret;
  }

  #all(): z.infer<typeof secretSchema>[] {
    return [...this.#secrets.keys()]
      .sort()
      .map((k) => this.#find(k))
      .filter((s) => s !== undefined);
  }

  #live(name: string): z.infer<typeof secretSchema> {
    const secret = this.#find(name);
    // A soft-deleted secret is "not found" on the live paths; the recover poller relies on that 404.
    if (!secret || secret.deleted) {
      throw new VaultError(
        "SecretNotFound",
        `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      );
    }
    return secret;
  }

  #version(name: string, version: string | undefined): { secret: z.infer<typeof secretSchema>; version: SecretVersion } {
    const secret = this.#live(name);
    const v = version ? secret.versions.find((x) => x.version === version.toLowerCase()) : latest(secret);
    if (!v) throw new VaultError("SecretNotFound", `A secret with (name/id) ${name}/${version} was not found in this key vault.`);
    return { secret, version: v };
  }

  #deleted(name: string): z.infer<typeof secretSchema> {
    const secret = this.#find(name);
    if (!secret?.deleted) throw new VaultError("SecretNotFound", `Deleted Secret not found: ${name}`);
    return secret;
  }

  /** Whole-file snapshot after every change; the rename keeps a crash from leaving half a file. */
  #persist(): void {
    if (this.#file === undefined) return;
    const state: z.infer<typeof stateFileSchema> = { format: 1, secrets: [...this.#secrets.values()] };
    const temp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(state), { mode: 0o600, flush: true });
    renameSync(temp, this.#file);
  }
}
