// The Key Vault emulator driven by the real @azure/keyvault-secrets SecretClient (4.11),
// so the emulator is held to what the SDK sends and accepts, not to our reading of it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretClient, type SecretProperties } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localDevCredential } from "../../local/keyvault/devCredential.js";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "../../local/keyvault/server.js";

let dataDir = "";
let vault: KeyVaultEmulator;
let client: SecretClient;
const logLines: string[] = [];
const fast = { intervalInMs: 10 };

const clientFor = (url: string): SecretClient =>
  new SecretClient(url, localDevCredential, { allowInsecureConnection: true, disableChallengeResourceVerification: true });
const start = (): Promise<KeyVaultEmulator> => startKeyVaultEmulator({ port: 0, dataDir, log: (line) => logLines.push(line) });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "kv-contract-"));
  vault = await start();
  client = clientFor(vault.url);
});
afterAll(async () => {
  await vault.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** What a promise rejected with (the SDK rejects with RestError; 4.11 does not export the class). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

const raw = (path: string, init: RequestInit & { token?: string } = {}): Promise<Response> =>
  fetch(`${vault.url}${path}`, {
    ...init,
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body ? { "content-type": "application/json" } : {}) },
  });

describe("Key Vault emulator: transport", () => {
  it("answers a call without a bearer token with 401 and the challenge the SDK parses", async () => {
    // Act
    const res = await raw("/secrets/anything/?api-version=2025-07-01");
    // Assess
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(
      /^Bearer authorization="https:\/\/login\.microsoftonline\.com\/[0-9a-f-]+", resource="https:\/\/vault\.azure\.net"$/,
    );
    expect(await res.json()).toEqual({ error: { code: "Unauthorized", message: expect.stringContaining("Bearer") } });
  });

  it("accepts any token and any api-version, spelled plainly or percent-encoded as the SDK does", async () => {
    // Prepare
    await client.setSecret("spelling", "v");
    // Act
    const encoded = await raw("/secrets/spelling/?api%2Dversion=2026-04-01", { token: "anything" });
    const plain = await raw("/secrets/spelling/?api-version=7.0", { token: "something-else" });
    const missing = await raw("/secrets/spelling/", { token: "t" });
    // Assess
    expect(encoded.status).toBe(200);
    expect(plain.status).toBe(200);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("BadParameter");
  });

  it("refuses to listen on a non-loopback address", async () => {
    await expect(startKeyVaultEmulator({ port: 0, host: "0.0.0.0" })).rejects.toThrow(/loopback/);
  });
});

describe("Key Vault emulator: secrets through SecretClient", () => {
  it("sets and gets the latest version and a version by id, with content type, tags and dates", async () => {
    // Prepare
    const expiresOn = new Date("2030-01-01T00:00:00.750Z");
    // Act
    const v1 = await client.setSecret("token-a", "value-1", { contentType: "application/json", tags: { tenant: "t1", kind: "oauth" }, expiresOn });
    const v2 = await client.setSecret("token-a", "value-2", { enabled: true });
    const latest = await client.getSecret("token-a");
    const first = await client.getSecret("token-a", { version: v1.properties.version });
    // Assess
    expect(latest.value).toBe("value-2");
    expect(latest.properties.version).toBe(v2.properties.version);
    expect(v2.properties.version).not.toBe(v1.properties.version);
    expect(first.value).toBe("value-1");
    expect(first.properties).toMatchObject({
      name: "token-a",
      vaultUrl: vault.url,
      id: `${vault.url}/secrets/token-a/${v1.properties.version}`,
      contentType: "application/json",
      tags: { tenant: "t1", kind: "oauth" },
      enabled: true,
      expiresOn: new Date("2030-01-01T00:00:00.000Z"),
      recoveryLevel: "Recoverable+Purgeable",
      recoverableDays: 90,
    });
    expect(first.properties.createdOn).toBeInstanceOf(Date);
    expect(Math.abs(first.properties.createdOn!.getTime() - Date.now())).toBeLessThan(5_000);
    expect(latest.properties.contentType).toBeUndefined();
    expect(latest.properties.tags).toBeUndefined();
  });

  it("treats names case-insensitively and keeps the first casing", async () => {
    // Prepare
    await client.setSecret("Mixed-Case", "one");
    // Act
    await client.setSecret("mixed-case", "two");
    const got = await client.getSecret("MIXED-CASE");
    // Assess
    expect(got.value).toBe("two");
    expect(got.name).toBe("Mixed-Case");
  });

  it("lists secrets page by page, following nextLink, each once", async () => {
    // Prepare
    const names = Array.from({ length: 7 }, (_, i) => `page-${i}`);
    for (const name of names) await client.setSecret(name, `value of ${name}`);
    // Act
    const pages = await collect(client.listPropertiesOfSecrets().byPage({ maxPageSize: 3 }));
    // Assess
    const listed = pages.flat().map((p) => p.name);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.slice(0, -1).every((p) => p.length === 3)).toBe(true);
    expect(pages.at(-1)!.length).toBeGreaterThan(0);
    expect(pages.at(-1)!.length).toBeLessThanOrEqual(3);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).toEqual(expect.arrayContaining(names));
    const item = pages.flat().find((p) => p.name === "page-0")!;
    expect(item.id).toBe(`${vault.url}/secrets/page-0`);
    expect(item.version).toBeUndefined();
  });

  it("lists with the default page size and refuses maxresults above 25", async () => {
    // Act
    const all = await collect(client.listPropertiesOfSecrets());
    const tooMany = await raw("/secrets?api-version=7.5&maxresults=26", { token: "t" });
    // Assess
    expect(all.map((p) => p.name)).toEqual(expect.arrayContaining(["page-0", "token-a"]));
    expect(tooMany.status).toBe(400);
  });

  it("lists the versions of one secret, oldest first, each with its version id", async () => {
    // Prepare
    const written = [];
    for (let i = 0; i < 4; i++) written.push((await client.setSecret("versioned", `v${i}`)).properties.version);
    // Act
    const pages = await collect(client.listPropertiesOfSecretVersions("versioned").byPage({ maxPageSize: 3 }));
    // Assess
    expect(pages.map((p) => p.length)).toEqual([3, 1]);
    expect(pages.flat().map((p) => p.version)).toEqual(written);
    expect(pages.flat()[0].id).toBe(`${vault.url}/secrets/versioned/${written[0]}`);
  });

  it("updates the properties of one version; a disabled version cannot be read", async () => {
    // Prepare
    const older = await client.setSecret("props", "old", { tags: { keep: "me" } });
    const newer = await client.setSecret("props", "new");
    // Act
    const updated: SecretProperties = await client.updateSecretProperties("props", newer.properties.version!, {
      enabled: false,
      tags: { a: "b" },
      contentType: "text/plain",
      notBefore: new Date("2020-01-01T00:00:00Z"),
    });
    const readDisabled = await rejection(client.getSecret("props"));
    const olderAfter = await client.getSecret("props", { version: older.properties.version });
    await client.updateSecretProperties("props", newer.properties.version!, { enabled: true });
    const reenabled = await client.getSecret("props");
    // Assess
    expect(updated).toMatchObject({ enabled: false, tags: { a: "b" }, contentType: "text/plain", notBefore: new Date("2020-01-01T00:00:00Z") });
    expect(updated.updatedOn!.getTime()).toBeGreaterThanOrEqual(updated.createdOn!.getTime());
    expect(readDisabled).toMatchObject({ name: "RestError", statusCode: 403, code: "Forbidden" });
    expect(olderAfter.properties.tags).toEqual({ keep: "me" });
    expect(reenabled).toMatchObject({ value: "new", properties: { enabled: true, contentType: "text/plain", tags: { a: "b" } } });
  });

  it("soft-deletes: the live name 404s, the deleted secret is listed and readable, and the name is refused with 409", async () => {
    // Prepare
    await client.setSecret("gone", "secret-value");
    // Act
    const deleted = await (await client.beginDeleteSecret("gone", fast)).pollUntilDone();
    const live = await rejection(client.getSecret("gone"));
    const fetched = await client.getDeletedSecret("gone");
    const listedDeleted = await collect(client.listDeletedSecrets());
    const listedLive = await collect(client.listPropertiesOfSecrets());
    const reuse = await rejection(client.setSecret("gone", "again"));
    // Assess
    expect(deleted.recoveryId).toBe(`${vault.url}/deletedsecrets/gone`);
    expect(deleted.properties.deletedOn).toBeInstanceOf(Date);
    expect(deleted.properties.scheduledPurgeDate!.getTime() - deleted.properties.deletedOn!.getTime()).toBe(90 * 86_400_000);
    expect(live).toMatchObject({ name: "RestError", statusCode: 404, code: "SecretNotFound" });
    expect(fetched).toMatchObject({ name: "gone", recoveryId: `${vault.url}/deletedsecrets/gone` });
    expect(listedDeleted.find((d) => d.name === "gone")).toMatchObject({ recoveryId: `${vault.url}/deletedsecrets/gone` });
    expect(listedDeleted.find((d) => d.name === "gone")!.deletedOn).toBeInstanceOf(Date);
    expect(listedLive.map((p) => p.name)).not.toContain("gone");
    expect(reuse).toMatchObject({
      name: "RestError",
      statusCode: 409,
      code: "Conflict",
      details: { error: { innerError: { code: "ObjectIsDeletedButRecoverable" } } },
    });
  });

  it("recovers a deleted secret with its value and versions", async () => {
    // Prepare
    await client.setSecret("comeback", "first");
    await client.setSecret("comeback", "second");
    await (await client.beginDeleteSecret("comeback", fast)).pollUntilDone();
    // Act
    const recovered = await (await client.beginRecoverDeletedSecret("comeback", fast)).pollUntilDone();
    // Assess
    expect(recovered.name).toBe("comeback");
    expect((await client.getSecret("comeback")).value).toBe("second");
    expect(await collect(client.listPropertiesOfSecretVersions("comeback"))).toHaveLength(2);
    expect(await rejection(client.getDeletedSecret("comeback"))).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
  });

  it("purges a deleted secret (204) so the name can be used again", async () => {
    // Prepare
    await client.setSecret("purged", "old");
    await (await client.beginDeleteSecret("purged", fast)).pollUntilDone();
    // Act
    await client.purgeDeletedSecret("purged");
    const afterPurge = await rejection(client.getDeletedSecret("purged"));
    const reborn = await client.setSecret("purged", "new");
    // Assess
    expect(afterPurge).toMatchObject({ name: "RestError", statusCode: 404, code: "SecretNotFound", message: "Deleted Secret not found: purged" });
    expect(reborn.value).toBe("new");
    expect(await collect(client.listPropertiesOfSecretVersions("purged"))).toHaveLength(1);
  });

  it("answers missing secrets with 404 SecretNotFound and bad names with 400 BadParameter", async () => {
    // Act
    const missing = await rejection(client.getSecret("never-set"));
    const missingVersion = await rejection(client.getSecret("token-a", { version: "0123456789abcdef0123456789abcdef" }));
    const deleteMissing = await rejection(client.beginDeleteSecret("never-set"));
    const purgeLive = await rejection(client.purgeDeletedSecret("token-a"));
    const badName = await rejection(client.setSecret("bad_name", "v"));
    const slashName = await rejection(client.getSecret("a b/c"));
    // Assess
    expect(missing).toMatchObject({ name: "RestError", statusCode: 404, code: "SecretNotFound", message: expect.stringContaining("never-set") });
    expect(missingVersion).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
    expect(deleteMissing).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
    expect(purgeLive).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
    expect(badName).toMatchObject({ name: "RestError", statusCode: 400, code: "BadParameter" });
    expect(slashName).toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  it("backs up and restores a secret with all its versions; restoring over a live one is a conflict", async () => {
    // Prepare
    await client.setSecret("backed", "backed-value-1");
    await client.setSecret("backed", "backed-value-2", { tags: { t: "1" } });
    const backup = await client.backupSecret("backed");
    const overLive = await rejection(client.restoreSecretBackup(backup!));
    await (await client.beginDeleteSecret("backed", fast)).pollUntilDone();
    await client.purgeDeletedSecret("backed");
    // Act
    const restored = await client.restoreSecretBackup(backup!);
    // Assess
    expect(overLive).toMatchObject({ statusCode: 409, code: "Conflict" });
    expect(restored).toMatchObject({ name: "backed", tags: { t: "1" } });
    expect((await client.getSecret("backed")).value).toBe("backed-value-2");
    expect(await collect(client.listPropertiesOfSecretVersions("backed"))).toHaveLength(2);
  });

  it("never writes a secret value to its log", () => {
    // Assess (over everything the tests above wrote)
    expect(logLines.length).toBeGreaterThan(10);
    for (const value of ["value-1", "value-2", "secret-value", "backed-value-2", "value of page-0"]) {
      expect(logLines.filter((l) => l.includes(value))).toEqual([]);
    }
  });

  it("keeps secrets, versions and soft deletions across a restart on the same data directory", async () => {
    // Prepare
    await client.setSecret("durable", "kept-1");
    await client.setSecret("durable", "kept-2", { contentType: "text/plain" });
    await client.setSecret("durable-deleted", "x");
    await (await client.beginDeleteSecret("durable-deleted", fast)).pollUntilDone();
    // Act
    await vault.close();
    vault = await start();
    client = clientFor(vault.url);
    // Assess
    expect(await client.getSecret("durable")).toMatchObject({ value: "kept-2", properties: { contentType: "text/plain" } });
    expect(await collect(client.listPropertiesOfSecretVersions("durable"))).toHaveLength(2);
    expect((await client.getDeletedSecret("durable-deleted")).name).toBe("durable-deleted");
    expect((await client.getSecret("token-a")).value).toBe("value-2");
  });
});

describe("Key Vault emulator: lifecycle", () => {
  it("forgets a deleted secret once its scheduled purge date has passed", async () => {
    // Prepare
    let now = Date.parse("2030-01-01T00:00:00Z");
    const timed = await startKeyVaultEmulator({ port: 0, clock: () => now });
    const c = clientFor(timed.url);
    try {
      await c.setSecret("short-lived", "v");
      await (await c.beginDeleteSecret("short-lived", fast)).pollUntilDone();
      // Act
      now += 90 * 86_400_000;
      const lookedUp = await rejection(c.getDeletedSecret("short-lived"));
      const reused = await c.setSecret("short-lived", "again");
      // Assess
      expect(lookedUp).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
      expect(reused.value).toBe("again");
    } finally {
      await timed.close();
    }
  });

  it("with purge protection (as infra/modules/keyVault.bicep deploys it) refuses purge with 403 and reports Recoverable", async () => {
    // Prepare
    const guarded = await startKeyVaultEmulator({ port: 0, purgeProtection: true });
    const c = clientFor(guarded.url);
    try {
      const created = await c.setSecret("kept", "old");
      await (await c.beginDeleteSecret("kept", fast)).pollUntilDone();
      // Act
      const purge = await rejection(c.purgeDeletedSecret("kept"));
      const stillDeleted = await c.getDeletedSecret("kept");
      const reuse = await rejection(c.setSecret("kept", "new"));
      await (await c.beginRecoverDeletedSecret("kept", fast)).pollUntilDone();
      const next = await c.setSecret("kept", "new");
      // Assess
      expect(created.properties.recoveryLevel).toBe("Recoverable");
      expect(purge).toMatchObject({
        name: "RestError",
        statusCode: 403,
        code: "Forbidden",
        message: expect.stringContaining('Operation "purge" is not allowed because purge protection is enabled for this vault.'),
      });
      expect(stillDeleted).toMatchObject({ name: "kept", properties: { recoveryLevel: "Recoverable" } });
      expect(reuse).toMatchObject({ statusCode: 409, code: "Conflict" });
      expect((await c.getSecret("kept")).value).toBe(next.value);
      expect(await collect(c.listPropertiesOfSecretVersions("kept"))).toHaveLength(2);
    } finally {
      await guarded.close();
    }
  });

  it("refuses to start on a state file it cannot read, naming the file", async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), "kv-corrupt-"));
    writeFileSync(join(dir, "secrets.json"), "{ not json");
    try {
      // Act / Assess
      await expect(startKeyVaultEmulator({ port: 0, dataDir: dir })).rejects.toThrow(/secrets\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
