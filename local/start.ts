// `npm start`: the whole system locally in one terminal, with a seeded demo tenant.
//   npm start               fixed ports, data kept in .local/
//   npm start -- --fresh    wipe .local/ first
//   npm start -- --verbose  the components' log lines in the terminal too (else only in .local/stack.log)
//   (tests) --test --data-dir DIR   free ports, prints one `READY <json>` line when healthy
//   (tests) --free-ports --data-dir DIR   what npm start prints, on free ports
// The ready banner is the last thing printed: the components' lines go to the stack log,
// and the banner appears only once the app is healthy and the demo tenant's data is listed.
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadLocalSettings } from "./host/settings.js";
import { startStack, waitHealthy, type Stack, type StackEndpoints } from "./stack.js";
import { demoUsers, seedDemoTenant } from "./seed.js";
import { buildPortal, copyPortal, writePortalConfig } from "../portal/build.js";

/** The portal's client id at the identity emulator (any id is accepted there; Azure uses the SPA registration's). */
const localPortalClientId = "remote-assistance-portal-local";
const appRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const testMode = flag("--test");
const verbose = flag("--verbose");
const dataDir = resolve(option("--data-dir") ?? join(appRoot, ".local"));
const stackLogFile = join(dataDir, "stack.log");

const colours: Record<string, string> = { host: "36", servicebus: "35", keyvault: "33", teamviewer: "34", identity: "32", azurite: "90", seed: "37" };
let stackLog: WriteStream | undefined;
const log = (component: string, line: string): void => {
  if (testMode) return;
  for (const l of line.split("\n")) {
    stackLog?.write(`${new Date().toISOString()} [${component}] ${l}\n`);
    if (verbose) console.log(`\x1b[${colours[component] ?? "0"}m[${component}]\x1b[0m ${l}`);
  }
};
/** What the terminal shows while starting: one short line per step (the details are in the stack log). */
const step = (line: string): void => {
  if (!testMode) console.log(line);
};

async function main(): Promise<void> {
  if (flag("--fresh")) rmSync(dataDir, { recursive: true, force: true });
  if (!testMode) {
    mkdirSync(dataDir, { recursive: true });
    stackLog = createWriteStream(stackLogFile, { flags: "a" });
  }
  let settings: Record<string, string> = {};
  if (!testMode) {
    const loaded = loadLocalSettings(appRoot);
    if (loaded.created) console.log("Created local.settings.json from local.settings.sample.json");
    settings = loaded.values;
  }
  const started = Date.now();
  // eslint-disable-next-line prefer-const -- the signal handler above reads it before start-up assigns it
  let stack: Stack | undefined;
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (!testMode) console.log(`\n${signal}: stopping (in-flight work finishes first)…`);
    await stack?.close();
    await new Promise((r) => (stackLog ? stackLog.end(r) : r(undefined)));
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  if (testMode) {
    // The test runner holds our stdin open: when it dies, stop rather than linger.
    process.stdin.on("end", () => void stop("test runner gone"));
    process.stdin.resume();
  }

  // The portal, built per stack (its config.json names this stack's identity emulator), and
  // again under /entra/ signing in as it does in Azure: MSAL.js with the identity emulator's
  // HTTPS origin standing in for Microsoft Entra ID.
  step(`Starting Azurite, the Service Bus, Key Vault, TeamViewer and identity stand-ins and the Functions host… (log: ${stackLogFile})`);
  const portalDir = await buildPortal({ outDir: join(dataDir, "portal") });
  copyPortal(portalDir, join(portalDir, "entra"));
  stack = await startStack({
    appRoot,
    ports: testMode || flag("--free-ports") ? "free" : "default",
    dataDir,
    settings,
    log,
    hostLogFile: testMode ? join(dataDir, "host.log") : undefined,
    staticDir: portalDir,
    identityUsers: demoUsers,
  });
  writePortalConfig(portalDir, {
    apiBaseUrl: "/api",
    auth: { kind: "local", identityUrl: stack.identityUrl, users: demoUsers.map((u) => ({ key: u.key, label: u.label, claims: u.claims })) },
  });
  writePortalConfig(join(portalDir, "entra"), {
    apiBaseUrl: "/api",
    auth: {
      kind: "entra",
      clientId: localPortalClientId,
      authority: `${stack.identityTlsUrl}/organizations`,
      apiScope: `${stack.audience}/access_as_user`,
      knownAuthorities: [new URL(stack.identityTlsUrl).host],
    },
  });
  step("Waiting for the app to report every dependency up…");
  await waitHealthy(stack.apiUrl);
  step("Seeding the demo tenant…");
  const seeded = await seedDemoTenant(stack, (l) => log("seed", l));

  const endpoints: StackEndpoints = {
    apiUrl: stack.apiUrl,
    hostUrl: stack.hostUrl,
    tablesConnectionString: stack.tablesConnectionString,
    serviceBusConnectionString: stack.serviceBusConnectionString,
    keyVaultUrl: stack.keyVaultUrl,
    teamViewerUrl: stack.teamViewerUrl,
    teamViewerApiBaseUrl: stack.teamViewerApiBaseUrl,
    identityUrl: stack.identityUrl,
    identityTlsUrl: stack.identityTlsUrl,
    issuer: stack.issuer,
    audience: stack.audience,
    dataDir: stack.dataDir,
    hostLogFile: stack.hostLogFile,
  };
  if (testMode) {
    console.log(`READY ${JSON.stringify(endpoints)}`);
    return;
  }
  const tokens = await Promise.all(demoUsers.map(async (u) => ({ u, token: await stack!.identity.issueToken({ ...u.claims, expiresInSeconds: 86_400 }) })));
  // The same tokens as shell variables: `source .local/tokens.env`, then "$ADMIN_TOKEN".
  const tokensFile = join(dataDir, "tokens.env");
  writeFileSync(
    tokensFile,
    [
      `export API=${stack.apiUrl}`,
      `export TENANT_ID=${seeded.tenantId}`,
      ...tokens.flatMap(({ u, token }) => {
        const name = u.key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
        return [`export ${name}_TOKEN=${token}`, `export ${name}_OID=${u.claims.oid}`];
      }),
    ].join("\n") + "\n",
    { mode: 0o600 },
  );
  console.log(`
\x1b[1mRemote Assistance Connector is ready\x1b[0m (${((Date.now() - started) / 1000).toFixed(1)} s)

  API               ${stack.apiUrl}          (health: ${stack.apiUrl}/health, OpenAPI: ${stack.apiUrl}/openapi.json)
  Portal            ${stack.hostUrl}/          (sign in as a demo user)
                    ${stack.hostUrl}/entra/    (sign in as in Azure: MSAL.js, the identity emulator standing in for Entra ID;
                                               your browser will warn about its self-signed certificate at ${stack.identityTlsUrl})
  TeamViewer fake   ${stack.teamViewerUrl}   (sign-in page, Web API at ${stack.teamViewerApiBaseUrl})
  Key Vault         ${stack.keyVaultUrl}
  Identity (OIDC)   ${stack.identityUrl}     (POST /token with JSON claims for a dev token; HTTPS authority ${stack.identityTlsUrl})
  Service Bus       ${stack.serviceBusConnectionString}
  Tables (Azurite)  ${stack.tablesConnectionString}
  Data              ${dataDir}   (npm start -- --fresh wipes it)
  Pushes            ${join(dataDir, "pushes.jsonl")}   (what the local push gateway sent to Company Portal users; tail -f it)
  Log               ${stackLogFile}   (every component's lines; tail -f it, or npm start -- --verbose to see them here)
  Traces            ${process.env.APPLICATIONINSIGHTS_CONNECTION_STRING ? "Application Insights (APPLICATIONINSIGHTS_CONNECTION_STRING is set)" : `${join(dataDir, "traces.jsonl")}   (one JSON line per span; docs/operations.md, Traces)`}

Demo tenant ${seeded.tenantName} (${seeded.tenantId}): ${seeded.summary}
Dev tokens (valid 24 h):
${tokens.map(({ u, token }) => `  ${u.label.padEnd(44)} ${u.claims.name}   oid ${u.claims.oid}\n    ${token}`).join("\n")}

The same tokens and user ids as shell variables: source ${tokensFile}   (ADMIN_TOKEN, ADMIN_OID, HELPDESK_TOKEN, END_USER_TOKEN, …)
Try:
  source ${tokensFile}
  curl -s $API/health
  curl -s -H "Authorization: Bearer $ADMIN_TOKEN" $API/connector
  curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "$API/devices?top=5"

Ctrl-C stops everything.`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  if (stackLog && !verbose) {
    // The components' last words usually say why.
    const tail = (() => {
      try {
        return readFileSync(stackLogFile, "utf8").trimEnd().split("\n").slice(-25).join("\n");
      } catch {
        return "";
      }
    })();
    if (tail) console.error(`\nThe last lines of ${stackLogFile}:\n${tail}`);
  }
  process.exit(1);
});
