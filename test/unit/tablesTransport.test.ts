import { describe, expect, it } from "vitest";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables, tableEndpoint } from "../../shared/adapters/tables/tables.js";
import type { Config } from "../../shared/config.js";

const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const azurite = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;`;
const azureAccount = `DefaultEndpointsProtocol=https;AccountName=strac;AccountKey=${key};EndpointSuffix=core.windows.net`;

describe("Table storage transport", () => {
  it.each<[string, Config["tables"]]>([
    ["Azurite with TABLES_ALLOW_INSECURE", { kind: "connectionString", connectionString: azurite, allowInsecure: true }],
    [
      "the development-storage shortcut with TABLES_ALLOW_INSECURE",
      { kind: "connectionString", connectionString: "UseDevelopmentStorage=true", allowInsecure: true },
    ],
    ["an https account connection string", { kind: "connectionString", connectionString: azureAccount, allowInsecure: false }],
    ["an https endpoint (managed identity)", { kind: "identity", endpoint: "https://strac.table.core.windows.net", allowInsecure: false }],
  ])("accepts %s", (_name, config) => {
    // Act
    const tables = createTables(config, localDevelopmentCredential);

    // Assess
    expect(tables.client("sessions")).toBeDefined();
  });

  it.each<[string, Config["tables"], RegExp]>([
    [
      "Azurite without TABLES_ALLOW_INSECURE",
      { kind: "connectionString", connectionString: azurite, allowInsecure: false },
      /127\.0\.0\.1:10002 is not https: set TABLES_ALLOW_INSECURE/,
    ],
    [
      "an http endpoint without TABLES_ALLOW_INSECURE",
      { kind: "identity", endpoint: "http://127.0.0.1:10002/devstoreaccount1", allowInsecure: false },
      /set TABLES_ALLOW_INSECURE/,
    ],
    [
      "TABLES_ALLOW_INSECURE off loopback (http)",
      { kind: "connectionString", connectionString: azurite.replace("127.0.0.1", "storage.example.com"), allowInsecure: true },
      /only for a loopback emulator/,
    ],
    [
      "TABLES_ALLOW_INSECURE with an Azure account",
      { kind: "connectionString", connectionString: azureAccount, allowInsecure: true },
      /only for a loopback emulator/,
    ],
  ])("refuses %s at start-up", (_name, config, message) => {
    // Act
    const create = () => createTables(config, localDevelopmentCredential);

    // Assess
    expect(create).toThrow(message);
  });

  it("never puts the account key in the error", () => {
    // Act
    const create = () => createTables({ kind: "connectionString", connectionString: azurite, allowInsecure: false }, localDevelopmentCredential);

    // Assess
    expect(create).toThrow(expect.objectContaining({ message: expect.not.stringContaining(key) }) as Error);
  });

  it("reads the endpoint from each connection-string form", () => {
    expect(tableEndpoint({ kind: "connectionString", connectionString: azurite, allowInsecure: true })).toBe("http://127.0.0.1:10002/devstoreaccount1");
    expect(tableEndpoint({ kind: "connectionString", connectionString: azureAccount, allowInsecure: false })).toBe("https://strac.table.core.windows.net");
    expect(tableEndpoint({ kind: "connectionString", connectionString: "UseDevelopmentStorage=true", allowInsecure: true })).toBe(
      "http://127.0.0.1:10002/devstoreaccount1",
    );
  });
});
