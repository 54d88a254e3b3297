// The whole local stack in a child process, exactly as `npm start` runs it but on free
// ports and fresh data (`local/start.ts --test`), with extra app settings in its
// environment. The integration globalSetup starts the shared one; a test that needs other
// settings (e.g. the production rate limits) starts its own.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { StackEndpoints } from "../../local/stack.js";

/**
 * What the stack process prints once it is ready (the app's console lines: a Functions
 * worker's console output is part of the host's log in Azure), in its data directory, so a
 * test can read it like the host log.
 */
export const consoleLogName = "console.log";

export interface StackProcess {
  readonly endpoints: StackEndpoints;
  /** The stack's data directory (removed by stop). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** A port chosen free was taken before the stack bound it (another process, between the two): worth another start. */
const portTaken = /port \d+ is already in use/;
const startAttempts = 3;

export async function startStackProcess(settings: Record<string, string> = {}): Promise<StackProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(settings);
    } catch (e) {
      if (attempt >= startAttempts || !(e instanceof Error && portTaken.test(e.message))) throw e;
    }
  }
}

async function startOnce(settings: Record<string, string>): Promise<StackProcess> {
  const appRoot = resolve(import.meta.dirname, "../..");
  const dataDir = mkdtempSync(join(tmpdir(), "rac-it-"));
  const tsx = join(appRoot, "node_modules", "tsx", "dist", "cli.mjs");
  const child: ChildProcess = spawn(process.execPath, [tsx, "local/start.ts", "--test", "--data-dir", dataDir], {
    cwd: appRoot,
    stdio: ["pipe", "pipe", "pipe"],
    // The app reads its settings from the environment; the stack adds the emulators' endpoints.
    env: { ...process.env, NODE_ENV: "test", ...settings },
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  let output = "";
  try {
    const endpoints = await new Promise<StackEndpoints>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`the stack did not start within 120 s:\n${output}`)), 120_000);
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split("\n").find((l) => l.startsWith("READY "));
        if (line) {
          clearTimeout(timer);
          resolvePromise(JSON.parse(line.slice(6)) as StackEndpoints);
        }
      });
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the stack exited with code ${code}:\n${output}`));
      });
    });
    child.removeAllListeners("exit");
    child.stdout!.removeAllListeners("data");
    child.stderr!.removeAllListeners("data");
    const keep = (chunk: Buffer): void => {
      try {
        appendFileSync(join(dataDir, consoleLogName), chunk);
      } catch {
        // The data directory is gone (stopped): nobody reads it any more.
      }
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    return { endpoints, dataDir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
