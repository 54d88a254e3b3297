// The one configuration object, parsed from the environment once at start-up.
// In Azure the values are app settings; locally they are local.settings.json `Values`,
// which the local host loads into the environment the way `func start` does.
import { z } from "zod";

const url = z.url({ protocol: /^https?$/ });
const bool = z.enum(["true", "false"]).transform((v) => v === "true");
const optionalNonEmpty = z.string().trim().min(1).optional();

/** Settings exactly as they are named in app settings / local.settings.json. */
export const settingsSchema = z
  .object({
    // Service Bus: a connection string locally, an identity-based section in Azure.
    ServiceBusConnection: optionalNonEmpty,
    ServiceBusConnection__fullyQualifiedNamespace: optionalNonEmpty,
    ServiceBusConnection__credential: z.literal("managedidentity").optional(),
    ServiceBusConnection__clientId: optionalNonEmpty,
    // Table storage for application state.
    TABLES_CONNECTION_STRING: optionalNonEmpty,
    TABLES_ENDPOINT: url.optional(),
    // Local stack only: lets the Table client talk `http://` to a loopback emulator (Azurite).
    TABLES_ALLOW_INSECURE: bool.default(false),
    // Key Vault holding tenants' TeamViewer tokens (and, in Azure, the OAuth client secret).
    KEYVAULT_URI: url,
    KEYVAULT_ALLOW_INSECURE: bool.default(false),
    // Managed identity client id for DefaultAzureCredential (user-assigned identity).
    AZURE_CLIENT_ID: optionalNonEmpty,
    // TeamViewer Web API and OAuth.
    TEAMVIEWER_API_BASE_URL: url.default("https://webapi.teamviewer.com/api/v1"),
    TEAMVIEWER_LOGIN_BASE_URL: url.default("https://login.teamviewer.com"),
    TEAMVIEWER_CLIENT_ID: z.string().trim().min(1),
    TEAMVIEWER_CLIENT_SECRET: optionalNonEmpty,
    TEAMVIEWER_CLIENT_SECRET_NAME: z
      .string()
      .regex(/^[0-9a-zA-Z-]+$/)
      .default("teamviewer-client-secret"),
    TEAMVIEWER_REDIRECT_URI: url,
    TEAMVIEWER_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    // Caller authentication (Entra ID in Azure, local/identity locally).
    AUTH_ISSUER: z.string().trim().min(1),
    AUTH_AUDIENCE: z.string().trim().min(1),
    AUTH_JWKS_URI: url,
    // Where the OAuth callback sends the admin's browser back to.
    PORTAL_URL: url,
    // End-user push: the local recording gateway, or Azure Notification Hubs.
    PUSH_GATEWAY: z.enum(["local", "notificationHubs", "none"]).default("local"),
    NOTIFICATION_HUB_NAME: optionalNonEmpty,
    NOTIFICATION_HUB_CONNECTION_SECRET_NAME: optionalNonEmpty,
    // Traces (and the host's logs) go to Application Insights when set.
    APPLICATIONINSIGHTS_CONNECTION_STRING: optionalNonEmpty,
    // Caller-facing limits (per instance; see docs/limits.md).
    RATE_LIMIT_CALLER_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(300),
    RATE_LIMIT_CALLER_BURST: z.coerce.number().int().min(1).max(1_000_000).default(100),
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(60),
    // 0 turns the per-session resend throttle off (the cap of 10 resends still applies).
    RESEND_MIN_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
    // 0 turns the per-tenant limit of POST /api/connector/verify off.
    VERIFY_MIN_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(3_600).default(60),
    // Local development and tests only (the local stack sets them; Azure never does):
    // where the local push gateway records pushes, the fault-point file tests use to
    // crash handlers on purpose, and where spans are written as JSON lines (without
    // APPLICATIONINSIGHTS_CONNECTION_STRING). Unset = pushes kept in memory, no faults, no traces.
    LOCAL_PUSH_FILE: optionalNonEmpty,
    LOCAL_FAULTS_FILE: optionalNonEmpty,
    LOCAL_TRACES_FILE: optionalNonEmpty,
    // Local stack only: lets `http://` (loopback) links through where Azure demands
    // `https` — the TeamViewer fake's links and audit-push receivers on 127.0.0.1.
    LOCAL_ALLOW_INSECURE_LINKS: bool.default(false),
    // Audit push deliveries: the first retry's delay (doubling up to an hour) and how long
    // an event may keep failing before it is dead-lettered. Decimals allowed (tests use tiny values).
    AUDIT_EXPORT_RETRY_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
    AUDIT_EXPORT_GIVE_UP_HOURS: z.coerce.number().min(0.0001).max(168).default(24),
  })
  .superRefine((s, ctx) => {
    const sbForms = [s.ServiceBusConnection, s.ServiceBusConnection__fullyQualifiedNamespace].filter(Boolean).length;
    if (sbForms !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["ServiceBusConnection"],
        message:
          sbForms === 0
            ? "set ServiceBusConnection (connection string) or ServiceBusConnection__fullyQualifiedNamespace (identity)"
            : "set either ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace, not both",
      });
    }
    const tableForms = [s.TABLES_CONNECTION_STRING, s.TABLES_ENDPOINT].filter(Boolean).length;
    if (tableForms !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["TABLES_CONNECTION_STRING"],
        message:
          tableForms === 0
            ? "set TABLES_CONNECTION_STRING (connection string) or TABLES_ENDPOINT (identity)"
            : "set either TABLES_CONNECTION_STRING or TABLES_ENDPOINT, not both",
      });
    }
    if (s.ServiceBusConnection__credential && !s.ServiceBusConnection__fullyQualifiedNamespace) {
      ctx.addIssue({ code: "custom", path: ["ServiceBusConnection__credential"], message: "only valid with ServiceBusConnection__fullyQualifiedNamespace" });
    }
    if (s.KEYVAULT_ALLOW_INSECURE && !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(s.KEYVAULT_URI)) {
      ctx.addIssue({ code: "custom", path: ["KEYVAULT_ALLOW_INSECURE"], message: "insecure Key Vault access is only for a loopback emulator" });
    }
    if (/^http:/i.test(String(s.AUTH_JWKS_URI)) && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(s.AUTH_JWKS_URI)) {
      // Whoever could change the key set in transit could sign any token: plain http only to a loopback emulator.
      ctx.addIssue({ code: "custom", path: ["AUTH_JWKS_URI"], message: "the token signing keys must come over https (http only from a loopback emulator)" });
    }
    if (s.LOCAL_FAULTS_FILE && !s.KEYVAULT_ALLOW_INSECURE) {
      // Fault points crash handlers on purpose: never in a deployment that talks to real services.
      ctx.addIssue({ code: "custom", path: ["LOCAL_FAULTS_FILE"], message: "fault points are only for the local stack (with KEYVAULT_ALLOW_INSECURE)" });
    }
    if (s.LOCAL_TRACES_FILE && !s.KEYVAULT_ALLOW_INSECURE) {
      // In Azure traces go to Application Insights; a file on an instance's disk would only fill it.
      ctx.addIssue({
        code: "custom",
        path: ["LOCAL_TRACES_FILE"],
        message: "the trace file is only for the local stack (with KEYVAULT_ALLOW_INSECURE); in Azure traces go to APPLICATIONINSIGHTS_CONNECTION_STRING",
      });
    }
    if (s.LOCAL_ALLOW_INSECURE_LINKS && !s.KEYVAULT_ALLOW_INSECURE) {
      ctx.addIssue({
        code: "custom",
        path: ["LOCAL_ALLOW_INSECURE_LINKS"],
        message: "insecure links are only for the local stack (with KEYVAULT_ALLOW_INSECURE)",
      });
    }
    if (s.PUSH_GATEWAY === "local" && !s.KEYVAULT_ALLOW_INSECURE) {
      // The local gateway only records pushes: configured in Azure it would swallow them silently.
      ctx.addIssue({
        code: "custom",
        path: ["PUSH_GATEWAY"],
        message: "the local push gateway is only for the local stack (with KEYVAULT_ALLOW_INSECURE); use notificationHubs or none",
      });
    }
    if (s.PUSH_GATEWAY === "notificationHubs" && (!s.NOTIFICATION_HUB_NAME || !s.NOTIFICATION_HUB_CONNECTION_SECRET_NAME)) {
      ctx.addIssue({
        code: "custom",
        path: ["NOTIFICATION_HUB_NAME"],
        message: "PUSH_GATEWAY=notificationHubs needs NOTIFICATION_HUB_NAME and NOTIFICATION_HUB_CONNECTION_SECRET_NAME",
      });
    }
  });

export type Settings = z.infer<typeof settingsSchema>;

export interface Config {
  readonly serviceBus:
    | { readonly kind: "connectionString"; readonly connectionString: string }
    | { readonly kind: "identity"; readonly fullyQualifiedNamespace: string; readonly clientId?: string };
  readonly tables: ({ readonly kind: "connectionString"; readonly connectionString: string } | { readonly kind: "identity"; readonly endpoint: string }) & {
    readonly allowInsecure: boolean;
  };
  readonly keyVault: { readonly uri: string; readonly allowInsecure: boolean };
  readonly azureClientId?: string;
  readonly teamViewer: {
    readonly apiBaseUrl: string;
    readonly loginBaseUrl: string;
    readonly clientId: string;
    /** Present locally; in Azure the secret is read from Key Vault under `clientSecretName`. */
    readonly clientSecret?: string;
    readonly clientSecretName: string;
    readonly redirectUri: string;
    readonly timeoutMs: number;
  };
  readonly auth: { readonly issuer: string; readonly audience: string; readonly jwksUri: string };
  readonly portalUrl: string;
  readonly push:
    | { readonly kind: "local" }
    | { readonly kind: "none" }
    | { readonly kind: "notificationHubs"; readonly hubName: string; readonly connectionSecretName: string };
  readonly applicationInsightsConnectionString?: string;
  readonly limits: {
    /** Requests a minute per caller (tenant + object id), and the burst a caller may spend at once. */
    readonly callerPerMinute: number;
    readonly callerBurst: number;
    /** Requests a minute per client address without a valid token (anonymous endpoints, failed sign-ins). */
    readonly anonymousPerMinute: number;
    readonly resendMinIntervalSeconds: number;
    readonly verifyMinIntervalSeconds: number;
  };
  /** Audit push deliveries: delay before the first retry, and when to give up on an event. */
  readonly auditExport: { readonly firstRetryMs: number; readonly giveUpMs: number };
  /** Local development and tests only. */
  readonly local: { readonly pushFile?: string; readonly faultsFile?: string; readonly tracesFile?: string; readonly allowInsecureLinks: boolean };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment into the config; throws ConfigError naming every bad setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = i.path.length > 0 ? i.path.join(".") : "(settings)";
        return i.code === "invalid_type" && env[String(i.path[0])] === undefined ? `${name}: missing` : `${name}: ${i.message}`;
      }),
    );
  }
  const s = parsed.data;
  return {
    serviceBus: s.ServiceBusConnection
      ? { kind: "connectionString", connectionString: s.ServiceBusConnection }
      : {
          kind: "identity",
          fullyQualifiedNamespace: s.ServiceBusConnection__fullyQualifiedNamespace!,
          clientId: s.ServiceBusConnection__clientId,
        },
    tables: s.TABLES_CONNECTION_STRING
      ? { kind: "connectionString", connectionString: s.TABLES_CONNECTION_STRING, allowInsecure: s.TABLES_ALLOW_INSECURE }
      : { kind: "identity", endpoint: s.TABLES_ENDPOINT!, allowInsecure: s.TABLES_ALLOW_INSECURE },
    keyVault: { uri: s.KEYVAULT_URI, allowInsecure: s.KEYVAULT_ALLOW_INSECURE },
    azureClientId: s.AZURE_CLIENT_ID,
    teamViewer: {
      apiBaseUrl: s.TEAMVIEWER_API_BASE_URL.replace(/\/+$/, ""),
      loginBaseUrl: s.TEAMVIEWER_LOGIN_BASE_URL.replace(/\/+$/, ""),
      clientId: s.TEAMVIEWER_CLIENT_ID,
      clientSecret: s.TEAMVIEWER_CLIENT_SECRET,
      clientSecretName: s.TEAMVIEWER_CLIENT_SECRET_NAME,
      redirectUri: s.TEAMVIEWER_REDIRECT_URI,
      timeoutMs: s.TEAMVIEWER_TIMEOUT_MS,
    },
    auth: { issuer: s.AUTH_ISSUER, audience: s.AUTH_AUDIENCE, jwksUri: s.AUTH_JWKS_URI },
    portalUrl: s.PORTAL_URL,
    push:
      s.PUSH_GATEWAY === "notificationHubs"
        ? { kind: "notificationHubs", hubName: s.NOTIFICATION_HUB_NAME!, connectionSecretName: s.NOTIFICATION_HUB_CONNECTION_SECRET_NAME! }
        : { kind: s.PUSH_GATEWAY },
    applicationInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
    limits: {
      callerPerMinute: s.RATE_LIMIT_CALLER_PER_MINUTE,
      callerBurst: s.RATE_LIMIT_CALLER_BURST,
      anonymousPerMinute: s.RATE_LIMIT_ANONYMOUS_PER_MINUTE,
      resendMinIntervalSeconds: s.RESEND_MIN_INTERVAL_SECONDS,
      verifyMinIntervalSeconds: s.VERIFY_MIN_INTERVAL_SECONDS,
    },
    auditExport: { firstRetryMs: Math.round(s.AUDIT_EXPORT_RETRY_SECONDS * 1000), giveUpMs: Math.round(s.AUDIT_EXPORT_GIVE_UP_HOURS * 3_600_000) },
    local: { pushFile: s.LOCAL_PUSH_FILE, faultsFile: s.LOCAL_FAULTS_FILE, tracesFile: s.LOCAL_TRACES_FILE, allowInsecureLinks: s.LOCAL_ALLOW_INSECURE_LINKS },
  };
}
