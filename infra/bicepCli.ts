// The real Bicep CLI, restored from NuGet by `dotnet restore` of infra/bicep/bicep.csproj
// into infra/.bicep/ (gitignored), and the two things the project asks of it: compile
// infra/main.bicep to ARM JSON, and lint every .bicep file with infra/bicepconfig.json.
// Used by `npm run check:bicep` (infra/checkBicep.ts) and the ARM unit test.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const bicepVersion = "0.49.2";
const packageId = "azure.bicep.commandline.linux-x64";

export const infraDir = fileURLToPath(new URL(".", import.meta.url));
const stateDir = join(infraDir, ".bicep");
const packagesDir = join(stateDir, "packages");
const projectFile = join(infraDir, "bicep", "bicep.csproj");
/** Where `bicep build` writes main.json. */
export const armOutDir = join(stateDir, "out");

export class BicepUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BicepUnavailable";
  }
}

function run(command: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_NOLOGO: "1", DOTNET_SKIP_FIRST_TIME_EXPERIENCE: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new BicepUnavailable(`${command} not found`);
    throw result.error;
  }
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/** The path of the `bicep` binary, restoring the NuGet package first if it is not there yet. */
export function ensureBicep(): string {
  const binary = join(packagesDir, packageId, bicepVersion, "tools", "bicep");
  if (!existsSync(binary)) {
    if (process.platform !== "linux" || process.arch !== "x64") {
      throw new BicepUnavailable(`the restored package is ${packageId}; this machine is ${process.platform}-${process.arch}`);
    }
    const restore = run("dotnet", ["restore", projectFile, "--packages", packagesDir, "--verbosity", "quiet"]);
    if (restore.status !== 0 || !existsSync(binary)) {
      throw new Error(`dotnet restore of ${relative(process.cwd(), projectFile)} failed (exit ${restore.status}):\n${restore.stdout}${restore.stderr}`);
    }
  }
  // NuGet extracts files without their execute bit on some set-ups.
  chmodSync(binary, 0o755);
  return binary;
}

export function bicepCliVersion(binary: string): string {
  const { status, stdout, stderr } = run(binary, ["--version"]);
  if (status !== 0) throw new Error(`bicep --version failed: ${stderr}`);
  return stdout.trim();
}

export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly level: "Error" | "Warning" | "Info";
  readonly code: string;
  readonly message: string;
}

/**
 * The one rule allowed to stay a warning: use-recent-api-versions measures an API version's
 * age against today's date, so a template that is clean today warns next year without any
 * change. It is printed, never fatal; every other diagnostic fails the check.
 */
export const toleratedWarnings: ReadonlySet<string> = new Set(["use-recent-api-versions"]);

const diagnosticLine = /^(.+?)\((\d+),(\d+)\) : (Error|Warning|Info) ([\w-]+): (.*)$/;

function parseDiagnostics(output: string): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = diagnosticLine.exec(line.trim());
    if (!m) continue;
    found.push({
      file: relative(process.cwd(), m[1]),
      line: Number(m[2]),
      column: Number(m[3]),
      level: m[4] as Diagnostic["level"],
      code: m[5],
      message: m[6],
    });
  }
  return found;
}

export interface BicepRun {
  readonly status: number;
  readonly diagnostics: readonly Diagnostic[];
  /** Output lines that are not diagnostics (a crash, a usage error). */
  readonly other: string;
}

function bicep(binary: string, args: readonly string[]): BicepRun {
  const { status, stdout, stderr } = run(binary, args);
  const output = `${stdout}\n${stderr}`;
  const diagnostics = parseDiagnostics(output);
  const other = output
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "" && !diagnosticLine.test(l.trim()))
    .join("\n");
  return { status, diagnostics, other };
}

/** `bicep build infra/main.bicep --outdir infra/.bicep/out`. */
export function buildMain(binary: string): BicepRun & { readonly armPath: string } {
  mkdirSync(armOutDir, { recursive: true });
  const result = bicep(binary, ["build", join(infraDir, "main.bicep"), "--outdir", armOutDir]);
  return { ...result, armPath: join(armOutDir, "main.json") };
}

export function lint(binary: string, file: string): BicepRun {
  return bicep(binary, ["lint", file]);
}

/** Every `.bicep` file under infra/ (not the restored package), sorted, absolute. */
export function listBicepFiles(dir: string = infraDir): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".bicep") && !relative(dir, e.parentPath).startsWith(".bicep"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export function isFatal(d: Diagnostic): boolean {
  return d.level === "Error" || (d.level === "Warning" && !toleratedWarnings.has(d.code));
}

/** Compiles main.bicep with the real CLI and returns the ARM template; throws on any fatal diagnostic. */
export function compileMainToArm(): unknown {
  const built = buildMain(ensureBicep());
  const fatal = built.diagnostics.filter(isFatal);
  if (built.status !== 0 || fatal.length > 0) {
    throw new Error(
      `bicep build failed:\n${fatal.map((d) => `${d.file}(${d.line},${d.column}) ${d.level} ${d.code}: ${d.message}`).join("\n")}\n${built.other}`,
    );
  }
  return JSON.parse(readFileSync(built.armPath, "utf8"));
}
