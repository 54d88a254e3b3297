import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../shared/config.js";

const sample = (JSON.parse(readFileSync(new URL("../../local.settings.sample.json", import.meta.url), "utf8")) as { Values: Record<string, string> }).Values;

describe("loadConfig", () => {
  it("accepts the local sample settings (connection-string form)", () => {
    const c = loadConfig(sample);
    expect(c.serviceBus.kind).toBe("connectionString");
    expect(c.tables.kind).toBe("connectionString");
    expect(c.keyVault.allowInsecure).toBe(true);
    expect(c.tables.allowInsecure).toBe(true);
    expect(c.auth.audience).toBe("api://remote-assistance-connector");
  });

  it("accepts the Azure identity form", () => {
    const {
      ServiceBusConnection: _sb,
      TABLES_CONNECTION_STRING: _t,
      TABLES_ALLOW_INSECURE: _ti,
      KEYVAULT_ALLOW_INSECURE: _k,
      TEAMVIEWER_CLIENT_SECRET: _s,
      ...rest
    } = sample;
    const c = loadConfig({
      ...rest,
      KEYVAULT_URI: "https://kv-rac.vault.azure.net/",
      ServiceBusConnection__fullyQualifiedNamespace: "sb-rac.servicebus.windows.net",
      ServiceBusConnection__credential: "managedidentity",
      ServiceBusConnection__clientId: "00000000-0000-0000-0000-000000000001",
      TABLES_ENDPOINT: "https://strac.table.core.windows.net",
      PUSH_GATEWAY: "none",
    });
    expect(c.serviceBus).toEqual({
      kind: "identity",
      fullyQualifiedNamespace: "sb-rac.servicebus.windows.net",
      clientId: "00000000-0000-0000-0000-000000000001",
    });
    expect(c.tables).toEqual({ kind: "identity", endpoint: "https://strac.table.core.windows.net", allowInsecure: false });
    expect(c.teamViewer.clientSecret).toBeUndefined();
  });

  it.each([
    ["a missing setting", { AUTH_ISSUER: undefined }, "AUTH_ISSUER: missing"],
    ["a malformed URL", { KEYVAULT_URI: "not a url" }, "KEYVAULT_URI"],
    ["a malformed boolean", { KEYVAULT_ALLOW_INSECURE: "yes" }, "KEYVAULT_ALLOW_INSECURE"],
    ["both Service Bus forms", { ServiceBusConnection__fullyQualifiedNamespace: "x.servicebus.windows.net" }, "ServiceBusConnection"],
    ["no Service Bus form", { ServiceBusConnection: undefined }, "ServiceBusConnection"],
    ["both Table forms", { TABLES_ENDPOINT: "https://x.table.core.windows.net" }, "TABLES_CONNECTION_STRING"],
    ["insecure Key Vault off loopback", { KEYVAULT_URI: "http://vault.example.com" }, "KEYVAULT_ALLOW_INSECURE"],
    // Whoever can change the key set in transit could sign any token.
    ["the token signing keys over http off loopback", { AUTH_JWKS_URI: "http://login.example.com/common/discovery/v2.0/keys" }, "AUTH_JWKS_URI"],
    ["the token signing keys over http to a name that only starts like loopback", { AUTH_JWKS_URI: "http://127.0.0.1.example.com/keys" }, "AUTH_JWKS_URI"],
    ["the local push gateway off the local stack", { KEYVAULT_ALLOW_INSECURE: undefined, KEYVAULT_URI: "https://kv.vault.azure.net/" }, "PUSH_GATEWAY"],
    [
      "insecure TeamViewer links off the local stack",
      { KEYVAULT_ALLOW_INSECURE: undefined, KEYVAULT_URI: "https://kv.vault.azure.net/", PUSH_GATEWAY: "none", LOCAL_ALLOW_INSECURE_LINKS: "true" },
      "LOCAL_ALLOW_INSECURE_LINKS",
    ],
    [
      "the trace file off the local stack",
      { KEYVAULT_ALLOW_INSECURE: undefined, KEYVAULT_URI: "https://kv.vault.azure.net/", PUSH_GATEWAY: "none", LOCAL_TRACES_FILE: "/tmp/traces.jsonl" },
      "LOCAL_TRACES_FILE",
    ],
  ])("rejects %s and names the setting", (_name, change, named) => {
    const env: Record<string, string | undefined> = { ...sample, ...change };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (e) {
      expect((e as ConfigError).message).toContain(named);
    }
  });
});
