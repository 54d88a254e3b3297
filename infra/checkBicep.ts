// `npm run check:bicep`: the real Bicep CLI (restored from NuGet, infra/bicepCli.ts)
// compiles infra/main.bicep to ARM JSON and lints every .bicep file with
// infra/bicepconfig.json. Exit codes: 0 clean (only use-recent-api-versions may warn),
// 1 a diagnostic or a failed compile, 2 the CLI could not be had (no `dotnet`): CI counts
// that as a failed check and says so.
import { relative } from "node:path";
import { BicepUnavailable, bicepCliVersion, buildMain, ensureBicep, isFatal, lint, listBicepFiles, type Diagnostic } from "./bicepCli.js";

function show(d: Diagnostic): string {
  return `${d.file}(${d.line},${d.column}) : ${d.level} ${d.code}: ${d.message}`;
}

function main(): number {
  let binary: string;
  try {
    binary = ensureBicep();
  } catch (error) {
    if (error instanceof BicepUnavailable) {
      process.stdout.write(`\n*** Bicep check SKIPPED: ${error.message}. Install the .NET SDK (it restores the Bicep CLI from NuGet) to run it. ***\n\n`);
      return 2;
    }
    throw error;
  }
  process.stdout.write(`${bicepCliVersion(binary)}\n`);

  const seen = new Set<string>();
  const fatal: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const note = (d: Diagnostic): void => {
    const key = show(d);
    if (seen.has(key)) return; // linting main.bicep reports its modules' findings as well
    seen.add(key);
    (isFatal(d) ? fatal : warnings).push(d);
  };

  const built = buildMain(binary);
  built.diagnostics.forEach(note);
  process.stdout.write(
    `bicep build infra/main.bicep -> ${relative(process.cwd(), built.armPath)}: ${built.status === 0 ? "compiled" : `FAILED (exit ${built.status})`}\n`,
  );
  if (built.other) process.stdout.write(`${built.other}\n`);
  let failed = built.status !== 0;

  for (const file of listBicepFiles()) {
    const linted = lint(binary, file);
    linted.diagnostics.forEach(note);
    const own = linted.diagnostics.filter((d) => d.file === relative(process.cwd(), file));
    process.stdout.write(
      `bicep lint ${relative(process.cwd(), file)}: ${linted.status === 0 && !own.some(isFatal) ? "ok" : "FAILED"}${own.length > 0 ? ` (${own.length} finding(s))` : ""}\n`,
    );
    if (linted.other) process.stdout.write(`${linted.other}\n`);
    if (linted.status !== 0) failed = true;
  }

  for (const d of warnings) process.stdout.write(`warning (tolerated): ${show(d)}\n`);
  for (const d of fatal) process.stdout.write(`${show(d)}\n`);
  failed ||= fatal.length > 0;
  process.stdout.write(`Bicep check: ${fatal.length} error(s), ${warnings.length} tolerated warning(s) -> ${failed ? "FAILED" : "ok"}\n`);
  return failed ? 1 : 0;
}

try {
  process.exit(main());
} catch (error: unknown) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
