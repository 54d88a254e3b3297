// Offline syntax check of every .bicep file (tree-sitter-bicep wasm): zero ERROR or
// MISSING nodes. Syntax only — `bicep build` and `azd provision --preview` do the rest
// where the Bicep CLI and Azure are reachable (docs/deploy.md).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listBicepFiles, parseBicep, syntaxProblems } from "../../infra/bicepSyntax.js";
import { infraDir } from "../support/bicepModel.js";

const files = listBicepFiles(infraDir);

describe("Bicep syntax (tree-sitter-bicep, offline)", () => {
  it("finds the templates", () => {
    // Prepare / Act: listed at load time.

    // Assess
    expect(files).toEqual(expect.arrayContaining(["main.bicep", join("modules", "functionApp.bicep"), join("modules", "serviceBus.bicep")]));
  });

  it.each(files)("%s parses without ERROR or MISSING nodes", async (file) => {
    // Prepare
    const source = readFileSync(join(infraDir, file), "utf8");

    // Act
    const problems = syntaxProblems(await parseBicep(source));

    // Assess
    expect(problems).toEqual([]);
  });

  it.each([
    ["a truncated template", (s: string) => s.slice(0, s.indexOf("functionAppConfig")), "ERROR"],
    ["a missing closing brace", (s: string) => s.replace(/\n}\n\n\/\/ azd deploys with an Entra token/, "\n\n// azd deploys with an Entra token"), "ERROR"],
    ["a dangling operator inside a resource", (s: string) => s.replace("kind: 'functionapp,linux'", "kind: 'functionapp,linux' +"), "ERROR"],
    ["a dangling operator at the end", (s: string) => `${s}\nvar dangling = 1 +\n`, "MISSING"],
    ["a property without a value", (s: string) => s.replace("httpsOnly: true", "httpsOnly:"), "ERROR"],
  ] as const)("flags %s", async (_what, breakIt, kind) => {
    // Prepare
    const original = readFileSync(join(infraDir, "modules", "functionApp.bicep"), "utf8");
    const broken = breakIt(original);
    expect(broken).not.toBe(original);

    // Act
    const problems = syntaxProblems(await parseBicep(broken));

    // Assess
    expect(problems.map((p) => p.kind)).toContain(kind);
  });

  it("flags resourceInput<> types, which tree-sitter-bicep 1.1.0 cannot read (so the templates avoid them)", async () => {
    // Prepare
    const source = "param account resourceInput<'Microsoft.Storage/storageAccounts@2023-05-01'>\n";

    // Act
    const problems = syntaxProblems(await parseBicep(source));

    // Assess
    expect(problems).toEqual([expect.objectContaining({ line: 1, column: 1, kind: "ERROR" })]);
  });
});
