// Reading the Bicep templates as data for the infra tests: declarations, object literals,
// and a small evaluator for the expressions the tests need to follow (literals, member
// access, interpolation). Anything else is reported, never guessed.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBicep, type BicepNode, type BicepTree } from "../../infra/bicepSyntax.js";

export const infraDir = resolve(fileURLToPath(new URL("../../infra", import.meta.url)));

export interface BicepFile {
  readonly path: string;
  readonly source: string;
  readonly tree: BicepTree;
}

export async function loadBicep(relativePath: string): Promise<BicepFile> {
  const path = join(infraDir, relativePath);
  const source = readFileSync(path, "utf8");
  return { path, source, tree: await parseBicep(source) };
}

export type DeclarationKind = "param" | "var" | "resource" | "module" | "output";

const declarationTypes: Record<DeclarationKind, string> = {
  param: "parameter_declaration",
  var: "variable_declaration",
  resource: "resource_declaration",
  module: "module_declaration",
  output: "output_declaration",
};

export interface Declaration {
  readonly kind: DeclarationKind;
  readonly name: string;
  readonly node: BicepNode;
  /** resource/module: the quoted type or path; param/output: the type node's text. */
  readonly typeText?: string;
  /** The expression after `=` (for a param: its default, if any). */
  readonly value?: BicepNode;
  /** Decorator names, e.g. ["description", "allowed"]. */
  readonly decorators: readonly string[];
}

function decoratorsOf(node: BicepNode): string[] {
  const prev = node.previousNamedSibling;
  if (prev?.type !== "decorators") return [];
  return prev.namedChildren.map((d) => d.namedChildren[0]?.childForFieldName("function")?.text ?? d.text);
}

export function declarations(file: BicepFile, kind: DeclarationKind): Declaration[] {
  return file.tree.rootNode.namedChildren
    .filter((n) => n.type === declarationTypes[kind])
    .map((node) => {
      const named = node.namedChildren;
      const name = named.find((c) => c.type === "identifier")?.text ?? "";
      const nameIndex = named.findIndex((c) => c.type === "identifier");
      const afterName = named.slice(nameIndex + 1);
      const hasEquals = node.children.some((c) => c.type === "=");
      const typeNode = kind === "var" ? undefined : afterName[0];
      const value = hasEquals ? afterName[afterName.length - 1] : undefined;
      const typeText = typeNode?.type === "string" ? stringLiteral(typeNode) : typeNode?.text;
      return { kind, name, node, typeText, value, decorators: decoratorsOf(node) };
    });
}

export function declaration(file: BicepFile, kind: DeclarationKind, name: string): Declaration {
  const found = declarations(file, kind).find((d) => d.name === name);
  if (!found) throw new Error(`${file.path}: no ${kind} named ${name}`);
  return found;
}

/** The text of a string literal without interpolation; undefined for anything else. */
export function stringLiteral(node: BicepNode): string | undefined {
  if (node.type !== "string") return undefined;
  if (node.namedChildren.some((c) => c.type === "interpolation")) return undefined;
  return node.namedChildren.map((c) => (c.type === "escape_sequence" ? unescape(c.text) : c.text)).join("");
}

function unescape(sequence: string): string {
  const map: Record<string, string> = { "\\'": "'", "\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\$": "$" };
  return map[sequence] ?? sequence;
}

/** `{ a: x, 'b-c': y }` → Map { a → x, b-c → y }, in source order. */
export function objectProperties(node: BicepNode): Map<string, BicepNode> {
  if (node.type !== "object") throw new Error(`expected an object literal, got ${node.type}: ${node.text.slice(0, 60)}`);
  const props = new Map<string, BicepNode>();
  for (const p of node.namedChildren.filter((c) => c.type === "object_property")) {
    const [key, value] = p.namedChildren;
    props.set(key.type === "string" ? (stringLiteral(key) ?? key.text) : key.text, value);
  }
  return props;
}

/** A resource's body: the object itself, or the body of a `[for …: {…}]` loop. */
export function resourceBody(decl: Declaration): BicepNode {
  const value = decl.value;
  if (!value) throw new Error(`${decl.name} has no body`);
  if (value.type === "object") return value;
  if (value.type === "for_statement") {
    const body = value.childForFieldName("body");
    if (body?.type === "object") return body;
    // `[for x in xs: if (cond) {…}]`
    const conditional = body?.type === "if_statement" ? body.namedChildren.find((c) => c.type === "object") : undefined;
    if (conditional) return conditional;
  }
  if (value.type === "if_statement") {
    const body = value.namedChildren.find((c) => c.type === "object");
    if (body) return body;
  }
  throw new Error(`${decl.name}: unexpected body ${value.type}`);
}

export interface ForLoop {
  readonly variable: string;
  readonly iterable: BicepNode;
  readonly body: BicepNode;
}

export function forLoopOf(decl: Declaration): ForLoop {
  const value = decl.value;
  if (value?.type !== "for_statement") throw new Error(`${decl.name} is not a [for …] declaration`);
  const initializer = value.childForFieldName("initializer");
  if (initializer?.type !== "identifier") throw new Error(`${decl.name}: expected \`for <name> in …\`, got ${initializer?.text}`);
  const inIndex = value.children.findIndex((c) => c.type === "in");
  const iterable = value.children.slice(inIndex + 1).find((c) => c.isNamed);
  if (!iterable) throw new Error(`${decl.name}: no iterable`);
  return { variable: initializer.text, iterable, body: resourceBody(decl) };
}

/** Resolves a loadJsonContent('<relative path>') call to an absolute path. */
export function loadJsonContentPath(file: BicepFile, node: BicepNode): string | undefined {
  if (node.type !== "call_expression" || node.childForFieldName("function")?.text !== "loadJsonContent") return undefined;
  const args = node.childForFieldName("arguments")?.namedChildren ?? [];
  const path = args.length === 1 ? stringLiteral(args[0]) : undefined;
  return path === undefined ? undefined : resolve(dirname(file.path), path);
}

export class NotEvaluable extends Error {
  constructor(readonly node: BicepNode) {
    super(`cannot evaluate ${node.type}: ${node.text.slice(0, 80)}`);
    this.name = "NotEvaluable";
  }
}

export type Scope = Readonly<Record<string, unknown>>;

/**
 * Evaluates literals, arrays, objects, identifiers bound in scope, member access and
 * string interpolation. Throws NotEvaluable for anything else (function calls, operators).
 */
export function evaluate(node: BicepNode, scope: Scope): unknown {
  switch (node.type) {
    case "string":
      return node.namedChildren
        .map((c) => {
          if (c.type === "interpolation") return String(evaluate(c.namedChildren[0], scope));
          return c.type === "escape_sequence" ? unescape(c.text) : c.text;
        })
        .join("");
    case "number":
      return Number(node.text);
    case "boolean":
      return node.text === "true";
    case "null":
      return null;
    case "parenthesized_expression":
      return evaluate(node.namedChildren[0], scope);
    case "array":
      return node.namedChildren.filter((c) => c.type !== "comment").map((c) => evaluate(c, scope));
    case "object":
      return Object.fromEntries([...objectProperties(node)].map(([k, v]) => [k, evaluate(v, scope)]));
    case "identifier":
      if (Object.hasOwn(scope, node.text)) return scope[node.text];
      throw new NotEvaluable(node);
    case "member_expression": {
      const target = evaluate(node.childForFieldName("object")!, scope);
      const property = node.childForFieldName("property")!.text;
      if (target === null || typeof target !== "object" || !Object.hasOwn(target, property)) throw new NotEvaluable(node);
      return (target as Record<string, unknown>)[property];
    }
    default:
      throw new NotEvaluable(node);
  }
}

/** Identifiers referenced inside node: not object keys, not property names after a dot. */
export function identifiersIn(node: BicepNode): string[] {
  return node
    .descendantsOfType("identifier")
    .filter((n) => !(n.parent?.type === "object_property" && n.parent.namedChildren[0]?.id === n.id))
    .map((n) => n.text);
}
