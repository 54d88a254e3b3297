// `npm run package`: stages the deployable artefact azd zips for the Flex Consumption app
// (azure.yaml: `dist: .deploy`, `remoteBuild: false`) — compiled JS, host.json, a trimmed
// package.json and production node_modules only. Never touches the repo's node_modules.
//   tsx infra/package.ts [--out <dir>]   (default .deploy)
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export const appRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));

/**
 * Written into every staging folder, so a rerun only ever deletes a folder this script made.
 * It is a `.funcignore` because azd never puts the ignore file itself into the zip, and an
 * ignore file with no patterns keeps everything (node_modules included).
 */
export const stagingMarker = ".funcignore";
const markerText =
  "# Staged by infra/package.ts (npm run package); deleted and rebuilt on every run.\n# No patterns: azd zips this whole folder, node_modules included.\n";

export interface PackageOptions {
  /** The staging folder; must not be the repo root or one of its ancestors. */
  readonly outDir: string;
  readonly log?: (line: string) => void;
}

export interface PackageResult {
  readonly outDir: string;
  /** package.json `main`, relative to outDir. */
  readonly entry: string;
}

interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  description?: string;
  type?: string;
  main: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): void {
  // Windows can only start npm.cmd through a shell (Node refuses .cmd files without one).
  const shell = process.platform === "win32" && command.endsWith(".cmd");
  const result = spawnSync(command, args, { cwd, env, shell, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (result.error) throw new Error(`${command} ${args.join(" ")}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${result.status}:\n${result.stdout}${result.stderr}`.trimEnd());
  }
}

function isSameOrAncestor(candidate: string, of: string): boolean {
  const rel = relative(candidate, of);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}

/** Empties the staging folder, refusing anything this script did not create. */
function prepareOutDir(outDir: string): void {
  if (isSameOrAncestor(outDir, appRoot)) throw new Error(`refusing to stage into ${outDir}: it holds the project itself`);
  if (existsSync(outDir)) {
    const entries = readdirSync(outDir);
    const marked = entries.includes(stagingMarker) && readFileSync(join(outDir, stagingMarker), "utf8") === markerText;
    if (entries.length > 0 && !marked) {
      throw new Error(`refusing to empty ${outDir}: not a folder made by infra/package.ts (no marker ${stagingMarker})`);
    }
    rmSync(outDir, { recursive: true, force: true });
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, stagingMarker), markerText);
}

/** The npm that runs this script (`npm run package`) when known, else the one on PATH. */
function npmCommand(): [string, string[]] {
  const cli = process.env.npm_execpath;
  if (cli && /npm-cli\.c?js$/.test(cli)) return [process.execPath, [cli]];
  return [process.platform === "win32" ? "npm.cmd" : "npm", []];
}

/** npm's own variables point back at the repo when we run under `npm run`; the install must not. */
function isolatedNpmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production" };
  for (const key of Object.keys(env)) {
    if (/^npm_(config_local_prefix|config_prefix|config_omit|config_include|package_|lifecycle_)/i.test(key)) delete env[key];
  }
  return env;
}

export function packageApp(options: PackageOptions): PackageResult {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const outDir = resolve(options.outDir);
  const pkg = JSON.parse(readFileSync(join(appRoot, "package.json"), "utf8")) as PackageJson;
  prepareOutDir(outDir);

  // Compile straight into the staging folder, so no stale file from an old dist/ ships.
  log("compiling functions/ and shared/ (tsconfig.build.json)");
  const tsc = join(appRoot, "node_modules", "typescript", "bin", "tsc");
  run(process.execPath, [tsc, "-p", join(appRoot, "tsconfig.build.json"), "--outDir", join(outDir, "dist")], appRoot);

  copyFileSync(join(appRoot, "host.json"), join(outDir, "host.json"));

  // npm ci needs the full manifest to match the lock file; it installs only what
  // `dependencies` reach, exactly at the locked versions.
  log("installing production dependencies (npm ci --omit=dev)");
  copyFileSync(join(appRoot, "package.json"), join(outDir, "package.json"));
  copyFileSync(join(appRoot, "package-lock.json"), join(outDir, "package-lock.json"));
  const [npm, npmArgs] = npmCommand();
  run(npm, [...npmArgs, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", outDir], outDir, isolatedNpmEnv());

  // What the Functions host reads: `main` and `type`; scripts and dev dependencies stay home.
  const deployed: PackageJson = {
    name: pkg.name,
    version: pkg.version,
    private: true,
    description: pkg.description,
    type: pkg.type,
    main: pkg.main,
    engines: pkg.engines,
    dependencies: pkg.dependencies,
  };
  writeFileSync(join(outDir, "package.json"), `${JSON.stringify(deployed, null, 2)}\n`);
  rmSync(join(outDir, "package-lock.json"));

  const entry = pkg.main;
  if (!existsSync(join(outDir, entry))) throw new Error(`package.json main "${entry}" is missing from ${outDir}`);
  log(`staged ${outDir} (entry ${entry})`);
  return { outDir, entry };
}

function main(): void {
  const { values } = parseArgs({ options: { out: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    process.stdout.write("Usage: tsx infra/package.ts [--out <dir>]   (default .deploy)\n");
    return;
  }
  packageApp({ outDir: resolve(appRoot, values.out ?? ".deploy") });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
