// `npm test`: every vitest project, in two vitest processes side by side.
//   main: unit, contract and integration (the shared stack), as `vitest run` would;
//   long: integration-long (vitest.config.ts `longFiles`: the quota window, the session and
//         approval timeouts, the audit push's retries, the load and browser tests) on a
//         stack of its own.
// Run after the others, the long files would add about seven minutes. Both processes
// append API responses to one log; the OpenAPI response check, the main run's last file,
// waits until the long run has ended before it reads the log. The two JSON reports are
// merged into .vitest-results.json (what .ci/run reads).
// With arguments (`npm test -- test/unit/x.test.ts`, `npm test -- --project unit`) it is
// plain `vitest run <arguments>` in one process.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { mergeReports, type FinishedRun, type VitestReport } from "./support/mergeReports.js";

const root = resolve(import.meta.dirname, "..");
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const args = process.argv.slice(2);

interface Run extends FinishedRun {
  readonly seconds: number;
}

function run(name: string, vitestArgs: string[], env: NodeJS.ProcessEnv, prefix?: string, onExit?: () => void): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [vitest, "run", ...vitestArgs], {
    cwd: root,
    env,
    stdio: ["ignore", prefix ? "pipe" : "inherit", prefix ? "pipe" : "inherit"],
  });
  if (prefix) {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => process.stdout.write(`${prefix}${line}\n`));
    }
  }
  return new Promise((done) => {
    child.once("close", (code, signal) => {
      onExit?.();
      done({ name, code: code ?? (signal ? 1 : 0), seconds: (Date.now() - started) / 1000, report: undefined });
    });
  });
}

function readReport(file: string): VitestReport | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as VitestReport;
  } catch {
    return undefined;
  }
}

if (args.length > 0) {
  const single = await run("vitest", args, process.env);
  process.exit(single.code);
}

const responseLog = join(root, ".vitest-responses.jsonl");
const longEnded = join(tmpdir(), `rac-long-run-ended-${process.pid}`);
const reports = { main: join(root, ".vitest-results.main.json"), long: join(root, ".vitest-results.long.json") };
for (const file of [longEnded, reports.main, reports.long, join(root, ".vitest-results.json")]) rmSync(file, { force: true });
writeFileSync(responseLog, "");
const env = { ...process.env, RAC_RESPONSE_LOG: responseLog, RAC_RESPONSE_LOG_EMPTIED: "1", RAC_LONG_RUN_ENDED: longEnded };

console.log("npm test: two vitest runs side by side; lines of the long run (its own stack) start with [long].\n");
const runs = await Promise.all([
  run(
    "main (unit, contract, integration)",
    ["--project", "unit", "--project", "contract", "--project", "integration", `--outputFile.json=${reports.main}`],
    env,
  ),
  run("long (integration-long)", ["--project", "integration-long", `--outputFile.json=${reports.long}`], env, "[long] ", () =>
    writeFileSync(longEnded, "ended\n"),
  ),
]);
rmSync(longEnded, { force: true });

const withReports = runs.map((r, i) => ({ ...r, report: readReport(i === 0 ? reports.main : reports.long) }));
const merged = mergeReports(withReports);
writeFileSync(join(root, ".vitest-results.json"), JSON.stringify(merged));
for (const file of Object.values(reports)) if (existsSync(file)) rmSync(file);

console.log("");
for (const r of withReports) {
  const counts = r.report ? `${r.report.numPassedTests} passed, ${r.report.numFailedTests} failed` : "no results";
  console.log(`npm test: ${r.name}: ${counts} in ${r.seconds.toFixed(0)} s (exit ${r.code})`);
}
process.exit(withReports.some((r) => r.code !== 0 || !r.report) ? 1 : 0);
