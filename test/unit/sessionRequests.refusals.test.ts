// Session requests at their ports, in memory: every entry point (an admin over HTTP, an
// app at the automation door, a producer's event on the queue) builds one command and
// takes the one path, `SessionRequests.request`; a refusal is a result, and on the queue
// `recordRefusal` keeps it as a failed session. The fakes are local and minimal: only
// what a request touches (create with its dedupe key and device lock, get).
import { describe, expect, it } from "vitest";
import { Access } from "../../shared/app/access.js";
import type { AuditEventInput, AuditLog } from "../../shared/app/audit/auditLog.js";
import type { RoleAssignmentStore, SettingsStore } from "../../shared/app/admin/ports.js";
import type { Clock } from "../../shared/app/clock.js";
import { createLogger } from "../../shared/app/logging.js";
import type { OutgoingMessage } from "../../shared/app/messageBus.js";
import { Idempotency } from "../../shared/app/sessions/idempotency.js";
import type { CreateSessionResult, IdempotencyRecord, IdempotencyStore, OutboxEntry, SessionStore, StoredSession } from "../../shared/app/sessions/ports.js";
import { SessionRequests, type SessionRequestCommand, type SessionRequestResult } from "../../shared/app/sessions/sessionRequests.js";
import { SessionWriter } from "../../shared/app/sessions/sessionWriter.js";
import type { AutomationCaller, UserCaller } from "../../shared/domain/caller.js";
import type { Device } from "../../shared/domain/device.js";
import type { RoleAssignment } from "../../shared/domain/permissions.js";
import type { Session } from "../../shared/domain/session.js";
import { isOpen } from "../../shared/domain/sessionState.js";
import { defaultTenantSettings, type TenantSettings } from "../../shared/domain/tenantSettings.js";

const tenantId = "t1";
const log = createLogger(() => undefined);
const unused = (): never => {
  throw new Error("not used by session requests");
};

/** Sessions by id, one dedupe key → session, and one open session per device (the lock). */
class FakeSessionStore implements SessionStore {
  readonly sessions = new Map<string, Session>();
  readonly #dedupe = new Map<string, string>();

  async create(session: Session, _outbox: readonly OutboxEntry[], options: { readonly dedupeKey?: string } = {}): Promise<CreateSessionResult> {
    const key = options.dedupeKey;
    const earlier = key === undefined ? undefined : this.#dedupe.get(key);
    if (earlier !== undefined) return { created: false, reason: "duplicate", existingSessionId: earlier };
    const holder = [...this.sessions.values()].find((s) => s.deviceId === session.deviceId && isOpen(s.status));
    if (holder && isOpen(session.status)) return { created: false, reason: "deviceBusy", existingSessionId: holder.id };
    this.sessions.set(session.id, session);
    if (key !== undefined) this.#dedupe.set(key, session.id);
    return { created: true, stored: { session, etag: "1" } };
  }
  async get(_tenantId: string, sessionId: string): Promise<StoredSession | undefined> {
    const session = this.sessions.get(sessionId);
    return session ? { session, etag: "1" } : undefined;
  }
  findByTeamViewerCode = unused;
  update = unused;
  openOfDevice = unused;
  list = unused;
  requestedBetween = unused;
  listDue = unused;
  listOpenPage = unused;
  deleteOutbox = async (): Promise<void> => undefined;
  listOutbox = unused;
  listTenants = unused;
}

class FakeIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<string, { record: IdempotencyRecord; etag: string }>();
  #etags = 0;
  async tryCreate(_t: string, key: string, record: IdempotencyRecord): Promise<string | undefined> {
    if (this.#records.has(key)) return undefined;
    const etag = String(++this.#etags);
    this.#records.set(key, { record, etag });
    return etag;
  }
  async get(_t: string, key: string) {
    return this.#records.get(key);
  }
  async replace(_t: string, key: string, record: IdempotencyRecord, etag: string): Promise<string | undefined> {
    if (this.#records.get(key)?.etag !== etag) return undefined;
    const next = String(++this.#etags);
    this.#records.set(key, { record, etag: next });
    return next;
  }
  async delete(_t: string, key: string): Promise<void> {
    this.#records.delete(key);
  }
  purgeExpired = unused;
}

const device = (over: Partial<Device> = {}): Device => ({
  tenantId,
  id: "d1",
  deviceName: "DIEGO-LAPTOP",
  operatingSystem: "Windows",
  osVersion: "10.0.26100",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  userId: "u1",
  userDisplayName: "Diego Siciliani",
  roleScopeTagIds: ["0"],
  removed: false,
  updatedAt: "2026-11-20T08:00:00.000Z",
  ...over,
});

const admin: UserCaller = { type: "user", tenantId, userId: "admin-1", displayName: "Adele Vance", roles: ["RemoteAssistance.Request"], groups: [] };
const app: AutomationCaller = {
  type: "automation",
  tenantId,
  userId: "app-1",
  displayName: "Help desk tool",
  clientId: "client-1",
  roles: ["RemoteAssistance.Automation"],
};

/** The use case over fakes, with the world as a test sets it up. */
function world(setup: { devices?: Device[]; onboarded?: boolean; settings?: Partial<TenantSettings>; assignments?: RoleAssignment[] } = {}) {
  const store = new FakeSessionStore();
  const audit: AuditEventInput[] = [];
  const sent: OutgoingMessage[] = [];
  const clock: Clock = { now: () => new Date("2026-11-23T10:00:00.000Z") };
  const devices = new Map((setup.devices ?? [device()]).map((d) => [d.id, d]));
  const settings: SettingsStore = { get: async () => ({ ...defaultTenantSettings, ...setup.settings }), update: unused };
  const assignments: RoleAssignmentStore = { list: async () => setup.assignments ?? [], get: unused, put: unused, delete: unused };
  const auditLog: AuditLog = { record: async (e) => void audit.push(e), query: unused };
  const requests = new SessionRequests({
    writer: new SessionWriter({
      store,
      bus: { send: async (m) => void sent.push(m), ping: unused, close: unused },
      clock,
    }),
    devices: { get: async (_t, id) => devices.get(id) },
    connector: { isOnboarded: async () => setup.onboarded ?? true },
    settings,
    access: new Access(assignments, { get: async () => undefined }),
    idempotency: new Idempotency({ store: new FakeIdempotencyStore(), clock, log }),
    audit: auditLog,
    clock,
    createLeaseMs: 50_000,
  });
  return { requests, store, audit, sent };
}

const byUser = (over: Partial<SessionRequestCommand & { source: "user" }> = {}): SessionRequestCommand => ({
  source: "user",
  caller: admin,
  tenantId,
  deviceId: "d1",
  ...over,
});
const byApp = (over: Partial<SessionRequestCommand & { source: "app" }> = {}): SessionRequestCommand => ({
  source: "app",
  caller: app,
  tenantId,
  eventId: "e1",
  deviceId: "d1",
  ...over,
});
const queued = (over: Partial<SessionRequestCommand & { source: "queue" }> = {}) =>
  ({ source: "queue", requestedBy: { id: "app-1", displayName: "Help desk tool" }, tenantId, eventId: "e1", deviceId: "d1", ...over }) as const;

function refusalOf(result: SessionRequestResult) {
  if (result.ok) throw new Error(`expected a refusal, got session ${result.session.id}`);
  return result.refusal;
}

function sessionOf(result: SessionRequestResult): Session {
  if (!result.ok) throw new Error(`expected a session, got ${result.refusal.error.code}`);
  return result.session;
}

describe("a session request refused", () => {
  it("when the connector is not onboarded: connectorNotOnboarded, audited, nothing written", async () => {
    // Prepare
    const w = world({ onboarded: false });
    // Act
    const refusal = refusalOf(await w.requests.request(byUser(), { log }));
    // Assess
    expect(refusal.error.code).toBe("connectorNotOnboarded");
    expect(refusal.failure?.code).toBe("connectorNotOnboarded");
    expect(w.store.sessions.size).toBe(0);
    expect(w.sent).toEqual([]);
    expect(w.audit).toEqual([expect.objectContaining({ activity: "session.requested", result: "failure", target: { type: "device", id: "d1" } })]);
  });

  it("when the device is not eligible: deviceNotEligible with its reason", async () => {
    // Prepare
    const w = world({ devices: [device({ managedDeviceOwnerType: "company" })] });
    // Act
    const refusal = refusalOf(await w.requests.request(byUser(), { log }));
    // Assess
    expect(refusal.error.code).toBe("deviceNotEligible");
    expect(refusal.error.extensions).toEqual({ reason: "organizationOwned" });
    expect(w.store.sessions.size).toBe(0);
  });

  it("when the device is outside the requester's scope: forbidden, and no failed session to record", async () => {
    // Prepare: the app may read every device tagged 0 or 7, but request only for tag 7.
    const w = world({
      assignments: [
        { id: "a1", principalId: "app-1", principalType: "user", permission: "RemoteAssistance.Request", scopeTags: ["7"] },
        { id: "a2", principalId: "app-1", principalType: "user", permission: "RemoteAssistance.Update", scopeTags: ["0"] },
      ],
    });
    // Act
    const refusal = refusalOf(await w.requests.request(byApp(), { log }));
    // Assess
    expect(refusal.error.code).toBe("forbidden");
    expect(refusal.error.detail).toContain("this app's");
    expect(refusal.failure).toBeUndefined();
  });

  it("when the device is busy: conflict naming the open session (existingSessionId)", async () => {
    // Prepare
    const w = world();
    const first = sessionOf(await w.requests.request(byUser(), { log }));
    // Act
    const refusal = refusalOf(await w.requests.request(byUser(), { log }));
    // Assess
    expect(refusal.error.code).toBe("conflict");
    expect(refusal.existingSessionId).toBe(first.id);
    expect(refusal.error.extensions).toEqual({ existingSessionId: first.id });
    expect(w.store.sessions.size).toBe(1);
  });
});

describe("a session request granted", () => {
  it("writes the session and sends session.create, audited as requested", async () => {
    // Act
    const w = world();
    const session = sessionOf(await w.requests.request(byUser({ description: "  Outlook crashes " }), { log }));
    // Assess
    expect(session).toMatchObject({ status: "requested", deviceId: "d1", description: "Outlook crashes", requestedBy: { id: "admin-1", type: "user" } });
    expect(w.sent.map((m) => m.type)).toEqual(["session.create"]);
    expect(w.audit).toEqual([expect.objectContaining({ result: "success", detail: "requested for device DIEGO-LAPTOP (d1)" })]);
  });

  it("waits for approval when the device carries an approval scope tag: pendingApproval, nothing sent yet", async () => {
    // Act
    const w = world({ settings: { approvalRequiredScopeTags: ["0"] } });
    const session = sessionOf(await w.requests.request(byUser(), { log }));
    // Assess
    expect(session.status).toBe("pendingApproval");
    expect(session.approval?.required).toBe(true);
    expect(w.sent).toEqual([]);
  });

  it("answers the same session for the same Idempotency-Key, and forgets a key whose request was refused", async () => {
    // Prepare
    const w = world({ settings: { requireTicketId: true } });
    // Act
    const refused = refusalOf(await w.requests.request(byUser({ idempotencyKey: "k1" }), { log }));
    const first = await w.requests.request(byUser({ idempotencyKey: "k2", ticketId: "INC-1" }), { log });
    const again = await w.requests.request(byUser({ idempotencyKey: "k2", ticketId: "INC-1" }), { log });
    const otherBody = refusalOf(await w.requests.request(byUser({ idempotencyKey: "k2", ticketId: "INC-2" }), { log }));
    // Assess
    expect(refused.error.code).toBe("validationFailed");
    expect(sessionOf(again).id).toBe(sessionOf(first).id);
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(otherBody.error.code).toBe("conflict");
  });
});

describe("every entry point takes the same path", () => {
  it("the same device and world refuse the same way for a user, an app and a queued event", async () => {
    // Prepare
    const commands = [byUser(), byApp(), queued()];
    // Act
    const refusals = await Promise.all(commands.map(async (c) => refusalOf(await world({ onboarded: false }).requests.request(c, { log }))));
    // Assess
    expect(refusals.map((r) => r.error.code)).toEqual(["connectorNotOnboarded", "connectorNotOnboarded", "connectorNotOnboarded"]);
  });

  it("the door and the queue share the event id: the same id is one session", async () => {
    // Prepare
    const w = world();
    const viaDoor = sessionOf(await w.requests.request(byApp(), { log }));
    // Act
    const viaQueue = await w.requests.request(queued(), { log });
    // Assess
    expect(viaQueue).toMatchObject({ ok: true, replayed: true });
    expect(sessionOf(viaQueue).id).toBe(viaDoor.id);
  });

  it("the door refuses an event id reused for another device", async () => {
    // Prepare
    const w = world({ devices: [device(), device({ id: "d2" })] });
    await w.requests.request(byApp(), { log });
    // Act
    const refusal = refusalOf(await w.requests.request(byApp({ deviceId: "d2" }), { log }));
    // Assess
    expect(refusal.error.code).toBe("conflict");
  });
});

describe("a queued request's refusal", () => {
  it("is not audited by the request but recorded as a failed session, once per event id", async () => {
    // Prepare
    const w = world({ devices: [] });
    const command = queued();
    const refusal = refusalOf(await w.requests.request(command, { log }));
    expect(w.audit).toEqual([]);
    // Act
    const failed = await w.requests.recordRefusal(command, refusal, { log });
    const redelivered = await w.requests.recordRefusal(command, refusalOf(await w.requests.request(command, { log })), { log });
    // Assess
    expect(failed).toMatchObject({ status: "failed", failure: { code: "deviceNotFound" } });
    expect(redelivered?.id).toBe(failed?.id);
    expect(w.store.sessions.size).toBe(1);
    expect(w.audit).toEqual([expect.objectContaining({ result: "failure", target: { type: "session", id: failed?.id } })]);
  });

  it("for a busy device is a failed session naming the open one, audited against the device", async () => {
    // Prepare
    const w = world();
    const open = sessionOf(await w.requests.request(byUser(), { log }));
    const command = queued();
    // Act
    const refusal = refusalOf(await w.requests.request(command, { log }));
    const failed = await w.requests.recordRefusal(command, refusal, { log });
    // Assess
    expect(failed).toMatchObject({ status: "failed", failure: { code: "deviceHasOpenSession" } });
    expect(failed?.failure?.message).toContain(open.id);
    expect(w.audit.at(-1)).toMatchObject({ result: "failure", target: { type: "device", id: "d1" } });
  });

  it("outside the named principal's scope is an audited refusal with no session", async () => {
    // Prepare
    const w = world({ assignments: [{ id: "a1", principalId: "app-1", principalType: "user", permission: "RemoteAssistance.Request", scopeTags: ["7"] }] });
    const command = queued();
    // Act
    const refusal = refusalOf(await w.requests.request(command, { log }));
    const recorded = await w.requests.recordRefusal(command, refusal, { log });
    // Assess
    expect(recorded).toBeUndefined();
    expect(w.store.sessions.size).toBe(0);
    expect(w.audit).toEqual([expect.objectContaining({ result: "failure", target: { type: "device", id: "d1" } })]);
  });
});
