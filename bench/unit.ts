// `npm run bench:unit`: how long the whole unit project takes, as a developer runs it
// (`vitest run --project unit`, start-up and module loading included). The target (docs/cost.md,
// "Targets") is under 20 s; the runs are timed from outside, one after the other, and the median decides.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } }, strict: true });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 10) {
  console.error("--runs must be an integer from 1 to 10");
  process.exit(2);
}
const targetSeconds = 20;

const seconds: number[] = [];
let tests = "";
for (let i = 0; i < runs; i++) {
  const started = process.hrtime.bigint();
  const run = spawnSync("npx", ["vitest", "run", "--project", "unit", "--reporter=dot"], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  if (run.status !== 0) {
    console.error(`run ${i + 1} failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
    process.exit(1);
  }
  // eslint-disable-next-line no-control-regex -- vitest colours its summary whatever FORCE_COLOR says
  const plain = run.stdout.replace(/\u001b\[[0-9;]*m/g, "");
  tests = /Tests\s+(\d+ passed[^\n]*)/.exec(plain)?.[1]?.trim() ?? tests;
  seconds.push(elapsed);
  console.log(`run ${i + 1}: ${elapsed.toFixed(1)} s`);
}
const sorted = [...seconds].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(
  `unit project (${tests}): min ${sorted[0].toFixed(1)} s, median ${median.toFixed(1)} s, max ${sorted[sorted.length - 1].toFixed(1)} s; ` +
    `target under ${targetSeconds} s: ${median < targetSeconds ? "met" : "NOT met"}`,
);
