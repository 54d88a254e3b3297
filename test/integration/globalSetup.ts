// Starts the whole local stack once for the integration tests (free ports, fresh data)
// in a child process, exactly as `npm start` runs it, and hands the endpoints to tests.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";
import type { StackEndpoints } from "../../local/stack.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackEndpoints;
    /** JSON lines of every API response the tests received (test/support/recordResponses.ts). */
    responseLog: string;
  }
}

let child: ChildProcess | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const appRoot = resolve(import.meta.dirname, "../..");
  dataDir = mkdtempSync(join(tmpdir(), "rac-it-"));
  const tsx = join(appRoot, "node_modules", "tsx", "dist", "cli.mjs");
  child = spawn(process.execPath, [tsx, "local/start.ts", "--test", "--data-dir", dataDir], {
    cwd: appRoot,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NODE_ENV: "test" },
  });
  let output = "";
  const endpoints = await new Promise<StackEndpoints>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stack did not start within 120 s:\n${output}`)), 120_000);
    child!.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split("\n").find((l) => l.startsWith("READY "));
      if (line) {
        clearTimeout(timer);
        resolvePromise(JSON.parse(line.slice(6)) as StackEndpoints);
      }
    });
    child!.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child!.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the stack exited with code ${code}:\n${output}`));
    });
  });
  child.removeAllListeners("exit");
  project.provide("stack", endpoints);
  project.provide("responseLog", join(dataDir, "api-responses.jsonl"));
}

export async function teardown(): Promise<void> {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child!.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
