// Reading Bicep as syntax trees with tree-sitter-bicep (wasm) on web-tree-sitter, for the
// infra unit tests that inspect the templates' source (test/support/bicepModel.ts). The
// templates are compiled and linted by the real Bicep CLI (`npm run check:bicep`,
// infra/bicepCli.ts); this parser checks nothing itself. tree-sitter-bicep 1.1.0
// mis-parses newer syntax (`import {…} from`, nullable `T?` params, `resourceInput<>`), so
// the templates here avoid it.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import Parser from "web-tree-sitter";

export type BicepNode = Parser.SyntaxNode;
export type BicepTree = Parser.Tree;

export interface SyntaxProblem {
  /** 1-based, as editors show it. */
  readonly line: number;
  readonly column: number;
  readonly kind: "ERROR" | "MISSING";
  /** The offending text (or, for MISSING, the token the parser had to invent). */
  readonly text: string;
}

let parser: Promise<Parser> | undefined;

/** One parser per process: loading the wasm grammar takes a moment. */
export function bicepParser(): Promise<Parser> {
  parser ??= (async () => {
    const require = createRequire(import.meta.url);
    await Parser.init();
    const grammar = await Parser.Language.load(require.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm"));
    const p = new Parser();
    p.setLanguage(grammar);
    return p;
  })();
  return parser;
}

export async function parseBicep(source: string): Promise<BicepTree> {
  return (await bicepParser()).parse(source);
}

/** Every ERROR and MISSING node, in source order. */
export function syntaxProblems(tree: BicepTree): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const visit = (node: BicepNode): void => {
    if (node.isError || node.isMissing) {
      problems.push({
        line: node.startPosition.row + 1,
        column: node.startPosition.column + 1,
        kind: node.isMissing ? "MISSING" : "ERROR",
        text: node.isMissing ? node.type : node.text.slice(0, 80),
      });
    }
    // Only subtrees that contain a problem need a look.
    if (node.hasError) for (const child of node.children) visit(child);
  };
  visit(tree.rootNode);
  return problems;
}

/** Every `.bicep` file under dir, sorted, as paths relative to dir. */
export function listBicepFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".bicep"))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}
