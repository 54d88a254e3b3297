// The azd wiring, checked offline: azure.yaml points at the artefact `npm run package`
// stages, main.parameters.json feeds exactly main.bicep's parameters, and every module call
// passes parameters the module declares and reads only outputs it has. (The Bicep CLI does
// this and much more; it is not available here.)
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { listBicepFiles } from "../../infra/bicepSyntax.js";
import { appRoot } from "../../infra/package.js";
import { appRoles } from "../../shared/domain/caller.js";
import {
  declaration,
  declarations,
  evaluate,
  infraDir,
  loadBicep,
  objectProperties,
  resourceBody,
  stringLiteral,
  type BicepFile,
} from "../support/bicepModel.js";

type YamlMap = { [key: string]: string | YamlMap };

/** Reads the block-mapping subset azure.yaml uses (nested `key: value`, comments); rejects the rest. */
function readSimpleYaml(text: string): YamlMap {
  const root: YamlMap = {};
  const stack: { indent: number; map: YamlMap }[] = [{ indent: -1, map: root }];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/\s+#.*$/, "").replace(/^\s*#.*$/, "");
    if (line.trim() === "") continue;
    const m = /^( *)([A-Za-z0-9_.-]+):(?: (.*))?$/.exec(line);
    if (!m) throw new Error(`azure.yaml line ${i + 1}: outside the subset this test reads: ${raw}`);
    const indent = m[1].length;
    while (stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1].map;
    if (m[3] === undefined || m[3] === "") {
      const child: YamlMap = {};
      parent[m[2]] = child;
      stack.push({ indent, map: child });
    } else {
      parent[m[2]] = m[3].trim().replace(/^(['"])(.*)\1$/, "$2");
    }
  }
  return root;
}

async function allBicep(): Promise<BicepFile[]> {
  return Promise.all(listBicepFiles(infraDir).map((f) => loadBicep(f)));
}

describe("azd project", () => {
  it("deploys the staged artefact of `npm run package` to the function app tagged for service api", async () => {
    // Prepare
    const yaml = readSimpleYaml(readFileSync(join(appRoot, "azure.yaml"), "utf8"));
    const pkg = JSON.parse(readFileSync(join(appRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const packageScript = readFileSync(join(appRoot, "infra", "package.ts"), "utf8");
    const functionApp = await loadBicep("modules/functionApp.bicep");

    // Act
    const api = (yaml.services as YamlMap).api as YamlMap;
    const site = declarations(functionApp, "resource").find((d) => d.typeText?.startsWith("Microsoft.Web/sites@"))!;
    const siteTags = resourceBody(site)
      .descendantsOfType("object_property")
      .find((p) => stringLiteral(p.namedChildren[0]) === "azd-service-name");

    // Assess
    expect(api).toMatchObject({ project: ".", language: "ts", host: "function", dist: ".deploy", remoteBuild: "false" });
    expect(api.hooks).toEqual({ prepackage: { posix: { shell: "sh", run: "npm run package" }, windows: { shell: "pwsh", run: "npm run package" } } });
    expect(pkg.scripts.package).toBe("tsx infra/package.ts");
    expect(packageScript).toContain('values.out ?? ".deploy"');
    expect(yaml.infra).toEqual({ provider: "bicep", path: "infra", module: "main" });
    expect(siteTags && stringLiteral(siteTags.namedChildren[1])).toBe("api");
  });

  it("feeds main.bicep exactly its parameters from the azd environment", async () => {
    // Prepare
    const main = await loadBicep("main.bicep");
    const file = JSON.parse(readFileSync(join(infraDir, "main.parameters.json"), "utf8")) as { parameters: Record<string, { value: string }> };

    // Act
    const params = declarations(main, "param");
    const required = params.filter((p) => p.value === undefined).map((p) => p.name);
    const fed = Object.keys(file.parameters);

    // Assess
    expect(fed.filter((n) => !params.some((p) => p.name === n))).toEqual([]);
    expect(required.filter((n) => !fed.includes(n))).toEqual([]);
    for (const [name, { value }] of Object.entries(file.parameters)) expect(value, name).toMatch(/^\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}$/);
  });

  it("gives allowed-value parameters azd defaults inside the allowed set", async () => {
    // Prepare
    const main = await loadBicep("main.bicep");
    const file = JSON.parse(readFileSync(join(infraDir, "main.parameters.json"), "utf8")) as { parameters: Record<string, { value: string }> };

    // Act
    const checks = declarations(main, "param")
      .filter((p) => p.decorators.includes("allowed"))
      .map((p) => {
        const decorators = p.node.previousNamedSibling!;
        const allowedCall = decorators.namedChildren.find((d) => d.namedChildren[0]?.childForFieldName("function")?.text === "allowed")!.namedChildren[0];
        const allowed = evaluate(allowedCall.childForFieldName("arguments")!.namedChildren[0], {}) as unknown[];
        const azdDefault = /=([^}]*)\}$/.exec(file.parameters[p.name]?.value ?? "")?.[1];
        const bicepDefault = p.value ? evaluate(p.value, {}) : undefined;
        return { name: p.name, allowed: allowed.map(String), azdDefault, bicepDefault: bicepDefault === undefined ? undefined : String(bicepDefault) };
      });

    // Assess
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(["serviceBusSku", "notificationHubsSku", "instanceMemoryMB"]));
    for (const c of checks) {
      if (c.azdDefault !== undefined) expect(c.allowed, c.name).toContain(c.azdDefault);
      if (c.bicepDefault !== undefined) expect(c.allowed, c.name).toContain(c.bicepDefault);
    }
    expect(checks.find((c) => c.name === "serviceBusSku")).toMatchObject({
      bicepDefault: "Standard",
      azdDefault: "Standard",
      allowed: ["Standard", "Premium"],
    });
  });

  it("passes every module exactly the parameters it declares and reads only outputs it has", async () => {
    // Prepare
    const files = await allBicep();

    // Act
    const problems: string[] = [];
    for (const file of files) {
      for (const mod of declarations(file, "module")) {
        const target = resolve(dirname(file.path), mod.typeText!);
        if (!existsSync(target)) {
          problems.push(`${mod.name}: ${mod.typeText} does not exist`);
          continue;
        }
        const module = await loadBicep(target.slice(infraDir.length + 1));
        const declared = declarations(module, "param");
        const passed = [...objectProperties(objectProperties(resourceBody(mod)).get("params")!).keys()];
        for (const p of passed) if (!declared.some((d) => d.name === p)) problems.push(`${mod.name}: passes unknown param ${p}`);
        for (const d of declared) if (d.value === undefined && !passed.includes(d.name)) problems.push(`${mod.name}: misses required param ${d.name}`);
        const outputs = new Set(declarations(module, "output").map((o) => o.name));
        for (const m of file.source.matchAll(new RegExp(`\\b${mod.name}\\.outputs\\.(\\w+)`, "g"))) {
          if (!outputs.has(m[1])) problems.push(`${mod.name}: reads missing output ${m[1]}`);
        }
      }
    }

    // Assess
    expect(problems).toEqual([]);
    expect(
      declarations(
        files.find((f) => f.path.endsWith("main.bicep"))!,
        "module",
      ).map((m) => m.name),
    ).toEqual(["monitoring", "storage", "serviceBus", "keyVault", "notificationHubs", "portal", "roleAssignments", "functionApp", "diagnostics"]);
  });

  it("runs Node 22 on Flex Consumption with the documented plan and runtime shape", async () => {
    // Prepare
    const file = await loadBicep("modules/functionApp.bicep");

    // Act
    const plan = objectProperties(resourceBody(declarations(file, "resource").find((d) => d.typeText?.startsWith("Microsoft.Web/serverfarms@"))!));
    const site = objectProperties(resourceBody(declarations(file, "resource").find((d) => d.typeText?.startsWith("Microsoft.Web/sites@"))!));
    const config = objectProperties(objectProperties(site.get("properties")!).get("functionAppConfig")!);

    // Assess
    expect(evaluate(plan.get("sku")!, {})).toEqual({ name: "FC1", tier: "FlexConsumption" });
    expect(evaluate(plan.get("properties")!, {})).toEqual({ reserved: true });
    expect(stringLiteral(site.get("kind")!)).toBe("functionapp,linux");
    expect(evaluate(config.get("runtime")!, {})).toEqual({ name: "node", version: "22" });
    expect(objectProperties(objectProperties(objectProperties(config.get("deployment")!).get("storage")!).get("authentication")!).get("type")?.text).toBe(
      "'UserAssignedIdentity'",
    );
  });

  it("keeps shared keys and local auth off on every service that allows it", async () => {
    // Prepare
    const storage = await loadBicep("modules/storage.bicep");
    const serviceBus = await loadBicep("modules/serviceBus.bicep");
    const monitoring = await loadBicep("modules/monitoring.bicep");
    const keyVault = await loadBicep("modules/keyVault.bicep");
    const props = (f: BicepFile, name: string) => objectProperties(objectProperties(resourceBody(declaration(f, "resource", name))).get("properties")!);

    const workspaceFeatures = props(monitoring, "workspace").get("features");

    // Act
    const settings = {
      allowSharedKeyAccess: props(storage, "account").get("allowSharedKeyAccess")?.text,
      allowBlobPublicAccess: props(storage, "account").get("allowBlobPublicAccess")?.text,
      serviceBusDisableLocalAuth: props(serviceBus, "namespace").get("disableLocalAuth")?.text,
      appInsightsDisableLocalAuth: props(monitoring, "appInsights").get("DisableLocalAuth")?.text,
      // The workspace's shared keys (agents, the Data Collector API): nothing here uses them.
      workspaceDisableLocalAuth: workspaceFeatures && objectProperties(workspaceFeatures).get("disableLocalAuth")?.text,
      keyVaultRbac: props(keyVault, "vault").get("enableRbacAuthorization")?.text,
      keyVaultSoftDelete: props(keyVault, "vault").get("enableSoftDelete")?.text,
      keyVaultPurgeProtection: props(keyVault, "vault").get("enablePurgeProtection")?.text,
    };

    // Assess
    expect(settings).toEqual({
      allowSharedKeyAccess: "false",
      allowBlobPublicAccess: "false",
      serviceBusDisableLocalAuth: "true",
      appInsightsDisableLocalAuth: "true",
      workspaceDisableLocalAuth: "true",
      keyVaultRbac: "true",
      keyVaultSoftDelete: "true",
      keyVaultPurgeProtection: "true",
    });
  });

  it("lists every resource main.bicep names in docs/deploy.md's 'What gets deployed' table", async () => {
    // Prepare
    const main = await loadBicep("main.bicep");
    const doc = readFileSync(join(appRoot, "docs", "deploy.md"), "utf8");

    // Act: every '<prefix>${resourceToken}' name, as the page writes it (`<prefix><token>`).
    const names = [...new Set([...main.source.matchAll(/'([a-z-]*)\$\{resourceToken\}'/g)].map((m) => `\`${m[1]}<token>\``))];
    const table = /## What gets deployed\n([\s\S]*?)\n\n/.exec(doc)?.[1] ?? "";

    // Assess
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((n) => !table.includes(n))).toEqual([]);
  });

  it("derives resource names that fit Azure's length rules", async () => {
    // Prepare: uniqueString() returns 13 characters.
    const main = await loadBicep("main.bicep");
    const scope = { resourceToken: "abcdefghijklm" };
    const nameOf = (module: string, param: string) =>
      evaluate(objectProperties(objectProperties(resourceBody(declaration(main, "module", module))).get("params")!).get(param)!, scope) as string;

    // Act
    const names = {
      keyVault: nameOf("keyVault", "name"),
      storage: nameOf("storage", "name"),
      serviceBus: nameOf("serviceBus", "name"),
    };

    // Assess
    expect(names.keyVault).toMatch(/^[a-z][a-z0-9-]{2,23}$/);
    expect(names.storage).toMatch(/^[a-z0-9]{3,24}$/);
    expect(names.serviceBus).toMatch(/^[a-z][a-z0-9-]{4,48}[a-z0-9]$/);
  });

  it("registers in Entra exactly the app roles the code checks, for v2 tokens as AUTH_ISSUER expects", async () => {
    // Prepare
    const roles = JSON.parse(readFileSync(join(infraDir, "entra", "api-app-roles.json"), "utf8")) as {
      id: string;
      value: string;
      allowedMemberTypes: string[];
    }[];
    const scope = JSON.parse(readFileSync(join(infraDir, "entra", "api-scope.json"), "utf8")) as {
      api: { requestedAccessTokenVersion: number };
      optionalClaims?: { accessToken?: { name: string }[] };
    };
    const main = await loadBicep("main.bicep");

    // Act
    const issuer = objectProperties(objectProperties(resourceBody(declaration(main, "module", "functionApp"))).get("params")!).get("authIssuer")!.text;

    // Assess
    expect(roles.map((r) => r.value).sort()).toEqual(Object.values(appRoles).sort());
    expect(new Set(roles.map((r) => r.id)).size).toBe(roles.length);
    for (const r of roles) expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // v2 access tokens carry iss https://login.microsoftonline.com/<tid>/v2.0 and aud = the API's client id.
    expect(scope.api.requestedAccessTokenVersion).toBe(2);
    expect(issuer).toBe("'${loginEndpoint}${tokenTenantId}/v2.0'");
    // The automation door tells app-only tokens by idtyp, an optional claim the API asks for;
    // only applications can hold the Automation role.
    expect(scope.optionalClaims?.accessToken?.map((c) => c.name)).toContain("idtyp");
    expect(roles.find((r) => r.value === "RemoteAssistance.Automation")?.allowedMemberTypes).toEqual(["Application"]);
  });
});
