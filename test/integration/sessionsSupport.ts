// Helpers for the session integration tests: devices through automation events, session
// requests and polling, the local push record, the fault-point file, running a timer now,
// and the TeamViewer fake's view of a session.
import { randomUUID } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ServiceBusClient, type ServiceBusMessage } from "@azure/service-bus";
import { expect } from "vitest";
import type { FakeSession } from "../../local/teamviewer/control.js";
import { parsePushFile, type RecordedPush } from "../../shared/adapters/push/localPushGateway.js";
import type { SessionResource } from "../../shared/contracts/sessions.js";
import { api, eventually, stack, type ApiResponse } from "../support/api.js";
import { fake } from "./connectorSupport.js";

export interface Envelope {
  readonly type: string;
  readonly version: 1;
  readonly id: string;
  readonly tenantId: string;
  readonly occurredAt: string;
  readonly data: Record<string, unknown>;
}

export const envelope = (type: string, tenantId: string, data: Record<string, unknown>): Envelope => ({
  type,
  version: 1,
  id: randomUUID(),
  tenantId,
  occurredAt: new Date().toISOString(),
  data,
});

/** A personal Windows device with a primary user: eligible, notified in the Company Portal. */
export const managedDevice = (overrides: Record<string, unknown> = {}): Record<string, unknown> & { id: string } => ({
  id: randomUUID(),
  deviceName: `PC-${randomUUID().slice(0, 8).toUpperCase()}`,
  operatingSystem: "Windows",
  osVersion: "10.0.26100.2314",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  deviceType: "windowsRT",
  userId: randomUUID(),
  userPrincipalName: "user@tenant.example",
  userDisplayName: "Device User",
  emailAddress: "user@tenant.example",
  roleScopeTagIds: ["0"],
  lastSyncDateTime: "2026-11-20T08:00:00Z",
  ...overrides,
});

/** Sends events to automation-events with the real SDK, in batches, as an inventory sync or help-desk tool would. */
export async function sendAutomationEvents(events: readonly Envelope[], messageIdOf: (e: Envelope) => string = (e) => e.id): Promise<void> {
  const client = new ServiceBusClient(stack().serviceBusConnectionString);
  try {
    const sender = client.createSender("automation-events");
    let batch = await sender.createMessageBatch();
    for (const e of events) {
      const m: ServiceBusMessage = { messageId: messageIdOf(e), body: e, contentType: "application/json", subject: e.type };
      if (!batch.tryAddMessage(m)) {
        await sender.sendMessages(batch);
        batch = await sender.createMessageBatch();
        if (!batch.tryAddMessage(m)) throw new Error("an event does not fit in an empty batch");
      }
    }
    if (batch.count > 0) await sender.sendMessages(batch);
    await sender.close();
  } finally {
    await client.close();
  }
}

/** Upserts devices into a tenant and waits until the API shows every one of them. */
export async function createDevices(tenantId: string, token: string, devices: readonly Record<string, unknown>[]): Promise<void> {
  await sendAutomationEvents(devices.map((d) => envelope("device.upserted", tenantId, d)));
  const pending = new Set(devices.map((d) => String(d.id)));
  await eventually(
    async () => {
      await Promise.all(
        [...pending].slice(0, 50).map(async (id) => {
          const res = await api(`/devices/${id}`, { token });
          if (res.status === 200) pending.delete(id);
        }),
      );
      return pending.size === 0 ? true : undefined;
    },
    120_000,
    `${devices.length} devices to be stored`,
  );
}

export const requestSession = (
  token: string,
  deviceId: string,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<ApiResponse<SessionResource & { code?: string; reason?: string }>> =>
  api<SessionResource & { code?: string; reason?: string }>(`/devices/${deviceId}/remoteAssistanceSessions`, { method: "POST", token, body, headers });

export const getSession = (token: string, id: string): Promise<ApiResponse<SessionResource & { code?: string }>> =>
  api<SessionResource & { code?: string }>(`/sessions/${id}`, { token });

export async function eventuallySession(
  token: string,
  id: string,
  accept: (s: SessionResource) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<SessionResource> {
  return eventually(
    async () => {
      const res = await getSession(token, id);
      if (res.status !== 200) throw new Error(`GET /sessions/${id} answered ${res.status}: ${res.text}`);
      return accept(res.body) ? res.body : undefined;
    },
    timeoutMs,
    what,
  );
}

/** Every session the caller can see matching a query, following continuation tokens. */
export async function listSessions(token: string, query = ""): Promise<SessionResource[]> {
  const out: SessionResource[] = [];
  let next: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await api<{ value: SessionResource[]; continuationToken?: string }>(
      `/sessions?top=100${query}${next ? `&continuationToken=${encodeURIComponent(next)}` : ""}`,
      { token },
    );
    expect(res.status, res.text).toBe(200);
    out.push(...res.body.value);
    next = res.body.continuationToken;
    if (!next) return out;
  }
  throw new Error("more than 1000 pages of sessions");
}

/** Waits until the caller sees exactly `count` sessions, all awaiting the end user; a failed one ends the wait with its reason. */
export function allAwaitingEndUser(token: string, count: number, timeoutMs: number): Promise<SessionResource[]> {
  return eventually(
    async () => {
      const sessions = await listSessions(token);
      const failed = sessions.filter((s) => s.status === "failed");
      if (failed.length > 0) throw new Error(`sessions failed: ${failed.map((s) => `${s.id} ${s.failure?.code}: ${s.failure?.message}`).join("; ")}`);
      return sessions.length === count && sessions.every((s) => s.status === "awaitingEndUser") ? sessions : undefined;
    },
    timeoutMs,
    `all ${count} sessions to await the end user`,
  );
}

/** What the local push gateway recorded (LOCAL_PUSH_FILE in the stack's data dir). */
export function pushes(): RecordedPush[] {
  try {
    return parsePushFile(readFileSync(join(stack().dataDir, "pushes.jsonl"), "utf8"));
  } catch {
    return [];
  }
}

const faultsFile = (): string => join(stack().dataDir, "faults.json");

/** Arms fault points in the app (LOCAL_FAULTS_FILE): crash handlers at named points. */
export function setFaultPoints(rules: Record<string, { rate: number; tenantId?: string; sessionId?: string; max?: number }>): void {
  writeFileSync(faultsFile(), JSON.stringify(rules));
}

export function clearFaultPoints(): void {
  rmSync(faultsFile(), { force: true });
}

/** Runs a timer (or queue) function now, through the local host's admin API, as `func` allows in Azure. */
export async function runFunctionNow(name: string): Promise<void> {
  const res = await fetch(`${stack().hostUrl}/admin/functions/${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  expect(res.status, await res.text()).toBe(202);
}

/** The fake's session carrying this session id in custom_api (exactly one expected). */
export async function teamViewerSessionsFor(sessionId: string): Promise<FakeSession[]> {
  return (await fake().sessions()).filter((s) => s.custom_api === sessionId);
}

/** PUT /sessions/{code} calls the fake answered 204: closes this service asked for. */
export async function closeCallsFor(code: string): Promise<number> {
  return (await fake().calls()).filter((c) => c.method === "PUT" && c.path.toLowerCase().endsWith(`/sessions/${code}`) && c.status === 204 && !c.fault).length;
}

/**
 * Closes every open session of a device (a device has at most one): for tests that use one
 * device for several stories in turn.
 */
export async function closeOpenSessions(token: string, deviceId: string): Promise<void> {
  const open = (await listSessions(token, `&deviceId=${deviceId}`)).filter((s) =>
    ["pendingApproval", "requested", "awaitingEndUser", "accepted"].includes(s.status),
  );
  for (const s of open) {
    const res = await api(`/sessions/${s.id}/close`, { method: "POST", token });
    expect([202, 409], res.text).toContain(res.status);
  }
}
