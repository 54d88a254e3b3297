// Azurite's Table service as a child process (npm `azurite`), started and stopped with the stack.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
export const azuriteAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteTables {
  readonly port: number;
  readonly connectionString: string;
  /** The Azurite process. */
  readonly pid: number | undefined;
  close(): Promise<void>;
}

export async function startAzuriteTables(options: { port: number; dataDir?: string; log?: (line: string) => void }): Promise<AzuriteTables> {
  const main = join(dirname(require.resolve("azurite/package.json")), "dist", "src", "table", "main.js");
  const args = [main, "--tableHost", "127.0.0.1", "--tablePort", String(options.port), "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent"];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push("--location", options.dataDir);
  } else {
    args.push("--inMemoryPersistence");
  }
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const log = options.log ?? (() => undefined);
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start on port ${options.port}: ${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      // Azurite 3.3x says "successfully started"; older versions said "successfully listening".
      if (/successfully (listening|started)/i.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code}: ${output.trim()}`));
    });
  });
  child.stdout?.on("data", (c: Buffer) => log(c.toString().trimEnd()));
  child.removeAllListeners("exit");
  return {
    port: options.port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${azuriteAccountKey};TableEndpoint=http://127.0.0.1:${options.port}/devstoreaccount1;`,
    pid: child.pid,
    close: () =>
      new Promise<void>((resolve) => {
        // Gone already: exited, or killed by a signal (Ctrl-C and `timeout` signal the whole process group).
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
      }),
  };
}
