// The docs send operators from one procedure to the next ([limits.md](limits.md#health)):
// every relative link in README.md and docs/ must reach an existing file and, for a
// Markdown file, an existing heading (GitHub's anchors: lower case, punctuation dropped,
// spaces as dashes).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const markdownFiles = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

const withoutCodeBlocks = (text: string): string =>
  text
    .split(/^```.*$/m)
    .filter((_, i) => i % 2 === 0)
    .join("\n");

const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, "")
    .replace(/ /g, "-");

function anchorsOf(file: string): Set<string> {
  const headings = withoutCodeBlocks(readFileSync(join(root, file), "utf8"))
    .split("\n")
    .filter((l) => /^#{1,6} /.test(l));
  return new Set(headings.map((h) => anchorOf(h.replace(/^#+ /, ""))));
}

describe("links in the documentation", () => {
  it("reach an existing file and heading", () => {
    // Prepare
    const links = markdownFiles.flatMap((file) =>
      [...withoutCodeBlocks(readFileSync(join(root, file), "utf8")).matchAll(/\]\(([^)\s]+)\)/g)]
        .map((m) => m[1]!)
        .filter((target) => !/^[a-z]+:/.test(target))
        .map((target) => ({ file, target })),
    );

    // Act
    const broken = links.filter(({ file, target }) => {
      const [path, anchor] = target.split("#");
      const linked = path ? join(dirname(file), path) : file;
      if (!existsSync(join(root, linked))) return true;
      return anchor !== undefined && linked.endsWith(".md") && !anchorsOf(linked).has(anchor);
    });

    // Assess
    expect(links.length).toBeGreaterThan(0);
    expect(broken).toEqual([]);
  });
});
