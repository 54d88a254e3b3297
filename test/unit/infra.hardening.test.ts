// Production hardening of the Azure deployment, read from the compiled ARM template (the
// real Bicep CLI, infra/bicepCli.ts): what reaches the Log Analytics workspace, and the
// security settings a reviewer looks for first. Without `dotnet` this file FAILS (it does
// not skip), like infra.arm.test.ts.
import { beforeAll, describe, expect, it } from "vitest";
import { compileMainToArm } from "../../infra/bicepCli.js";

interface ArmResource {
  readonly type: string;
  readonly name: string;
  readonly scope?: string;
  readonly properties: Record<string, unknown> & {
    readonly parameters?: Record<string, { value: unknown }>;
    readonly template?: ArmTemplate;
  };
}
interface ArmTemplate {
  readonly resources: readonly ArmResource[];
  readonly outputs?: Record<string, { value: unknown }>;
}

let main: ArmTemplate;

function moduleTemplate(name: string): ArmTemplate {
  const found = main.resources.find((r) => r.type === "Microsoft.Resources/deployments" && r.name === name);
  if (!found?.properties.template) throw new Error(`no module ${name} in the compiled template`);
  return found.properties.template;
}

function moduleParameters(name: string): Record<string, { value: unknown }> {
  const found = main.resources.find((r) => r.type === "Microsoft.Resources/deployments" && r.name === name);
  if (!found?.properties.parameters) throw new Error(`no module ${name} in the compiled template`);
  return found.properties.parameters;
}

function resourcesOf(template: ArmTemplate, type: string): ArmResource[] {
  return template.resources.filter((r) => r.type === type);
}

function resourceOf(template: ArmTemplate, type: string): ArmResource {
  const [found, ...more] = resourcesOf(template, type);
  if (!found || more.length > 0) throw new Error(`expected one ${type}, found ${more.length + (found ? 1 : 0)}`);
  return found;
}

interface LogSetting {
  readonly category?: string;
  readonly categoryGroup?: string;
  readonly enabled: boolean;
}

/** Every diagnostic setting of the diagnostics module, keyed by the resource type it is attached to. */
function diagnosticSettings(): Map<string, ArmResource> {
  const template = moduleTemplate("diagnostics");
  const byTarget = new Map<string, ArmResource>();
  for (const setting of resourcesOf(template, "Microsoft.Insights/diagnosticSettings")) {
    // scope: "[resourceId('Microsoft.KeyVault/vaults', parameters('keyVaultName'))]"
    const target = /^\[resourceId\('([A-Za-z.]+(?:\/[A-Za-z]+)+)'/.exec(setting.scope ?? "")?.[1];
    if (!target) throw new Error(`diagnostic setting ${setting.name} has scope ${setting.scope}; teach this test to read it`);
    byTarget.set(target, setting);
  }
  return byTarget;
}

describe("Azure deployment hardening (compiled ARM template)", () => {
  beforeAll(() => {
    main = compileMainToArm() as ArmTemplate;
  }, 180_000);

  it("sends Key Vault audit events, Service Bus, table and function app logs to the Log Analytics workspace", () => {
    // Prepare
    const expected = {
      // Who read which secret (every tenant's TeamViewer token lives there).
      "Microsoft.KeyVault/vaults": ["audit"],
      "Microsoft.ServiceBus/namespaces": ["allLogs"],
      "Microsoft.Storage/storageAccounts/tableServices": ["allLogs"],
      "Microsoft.Web/sites": ["allLogs"],
    };

    // Act
    const settings = diagnosticSettings();
    const groups = Object.fromEntries(
      [...settings].map(([target, s]) => [target, (s.properties.logs as LogSetting[]).filter((l) => l.enabled).map((l) => l.categoryGroup ?? l.category)]),
    );

    // Assess
    expect(groups).toEqual(expected);
    for (const [target, setting] of settings) {
      expect(setting.properties.workspaceId, target).toBe("[parameters('logAnalyticsWorkspaceId')]");
      // Retention is the workspace's (logRetentionInDays); no second copy in storage or Event Hubs.
      expect(JSON.stringify(setting.properties), target).not.toMatch(/retentionPolicy|storageAccountId|eventHub/);
    }
    // Key Vault and Service Bus write to their own tables (AZKVAuditLogs, AZMS*), not AzureDiagnostics.
    expect(settings.get("Microsoft.KeyVault/vaults")?.properties.logAnalyticsDestinationType).toBe("Dedicated");
    expect(settings.get("Microsoft.ServiceBus/namespaces")?.properties.logAnalyticsDestinationType).toBe("Dedicated");
  });

  it("attaches the diagnostic settings to this deployment's workspace and resources", () => {
    // Prepare
    const passed = moduleParameters("diagnostics");
    const fromModule = (module: string, output: string) =>
      `reference(resourceId('Microsoft.Resources/deployments', '${module}'), '2025-04-01').outputs.${output}.value`;

    // Act
    const values = Object.fromEntries(Object.entries(passed).map(([k, v]) => [k, String(v.value)]));

    // Assess
    expect(values.logAnalyticsWorkspaceId).toContain(fromModule("monitoring", "logAnalyticsWorkspaceId"));
    expect(values.keyVaultName).toContain(fromModule("keyVault", "name"));
    expect(values.serviceBusNamespaceName).toContain(fromModule("serviceBus", "name"));
    expect(values.storageAccountName).toContain(fromModule("storage", "name"));
    // From the function app module's output, so the setting waits for the site.
    expect(values.functionAppName).toContain(fromModule("functionApp", "name"));
  });

  it("serves the function app over HTTPS and TLS 1.2 only (SCM too), without remote debugging or basic publishing", () => {
    // Prepare
    const template = moduleTemplate("functionApp");

    // Act
    const site = resourceOf(template, "Microsoft.Web/sites").properties;
    const siteConfig = site.siteConfig as Record<string, unknown>;
    const publishing = Object.fromEntries(
      resourcesOf(template, "Microsoft.Web/sites/basicPublishingCredentialsPolicies").map((p) => [p.name.match(/'(ftp|scm)'\)\]$/)?.[1], p.properties.allow]),
    );

    // Assess
    expect(site.httpsOnly).toBe(true);
    expect(siteConfig).toMatchObject({ minTlsVersion: "1.2", scmMinTlsVersion: "1.2", remoteDebuggingEnabled: false });
    expect(publishing).toEqual({ ftp: false, scm: false });
  });

  it("keeps the storage account HTTPS and TLS 1.2 only, private, keyless, and its data in this tenant", () => {
    // Prepare
    const template = moduleTemplate("storage");

    // Act
    const account = resourceOf(template, "Microsoft.Storage/storageAccounts").properties;

    // Assess
    expect(account).toMatchObject({
      supportsHttpsTrafficOnly: true,
      minimumTlsVersion: "TLS1_2",
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
      // No object replication policy may copy the app's blobs to another tenant's account.
      allowCrossTenantReplication: false,
    });
  });

  it("keeps Service Bus on TLS 1.2 and the vault on RBAC with soft delete and purge protection", () => {
    // Act
    const namespace = resourceOf(moduleTemplate("serviceBus"), "Microsoft.ServiceBus/namespaces").properties;
    const vault = resourceOf(moduleTemplate("keyVault"), "Microsoft.KeyVault/vaults").properties;

    // Assess
    expect(namespace).toMatchObject({ minimumTlsVersion: "1.2", disableLocalAuth: true });
    expect(vault).toMatchObject({ enableRbacAuthorization: true, enableSoftDelete: true, softDeleteRetentionInDays: 90, enablePurgeProtection: true });
  });
});
