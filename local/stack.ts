// The whole local system in one process: Azurite (tables), the Service Bus, Key Vault,
// TeamViewer and identity emulators, and the local Functions host running the app.
// `npm start` uses fixed ports and local.settings.json; tests use free ports.
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startAzuriteTables, type AzuriteTables } from "./azurite.js";
import { freePort } from "./ports.js";
import { startServiceBusEmulator, type ServiceBusEmulator } from "./servicebus/server.js";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "./keyvault/server.js";
import { startTeamViewerFake, type TeamViewerFake } from "./teamviewer/server.js";
import { portalSecurityHeaders } from "../portal/securityHeaders.js";
import { startIdentityEmulator, type IdentityEmulator, type SignInUser } from "./identity/server.js";
import { startFunctionsHost, type FunctionsHost } from "./host/host.js";
import type { QueueDefinition } from "../shared/queueDefinitions.js";
import { loadQueueDefinitions } from "../shared/queueDefinitions.js";

export const defaultPorts = { host: 7071, teamViewer: 7072, keyVault: 7073, identity: 7074, identityTls: 7075, serviceBus: 5672, tables: 10002 } as const;
export type Ports = { -readonly [K in keyof typeof defaultPorts]: number };

export interface StackOptions {
  readonly appRoot: string;
  /** Fixed ports (npm start) or free ones (tests). */
  readonly ports: "default" | "free";
  /** Durable data (.local/); omitted = in memory where the component allows it. */
  readonly dataDir: string;
  /** Settings for the app; the stack fills in the emulator endpoints it starts. */
  readonly settings?: Record<string, string>;
  /** Extra queues for tests, beside the ones in infra/queues.json. */
  readonly extraQueues?: QueueDefinition[];
  readonly log: (component: string, line: string) => void;
  /** Host log file (tests read it to check what was logged). */
  readonly hostLogFile?: string;
  readonly entry?: string;
  readonly staticDir?: string;
  /** Who can sign in at the identity emulator's sign-in page (MSAL's path). */
  readonly identityUsers?: readonly SignInUser[];
}

export interface StackEndpoints {
  readonly apiUrl: string;
  readonly hostUrl: string;
  readonly tablesConnectionString: string;
  readonly serviceBusConnectionString: string;
  readonly keyVaultUrl: string;
  readonly teamViewerUrl: string;
  readonly teamViewerApiBaseUrl: string;
  readonly identityUrl: string;
  /** The identity emulator's HTTPS origin: the MSAL authority (self-signed certificate). */
  readonly identityTlsUrl: string;
  readonly issuer: string;
  readonly audience: string;
  readonly dataDir: string;
  readonly hostLogFile?: string;
}

export interface Stack extends StackEndpoints {
  readonly identity: IdentityEmulator;
  readonly teamViewer: TeamViewerFake;
  close(): Promise<void>;
}

async function portsFor(mode: StackOptions["ports"]): Promise<Ports> {
  if (mode === "default") return { ...defaultPorts };
  const entries = await Promise.all(Object.keys(defaultPorts).map(async (k) => [k, await freePort()] as const));
  return Object.fromEntries(entries) as Ports;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const ports = await portsFor(options.ports);
  mkdirSync(options.dataDir, { recursive: true });
  const started: { close(): Promise<void> }[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of started.reverse()) await c.close().catch(() => undefined);
  };
  try {
    const [tables, serviceBus, keyVault, teamViewer, identity] = await Promise.all([
      startAzuriteTables({ port: ports.tables, dataDir: join(options.dataDir, "azurite"), log: (l) => options.log("azurite", l) }).then(
        (c: AzuriteTables) => (started.push(c), c),
      ),
      startServiceBusEmulator({
        port: ports.serviceBus,
        dataDir: join(options.dataDir, "servicebus"),
        queues: [...loadQueueDefinitions(), ...(options.extraQueues ?? [])],
        log: (l) => options.log("servicebus", l),
      }).then((c: ServiceBusEmulator) => (started.push(c), c)),
      // Purge protection on, as infra/modules/keyVault.bicep deploys the vault: purges are refused (403).
      startKeyVaultEmulator({
        port: ports.keyVault,
        dataDir: join(options.dataDir, "keyvault"),
        purgeProtection: true,
        log: (l) => options.log("keyvault", l),
      }).then((c: KeyVaultEmulator) => (started.push(c), c)),
      startTeamViewerFake({ port: ports.teamViewer, dataDir: join(options.dataDir, "teamviewer"), log: (l) => options.log("teamviewer", l) }).then(
        (c: TeamViewerFake) => (started.push(c), c),
      ),
      startIdentityEmulator({ port: ports.identity, tlsPort: ports.identityTls, users: options.identityUsers, log: (l) => options.log("identity", l) }).then(
        (c: IdentityEmulator) => (started.push(c), c),
      ),
    ]);

    const hostUrl = `http://127.0.0.1:${ports.host}`;
    const settings: Record<string, string> = {
      FUNCTIONS_WORKER_RUNTIME: "node",
      ...options.settings,
      ServiceBusConnection: serviceBus.connectionString,
      TABLES_CONNECTION_STRING: tables.connectionString,
      TABLES_ALLOW_INSECURE: "true",
      KEYVAULT_URI: keyVault.url,
      KEYVAULT_ALLOW_INSECURE: "true",
      TEAMVIEWER_API_BASE_URL: teamViewer.apiBaseUrl,
      TEAMVIEWER_LOGIN_BASE_URL: teamViewer.url,
      TEAMVIEWER_CLIENT_ID: options.settings?.TEAMVIEWER_CLIENT_ID ?? "local-client-id",
      TEAMVIEWER_CLIENT_SECRET: options.settings?.TEAMVIEWER_CLIENT_SECRET ?? "local-client-secret",
      TEAMVIEWER_REDIRECT_URI: `${hostUrl}/api/connector/oauth/callback`,
      AUTH_ISSUER: identity.issuer,
      AUTH_AUDIENCE: identity.audience,
      AUTH_JWKS_URI: identity.jwksUri,
      PORTAL_URL: options.settings?.PORTAL_URL && options.ports === "default" ? options.settings.PORTAL_URL : `${hostUrl}/`,
      // The local push gateway's record of pushes, the fault-point file tests write (absent =
      // no faults), and the spans (unless APPLICATIONINSIGHTS_CONNECTION_STRING sends them to Azure).
      LOCAL_PUSH_FILE: join(options.dataDir, "pushes.jsonl"),
      LOCAL_FAULTS_FILE: join(options.dataDir, "faults.json"),
      LOCAL_TRACES_FILE: join(options.dataDir, "traces.jsonl"),
      LOCAL_ALLOW_INSECURE_LINKS: "true",
    };
    // The app reads its configuration from the environment, as in Azure.
    for (const [k, v] of Object.entries(settings)) process.env[k] = v;

    const hostLog = options.hostLogFile;
    const host: FunctionsHost = await startFunctionsHost({
      appRoot: options.appRoot,
      entry: options.entry ?? "functions/index.ts",
      port: ports.host,
      staticDir: options.staticDir,
      // The portal's own headers (as Static Web Apps sends them in Azure): it calls this API and the identity emulator.
      staticHeaders: portalSecurityHeaders({
        connect: [identity.url, ...(identity.tlsUrl ? [identity.tlsUrl] : [])],
        frame: identity.tlsUrl ? [identity.tlsUrl] : [],
      }),
      log: (line) => {
        if (hostLog) appendFileSync(hostLog, `${line}\n`);
        options.log("host", line);
      },
    });
    started.push(host);

    return {
      apiUrl: `${host.url}/api`,
      hostUrl: host.url,
      tablesConnectionString: tables.connectionString,
      serviceBusConnectionString: serviceBus.connectionString,
      keyVaultUrl: keyVault.url,
      teamViewerUrl: teamViewer.url,
      teamViewerApiBaseUrl: teamViewer.apiBaseUrl,
      identityUrl: identity.url,
      identityTlsUrl: identity.tlsUrl ?? identity.url,
      issuer: identity.issuer,
      audience: identity.audience,
      dataDir: options.dataDir,
      hostLogFile: hostLog,
      identity,
      teamViewer,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** Polls GET /api/health until every dependency is up. */
export async function waitHealthy(apiUrl: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${apiUrl}/health`);
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the app did not become healthy in ${timeoutMs} ms; last answer: ${last}`);
}
