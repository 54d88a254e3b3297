// Builds the portal: bundles src/main.ts with esbuild and copies index.html and styles.css.
//   npm run build:portal                          → portal/dist/ (deploy it with a config.json, docs/deploy.md)
//   tsx portal/build.ts --out DIR --config FILE   → another folder, with FILE copied as config.json
// `npm start` (local/start.ts) calls buildPortal itself and writes the local config.json.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { readPortalConfig, type PortalConfig } from "./src/config.js";

const portalRoot = dirname(fileURLToPath(import.meta.url));

export interface BuildPortalOptions {
  /** Where the site goes (default portal/dist). */
  readonly outDir?: string;
  /** Written as config.json beside index.html when given. */
  readonly config?: PortalConfig;
  readonly minify?: boolean;
}

export async function buildPortal(options: BuildPortalOptions = {}): Promise<string> {
  const outDir = resolve(options.outDir ?? join(portalRoot, "dist"));
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(portalRoot, "src", "main.ts")],
    outfile: join(outDir, "main.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    sourcemap: true,
    minify: options.minify ?? false,
    tsconfig: join(portalRoot, "tsconfig.json"),
    logLevel: "silent",
  });
  for (const f of ["index.html", "styles.css"]) copyFileSync(join(portalRoot, f), join(outDir, f));
  if (options.config) writePortalConfig(outDir, options.config);
  return outDir;
}

/** A second copy of a built site (for another config.json) without bundling again. */
export function copyPortal(builtDir: string, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  for (const f of ["index.html", "styles.css", "main.js", "main.js.map"]) copyFileSync(join(builtDir, f), join(outDir, f));
  return outDir;
}

export function writePortalConfig(outDir: string, config: PortalConfig): void {
  writeFileSync(join(outDir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const option = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const configFile = option("--config");
  // A config.json is checked before it ships: a deployer learns here, not in the browser.
  let config: ReturnType<typeof readPortalConfig> | undefined;
  if (configFile) {
    try {
      config = readPortalConfig(JSON.parse(readFileSync(resolve(configFile), "utf8")) as unknown);
    } catch (e) {
      console.error(`${configFile} could not be read as JSON: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    }
  }
  if (config && "problems" in config) {
    console.error(`${configFile}:\n  ${config.problems.join("\n  ")}`);
    process.exit(1);
  }
  buildPortal({ outDir: option("--out"), minify: args.includes("--minify"), config: config?.config })
    .then((dir) => {
      console.log(`portal built in ${dir}${configFile ? "" : " (add a config.json before serving it: docs/deploy.md)"}`);
    })
    .catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
