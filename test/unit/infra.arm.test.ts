// The compiled ARM template, as Azure receives it: the real Bicep CLI (restored from NuGet
// by infra/bicepCli.ts) compiles infra/main.bicep here. Nothing generated is committed.
// Without `dotnet` this file FAILS (it does not skip): the checks below are only true of
// what the compiler produced.
import { beforeAll, describe, expect, it } from "vitest";
import { compileMainToArm } from "../../infra/bicepCli.js";

interface ArmResource {
  readonly type: string;
  readonly name: string;
  readonly tags?: unknown;
  readonly properties: Record<string, unknown> & {
    readonly parameters?: Record<string, { value: unknown }>;
    readonly template?: ArmTemplate;
  };
}
interface ArmTemplate {
  readonly resources: readonly ArmResource[];
  readonly variables?: Record<string, unknown>;
  readonly outputs?: Record<string, { value: unknown }>;
}

let main: ArmTemplate;

function deployment(name: string): ArmResource {
  const found = main.resources.find((r) => r.type === "Microsoft.Resources/deployments" && r.name === name);
  if (!found) throw new Error(`no module ${name} in the compiled template`);
  return found;
}

function resourceOf(template: ArmTemplate, type: string): ArmResource {
  const found = template.resources.find((r) => r.type === type);
  if (!found) throw new Error(`no ${type}`);
  return found;
}

/** The top-level arguments of `name(…)` in an ARM expression string, quotes and parens respected. */
function callArguments(expression: string, name: string): string[] {
  const start = expression.indexOf(`${name}(`);
  if (start < 0) throw new Error(`no ${name}( in ${expression.slice(0, 80)}`);
  const args: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (let i = start + name.length + 1; i < expression.length; i++) {
    const c = expression[i];
    if (quoted) {
      current += c;
      if (c === "'") quoted = expression[i + 1] === "'" ? ((current += expression[++i]), true) : false;
      continue;
    }
    if (c === "'") quoted = true;
    else if (c === "(") depth++;
    else if (c === ")" && depth-- === 0) {
      args.push(current.trim());
      return args;
    } else if (c === "," && depth === 0) {
      args.push(current.trim());
      current = "";
      continue;
    }
    current += c;
  }
  throw new Error(`unbalanced ${name}(`);
}

/** The function app's app settings: `union(createObject('K', v, …), variables('pushSettings'))`. */
function appSettings(): Map<string, string> {
  const template = deployment("functionApp").properties.template!;
  const config = template.resources.find((r) => r.type === "Microsoft.Web/sites/config");
  const expression = config?.properties as unknown;
  if (typeof expression !== "string") throw new Error("app settings are not one expression any more: update this reader");
  const args = callArguments(expression, "createObject");
  const settings = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) settings.set(args[i].replace(/^'|'$/g, ""), args[i + 1]);
  // The push settings are a conditional object literal in a variable.
  const push = JSON.stringify(template.variables?.pushSettings ?? {});
  settings.set("(pushSettings)", push);
  return settings;
}

describe("compiled ARM template (bicep build infra/main.bicep)", () => {
  beforeAll(() => {
    main = compileMainToArm() as ArmTemplate;
  }, 180_000);

  it("deploys the portal as a Static Web App tagged for azd's web service", () => {
    // Prepare
    const portal = deployment("portal").properties.template!;

    // Act
    const site = resourceOf(portal, "Microsoft.Web/staticSites");

    // Assess
    expect(site.tags).toBe("[union(parameters('tags'), createObject('azd-service-name', 'web'))]");
    expect(portal.outputs?.origin.value).toBe(
      "[format('https://{0}', reference(resourceId('Microsoft.Web/staticSites', parameters('name')), '2025-03-01').defaultHostname)]",
    );
  });

  it("lets CORS allow exactly the portal's origin, taken from the Static Web App", () => {
    // Prepare
    const functionApp = deployment("functionApp");
    const site = resourceOf(functionApp.properties.template!, "Microsoft.Web/sites");

    // Act
    const cors = (site.properties.siteConfig as { cors?: unknown }).cors;
    const originPassed = String(functionApp.properties.parameters?.portalOrigin.value);

    // Assess
    expect(cors).toEqual({ allowedOrigins: ["[parameters('portalOrigin')]"], supportCredentials: false });
    expect(originPassed).toContain("reference(resourceId('Microsoft.Resources/deployments', 'portal'), '2025-04-01').outputs.origin.value");
    expect(originPassed).toMatch(/^\[join\(take\(split\(/);
  });

  it("names the Static Web App in PORTAL_URL unless portalUrl overrides it", () => {
    // Prepare
    const functionApp = deployment("functionApp");

    // Act
    const setting = appSettings().get("PORTAL_URL");
    const passed = JSON.stringify(functionApp.properties.parameters);

    // Assess
    expect(setting).toBe("parameters('portalUrl')");
    expect(passed).toContain(
      "if(empty(parameters('portalUrl')), createObject('value', format('{0}/', reference(resourceId('Microsoft.Resources/deployments', 'portal'), '2025-04-01').outputs.origin.value)), createObject('value', parameters('portalUrl')))",
    );
    expect(main.outputs?.PORTAL_URL).toBeDefined();
  });

  it("puts no key or connection string into any app setting", () => {
    // Prepare
    const settings = appSettings();
    const secretShapes = [/listKeys\(/i, /listConnectionStrings\(/i, /AccountKey=/i, /SharedAccessKey/i, /primaryConnectionString/i, /listSecrets\(/i];

    // Act
    const offenders = [...settings].filter(([, value]) => secretShapes.some((re) => re.test(value))).map(([name]) => name);
    const connectionStringNames = [...settings.keys()].filter((k) => /connection_?string/i.test(k));

    // Assess
    expect(settings.size).toBeGreaterThan(15);
    expect(offenders).toEqual([]);
    // The one "connection string" is Application Insights': an ingestion endpoint and id,
    // not a secret (local auth is off; the app authenticates with its identity).
    expect(connectionStringNames).toEqual(["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
    expect(settings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")).toContain("Authorization=AAD");
    // Keys are read in one place only: the Notification Hubs module writes its connection
    // string into Key Vault. The function app's deployment reads none.
    expect(JSON.stringify(deployment("functionApp"))).not.toMatch(/listKeys\(|listConnectionStrings\(/i);
  });

  it("takes the Service Bus host from the namespace's serviceBusEndpoint, not a literal domain", () => {
    // Prepare
    const serviceBus = deployment("serviceBus").properties.template!;

    // Act
    const host = String(serviceBus.outputs?.fullyQualifiedNamespace.value);

    // Assess
    expect(host).toContain(".serviceBusEndpoint");
    expect(JSON.stringify(main)).not.toContain("servicebus.windows.net");
  });
});
