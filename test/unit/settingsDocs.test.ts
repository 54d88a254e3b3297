// The settings the documentation names are the settings the app reads, with the defaults
// it applies: the README's configuration table lists every setting of shared/config.ts,
// docs/ names each of them where it matters, every app setting the docs name exists, and
// local.settings.sample.json holds nothing the app would ignore.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { settingsSchema } from "../../shared/config.js";

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const settings = settingsSchema.shape as Record<string, z.ZodType>;
const settingNames = Object.keys(settings);
const docs = readdirSync(new URL("../../docs", import.meta.url)).filter((f) => f.endsWith(".md"));

/** Names in docs that are not the app's settings: azd environment values, Bicep parameters, the platform's own settings. */
const notAppSettings = new Set([
  // azd environment values (docs/deploy.md)
  "AZURE_LOCATION",
  "AZURE_RESOURCE_GROUP",
  "AZURE_PRINCIPAL_ID",
  "AZURE_KEY_VAULT_NAME",
  "AUTH_TENANT_ID",
  "FUNCTION_APP_NAME",
  "SERVICE_BUS_SKU",
  "SERVICE_BUS_OWNER_FOR_SCALING",
  "ENABLE_NOTIFICATION_HUBS",
  "NOTIFICATION_HUBS_SKU",
  "ALWAYS_READY_HTTP_INSTANCES",
  "INVENTORY_SYNC_PRINCIPAL_ID",
  "PORTAL_CLIENT_ID",
  "SERVICE_API_URI",
  // read by the Functions host, the Azure SDKs or the Azure Monitor distro, not by shared/config.ts
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
]);
/** Functions host settings in local.settings.sample.json (the host reads them, not the app). */
const hostSettings = new Set(["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"]);

/** The rows of the README's table under "## Configuration". */
function configurationRows(): string[] {
  const readme = read("README.md");
  const section = readme.slice(readme.indexOf("## Configuration"));
  const end = section.indexOf("\n## ", 1);
  return (end > 0 ? section.slice(0, end) : section).split("\n").filter((l) => l.startsWith("| `"));
}

/** The settings a row's first cell names; `__credential` continues the name before it. */
function namesInRow(row: string): string[] {
  const names: string[] = [];
  for (const [, name] of row.split("|")[1]!.matchAll(/`([A-Za-z_]+)`/g)) {
    const prefix = names.at(-1)?.split("__")[0];
    names.push(name!.startsWith("__") && prefix ? `${prefix}${name}` : name!);
  }
  return names;
}

const defaultOf = (name: string): unknown => {
  const r = settings[name]!.safeParse(undefined);
  return r.success ? r.data : undefined;
};

/** Markdown without its code blocks. */
const proseOf = (markdown: string): string[] => markdown.split(/^```.*$/m).filter((_, i) => i % 2 === 0);

/** Inline code in Markdown prose that names an upper-case setting (`NAME` or `NAME=value`). */
function upperCaseNamesInProse(markdown: string): string[] {
  return proseOf(markdown).flatMap((p) => [...p.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]*)(?:=[^`]*)?`/g)].map((m) => m[1]!));
}

describe("settings in the documentation", () => {
  it("the README's configuration table lists every setting the app reads", () => {
    // Prepare
    const listed = new Set(configurationRows().flatMap(namesInRow));

    // Act
    const missing = settingNames.filter((n) => !listed.has(n));

    // Assess
    expect(missing).toEqual([]);
  });

  it("the README's configuration table lists only settings the app reads", () => {
    // Act
    const unknown = configurationRows()
      .flatMap(namesInRow)
      .filter((n) => !settingNames.includes(n));

    // Assess
    expect(unknown).toEqual([]);
  });

  it("the defaults the README's configuration table gives are the app's", () => {
    // Prepare: a row's "default X" entries belong to its settings in order.
    const rows = configurationRows().map((row) => ({
      names: namesInRow(row),
      defaults: [...row.split("|")[2]!.matchAll(/default ([^;),\s]+)/g)].map((m) => m[1]!),
    }));

    // Act
    const mismatches = rows
      .filter((r) => r.defaults.length > 0)
      .flatMap((r) =>
        r.defaults.length !== r.names.length
          ? [`${r.names.join(", ")}: ${r.defaults.length} defaults for ${r.names.length} settings`]
          : r.names.flatMap((n, i) =>
              String(defaultOf(n)) === r.defaults[i] ? [] : [`${n}: documented ${r.defaults[i]}, the app uses ${String(defaultOf(n))}`],
            ),
      );

    // Assess
    expect(mismatches).toEqual([]);
  });

  it("the README's configuration table gives every default the app applies that is not off", () => {
    // Prepare: booleans default to off, which the table says as "only for …".
    const rows = configurationRows().map((row) => ({ names: namesInRow(row), text: row }));

    // Act
    const undocumented = settingNames.filter((n) => {
      const d = defaultOf(n);
      if (d === undefined || typeof d === "boolean") return false;
      return !rows.some((r) => r.names.includes(n) && r.text.includes(String(d)));
    });

    // Assess
    expect(undocumented).toEqual([]);
  });

  it("docs/ names every setting the app reads", () => {
    // Prepare: as inline code, alone, with a value, or as the prefix of a section (`ServiceBusConnection__*`).
    const prose = docs.flatMap((f) => proseOf(read(`docs/${f}`))).join("\n");

    // Act
    const missing = settingNames.filter((n) => !new RegExp(`\`${n}(?:\`|=|__)`).test(prose));

    // Assess
    expect(missing).toEqual([]);
  });

  it("every app setting docs/ names is one the app reads", () => {
    // Act
    const unknown = docs.flatMap((f) =>
      upperCaseNamesInProse(read(`docs/${f}`))
        .filter((n) => !settingNames.includes(n) && !notAppSettings.has(n))
        .map((n) => `docs/${f}: ${n}`),
    );

    // Assess
    expect([...new Set(unknown)]).toEqual([]);
  });

  it("local.settings.sample.json holds only settings the app or the Functions host reads, each valid", () => {
    // Prepare
    const values = (JSON.parse(read("local.settings.sample.json")) as { Values: Record<string, string> }).Values;

    // Act
    const unknown = Object.keys(values).filter((n) => !settingNames.includes(n) && !hostSettings.has(n));
    const invalid = Object.entries(values).filter(([n, v]) => settingNames.includes(n) && !settings[n]!.safeParse(v).success);

    // Assess
    expect(unknown).toEqual([]);
    expect(invalid).toEqual([]);
  });
});
