// The TeamViewer OAuth client secret in Azure comes from Key Vault. docs/operations.md tells an
// operator to rotate it by writing a new version and deleting the old one at TeamViewer a few
// minutes later, without a restart: so every instance must pick up the new version by then.
import { describe, expect, it } from "vitest";
import type { Config } from "../../shared/config.js";
import { oneSecretVault as vault } from "../support/memoryPorts.js";
import { teamViewerClientSecret } from "../../shared/composition.js";

const inAzure = { teamViewer: { clientSecretName: "teamviewer-client-secret" } } as unknown as Config;

describe("the TeamViewer client secret from Key Vault", () => {
  it("is read once for many calls, and a rotated version is used within a few minutes without a restart", async () => {
    // Prepare
    let now = 1_000_000;
    const secrets = vault("secret-version-1");
    const clientSecret = teamViewerClientSecret(inAzure, secrets, () => now);
    expect(await clientSecret()).toBe("secret-version-1");

    // Act: the operator writes a new version; calls go on; a few minutes pass.
    secrets.value = "secret-version-2";
    const soon = await Promise.all([clientSecret(), clientSecret(), clientSecret()]);
    const readsSoon = secrets.reads;
    now += 2 * 60_000;
    const later = await clientSecret();

    // Assess
    expect(soon).toEqual(["secret-version-1", "secret-version-1", "secret-version-1"]);
    expect(readsSoon).toBe(1);
    expect(later).toBe("secret-version-2");
  });

  it("does not keep a failed read: the next call reads again", async () => {
    // Prepare
    const secrets = vault(undefined);
    const clientSecret = teamViewerClientSecret(inAzure, secrets, () => 0);

    // Act
    await expect(clientSecret()).rejects.toThrow(/teamviewer-client-secret/);
    secrets.value = "secret-version-1";

    // Assess
    expect(await clientSecret()).toBe("secret-version-1");
  });
});
