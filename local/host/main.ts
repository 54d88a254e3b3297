// `tsx local/host/main.ts`: what `func start` does for this app — load local.settings.json, start the host for
// functions/index.ts, and stop cleanly on Ctrl-C (a second Ctrl-C exits at once).
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startFunctionsHost } from "./host.js";
import { loadLocalSettings } from "./settings.js";

const usage = `Usage: tsx local/host/main.ts [--port 7071] [--host 127.0.0.1] [--entry functions/index.ts] [--static <dir>] [--disable <name>]...`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      entry: { type: "string" },
      static: { type: "string" },
      disable: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const appRoot = fileURLToPath(new URL("../..", import.meta.url));
  const settings = loadLocalSettings(appRoot);
  if (settings.created) process.stdout.write(`Created ${settings.path} from local.settings.sample.json\n`);
  // Core Tools runs the app as a development environment.
  process.env.AZURE_FUNCTIONS_ENVIRONMENT ??= "Development";

  const port = values.port !== undefined ? Number(values.port) : (settings.localHttpPort ?? 7071);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port number: ${values.port}`);

  const host = await startFunctionsHost({
    appRoot,
    entry: values.entry ?? "functions/index.ts",
    port,
    host: values.host,
    staticDir: values.static,
    disabledFunctions: values.disable,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(130);
    }
    stopping = true;
    host.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
