// Helpers for the connector integration tests: a fresh tenant per test, the browser side of
// the TeamViewer sign-in, and direct access to the stack's Key Vault, tables and fake.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { SecretClient } from "@azure/keyvault-secrets";
import { RestError } from "@azure/core-rest-pipeline";
import { ServiceBusClient } from "@azure/service-bus";
import { expect } from "vitest";
import { TeamViewerFakeControl } from "../../local/teamviewer/control.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { KeyVaultSecretStore } from "../../shared/adapters/keyvault/secretStore.js";
import { KeyVaultTokenVault, tokenSecretName } from "../../shared/adapters/keyvault/keyVaultTokenVault.js";
import { TeamViewerClient } from "../../shared/adapters/teamviewer/teamViewerClient.js";
import { createTables, type Tables } from "../../shared/adapters/tables/tables.js";
import { TableAuditLog } from "../../shared/adapters/tables/tableAuditLog.js";
import { TableConnectorStore } from "../../shared/adapters/tables/tableConnectorStore.js";
import { TableLeaseStore } from "../../shared/adapters/tables/tableLeaseStore.js";
import { TableOAuthStateStore } from "../../shared/adapters/tables/tableOAuthStateStore.js";
import { TokenProvider, type TokenProviderOptions } from "../../shared/app/connector/tokenProvider.js";
import { systemClock, type Clock } from "../../shared/app/clock.js";
import type { AuditEvent } from "../../shared/app/audit/auditLog.js";
import type { ConnectorView } from "../../shared/contracts/connector.js";
import { api, eventually, stack, tokenFor } from "../support/api.js";

export const fake = (): TeamViewerFakeControl => new TeamViewerFakeControl(stack().teamViewerUrl);

export const secretClient = (): SecretClient =>
  new SecretClient(stack().keyVaultUrl, localDevelopmentCredential, { allowInsecureConnection: true, disableChallengeResourceVerification: true });

export const tables = (): Tables =>
  createTables({ kind: "connectionString", connectionString: stack().tablesConnectionString, allowInsecure: true }, localDevelopmentCredential);

export function teamViewerClient(options: { clock?: Clock; fetch?: typeof fetch } = {}): TeamViewerClient {
  return new TeamViewerClient({
    ...options,
    apiBaseUrl: stack().teamViewerApiBaseUrl,
    loginBaseUrl: stack().teamViewerUrl,
    clientId: "local-client-id",
    clientSecret: async () => "local-client-secret",
    redirectUri: `${stack().hostUrl}/api/connector/oauth/callback`,
    timeoutMs: 10_000,
    allowInsecureLinks: true, // the fake's links are http://127.0.0.1, as the local stack allows
  });
}

/** A token provider like one more app instance would have, against the stack's storage and fake. */
export function tokenProviderInstance(instanceId: string, options: TokenProviderOptions = {}, clock: Clock = systemClock): TokenProvider {
  const t = tables();
  return new TokenProvider(
    {
      vault: new KeyVaultTokenVault(new KeyVaultSecretStore(stack().keyVaultUrl, localDevelopmentCredential, { allowInsecure: true })),
      leases: new TableLeaseStore(t, clock),
      connectors: new TableConnectorStore(t),
      teamViewer: teamViewerClient({ clock }),
      audit: new TableAuditLog(t, clock),
      clock,
    },
    { instanceId, ...options },
  );
}

export const connectorStore = (): TableConnectorStore => new TableConnectorStore(tables());
export const oauthStateStore = (): TableOAuthStateStore => new TableOAuthStateStore(tables());

export interface TestTenant {
  readonly tenantId: string;
  /** Intune.Administrator */
  readonly admin: string;
  readonly adminId: string;
  /** RemoteAssistance.Update */
  readonly connectorAdmin: string;
  readonly connectorAdminId: string;
  /** RemoteAssistance.Request */
  readonly helpdesk: string;
}

/**
 * A tenant nobody else uses: the stack and the fake are shared by every test. Its TeamViewer
 * quota is the highest there is (600 calls a minute) unless the test says otherwise, so only
 * the tests about the quota wait for it.
 */
export async function newTenant(options: { allowUnlicensedAdmins?: boolean; teamViewerCallsPerMinute?: number } = {}): Promise<TestTenant> {
  const tenantId = randomUUID();
  const person = async (key: string, name: string, roles: string[]): Promise<{ token: string; id: string }> => {
    const id = randomUUID();
    const token = await tokenFor({ tid: tenantId, oid: id, name, preferred_username: `${key}@${tenantId.slice(0, 8)}.example`, roles, groups: [] });
    return { token, id };
  };
  const [admin, connectorAdmin, helpdesk] = await Promise.all([
    person("admin", "Tenant Admin", ["Intune.Administrator"]),
    person("connector", "Connector Admin", ["RemoteAssistance.Update"]),
    person("helpdesk", "Help Desk", ["RemoteAssistance.Request"]),
  ]);
  const settings = {
    ...((options.allowUnlicensedAdmins ?? true) ? { allowUnlicensedAdmins: true } : {}),
    teamViewerCallsPerMinute: options.teamViewerCallsPerMinute ?? 600,
  };
  const res = await api("/settings", { method: "PATCH", token: admin.token, body: settings });
  expect(res.status, res.text).toBe(200);
  return {
    tenantId,
    admin: admin.token,
    adminId: admin.id,
    connectorAdmin: connectorAdmin.token,
    connectorAdminId: connectorAdmin.id,
    helpdesk: helpdesk.token,
  };
}

export async function connect(token: string): Promise<{ authorizeUrl: string; expiresAt: string; state: string }> {
  const res = await api<{ authorizeUrl: string; onboardingStatus: string; expiresAt: string }>("/connector/connect", {
    method: "POST",
    token,
    body: { acceptLicenseAgreement: true },
  });
  expect(res.status, res.text).toBe(200);
  expect(res.body.onboardingStatus).toBe("onboarding");
  const state = new URL(res.body.authorizeUrl).searchParams.get("state");
  expect(state).toBeTruthy();
  return { authorizeUrl: res.body.authorizeUrl, expiresAt: res.body.expiresAt, state: state! };
}

const htmlDecode = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

const attribute = (tag: string, name: string): string | undefined => {
  const m = new RegExp(`\\s${name}="([^"]*)"`, "i").exec(tag);
  return m ? htmlDecode(m[1]) : undefined;
};

/**
 * The admin's browser at TeamViewer: GET the sign-in page, read its form (action, hidden
 * fields, the chosen button), submit it, and answer where TeamViewer redirects to.
 */
export async function signInAtTeamViewer(authorizeUrl: string, decision: "allow" | "deny"): Promise<URL> {
  const page = await fetch(authorizeUrl, { redirect: "manual" });
  expect(page.status).toBe(200);
  const html = await page.text();
  const form = /<form\b[^>]*>[\s\S]*?<\/form>/i.exec(html)?.[0];
  if (!form) throw new Error("the TeamViewer sign-in page has no form");
  const open = /<form\b[^>]*>/i.exec(form)![0];
  const fields = new URLSearchParams();
  for (const input of form.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attribute(input, "name");
    if (name !== undefined && attribute(input, "type") === "hidden") fields.append(name, attribute(input, "value") ?? "");
  }
  const button = [...form.matchAll(/<button\b[^>]*>/gi)].map((m) => m[0]).find((tag) => attribute(tag, "id") === decision);
  if (!button) throw new Error(`the TeamViewer sign-in page has no ${decision} button`);
  fields.set(attribute(button, "name")!, attribute(button, "value")!);
  const action = new URL(attribute(open, "action") ?? "", authorizeUrl);
  const res = await fetch(action, {
    method: (attribute(open, "method") ?? "get").toUpperCase(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: fields.toString(),
    redirect: "manual",
  });
  expect(res.status).toBe(302);
  return new URL(res.headers.get("location")!);
}

/** The browser following TeamViewer's redirect to the app's callback (no auto-redirect). */
export async function followToCallback(location: URL): Promise<Response> {
  expect(location.pathname).toBe("/api/connector/oauth/callback");
  return fetch(location, { redirect: "manual" });
}

export const getConnector = async (token: string): Promise<ConnectorView> => {
  const res = await api<ConnectorView>("/connector", { token });
  expect(res.status, res.text).toBe(200);
  return res.body;
};

export async function eventuallyConnector(token: string, accept: (c: ConnectorView) => boolean, what: string): Promise<ConnectorView> {
  return eventually(
    async () => {
      const c = await getConnector(token);
      return accept(c) ? c : undefined;
    },
    30_000,
    what,
  );
}

/** Connect, allow at TeamViewer, follow the redirect: the whole browser journey, up to onboarded. */
export async function onboard(tenant: TestTenant): Promise<ConnectorView> {
  const { authorizeUrl } = await connect(tenant.connectorAdmin);
  const callback = await followToCallback(await signInAtTeamViewer(authorizeUrl, "allow"));
  expect(callback.status).toBe(302);
  return eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "the connector to be onboarded");
}

/**
 * The fake's grant (sign-in) behind the tenant's stored token: one GET /ping with that token
 * and a query nobody else sends, looked up in the fake's call log. Timers of other tenants
 * call TeamViewer at any time, so "the grant seen during onboarding" is not reliable.
 */
export async function grantOf(tenantId: string): Promise<string> {
  const stored = await storedTokenValue(tenantId);
  if (!stored) throw new Error(`tenant ${tenantId} has no stored TeamViewer token`);
  const { accessToken } = JSON.parse(stored.value) as { accessToken: string };
  const probe = randomUUID();
  const res = await fetch(`${stack().teamViewerApiBaseUrl}/ping?probe=${probe}`, { headers: { authorization: `Bearer ${accessToken}` } });
  await res.text();
  const call = (await fake().calls()).find((c) => c.query?.includes(probe));
  if (!call?.grantId) throw new Error(`the fake recorded no grant for tenant ${tenantId}'s token`);
  return call.grantId;
}

export async function storedTokenValue(tenantId: string): Promise<{ value: string; contentType?: string } | undefined> {
  try {
    const s = await secretClient().getSecret(tokenSecretName(tenantId));
    return { value: s.value ?? "", contentType: s.properties.contentType };
  } catch (e) {
    if (e instanceof RestError && e.statusCode === 404) return undefined;
    throw e;
  }
}

export async function auditEvents(token: string, activity?: string): Promise<AuditEvent[]> {
  const res = await api<{ value: AuditEvent[] }>(`/auditEvents?top=200${activity ? `&activity=${encodeURIComponent(activity)}` : ""}`, { token });
  expect(res.status, res.text).toBe(200);
  return res.body.value;
}

export const hostLog = (): string => {
  const file = stack().hostLogFile;
  return file ? readFileSync(file, "utf8") : "";
};

/** Puts a message on a queue the way another producer would, with the real SDK. */
export async function sendToQueue(queue: string, body: { id: string; type: string }): Promise<void> {
  const client = new ServiceBusClient(stack().serviceBusConnectionString);
  try {
    const sender = client.createSender(queue);
    await sender.sendMessages({ messageId: body.id, body, contentType: "application/json", subject: body.type });
    await sender.close();
  } finally {
    await client.close();
  }
}

/** Asserts none of the given secrets appears in any of the texts. */
export function expectNoSecrets(texts: Record<string, string>, secrets: readonly string[]): void {
  for (const [where, text] of Object.entries(texts)) {
    for (const secret of secrets) {
      if (secret.length < 8) continue;
      expect(text.includes(secret), `a secret appears in ${where}`).toBe(false);
    }
  }
}
