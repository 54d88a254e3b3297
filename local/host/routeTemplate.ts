// ASP.NET Core route templates as the Functions host uses them for HTTP triggers: `devices/{deviceId}`,
// `{id:int}`, optional `{id?}`, defaults `{name=x}`, catch-all `{*rest}`, and complex segments `{name}.{ext}`.

export interface RouteMatch {
  readonly params: Record<string, string>;
}

export interface RouteTemplate {
  readonly template: string;
  /** ASP.NET inbound precedence, one digit per segment: lower sorts first (literal 1 … catch-all 5). */
  readonly precedence: readonly number[];
  /** `path` is the part after the route prefix, still percent-encoded, without query. */
  match(path: string): RouteMatch | undefined;
}

interface Constraint {
  readonly text: string;
  test(value: string): boolean;
}

type Part =
  | { readonly kind: "literal"; readonly text: string }
  | {
      readonly kind: "param";
      readonly name: string;
      readonly optional: boolean;
      readonly catchAll: boolean;
      readonly defaultValue?: string;
      readonly constraints: readonly Constraint[];
    };
type ParamPart = Extract<Part, { kind: "param" }>;

export class RouteTemplateError extends Error {
  constructor(template: string, problem: string) {
    super(`Invalid route template "${template}": ${problem}`);
    this.name = "RouteTemplateError";
  }
}

const int32 = { min: -(2n ** 31n), max: 2n ** 31n - 1n };
const int64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const integer = /^\s*[+-]?\d+\s*$/;
const floating = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const guid =
  /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}|\([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\))$/i;

function inRange(value: string, range: { min: bigint; max: bigint }): boolean {
  if (!integer.test(value)) return false;
  const n = BigInt(value.trim());
  return n >= range.min && n <= range.max;
}

function intArgs(template: string, name: string, args: string | undefined, count: number[]): bigint[] {
  const values = (args ?? "").split(",").map((a) => a.trim());
  if (!count.includes(values.length) || values.some((v) => !/^[+-]?\d+$/.test(v))) {
    throw new RouteTemplateError(template, `constraint "${name}" needs ${count.join(" or ")} integer argument(s)`);
  }
  return values.map((v) => BigInt(v));
}

/** The ASP.NET Core default constraint map (RouteOptions.ConstraintMap). */
function makeConstraint(template: string, name: string, args: string | undefined): Constraint {
  const text = args === undefined ? name : `${name}(${args})`;
  const c = (test: (v: string) => boolean): Constraint => ({ text, test });
  switch (name.toLowerCase()) {
    case "int":
      return c((v) => inRange(v, int32));
    case "long":
      return c((v) => inRange(v, int64));
    case "bool":
      return c((v) => /^\s*(true|false)\s*$/i.test(v));
    case "decimal":
      return c((v) => /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(v));
    case "double":
    case "float":
      return c((v) => floating.test(v));
    case "datetime":
      return c((v) => !Number.isNaN(Date.parse(v)));
    case "guid":
      return c((v) => guid.test(v));
    case "alpha":
      return c((v) => /^[a-z]*$/i.test(v));
    case "required":
      return c((v) => v.length > 0);
    case "nonfile":
      return c((v) => !/\.[^./]+$/.test(v.split("/").pop() ?? ""));
    case "file":
      return c((v) => /\.[^./]+$/.test(v.split("/").pop() ?? ""));
    case "minlength": {
      const [min] = intArgs(template, name, args, [1]);
      return c((v) => BigInt(v.length) >= min);
    }
    case "maxlength": {
      const [max] = intArgs(template, name, args, [1]);
      return c((v) => BigInt(v.length) <= max);
    }
    case "length": {
      const n = intArgs(template, name, args, [1, 2]);
      return c((v) => (n.length === 1 ? BigInt(v.length) === n[0] : BigInt(v.length) >= n[0] && BigInt(v.length) <= n[1]));
    }
    case "min": {
      const [min] = intArgs(template, name, args, [1]);
      return c((v) => inRange(v, int64) && BigInt(v.trim()) >= min);
    }
    case "max": {
      const [max] = intArgs(template, name, args, [1]);
      return c((v) => inRange(v, int64) && BigInt(v.trim()) <= max);
    }
    case "range": {
      const [min, max] = intArgs(template, name, args, [2]);
      return c((v) => inRange(v, int64) && BigInt(v.trim()) >= min && BigInt(v.trim()) <= max);
    }
    case "regex": {
      if (args === undefined) throw new RouteTemplateError(template, 'constraint "regex" needs a pattern');
      // ASP.NET matches case-insensitively and does not anchor: templates write ^…$ themselves.
      let re: RegExp;
      try {
        re = new RegExp(args, "i");
      } catch (error) {
        throw new RouteTemplateError(template, `bad regex "${args}": ${(error as Error).message}`);
      }
      return c((v) => re.test(v));
    }
    default:
      throw new RouteTemplateError(template, `the constraint reference "${name}" could not be resolved to a type`);
  }
}

/** Splits on "/" outside braces; "{{" and "}}" are escaped braces. */
function splitSegments(template: string): string[] {
  const segments: string[] = [];
  let current = "";
  let depth = 0;
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if ((ch === "{" || ch === "}") && template[i + 1] === ch) {
      current += ch + ch;
      i++;
    } else {
      if (ch === "{") depth++;
      else if (ch === "}") depth--;
      if (ch === "/" && depth === 0) {
        segments.push(current);
        current = "";
      } else current += ch;
    }
  }
  segments.push(current);
  return segments;
}

function parseParameter(template: string, raw: string): ParamPart {
  let rest = raw;
  let catchAll = false;
  if (rest.startsWith("**")) {
    catchAll = true;
    rest = rest.slice(2);
  } else if (rest.startsWith("*")) {
    catchAll = true;
    rest = rest.slice(1);
  }
  const nameEnd = rest.search(/[:=]|\?$/);
  const name = (nameEnd < 0 ? rest : rest.slice(0, nameEnd)).trim();
  if (!/^[^{}/?*:=]+$/.test(name)) throw new RouteTemplateError(template, `bad parameter name in "{${raw}}"`);
  rest = nameEnd < 0 ? "" : rest.slice(nameEnd);
  const constraints: Constraint[] = [];
  while (rest.startsWith(":")) {
    const m = /^:([A-Za-z0-9_]+)/.exec(rest);
    if (!m) throw new RouteTemplateError(template, `bad constraint in "{${raw}}"`);
    rest = rest.slice(m[0].length);
    let args: string | undefined;
    if (rest.startsWith("(")) {
      // The argument ends at the first ")" that is followed by another constraint, a default, "?" or the end.
      let close = -1;
      for (let i = 1; i < rest.length; i++) {
        if (rest[i] === ")" && (i === rest.length - 1 || /^[:=]|^\?$/.test(rest.slice(i + 1)))) {
          close = i;
          break;
        }
      }
      if (close < 0) throw new RouteTemplateError(template, `unclosed "(" in "{${raw}}"`);
      args = rest.slice(1, close);
      rest = rest.slice(close + 1);
    }
    constraints.push(makeConstraint(template, m[1], args));
  }
  let optional = false;
  let defaultValue: string | undefined;
  if (rest === "?") optional = true;
  else if (rest.startsWith("=")) defaultValue = rest.slice(1);
  else if (rest !== "") throw new RouteTemplateError(template, `unexpected "${rest}" in "{${raw}}"`);
  if (catchAll && optional) throw new RouteTemplateError(template, "a catch-all parameter cannot be marked optional");
  return { kind: "param", name, optional, catchAll, defaultValue, constraints };
}

function parseSegment(template: string, segment: string): Part[] {
  const parts: Part[] = [];
  let literal = "";
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if ((ch === "{" || ch === "}") && segment[i + 1] === ch) {
      literal += ch;
      i++;
    } else if (ch === "{") {
      let j = i + 1;
      let inner = "";
      for (; j < segment.length; j++) {
        if ((segment[j] === "{" || segment[j] === "}") && segment[j + 1] === segment[j]) {
          inner += segment[j];
          j++;
        } else if (segment[j] === "}") break;
        else if (segment[j] === "{") throw new RouteTemplateError(template, `unexpected "{" in "${segment}"`);
        else inner += segment[j];
      }
      if (j >= segment.length) throw new RouteTemplateError(template, `unclosed "{" in "${segment}"`);
      if (literal) parts.push({ kind: "literal", text: literal });
      literal = "";
      if (parts.at(-1)?.kind === "param") throw new RouteTemplateError(template, "parameters in a segment must be separated by literal text");
      parts.push(parseParameter(template, inner));
      i = j;
    } else if (ch === "}") {
      throw new RouteTemplateError(template, `unmatched "}" in "${segment}"`);
    } else literal += ch;
  }
  if (literal) parts.push({ kind: "literal", text: literal });
  if (parts.some((p) => p.kind === "literal" && p.text.includes("?"))) {
    throw new RouteTemplateError(template, `literal sections cannot contain "?" ("${segment}")`);
  }
  return parts;
}

/** Decodes a raw path segment like Kestrel: everything but an encoded "/" (which stays "%2F"). */
function decodeSegment(raw: string): string | undefined {
  try {
    return raw
      .split(/%2f/i)
      .map((s) => decodeURIComponent(s))
      .join("%2F");
  } catch {
    return undefined;
  }
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function complexMatcher(parts: readonly Part[]): (segment: string) => Record<string, string> | undefined {
  const build = (ps: readonly Part[]): RegExp => new RegExp(`^${ps.map((p) => (p.kind === "literal" ? escapeRegex(p.text) : "(.+)")).join("")}$`, "i");
  const full = build(parts);
  const last = parts.at(-1);
  // `{name}.{ext?}`: try with the optional tail first, then without it and the literal before it.
  const shortened = last?.kind === "param" && last.optional && parts.length >= 3 ? build(parts.slice(0, -2)) : undefined;
  return (segment) => {
    for (const [re, ps] of [
      [full, parts],
      [shortened, parts.slice(0, -2)],
    ] as const) {
      if (!re) continue;
      const m = re.exec(segment);
      if (!m) continue;
      const values: Record<string, string> = {};
      let group = 1;
      for (const p of ps) if (p.kind === "param") values[p.name] = m[group++];
      return values;
    }
    return undefined;
  };
}

export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^~?\//, "").replace(/\/$/, "");
  const segments = trimmed === "" ? [] : splitSegments(trimmed).map((s) => parseSegment(template, s));
  const names = new Set<string>();
  segments.forEach((parts, index) => {
    if (parts.length === 0) throw new RouteTemplateError(template, 'empty segment ("//")');
    for (const p of parts) {
      if (p.kind !== "param") continue;
      const key = p.name.toLowerCase();
      if (names.has(key)) throw new RouteTemplateError(template, `the parameter "${p.name}" appears more than once`);
      names.add(key);
      if (p.catchAll && (index !== segments.length - 1 || parts.length !== 1)) {
        throw new RouteTemplateError(template, "a catch-all parameter must be the whole last segment");
      }
      if (p.optional && parts.length > 1 && (p !== parts.at(-1) || parts.at(-2)?.kind !== "literal")) {
        throw new RouteTemplateError(template, "an optional parameter in a complex segment must come last, after a literal");
      }
    }
  });

  const precedence = segments.map((parts) => {
    if (parts.length > 1) return 2;
    const p = parts[0];
    if (p.kind === "literal") return 1;
    if (p.catchAll) return 5;
    return p.constraints.length > 0 ? 3 : 4;
  });

  const matchers = segments.map((parts) => (parts.length > 1 ? complexMatcher(parts) : undefined));

  const checkConstraints = (p: ParamPart, value: string): boolean => p.constraints.every((c) => c.test(value));

  return {
    template,
    precedence,
    match(path: string): RouteMatch | undefined {
      // A trailing slash is ignored by ASP.NET routing: /api/health/ matches "health".
      const clean = path.replace(/^\//, "").replace(/\/$/, "");
      const raw = clean === "" ? [] : clean.split("/");
      const params: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const parts = segments[i];
        const first = parts[0];
        if (first.kind === "param" && first.catchAll) {
          const rest = raw.slice(i).map(decodeSegment);
          if (rest.some((s) => s === undefined)) return undefined;
          const value = rest.join("/");
          if (value === "") {
            if (first.defaultValue !== undefined) params[first.name] = first.defaultValue;
            return { params };
          }
          if (!checkConstraints(first, value)) return undefined;
          params[first.name] = value;
          return { params };
        }
        if (i >= raw.length) {
          // Missing trailing segments are fine only if each is a lone optional or defaulted parameter.
          if (parts.length === 1 && first.kind === "param" && (first.optional || first.defaultValue !== undefined)) {
            if (first.defaultValue !== undefined) params[first.name] = first.defaultValue;
            continue;
          }
          return undefined;
        }
        const segment = decodeSegment(raw[i]);
        if (segment === undefined || segment === "") return undefined;
        if (parts.length === 1) {
          if (first.kind === "literal") {
            if (first.text.toLowerCase() !== segment.toLowerCase()) return undefined;
          } else {
            if (!checkConstraints(first, segment)) return undefined;
            params[first.name] = segment;
          }
          continue;
        }
        const values = matchers[i]?.(segment);
        if (!values) return undefined;
        for (const p of parts) {
          if (p.kind !== "param") continue;
          const value = values[p.name];
          if (value === undefined) {
            if (p.defaultValue !== undefined) params[p.name] = p.defaultValue;
            continue;
          }
          if (!checkConstraints(p, value)) return undefined;
          params[p.name] = value;
        }
      }
      if (raw.length > segments.length) return undefined;
      return { params };
    },
  };
}

/** Orders templates the way the router tries them: by precedence, then by registration order. */
export function comparePrecedence(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
