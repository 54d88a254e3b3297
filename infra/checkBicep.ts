// `npm run check:bicep`: the offline syntax check of every .bicep file under infra/ (CI
// runs it through test/unit/infra.syntax.test.ts too). Exit code 1 on any problem.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { listBicepFiles, parseBicep, syntaxProblems } from "./bicepSyntax.js";

const infraDir = fileURLToPath(new URL(".", import.meta.url));

async function main(): Promise<number> {
  let failed = 0;
  for (const file of listBicepFiles(infraDir)) {
    const problems = syntaxProblems(await parseBicep(readFileSync(join(infraDir, file), "utf8")));
    for (const p of problems) process.stdout.write(`infra/${file}:${p.line}:${p.column}: ${p.kind} ${JSON.stringify(p.text)}\n`);
    if (problems.length > 0) failed++;
    else process.stdout.write(`infra/${file}: ok\n`);
  }
  process.stdout.write("Syntax only: type and schema checks need `bicep build` / `azd provision --preview` (docs/deploy.md).\n");
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
