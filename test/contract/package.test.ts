// `npm run package` builds an artefact that starts: the real packaging step (tsc + npm ci
// --omit=dev) into a temp folder outside the repo — so the app cannot borrow the repo's
// node_modules — then the local Functions host loads the packaged package.json `main` in a
// child process and /api/health answers. Kept in the contract project: it needs no shared
// stack, only the local host (and, for the 200 case, the local stack's emulators).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthResponseSchema } from "../../functions/health.js";
import { appRoot, packageApp, stagingMarker, type PackageResult } from "../../infra/package.js";
import type { PackagedStackReady } from "../support/packagedStack.js";

const packagingTimeoutMs = 300_000;
const startTimeoutMs = 90_000;

const temp: string[] = [];
const children = new Set<ChildProcess>();
let artefact: PackageResult;

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temp.push(dir);
  return dir;
}

/** Starts test/support/packagedStack.ts on the artefact and waits for its READY line. */
async function runPackaged(mode: "host" | "stack"): Promise<PackagedStackReady> {
  const tsx = join(appRoot, "node_modules", "tsx", "dist", "cli.mjs");
  const args = [tsx, join(appRoot, "test", "support", "packagedStack.ts"), artefact.outDir, tempDir("rac-pkg-data-"), ...(mode === "stack" ? ["--stack"] : [])];
  const child = spawn(process.execPath, args, { cwd: appRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_ENV: "test" } });
  children.add(child);
  let output = "";
  return new Promise<PackagedStackReady>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`the packaged app did not start within ${startTimeoutMs} ms:\n${output}`)), startTimeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split("\n").find((l) => l.startsWith("READY "));
      if (line) {
        clearTimeout(timer);
        resolveReady(JSON.parse(line.slice(6)) as PackagedStackReady);
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the packaged app exited with code ${code}:\n${output}`));
    });
  });
}

/** Production dependencies according to the lock file: every package not marked dev. */
function lockedProductionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(appRoot, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path !== "" && !p.dev && !p.devOptional && !p.optional)
    .map(([path]) => path)
    .sort();
}

function filesUnder(dir: string, skip: (name: string) => boolean): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((f) => !skip(f));
}

beforeAll(() => {
  artefact = packageApp({ outDir: join(tempDir("rac-pkg-"), "artefact"), log: () => undefined });
}, packagingTimeoutMs);

afterAll(async () => {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done();
          const killer = setTimeout(() => c.kill("SIGKILL"), 10_000);
          c.once("exit", () => {
            clearTimeout(killer);
            done();
          });
          c.kill("SIGTERM");
        }),
    ),
  );
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

describe("npm run package", () => {
  it("stages compiled JS, host.json, a trimmed package.json and production dependencies only", () => {
    // Prepare
    const out = artefact.outDir;
    const pkg = JSON.parse(readFileSync(join(out, "package.json"), "utf8")) as Record<string, unknown>;
    const source = JSON.parse(readFileSync(join(appRoot, "package.json"), "utf8")) as {
      main: string;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };

    // Act
    const topLevel = readdirSync(out).sort();
    const appFiles = filesUnder(out, (f) => f.startsWith("node_modules"));
    const locked = lockedProductionPackages();
    // Package folders are those with a package.json the lock file knows (nested ones like dist/esm are not packages).
    const installed = filesUnder(join(out, "node_modules"), () => false)
      .filter((f) => f.endsWith("/package.json"))
      .map((f) => `node_modules/${f.slice(0, -"/package.json".length)}`)
      .filter((p) => locked.includes(p) || Object.keys(source.devDependencies).some((d) => p === `node_modules/${d}`))
      .sort();

    // Assess
    expect(topLevel).toEqual([stagingMarker, "dist", "host.json", "node_modules", "package.json"]);
    expect(readFileSync(join(out, "host.json"), "utf8")).toBe(readFileSync(join(appRoot, "host.json"), "utf8"));
    expect(pkg).toMatchObject({ main: source.main, type: "module", dependencies: source.dependencies });
    expect(pkg).not.toHaveProperty("devDependencies");
    expect(pkg).not.toHaveProperty("scripts");
    expect(statSync(join(out, artefact.entry)).isFile()).toBe(true);
    expect(appFiles.filter((f) => !/^dist\/(functions|shared)\/.+\.js(\.map)?$/.test(f) && !["host.json", "package.json", stagingMarker].includes(f))).toEqual(
      [],
    );
    expect(installed).toEqual(locked);
    // Dev dependencies (unless production also needs them, as rhea is for @azure/service-bus) stay out.
    const devOnly = Object.keys(source.devDependencies).filter((d) => !locked.includes(`node_modules/${d}`));
    expect(devOnly).toEqual(expect.arrayContaining(["typescript", "vitest", "tsx", "azurite"]));
    expect(devOnly.filter((d) => existsSync(join(out, "node_modules", d)))).toEqual([]);
  });

  it("refuses to stage into the project itself or to empty a folder it did not make", () => {
    // Prepare
    const foreign = tempDir("rac-foreign-");
    writeFileSync(join(foreign, "keep.txt"), "not ours");

    // Act / Assess
    expect(() => packageApp({ outDir: appRoot, log: () => undefined })).toThrow(/holds the project itself/);
    expect(() => packageApp({ outDir: resolve(appRoot, ".."), log: () => undefined })).toThrow(/holds the project itself/);
    expect(() => packageApp({ outDir: foreign, log: () => undefined })).toThrow(/not a folder made by infra\/package\.ts/);
    expect(readFileSync(join(foreign, "keep.txt"), "utf8")).toBe("not ours");
  });

  it(
    "produces an artefact the Functions host starts: /api/health answers (503: no dependency reachable)",
    async () => {
      // Prepare
      const running = await runPackaged("host");

      // Act
      const health = await fetch(`${running.apiUrl}/health`);
      const body = healthResponseSchema.parse(await health.json());
      const openApi = await fetch(`${running.apiUrl}/openapi.json`);

      // Assess: the packaged app loaded, registered its functions and served them.
      expect(running.entry).toBe("dist/functions/index.js");
      expect(health.status).toBe(503);
      expect(body.status).toBe("unhealthy");
      expect(Object.values(body.dependencies).map((d) => d.status)).toEqual(["down", "down", "down"]);
      expect(openApi.status).toBe(200);
      expect(((await openApi.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    },
    startTimeoutMs + 30_000,
  );

  const stackReady = ["keyvault", "identity", "servicebus", "teamviewer"].every((e) => existsSync(join(appRoot, "local", e, "server.ts")));
  it.runIf(stackReady)(
    "serves /api/health 200 on the local stack's emulators",
    async () => {
      // Prepare
      const running = await runPackaged("stack");

      // Act: the host answers at once; dependencies may need a moment.
      let last: Response | undefined;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        last = await fetch(`${running.apiUrl}/health`);
        if (last.status === 200) break;
        await new Promise((r) => setTimeout(r, 500));
      }

      // Assess
      expect(last?.status).toBe(200);
      expect(healthResponseSchema.parse(await last!.json()).status).toBe("healthy");
    },
    startTimeoutMs + 90_000,
  );
});
