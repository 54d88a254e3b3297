// The Service Bus queues in Azure must be the queues the local emulator runs: both come
// from infra/queues.json. These tests read the Bicep (tree-sitter) and fail if the queue
// resource stops generating every property from that file.
import { describe, expect, it } from "vitest";
import { parseBicep } from "../../infra/bicepSyntax.js";
import { loadQueueDefinitions, parseIsoDuration, queueDefinitionSchema, queueDefinitionsPath, type QueueDefinition } from "../../shared/queueDefinitions.js";
import { declaration, declarations, evaluate, forLoopOf, loadBicep, loadJsonContentPath, objectProperties, type BicepFile } from "../support/bicepModel.js";

const serviceBusModule = "modules/serviceBus.bicep";

/** Properties the Bicep sets on every queue that queues.json deliberately does not carry. */
const fixedQueueProperties: Readonly<Record<string, unknown>> = {
  requiresSession: false, // no trigger is session-enabled
  enablePartitioning: false, // fixed at creation; Standard would split each queue in 16
};

const definitionFields = Object.keys(queueDefinitionSchema.shape).filter((k) => k !== "name") as (keyof Omit<QueueDefinition, "name">)[];

function queueResource(file: BicepFile) {
  const queues = declarations(file, "resource").filter((d) => d.typeText?.startsWith("Microsoft.ServiceBus/namespaces/queues@"));
  if (queues.length !== 1) throw new Error(`expected one queue resource declaration, found ${queues.length}`);
  return queues[0];
}

/** What is wrong with how the queue resource derives from queues.json; empty = nothing. */
function queueMappingProblems(file: BicepFile): string[] {
  const problems: string[] = [];
  const loop = forLoopOf(queueResource(file));
  // The loop must run over `<var>.queues` where <var> = loadJsonContent('…/queues.json').
  const iterableObject = loop.iterable.type === "member_expression" ? loop.iterable.childForFieldName("object") : null;
  if (loop.iterable.type !== "member_expression" || loop.iterable.childForFieldName("property")?.text !== "queues" || iterableObject?.type !== "identifier") {
    problems.push(`the loop iterates ${loop.iterable.text}, not <loaded file>.queues`);
  } else {
    const loaded = declarations(file, "var").find((d) => d.name === iterableObject.text);
    const path = loaded?.value ? loadJsonContentPath(file, loaded.value) : undefined;
    if (path !== queueDefinitionsPath) problems.push(`${iterableObject.text} is not loadJsonContent of infra/queues.json (got ${loaded?.value?.text})`);
  }
  const body = objectProperties(loop.body);
  const fromItem = (node: { type: string; text: string } | undefined, field: string): boolean =>
    node?.type === "member_expression" && node.text === `${loop.variable}.${field}`;
  if (!fromItem(body.get("name"), "name")) problems.push(`name is ${body.get("name")?.text}, not ${loop.variable}.name`);
  const propertiesNode = body.get("properties");
  if (!propertiesNode) return [...problems, "the queue has no properties"];
  const properties = objectProperties(propertiesNode);
  for (const field of definitionFields) {
    const node = properties.get(field);
    if (!node) problems.push(`${field} is not set`);
    else if (!fromItem(node, field)) problems.push(`${field} is ${node.text}, not ${loop.variable}.${field}`);
  }
  for (const [key, node] of properties) {
    if ((definitionFields as string[]).includes(key)) continue;
    if (!(key in fixedQueueProperties)) problems.push(`${key} is set but is neither in queues.json nor a documented fixed property`);
    else if (evaluate(node, {}) !== fixedQueueProperties[key]) problems.push(`${key} is ${node.text}, expected ${String(fixedQueueProperties[key])}`);
  }
  return problems;
}

/** The queues the Bicep declares when its loop runs over `definitions`. */
function declaredQueues(file: BicepFile, definitions: readonly QueueDefinition[]): { name: unknown; properties: unknown }[] {
  const loop = forLoopOf(queueResource(file));
  const body = objectProperties(loop.body);
  return definitions.map((q) => ({
    name: evaluate(body.get("name")!, { [loop.variable]: q }),
    properties: evaluate(body.get("properties")!, { [loop.variable]: q }),
  }));
}

const expectedArmQueue = (q: QueueDefinition) => {
  const { name, ...properties } = q;
  return { name, properties: { ...properties, ...fixedQueueProperties } };
};

describe("Service Bus queues in Bicep come from infra/queues.json", () => {
  it("loops over the definitions loaded from infra/queues.json and maps every field to its ARM property", async () => {
    // Prepare
    const file = await loadBicep(serviceBusModule);

    // Act
    const problems = queueMappingProblems(file);

    // Assess
    expect(problems).toEqual([]);
  });

  it("declares exactly the queues and properties the emulator reads", async () => {
    // Prepare
    const file = await loadBicep(serviceBusModule);
    const definitions = loadQueueDefinitions();

    // Act
    const declared = declaredQueues(file, definitions);

    // Assess
    expect(definitions.map((d) => d.name)).toEqual([
      "connector-commands",
      "session-commands",
      "device-notifications",
      "automation-events",
      "audit-export",
      "device-index",
    ]);
    expect(declared).toEqual(definitions.map(expectedArmQueue));
  });

  it("follows a changed definition file: no value is hard-coded", async () => {
    // Prepare: every field changed, differently per queue.
    const file = await loadBicep(serviceBusModule);
    const changed = loadQueueDefinitions().map((q, i) => ({
      name: `${q.name}-x${i}`,
      lockDuration: `PT${i + 2}M`,
      maxDeliveryCount: q.maxDeliveryCount + 7 + i,
      requiresDuplicateDetection: !q.requiresDuplicateDetection,
      duplicateDetectionHistoryTimeWindow: `PT${i + 11}M`,
      defaultMessageTimeToLive: `P${i + 3}D`,
      deadLetteringOnMessageExpiration: !q.deadLetteringOnMessageExpiration,
    }));

    // Act
    const declared = declaredQueues(file, changed);

    // Assess
    expect(declared).toEqual(changed.map(expectedArmQueue));
  });

  it.each([
    ["a hard-coded value", (s: string) => s.replace("lockDuration: q.lockDuration", "lockDuration: 'PT1M'"), /lockDuration is 'PT1M'/],
    [
      "a dropped property",
      (s: string) => s.replace(/\n\s*deadLetteringOnMessageExpiration: q\.deadLetteringOnMessageExpiration/, ""),
      /deadLetteringOnMessageExpiration is not set/,
    ],
    [
      "a crossed mapping",
      (s: string) => s.replace("maxDeliveryCount: q.maxDeliveryCount", "maxDeliveryCount: q.lockDuration"),
      /maxDeliveryCount is q\.lockDuration/,
    ],
    [
      "an undocumented extra",
      (s: string) => s.replace("requiresSession: false", "requiresSession: false\n    maxSizeInMegabytes: 1024"),
      /maxSizeInMegabytes is set/,
    ],
    [
      "another source file",
      (s: string) => s.replace("loadJsonContent('../queues.json')", "loadJsonContent('../other-queues.json')"),
      /not loadJsonContent of infra\/queues\.json/,
    ],
  ])("reports %s in the queue resource", async (_what, mutate, expected) => {
    // Prepare
    const original = await loadBicep(serviceBusModule);
    const mutated = mutate(original.source);
    expect(mutated).not.toBe(original.source);
    const file: BicepFile = { path: original.path, source: mutated, tree: await parseBicep(mutated) };

    // Act
    const problems = queueMappingProblems(file);

    // Assess
    expect(problems.join("\n")).toMatch(expected);
  });

  it("keeps queues.json inside what Service Bus accepts", () => {
    // Prepare
    const definitions = loadQueueDefinitions();
    const minute = 60_000;

    // Act
    const outOfRange = definitions.flatMap((q) => {
      const lock = parseIsoDuration(q.lockDuration);
      const window = parseIsoDuration(q.duplicateDetectionHistoryTimeWindow);
      const ttl = parseIsoDuration(q.defaultMessageTimeToLive);
      return [
        lock < 5_000 || lock > 5 * minute ? `${q.name}: lockDuration ${q.lockDuration} outside 5 s–5 min` : [],
        window < 20_000 || window > 7 * 24 * 60 * minute
          ? `${q.name}: duplicate detection window ${q.duplicateDetectionHistoryTimeWindow} outside 20 s–7 days`
          : [],
        ttl <= lock ? `${q.name}: TTL ${q.defaultMessageTimeToLive} not longer than the lock` : [],
      ].flat();
    });

    // Assess
    expect(outOfRange).toEqual([]);
    expect(new Set(definitions.map((q) => q.name)).size).toBe(definitions.length);
  });

  it("keeps duplicate detection on every queue: fixed at creation, and what makes retried sends harmless", () => {
    // Prepare
    const definitions = loadQueueDefinitions();

    // Act
    const without = definitions.filter((q) => !q.requiresDuplicateDetection).map((q) => q.name);

    // Assess: an existing queue refuses the change; docs/deploy.md ("Queue properties that
    // cannot change in place") says how to move to a new queue instead.
    expect(without).toEqual([]);
  });

  it("is the only place queues are declared", async () => {
    // Prepare
    const file = await loadBicep(serviceBusModule);

    // Act
    const loop = forLoopOf(declaration(file, "resource", queueResource(file).name));

    // Assess: one generated resource, bound to the namespace declared beside it.
    expect(objectProperties(loop.body).get("parent")?.text).toBe("namespace");
    expect(declarations(file, "resource").map((d) => d.typeText)).toEqual([
      "Microsoft.ServiceBus/namespaces@2026-01-01",
      "Microsoft.ServiceBus/namespaces/queues@2026-01-01",
    ]);
  });
});
