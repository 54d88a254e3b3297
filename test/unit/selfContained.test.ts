// The repository documents itself: no file points to a document a clone does not have
// (the project's design notes live outside it; what a reader needs is in docs/).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const skipped = new Set(["node_modules", ".git", ".local", "dist", "coverage", ".bicep", ".deploy", ".deploy-portal", ".azure", "screenshots"]);
const textFile = /\.(ts|js|mjs|cjs|json|md|bicep|yaml|yml|html|css|csproj|txt)$|^run$|^\.gitignore$/;
// The design notes by name (a bare DESIGN too), and any path into a `shared/` folder beside the repository
// (../shared/<UPPER-CASE>.md). The repository's own shared/ source folder is imported as
// "../shared/<lower-case module>" and is not an outside reference.
// A bare section sign (§9) is a section of the design notes unless an RFC is named before
// it; "issue 19" is the tracker, which a clone does not have either.
const outsideReference =
  /\bDESIGN\b|TEAMVIEWER-API|FUNCTIONS-HOST|KEYVAULT-REST|INFRA-NOTES|SERVICEBUS-AMQP|STYLE\.md|\.\.\/shared\/[A-Z]|\]\(\.\.\/shared|(?<!RFC \d+ )§ ?\d|\b[Ii]ssues? #?\d/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (skipped.has(e.name)) return [];
    const path = join(dir, e.name);
    if (e.isDirectory()) return files(path);
    return e.isFile() && textFile.test(e.name) ? [path] : [];
  });
}

describe("the repository is self-contained", () => {
  it("references no design document outside the repository", () => {
    // Prepare
    const all = files(root).filter((f) => !f.endsWith("selfContained.test.ts") && !f.endsWith("package-lock.json"));

    // Act
    const hits = all.flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .flatMap((line, i) => (outsideReference.test(line) ? [`${relative(root, f)}:${i + 1}: ${line.trim().slice(0, 120)}`] : [])),
    );

    // Assess
    expect(all.length).toBeGreaterThan(100);
    expect(hits).toEqual([]);
  });

  it("has the documents the README links to", () => {
    // Prepare
    const readme = readFileSync(join(root, "README.md"), "utf8");

    // Act
    const linked = [...readme.matchAll(/\]\((docs\/[\w.-]+\.md)\)/g)].map((m) => m[1]);
    const missing = linked.filter((p) => !files(join(root, "docs")).some((f) => relative(root, f) === p));

    // Assess
    expect(linked).toEqual(expect.arrayContaining(["docs/architecture.md", "docs/api.md", "docs/messages.md", "docs/operations.md", "docs/teamviewer.md"]));
    expect(missing).toEqual([]);
  });
});
