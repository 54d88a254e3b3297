// docs/operations.md lists the attributes a span may carry ("Nothing else"), since that
// list is what says no token or secret can reach a span: every attribute name the code
// sets must be in it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { traceAttributes } from "../../shared/app/tracing.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(root, dir, e.name)] : [],
  );
}

/** OpenTelemetry attribute names written as string literals (`"http.route"`, `"messaging.message.id"`, …). */
const otelAttributeName = /"((?:http|url|server|messaging|error)\.[a-z_.]+)"/g;

/** The "Attributes:" paragraph of the Traces section. */
function documentedAttributes(): Set<string> {
  const ops = readFileSync(join(root, "docs/operations.md"), "utf8");
  const start = ops.indexOf("\nAttributes:");
  const paragraph = ops.slice(start, ops.indexOf("\n\n", start));
  return new Set([...paragraph.matchAll(/`([a-z_]+(?:\.[a-z_]+)+)`/g)].map((m) => m[1]!));
}

describe("the span attributes docs/operations.md lists", () => {
  it("include every attribute the code sets", () => {
    // Prepare
    const documented = documentedAttributes();
    const set = new Set([
      ...Object.values(traceAttributes),
      ...["shared", "functions"].flatMap(sources).flatMap((f) => [...readFileSync(f, "utf8").matchAll(otelAttributeName)].map((m) => m[1]!)),
    ]);

    // Act
    const undocumented = [...set].filter((a) => !documented.has(a)).sort();

    // Assess
    expect(documented.size).toBeGreaterThan(0);
    expect(undocumented).toEqual([]);
  });
});
