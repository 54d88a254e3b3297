// Role assignments in Bicep: the built-in role GUIDs are the right ones, every assignment
// is the least-privilege data role its scope needs, and nothing broader slips in.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listBicepFiles } from "../../infra/bicepSyntax.js";
import { declaration, declarations, evaluate, infraDir, loadBicep, objectProperties, resourceBody, type Declaration } from "../support/bicepModel.js";

/** Built-in role definition GUIDs (docs/deploy.md, "Who can do what"; Azure's built-in role ids). */
const builtInRoles: Readonly<Record<string, string>> = {
  serviceBusDataSender: "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
  serviceBusDataReceiver: "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
  serviceBusDataOwner: "090c5cfd-751d-490a-894a-3ce6f1109419",
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  storageTableDataContributor: "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
  keyVaultSecretsOfficer: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
};

/** Roles far broader than a data role: none of them belongs in this deployment. */
const broadRoles: Readonly<Record<string, string>> = {
  Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
  "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
  "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
  "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
};

interface Assignment {
  readonly resource: string;
  readonly scope: string;
  readonly role: string;
  readonly principal: string;
  readonly conditional: boolean;
  readonly looped: boolean;
}

function assignmentOf(d: Declaration): Assignment {
  const body = objectProperties(resourceBody(d));
  const properties = objectProperties(body.get("properties")!);
  const roleDefinition = properties.get("roleDefinitionId")!.text;
  const role = /^subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', roles\.(\w+)\)$/.exec(roleDefinition)?.[1];
  if (!role) throw new Error(`${d.name}: roleDefinitionId is ${roleDefinition}, not subscriptionResourceId(…, roles.<name>)`);
  const value = d.value!;
  const looped = value.type === "for_statement";
  const conditional = value.type === "if_statement" || (looped && value.childForFieldName("body")?.type === "if_statement");
  return { resource: d.name, scope: body.get("scope")!.text, role, principal: properties.get("principalId")!.text, conditional, looped };
}

describe("role assignments", () => {
  it("name every built-in role by its documented GUID", async () => {
    // Prepare
    const file = await loadBicep("modules/roleAssignments.bicep");

    // Act
    const roles = evaluate(declaration(file, "var", "roles").value!, {});

    // Assess
    expect(roles).toEqual(builtInRoles);
  });

  it("grant the app exactly the data roles each resource needs, and the deployer only Secrets Officer", async () => {
    // Prepare
    const file = await loadBicep("modules/roleAssignments.bicep");

    // Act
    const assignments = declarations(file, "resource")
      .filter((d) => d.typeText?.startsWith("Microsoft.Authorization/roleAssignments@"))
      .map(assignmentOf)
      .map(({ scope, role, principal, conditional, looped }) => ({ scope, role, principal, conditional, looped }));

    // Assess
    expect(assignments).toEqual([
      { scope: "storage", role: "storageBlobDataOwner", principal: "appPrincipalId", conditional: false, looped: false },
      { scope: "storage", role: "storageTableDataContributor", principal: "appPrincipalId", conditional: false, looped: false },
      // Per queue, never the namespace; the inventory sync only on automation-events, when named.
      { scope: "queues[i]", role: "serviceBusDataSender", principal: "appPrincipalId", conditional: false, looped: true },
      { scope: "automationEventsQueue", role: "serviceBusDataSender", principal: "inventorySyncPrincipalId", conditional: true, looped: false },
      // Per queue too: the triggers (and dead-letter readers, on each queue's $DeadLetterQueue) read only these queues.
      { scope: "queues[i]", role: "serviceBusDataReceiver", principal: "appPrincipalId", conditional: false, looped: true },
      // Per queue, and only while target-based scaling is wanted.
      { scope: "queues[i]", role: "serviceBusDataOwner", principal: "appPrincipalId", conditional: true, looped: true },
      { scope: "keyVault", role: "keyVaultSecretsOfficer", principal: "appPrincipalId", conditional: false, looped: false },
      { scope: "keyVault", role: "keyVaultSecretsOfficer", principal: "deployerPrincipalId", conditional: true, looped: false },
      { scope: "appInsights", role: "monitoringMetricsPublisher", principal: "appPrincipalId", conditional: false, looped: false },
    ]);
  });

  it("give every assignment a deterministic name from scope, principal and role", async () => {
    // Prepare
    const file = await loadBicep("modules/roleAssignments.bicep");
    const assignments = declarations(file, "resource").filter((d) => d.typeText?.startsWith("Microsoft.Authorization/roleAssignments@"));

    // Act
    const names = assignments.map((d) => {
      const a = assignmentOf(d);
      return { name: objectProperties(resourceBody(d)).get("name")!.text, a };
    });

    // Assess
    for (const { name, a } of names) {
      expect(name, a.resource).toMatch(/^guid\(/);
      expect(name, a.resource).toContain(a.principal);
      expect(name, a.resource).toContain(`roles.${a.role}`);
    }
    expect(new Set(names.map((n) => n.name)).size).toBe(names.length);
  });

  it("explain the Service Bus Data Owner grant where it is made", async () => {
    // Prepare
    const file = await loadBicep("modules/roleAssignments.bicep");
    const assignments = declarations(file, "resource").filter((d) => d.typeText?.startsWith("Microsoft.Authorization/roleAssignments@"));
    const ownerIndex = assignments.findIndex((d) => assignmentOf(d).role === "serviceBusDataOwner");

    // Act: the text between the previous assignment and the Data Owner one.
    const between = file.source.slice(assignments[ownerIndex - 1].node.endIndex, assignments[ownerIndex].node.startIndex);

    // Assess
    expect(between).toMatch(/\/\/ Why Data Owner[\s\S]*target-based scaling/);
  });

  it("put no Service Bus data role on the namespace: every one is scoped to the queues the app uses", async () => {
    // Prepare
    const file = await loadBicep("modules/roleAssignments.bicep");

    // Act
    const onNamespace = declarations(file, "resource")
      .filter((d) => d.typeText?.startsWith("Microsoft.Authorization/roleAssignments@"))
      .map(assignmentOf)
      .filter((a) => a.role.startsWith("serviceBus") && a.scope === "serviceBus")
      .map((a) => `${a.resource}: ${a.role}`);

    // Assess
    expect(onNamespace).toEqual([]);
  });

  it("use no broad role anywhere in infra/", () => {
    // Prepare
    const sources = listBicepFiles(infraDir).map((f) => ({ f, text: readFileSync(join(infraDir, f), "utf8").toLowerCase() }));

    // Act
    const found = sources.flatMap(({ f, text }) =>
      Object.entries(broadRoles)
        .filter(([, id]) => text.includes(id))
        .map(([role]) => `${f}: ${role}`),
    );

    // Assess
    expect(found).toEqual([]);
  });

  it("let only the app and the platform's inventory sync send to Service Bus, the inventory sync to automation-events alone", async () => {
    // Prepare
    const file = await loadBicep("modules/roleAssignments.bicep");
    const main = await loadBicep("main.bicep");
    const queues = JSON.parse(readFileSync(join(infraDir, "queues.json"), "utf8")) as unknown;

    // Act
    const senders = declarations(file, "resource")
      .filter((d) => d.typeText?.startsWith("Microsoft.Authorization/roleAssignments@"))
      .map(assignmentOf)
      .filter((a) => a.role === "serviceBusDataSender" || a.role === "serviceBusDataOwner");
    const inventoryQueue = objectProperties(resourceBody(declaration(file, "resource", "automationEventsQueue"))).get("name")!.text;
    const inventoryParam = declaration(main, "param", "inventorySyncPrincipalId");
    const rolesParams = objectProperties(objectProperties(resourceBody(declaration(main, "module", "roleAssignments"))).get("params")!);

    // Assess
    expect(new Set(senders.map((a) => a.principal))).toEqual(new Set(["appPrincipalId", "inventorySyncPrincipalId"]));
    expect(senders.filter((a) => a.principal === "inventorySyncPrincipalId")).toEqual([
      expect.objectContaining({ scope: "automationEventsQueue", role: "serviceBusDataSender", conditional: true }),
    ]);
    expect(senders.every((a) => a.scope !== "serviceBus")).toBe(true);
    expect(inventoryQueue).toBe("'automation-events'");
    expect(JSON.stringify(queues)).toContain('"automation-events"');
    // Empty by default: no identity but the app's sends unless the operator names one.
    expect(inventoryParam.value?.text).toBe("''");
    expect(rolesParams.get("inventorySyncPrincipalId")?.text).toBe("inventorySyncPrincipalId");
  });

  it("are the ones docs/deploy.md lists under 'Who can do what', and its queue counts are right", async () => {
    // Prepare
    const file = await loadBicep("modules/roleAssignments.bicep");
    const doc = readFileSync(join(infraDir, "..", "docs", "deploy.md"), "utf8");
    const queueCount = (JSON.parse(readFileSync(join(infraDir, "queues.json"), "utf8")) as { queues: unknown[] }).queues.length;
    const principals: Record<string, string> = {
      appPrincipalId: "app identity",
      deployerPrincipalId: "you (`AZURE_PRINCIPAL_ID`)",
      inventorySyncPrincipalId: "inventory sync (`INVENTORY_SYNC_PRINCIPAL_ID`)",
    };
    const roleNames: Record<string, string> = {
      serviceBusDataSender: "Azure Service Bus Data Sender",
      serviceBusDataReceiver: "Azure Service Bus Data Receiver",
      serviceBusDataOwner: "Azure Service Bus Data Owner",
      storageBlobDataOwner: "Storage Blob Data Owner",
      storageTableDataContributor: "Storage Table Data Contributor",
      keyVaultSecretsOfficer: "Key Vault Secrets Officer",
      monitoringMetricsPublisher: "Monitoring Metrics Publisher",
    };
    const scopes: Record<string, string> = {
      storage: "storage account",
      serviceBus: "namespace",
      "queues[i]": "each queue",
      automationEventsQueue: "`automation-events` queue",
      keyVault: "vault",
      appInsights: "Application Insights",
    };
    const numbers = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

    // Act
    const inBicep = declarations(file, "resource")
      .filter((d) => d.typeText?.startsWith("Microsoft.Authorization/roleAssignments@"))
      .map(assignmentOf)
      .map((a) => `${principals[a.principal] ?? a.principal} | ${roleNames[a.role] ?? a.role} | ${scopes[a.scope] ?? a.scope}`);
    const section = /### Who can do what[^\n]*\n([\s\S]*?)\n(?=#)/.exec(doc)?.[1] ?? "";
    const inDoc = section
      .split("\n")
      .filter((l) => l.startsWith("|") && !/^\|\s*(Principal|-)/.test(l))
      .map((l) =>
        l
          .split("|")
          .slice(1, 4)
          .map((c) => c.trim())
          .join(" | "),
      );
    const counted = [...doc.matchAll(/\b(\w+) queues\b/g)].map((m) => m[1].toLowerCase()).filter((w) => numbers.includes(w) || /^\d+$/.test(w));

    // Assess
    expect(inDoc.sort()).toEqual(inBicep.sort());
    for (const n of counted) expect(n, "a queue count in docs/deploy.md").toBe(numbers[queueCount]);
  });

  it("are made for the identity the function app runs as", async () => {
    // Prepare
    const main = await loadBicep("main.bicep");

    // Act
    const rolesParams = objectProperties(objectProperties(resourceBody(declaration(main, "module", "roleAssignments"))).get("params")!);
    const appParams = objectProperties(objectProperties(resourceBody(declaration(main, "module", "functionApp"))).get("params")!);

    // Assess
    expect(rolesParams.get("appPrincipalId")?.text).toBe("identity.properties.principalId");
    expect(rolesParams.get("deployerPrincipalId")?.text).toBe("principalId");
    expect(appParams.get("identityId")?.text).toBe("identity.id");
    expect(declaration(main, "resource", "identity").typeText).toMatch(/^Microsoft\.ManagedIdentity\/userAssignedIdentities@/);
  });
});
