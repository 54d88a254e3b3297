// The function app's settings in Bicep against the app's config schema (shared/config.ts):
// every name the Bicep sets is one the app or the Functions host reads, the Azure
// (identity) form is complete and valid, and no value carries a key or connection secret.
import { describe, expect, it } from "vitest";
import { parseBicep, type BicepNode } from "../../infra/bicepSyntax.js";
import { loadConfig, settingsSchema } from "../../shared/config.js";
import { declaration, declarations, identifiersIn, loadBicep, objectProperties, resourceBody, stringLiteral, type BicepFile } from "../support/bicepModel.js";

const functionAppModule = "modules/functionApp.bicep";

/**
 * Settings the Bicep sets that the app does not read (so they are not in the schema): the
 * Functions host and its Application Insights integration own them.
 */
const hostOwnedSettings: Readonly<Record<string, string>> = {
  AzureWebJobsStorage__accountName: "host storage account, identity-based (docs/deploy.md, App settings)",
  AzureWebJobsStorage__credential: "host storage uses managed identity",
  AzureWebJobsStorage__clientId: "which (user-assigned) identity the host storage connection uses",
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Entra auth for the host's telemetry (ClientId=…;Authorization=AAD)",
};

/** Flex Consumption rejects or ignores these; runtime and deployment come from functionAppConfig (docs/deploy.md). */
const flexForbiddenSettings = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_CONTENTSHARE",
  "SCM_DO_BUILD_DURING_DEPLOYMENT",
];

/** The local form of the schema: connection strings, the secret itself, emulator switches. */
const localOnlySettings = [
  "ServiceBusConnection",
  "TABLES_CONNECTION_STRING",
  "TABLES_ALLOW_INSECURE",
  "TEAMVIEWER_CLIENT_SECRET",
  "KEYVAULT_ALLOW_INSECURE",
  "LOCAL_PUSH_FILE",
  "LOCAL_FAULTS_FILE",
  "LOCAL_TRACES_FILE",
  "LOCAL_ALLOW_INSECURE_LINKS",
  "AzureWebJobsStorage",
];

/** Beyond the schema's required settings, what running on Azure with the user-assigned identity takes. */
const azureIdentitySettings = [
  "ServiceBusConnection__fullyQualifiedNamespace",
  "ServiceBusConnection__credential",
  "ServiceBusConnection__clientId",
  "TABLES_ENDPOINT",
  "AZURE_CLIENT_ID",
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "TEAMVIEWER_CLIENT_SECRET_NAME",
];

const secretPatterns = [/AccountKey=/i, /SharedAccessKey=/i, /\blist[A-Za-z]*\s*\(/];

interface SettingsVariant {
  /** Which branch of each condition this variant took, e.g. "enableNotificationHubs". */
  readonly label: string;
  readonly settings: ReadonlyMap<string, BicepNode>;
}

function appSettingsResource(file: BicepFile) {
  const found = declarations(file, "resource").filter(
    (d) => d.typeText?.startsWith("Microsoft.Web/sites/config@") && stringLiteral(objectProperties(resourceBody(d)).get("name")!) === "appsettings",
  );
  if (found.length !== 1) throw new Error(`expected one sites/config 'appsettings' resource, found ${found.length}`);
  return found[0];
}

/** Every combination of branches the settings expression can take (union, ternaries, vars). */
function variantsOf(file: BicepFile, node: BicepNode): SettingsVariant[] {
  switch (node.type) {
    case "object":
      return [{ label: "", settings: objectProperties(node) }];
    case "identifier":
      return variantsOf(file, declaration(file, "var", node.text).value!);
    case "parenthesized_expression":
      return variantsOf(file, node.namedChildren[0]);
    case "ternary_expression": {
      const condition = node.childForFieldName("condition")!.text;
      const tag = (prefix: string) => (v: SettingsVariant) => ({ ...v, label: [prefix, v.label].filter(Boolean).join(", ") });
      return [
        ...variantsOf(file, node.childForFieldName("consequence")!).map(tag(condition)),
        ...variantsOf(file, node.childForFieldName("alternative")!).map(tag(`!${condition}`)),
      ];
    }
    case "call_expression": {
      if (node.childForFieldName("function")?.text !== "union") break;
      const args = node.childForFieldName("arguments")!.namedChildren.map((a) => variantsOf(file, a));
      // union(): later objects win, as in ARM.
      return args.reduce<SettingsVariant[]>(
        (acc, options) =>
          acc.flatMap((a) => options.map((o) => ({ label: [a.label, o.label].filter(Boolean).join(", "), settings: new Map([...a.settings, ...o.settings]) }))),
        [{ label: "", settings: new Map() }],
      );
    }
  }
  throw new Error(`app settings use ${node.type} (${node.text.slice(0, 60)}); teach this test how to read it`);
}

function settingsVariants(file: BicepFile): SettingsVariant[] {
  return variantsOf(file, objectProperties(resourceBody(appSettingsResource(file))).get("properties")!);
}

/** A value's text with every var it references expanded (recursively), for secret scanning. */
function expandedText(file: BicepFile, node: BicepNode, seen = new Set<string>()): string {
  const vars = new Map(declarations(file, "var").map((d) => [d.name, d.value!]));
  let text = node.text;
  for (const id of identifiersIn(node)) {
    const value = vars.get(id);
    if (value && !seen.has(id)) {
      seen.add(id);
      text += `\n${expandedText(file, value, seen)}`;
    }
  }
  return text;
}

/** What main.bicep passes into the function app module's params, expanded the same way. */
function moduleArgumentText(main: BicepFile, moduleName: string, param: string): string | undefined {
  const params = objectProperties(objectProperties(resourceBody(declaration(main, "module", moduleName))).get("params")!);
  const value = params.get(param);
  return value ? expandedText(main, value) : undefined;
}

/** A plausible value for the schema check: the literal if there is one, else a placeholder the field accepts. */
function sampleValue(name: string, node: BicepNode): string {
  const literal = stringLiteral(node);
  if (literal !== undefined) return literal;
  const field = (settingsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>)[name];
  return ["https://placeholder.example/", "placeholder"].find((c) => !field || field.safeParse(c).success) ?? "placeholder";
}

function envOf(variant: SettingsVariant): Record<string, string> {
  return Object.fromEntries([...variant.settings].map(([name, node]) => [name, sampleValue(name, node)]));
}

function secretProblems(file: BicepFile, main: BicepFile, variants: SettingsVariant[]): string[] {
  const params = new Set(declarations(file, "param").map((p) => p.name));
  const problems: string[] = [];
  for (const variant of variants) {
    for (const [name, node] of variant.settings) {
      let text = expandedText(file, node);
      // Follow params back to what main.bicep feeds them.
      for (const id of identifiersIn(node).concat(text.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [])) {
        if (params.has(id)) text += `\n${moduleArgumentText(main, "functionApp", id) ?? ""}`;
      }
      for (const pattern of secretPatterns) if (pattern.test(text)) problems.push(`${name} (${variant.label || "always"}): ${pattern}`);
    }
  }
  return problems;
}

describe("function app settings in Bicep match shared/config.ts", () => {
  it("sets only names the config schema or the Functions host reads", async () => {
    // Prepare
    const file = await loadBicep(functionAppModule);
    const schemaNames = new Set(Object.keys(settingsSchema.shape));

    // Act
    const unknown = settingsVariants(file).flatMap((v) => [...v.settings.keys()].filter((n) => !schemaNames.has(n) && !(n in hostOwnedSettings)));

    // Assess
    expect(unknown).toEqual([]);
  });

  it("sets every setting the schema requires, and the whole identity form, in every variant", async () => {
    // Prepare
    const file = await loadBicep(functionAppModule);
    const schemaRequired = Object.entries(settingsSchema.shape)
      .filter(([, field]) => !field.safeParse(undefined).success)
      .map(([name]) => name);

    // Act
    const variants = settingsVariants(file);

    // Assess
    expect(schemaRequired).toEqual(expect.arrayContaining(["KEYVAULT_URI", "TEAMVIEWER_CLIENT_ID", "AUTH_ISSUER", "PORTAL_URL"]));
    expect(variants.map((v) => v.label).sort()).toEqual(["!enableNotificationHubs", "enableNotificationHubs"]);
    for (const variant of variants) {
      expect([...variant.settings.keys()], variant.label).toEqual(
        expect.arrayContaining([...schemaRequired, ...azureIdentitySettings, ...Object.keys(hostOwnedSettings)]),
      );
    }
  });

  it("parses as a valid Azure (identity) configuration, with Notification Hubs on and off", async () => {
    // Prepare
    const file = await loadBicep(functionAppModule);

    // Act
    const configs = settingsVariants(file).map((v) => ({ label: v.label, parsed: settingsSchema.safeParse(envOf(v)), config: loadConfig(envOf(v)) }));

    // Assess
    for (const { label, parsed, config } of configs) {
      expect(parsed.success ? [] : parsed.error.issues, label).toEqual([]);
      expect(config.serviceBus, label).toMatchObject({ kind: "identity" });
      expect(config.tables.kind, label).toBe("identity");
      expect(config.keyVault.allowInsecure, label).toBe(false);
      expect(config.azureClientId, label).toBeDefined();
      expect(config.teamViewer.clientSecret, label).toBeUndefined();
      expect(config.push.kind, label).toBe(label === "enableNotificationHubs" ? "notificationHubs" : "none");
    }
  });

  it("uses managed identity literally, and one identity for every connection", async () => {
    // Prepare
    const file = await loadBicep(functionAppModule);
    const main = await loadBicep("main.bicep");
    const [settings] = settingsVariants(file).map((v) => v.settings);

    // Act
    const credentials = ["ServiceBusConnection__credential", "AzureWebJobsStorage__credential"].map((n) => stringLiteral(settings.get(n)!));
    const clientIds = ["ServiceBusConnection__clientId", "AzureWebJobsStorage__clientId", "AZURE_CLIENT_ID"].map((n) => settings.get(n)!.text);
    const appInsightsAuth = settings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")!.text;

    // Assess
    expect(credentials).toEqual(["managedidentity", "managedidentity"]);
    expect(new Set(clientIds)).toEqual(new Set(["identityClientId"]));
    expect(appInsightsAuth).toBe("'ClientId=${identityClientId};Authorization=AAD'");
    expect(moduleArgumentText(main, "functionApp", "identityClientId")).toBe("identity.properties.clientId");
    expect(moduleArgumentText(main, "functionApp", "identityId")).toBe("identity.id");
  });

  it("never sets local-only settings or ones Flex Consumption forbids", async () => {
    // Prepare
    const file = await loadBicep(functionAppModule);

    // Act
    const names = settingsVariants(file).flatMap((v) => [...v.settings.keys()]);

    // Assess
    expect(names.filter((n) => localOnlySettings.includes(n) || flexForbiddenSettings.includes(n) || n.startsWith("WEBSITE_CONTENT"))).toEqual([]);
  });

  it("puts no key, SAS or list*() call into any setting value, following vars and module inputs", async () => {
    // Prepare
    const file = await loadBicep(functionAppModule);
    const main = await loadBicep("main.bicep");

    // Act
    const problems = secretProblems(file, main, settingsVariants(file));

    // Assess
    expect(problems).toEqual([]);
  });

  it.each([
    [
      "a listKeys() value",
      (s: string) => s.replace("KEYVAULT_URI: keyVaultUri", "KEYVAULT_URI: storage.listKeys().keys[0].value"),
      "functionApp",
      /KEYVAULT_URI/,
    ],
    [
      "an AccountKey connection string",
      (s: string) =>
        s.replace("TABLES_ENDPOINT: storage.properties.primaryEndpoints.table", "TABLES_ENDPOINT: 'DefaultEndpointsProtocol=https;AccountKey=${storage.name}'"),
      "functionApp",
      /TABLES_ENDPOINT/,
    ],
    [
      "a key fed in from main.bicep",
      (s: string) => s.replace("keyVaultUri: keyVault.outputs.uri", "keyVaultUri: 'Endpoint=sb://x/;SharedAccessKey=${environmentName}'"),
      "main",
      /KEYVAULT_URI/,
    ],
  ])("catches %s", async (_what, mutate, target, expected) => {
    // Prepare
    const fileOriginal = await loadBicep(functionAppModule);
    const mainOriginal = await loadBicep("main.bicep");
    const reparse = async (f: BicepFile): Promise<BicepFile> => {
      const source = mutate(f.source);
      return { path: f.path, source, tree: await parseBicep(source) };
    };
    const file = target === "functionApp" ? await reparse(fileOriginal) : fileOriginal;
    const main = target === "main" ? await reparse(mainOriginal) : mainOriginal;
    expect(file.source + main.source).not.toBe(fileOriginal.source + mainOriginal.source);

    // Act
    const problems = secretProblems(file, main, settingsVariants(file));

    // Assess
    expect(problems.join("\n")).toMatch(expected);
  });

  it("gives the app settings one channel: no siteConfig.appSettings on the site", async () => {
    // Prepare
    const file = await loadBicep(functionAppModule);
    const site = declarations(file, "resource").find((d) => d.typeText?.startsWith("Microsoft.Web/sites@"))!;

    // Act
    const siteConfig = objectProperties(objectProperties(resourceBody(site)).get("properties")!).get("siteConfig");

    // Assess
    expect(siteConfig && objectProperties(siteConfig).has("appSettings")).toBe(false);
  });
});
