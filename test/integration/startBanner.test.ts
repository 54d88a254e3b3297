// `npm start` as a newcomer sees it: a few start-up steps, then the ready banner as the last
// thing in the terminal, printed only once the host, the emulators and the demo tenant are
// ready; everything the components log goes to the stack log, also after the banner.
// The stack runs as `npm start` runs it (local/start.ts), on free ports and its own data dir.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { demoDevices } from "../../local/demoTenant.js";
import { eventually } from "../support/api.js";

const appRoot = resolve(import.meta.dirname, "../..");
const bannerEnd = "Ctrl-C stops everything.";
// eslint-disable-next-line no-control-regex -- the terminal's colour codes
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, "");

let child: ChildProcess | undefined;
const dataDir = mkdtempSync(join(tmpdir(), "rac-start-"));

afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

describe("npm start", () => {
  it("prints a few steps, then the ready banner last; later activity goes to the stack log only", async () => {
    // Prepare: start it and wait for the end of the banner.
    let stdout = "";
    let stderr = "";
    child = spawn(process.execPath, [join(appRoot, "node_modules", "tsx", "dist", "cli.mjs"), "local/start.ts", "--free-ports", "--data-dir", dataDir], {
      cwd: appRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_ENV: "test" },
    });
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
    await eventually(async () => (stdout.includes(bannerEnd) ? true : undefined), 150_000, `the ready banner; stdout so far:\n${stdout}\nstderr:\n${stderr}`);
    const atReady = plain(stdout);

    // Act: use the stack as the banner says (tokens.env), wait until the host logged that
    // request, then stop it with Ctrl-C.
    const env = Object.fromEntries([...readFileSync(join(dataDir, "tokens.env"), "utf8").matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    const devices = await fetch(`${env.API}/devices?top=50`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    const listed = (await devices.json()) as { value: { id: string; removed: boolean }[] };
    const stackLog = join(dataDir, "stack.log");
    await eventually(
      async () => (readFileSync(stackLog, "utf8").includes("Executed 'Functions.listDevices'") ? true : undefined),
      30_000,
      "the host's line for the request",
    );
    child.kill("SIGINT");
    const code = await exited;

    // Assess: the banner is really the last thing before Ctrl-C, and it came only when ready.
    const all = plain(stdout);
    const [beforeBanner] = atReady.split("Remote Assistance Connector is ready");
    const afterBanner = all.slice(all.indexOf(bannerEnd) + bannerEnd.length);
    const stepLines = beforeBanner.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("Created local.settings.json"));
    expect(stepLines).toHaveLength(3);
    expect(stepLines[0]).toContain(stackLog);
    expect(beforeBanner).not.toMatch(/\[(host|servicebus|azurite|keyvault|teamviewer|identity|seed)\]/);
    expect(atReady).toMatch(/Remote Assistance Connector is ready \(\d+\.\d s\)/);
    expect(atReady).toContain(`Log               ${stackLog}`);
    expect(afterBanner.trim()).toBe("SIGINT: stopping (in-flight work finishes first)…");
    expect(code).toBe(0);
    expect(devices.status).toBe(200);
    // Ready means seeded: every demo device was already listed when the banner came.
    expect(
      listed.value
        .filter((d) => !d.removed)
        .map((d) => d.id)
        .sort(),
    ).toEqual(demoDevices.map((d) => d.data.id).sort());
    const log = readFileSync(stackLog, "utf8");
    expect(log).toMatch(/\[host\] /);
    expect(log).toMatch(/\[seed\] sent \d+ inventory events/);
  }, 240_000);
});
