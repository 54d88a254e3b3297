// The dependency rule, enforced: shared/domain is pure (imports only itself and node:crypto
// for ids), shared/app never imports an adapter or an SDK, and only the composition root,
// functions/ and local/ choose adapters.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? tsFiles(full) : full.endsWith(".ts") ? [full] : [];
  });
}

function importsOf(file: string): { specifier: string; target?: string }[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => ({
    specifier: m[1],
    target: m[1].startsWith(".") ? relative(root, resolve(dirname(file), m[1])) : undefined,
  }));
}

describe("dependency rule", () => {
  it("shared/domain imports nothing outside itself but node:crypto", () => {
    const offending = tsFiles(join(root, "shared/domain")).flatMap((f) =>
      importsOf(f)
        .filter((i) => (i.target ? !i.target.startsWith("shared/domain") : i.specifier !== "node:crypto"))
        .map((i) => `${relative(root, f)} → ${i.specifier}`),
    );
    expect(offending).toEqual([]);
  });

  it("shared/app imports no adapter, no function and no Azure SDK", () => {
    const offending = tsFiles(join(root, "shared/app")).flatMap((f) =>
      importsOf(f)
        .filter((i) =>
          i.target ? /^(shared\/adapters|functions|local)\b/.test(i.target) || i.target === "shared/composition.js" : /^@azure\//.test(i.specifier),
        )
        .map((i) => `${relative(root, f)} → ${i.specifier}`),
    );
    expect(offending).toEqual([]);
  });

  it("use cases take commands: no file in shared/app names a received message's type or parses one", () => {
    // functions/ builds each use case's command from the validated envelope (producing
    // messages with makeEnvelope is fine; receiving them is the outer shell's job).
    const received = /\b(Envelope|Message|ParseMessageResult|parseMessage)\b/;
    const offending = tsFiles(join(root, "shared/app")).flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/^\s*import\s[^;]*?from\s+"([^"]+contracts\/messages\.js)"/gm)]
        .filter((m) => received.test(m[0].replace(/\bmakeEnvelope\b/g, "")))
        .map((m) => `${relative(root, f)}: ${m[0].trim().replace(/\s+/g, " ")}`),
    );
    expect(offending).toEqual([]);
  });

  it("production code never imports the local runtime or tests", () => {
    const offending = [...tsFiles(join(root, "shared")), ...tsFiles(join(root, "functions"))].flatMap((f) =>
      importsOf(f)
        .filter((i) => i.target !== undefined && /^(local|test|bench)\//.test(i.target))
        .map((i) => `${relative(root, f)} → ${i.specifier}`),
    );
    expect(offending).toEqual([]);
  });
});

describe("file size", () => {
  it("no file in functions/, shared/ or local/ is over 400 lines: each can be held in one's head", () => {
    const tooLong = ["functions", "shared", "local"]
      .flatMap((dir) => tsFiles(join(root, dir)))
      .map((f) => ({ file: relative(root, f), lines: readFileSync(f, "utf8").split("\n").length - 1 }))
      .filter((f) => f.lines > 400)
      .map((f) => `${f.file}: ${f.lines} lines`);
    expect(tooLong).toEqual([]);
  });
});
