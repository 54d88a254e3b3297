// The Key Vault emulator driven by the real @azure/keyvault-secrets SecretClient.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RestError } from "@azure/core-rest-pipeline";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "../../local/keyvault/server.js";

let dataDir = "";
let vault: KeyVaultEmulator;
let client: SecretClient;
const clientFor = (url: string): SecretClient =>
  new SecretClient(url, localDevelopmentCredential, { allowInsecureConnection: true, disableChallengeResourceVerification: true });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "kv-"));
  vault = await startKeyVaultEmulator({ port: 0, dataDir });
  client = clientFor(vault.url);
});
afterAll(async () => {
  await vault.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const restError = async (p: Promise<unknown>): Promise<RestError> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof RestError) return e;
    throw e;
  }
  throw new Error("expected a RestError");
};

describe("Key Vault emulator with SecretClient", () => {
  it("answers an unauthenticated call with a 401 bearer challenge", async () => {
    const res = await fetch(`${vault.url}/secrets/x/?api-version=7.5`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer authorization="https:\/\/login\.microsoftonline\.com\/.+", resource="https:\/\/vault\.azure\.net"$/);
  });

  it("sets and gets the latest version and a version by id, with content type and tags", async () => {
    const v1 = await client.setSecret("token-a", "value-1", { contentType: "application/json", tags: { tenant: "t1" } });
    const v2 = await client.setSecret("token-a", "value-2");
    expect((await client.getSecret("token-a")).value).toBe("value-2");
    const old = await client.getSecret("token-a", { version: v1.properties.version });
    expect(old.value).toBe("value-1");
    expect(old.properties.contentType).toBe("application/json");
    expect(old.properties.tags).toEqual({ tenant: "t1" });
    expect(v2.properties.version).not.toBe(v1.properties.version);
    expect(v2.properties.vaultUrl).toBe(vault.url);
  });

  it("lists secrets page by page and versions of one secret", async () => {
    for (let i = 0; i < 7; i++) await client.setSecret(`list-${i}`, `v${i}`);
    const pages: string[][] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 3 })) pages.push(page.map((p) => p.name));
    const names = pages.flat();
    expect(pages[0]).toHaveLength(3);
    for (let i = 0; i < 7; i++) expect(names).toContain(`list-${i}`);
    expect(new Set(names).size).toBe(names.length);
    const versions: string[] = [];
    for await (const p of client.listPropertiesOfSecretVersions("token-a")) versions.push(p.version!);
    expect(versions).toHaveLength(2);
  });

  it("updates properties of a version", async () => {
    const s = await client.setSecret("props", "v");
    const updated = await client.updateSecretProperties("props", s.properties.version!, { enabled: false, tags: { a: "b" }, contentType: "text/plain" });
    expect(updated.enabled).toBe(false);
    expect(updated.tags).toEqual({ a: "b" });
    expect((await client.getSecret("props")).properties.contentType).toBe("text/plain");
  });

  it("soft-deletes, lists and gets deleted, refuses the name until recovered, recovers, deletes again and purges", async () => {
    await client.setSecret("gone", "secret-value");
    const deletion = await client.beginDeleteSecret("gone", { intervalInMs: 10 });
    const deleted = await deletion.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${vault.url}/deletedsecrets/gone`);
    expect((await restError(client.getSecret("gone"))).statusCode).toBe(404);
    expect((await client.getDeletedSecret("gone")).name).toBe("gone");
    const deletedNames: string[] = [];
    for await (const d of client.listDeletedSecrets()) deletedNames.push(d.name);
    expect(deletedNames).toContain("gone");
    const conflict = await restError(client.setSecret("gone", "again"));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.code).toBe("Conflict");
    await (await client.beginRecoverDeletedSecret("gone", { intervalInMs: 10 })).pollUntilDone();
    expect((await client.getSecret("gone")).value).toBe("secret-value");
    await (await client.beginDeleteSecret("gone", { intervalInMs: 10 })).pollUntilDone();
    await client.purgeDeletedSecret("gone");
    expect((await restError(client.getDeletedSecret("gone"))).statusCode).toBe(404);
    await client.setSecret("gone", "reborn");
    expect((await client.getSecret("gone")).value).toBe("reborn");
  });

  it("answers a missing secret with 404 SecretNotFound and a bad name with 400", async () => {
    const missing = await restError(client.getSecret("never-set"));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe("SecretNotFound");
    const bad = await fetch(`${vault.url}/secrets/bad_name?api-version=7.5`, { method: "PUT", headers: { authorization: "Bearer x", "content-type": "application/json" }, body: '{"value":"v"}' });
    expect(bad.status).toBe(400);
  });

  it("backs up and restores a secret", async () => {
    await client.setSecret("backed", "b-value");
    const backup = await client.backupSecret("backed");
    await (await client.beginDeleteSecret("backed", { intervalInMs: 10 })).pollUntilDone();
    await client.purgeDeletedSecret("backed");
    await client.restoreSecretBackup(backup!);
    expect((await client.getSecret("backed")).value).toBe("b-value");
  });

  it("keeps secrets across a restart on the same data directory", async () => {
    await client.setSecret("durable", "kept");
    await vault.close();
    vault = await startKeyVaultEmulator({ port: 0, dataDir });
    client = clientFor(vault.url);
    expect((await client.getSecret("durable")).value).toBe("kept");
  });
});
