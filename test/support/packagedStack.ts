// Runs a packaged artefact (infra/package.ts output) with the local Functions host, in its
// own process so the app loads its dependencies from the artefact's node_modules as it
// would in Azure:
//   tsx test/support/packagedStack.ts <artefact dir> <data dir> [--stack]
// --stack: on the whole local stack (emulators for every dependency; health should be 200).
// Without it: the host alone, its dependencies pointed at closed loopback ports (health
// answers 503 with every dependency down — the app started, its dependencies did not).
// Prints `READY <json>` once the host serves HTTP, then runs until SIGTERM.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startFunctionsHost } from "../../local/host/host.js";
import { freePort } from "../../local/ports.js";

export interface PackagedStackReady {
  readonly apiUrl: string;
  readonly entry: string;
  readonly mode: "stack" | "host";
}

/** Settings of the local (connection string) form whose endpoints nobody listens on. */
async function unreachableSettings(): Promise<Record<string, string>> {
  const [tables, serviceBus, keyVault, teamViewer, identity] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  return {
    FUNCTIONS_WORKER_RUNTIME: "node",
    ServiceBusConnection: `Endpoint=sb://127.0.0.1:${serviceBus};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true`,
    TABLES_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:${tables}/devstoreaccount1;`,
    TABLES_ALLOW_INSECURE: "true",
    KEYVAULT_URI: `http://127.0.0.1:${keyVault}`,
    KEYVAULT_ALLOW_INSECURE: "true",
    TEAMVIEWER_API_BASE_URL: `http://127.0.0.1:${teamViewer}/api/v1`,
    TEAMVIEWER_LOGIN_BASE_URL: `http://127.0.0.1:${teamViewer}`,
    TEAMVIEWER_CLIENT_ID: "package-test-client",
    TEAMVIEWER_CLIENT_SECRET: "package-test-secret",
    TEAMVIEWER_REDIRECT_URI: "http://127.0.0.1:7071/api/connector/oauth/callback",
    AUTH_ISSUER: `http://127.0.0.1:${identity}`,
    AUTH_AUDIENCE: "api://remote-assistance-connector",
    AUTH_JWKS_URI: `http://127.0.0.1:${identity}/.well-known/jwks.json`,
    PORTAL_URL: "http://127.0.0.1:7071/",
    PUSH_GATEWAY: "local",
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const [artefact, dataDir] = args.filter((a) => !a.startsWith("--")).map((p) => resolve(p));
  if (!artefact || !dataDir) throw new Error("usage: tsx test/support/packagedStack.ts <artefact dir> <data dir> [--stack]");
  // The entry is whatever the packaged package.json says, exactly as the Functions host reads it.
  const { main: entry } = JSON.parse(readFileSync(join(artefact, "package.json"), "utf8")) as { main: string };
  let close: () => Promise<void> = async () => undefined;
  process.on("SIGTERM", () => {
    void close().finally(() => process.exit(0));
  });

  let ready: PackagedStackReady;
  if (args.includes("--stack")) {
    // Imported only here: the stack needs every emulator, the host-only mode none.
    const { startStack } = await import("../../local/stack.js");
    const stack = await startStack({ appRoot: artefact, entry, ports: "free", dataDir, log: () => undefined });
    close = () => stack.close();
    ready = { apiUrl: stack.apiUrl, entry, mode: "stack" };
  } else {
    for (const [k, v] of Object.entries(await unreachableSettings())) process.env[k] = v;
    const host = await startFunctionsHost({ appRoot: artefact, entry, port: 0, log: () => undefined, shutdownTimeoutMs: 2_000 });
    close = () => host.close();
    ready = { apiUrl: `${host.url}/api`, entry, mode: "host" };
  }
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
