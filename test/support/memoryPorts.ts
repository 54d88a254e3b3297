// In-memory implementations of the ports the sessions area uses, for use-case tests that
// run in milliseconds (the Powertools `PersistenceLayerTestClass` pattern). They keep the
// Table adapters' concurrency contract, not just their shape:
// - every stored row has an etag, and a write guarded by a stale etag loses exactly as the
//   adapter reports a 412: `update`/`replace` answer undefined, `tryCreate` answers
//   undefined for a key that exists (409);
// - what the adapter lets through it throws here too, as the same `RestError` (404 for an
//   etag-guarded update of a row that is gone, 409 for a transaction that creates a row
//   that exists, e.g. an outbox entry under an id already used);
// - rows are stored as JSON copies, so a test cannot change stored state by reference.
import type { ConnectorStore, OAuthStateRecord, OAuthStateStatus, OAuthStateStore, StoredToken, TokenVault } from "../../shared/app/connector/ports.js";
import { initialConnectorState, onboardingStatuses, type ConnectorState } from "../../shared/domain/connector.js";
import type { SecretStore } from "../../shared/adapters/keyvault/secretStore.js";
import { RestError } from "@azure/data-tables";
import type { Clock } from "../../shared/app/clock.js";
import type { AuditEvent, AuditEventInput, AuditLog, AuditQuery } from "../../shared/app/audit/auditLog.js";
import { createLogger, type LogLevel, type Logger } from "../../shared/app/logging.js";
import type { MessageBus, OutgoingMessage } from "../../shared/app/messageBus.js";
import type { TeamViewerByTenant, TenantTeamViewer } from "../../shared/app/quota/teamViewerQuota.js";
import type { ConnectionReportPage } from "../../shared/app/sessions/connectionPorts.js";
import {
  SimulatedCrash,
  type CreateSessionResult,
  type FaultPointContext,
  type FaultPointName,
  type FaultPoints,
  type IdempotencyRecord,
  type IdempotencyStore,
  inboxEntryOf,
  type InboxEntry,
  type InboxStore,
  type NewTeamViewerSession,
  type OpenSessionsPage,
  type OutboxPage,
  type RowsPage,
  type OutboxEntry,
  type PushGateway,
  type PushNotification,
  type SessionListQuery,
  type SessionStore,
  type StoredSession,
  type TeamViewerSessionInfo,
  type TeamViewerTokens,
} from "../../shared/app/sessions/ports.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { DomainError, errorCodes } from "../../shared/domain/errors.js";
import type { Session } from "../../shared/domain/session.js";
import { isOpen } from "../../shared/domain/sessionState.js";
import { normalizeSessionCode } from "../../shared/domain/sessionConnections.js";

// ------------------------------------------------------------------ time, etags, logs

/** A clock that moves only when the test moves it. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start: Date | string = "2026-11-23T10:00:00.000Z") {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  advance(ms: number): Date {
    this.#now += ms;
    return this.now();
  }

  set(at: Date | string): Date {
    this.#now = new Date(at).getTime();
    return this.now();
  }
}

let etagCounter = 0;
/** A fresh etag, shaped like Table storage's weak etags. */
const nextEtag = (): string => `W/"mem-${++etagCounter}"`;

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The errors Table storage answers with, as the SDK raises them. */
export const tableErrors = {
  notFound: (): RestError => new RestError("The specified resource does not exist.", { statusCode: 404, code: "ResourceNotFound" }),
  exists: (): RestError => new RestError("The specified entity already exists.", { statusCode: 409, code: "EntityAlreadyExists" }),
} as const;

/** A Logger that keeps its lines, so a test can assert what was logged (after redaction). */
export function recordingLogger(): { readonly log: Logger; readonly lines: { level: LogLevel; line: string }[] } {
  const lines: { level: LogLevel; line: string }[] = [];
  return { log: createLogger((level, line) => lines.push({ level, line })), lines };
}

// ------------------------------------------------------------------ sessions

/** A session's open-index deadline, as the Table store keys it (accepted sessions have none). */
function deadlineOf(s: Session): number | undefined {
  if (!isOpen(s.status)) return undefined;
  return s.status === "accepted" ? Number.POSITIVE_INFINITY : Date.parse(s.expiresAt);
}

interface SessionRow {
  readonly session: Session;
  readonly etag: string;
}

/** The sessions table of one process: sessions, their outbox rows, dedupe keys, device locks and code pointers. */
export class MemorySessionStore implements SessionStore {
  readonly #rows = new Map<string, SessionRow>();
  readonly #outbox = new Map<string, OutboxEntry>();
  readonly #dedupe = new Map<string, string>();
  /** `tenant|device` → the session holding the device's lock. */
  readonly #locks = new Map<string, string>();
  readonly #codes = new Map<string, string>();
  readonly #tenants = new Set<string>();
  #beforeUpdate: ((current: StoredSession, next: Session) => Promise<void>) | undefined;

  /** `inbox`: the end users' inboxes this store keeps with the sessions' statuses (SessionStore.update). */
  constructor(readonly inbox?: MemoryInboxStore) {}

  /**
   * Runs `fn` once, right before the next `update` is applied: the place to let "someone
   * else" write first, so the update finds its etag stale.
   */
  beforeNextUpdate(fn: (current: StoredSession, next: Session) => Promise<void>): void {
    this.#beforeUpdate = fn;
  }

  /** The stored session, without its etag (test assertions). */
  peek(tenantId: string, sessionId: string): Session | undefined {
    const row = this.#rows.get(key(tenantId, sessionId));
    return row ? copy(row.session) : undefined;
  }

  /** The tenant's outbox rows (messages not yet known to be sent). */
  outbox(tenantId: string): OutboxEntry[] {
    return [...this.#outbox.entries()].filter(([k]) => k.startsWith(`${tenantId}|`)).map(([, v]) => copy(v));
  }

  async create(session: Session, outbox: readonly OutboxEntry[], options: { readonly dedupeKey?: string } = {}): Promise<CreateSessionResult> {
    await Promise.resolve();
    const t = session.tenantId;
    this.#tenants.add(t);
    const dedupe = options.dedupeKey === undefined ? undefined : this.#dedupe.get(key(t, options.dedupeKey));
    if (dedupe) return { created: false, reason: "duplicate", existingSessionId: dedupe };
    const lockKey = key(t, session.deviceId);
    if (deadlineOf(session) !== undefined) {
      const holder = this.#locks.get(lockKey);
      const held = holder && holder !== session.id ? this.#rows.get(key(t, holder)) : undefined;
      if (held && isOpen(held.session.status)) return { created: false, reason: "deviceBusy", existingSessionId: holder! };
    }
    // One transaction: any row that exists already fails all of it.
    if (this.#rows.has(key(t, session.id)) || outbox.some((o) => this.#outbox.has(key(t, o.id)))) throw tableErrors.exists();
    const etag = nextEtag();
    this.#rows.set(key(t, session.id), { session: copy(session), etag });
    for (const o of outbox) this.#outbox.set(key(t, o.id), copy(o));
    if (options.dedupeKey !== undefined) this.#dedupe.set(key(t, options.dedupeKey), session.id);
    if (deadlineOf(session) !== undefined) this.#locks.set(lockKey, session.id);
    this.#indexCode(session);
    return { created: true, stored: { session: copy(session), etag } };
  }

  async get(tenantId: string, sessionId: string): Promise<StoredSession | undefined> {
    await Promise.resolve();
    const row = this.#rows.get(key(tenantId, sessionId));
    return row ? { session: copy(row.session), etag: row.etag } : undefined;
  }

  async findByTeamViewerCode(tenantId: string, code: string): Promise<StoredSession | undefined> {
    const id = this.#codes.get(key(tenantId, normalizeSessionCode(code)));
    return id ? this.get(tenantId, id) : undefined;
  }

  async update(current: StoredSession, next: Session, outbox: readonly OutboxEntry[] = [], consumed?: string): Promise<StoredSession | undefined> {
    const hook = this.#beforeUpdate;
    this.#beforeUpdate = undefined;
    if (hook) await hook(current, next);
    await Promise.resolve();
    const t = next.tenantId;
    const row = this.#rows.get(key(t, next.id));
    if (!row) throw tableErrors.notFound();
    if (row.etag !== current.etag) return undefined; // 412: someone wrote since `current` was read
    if (outbox.some((o) => this.#outbox.has(key(t, o.id)))) throw tableErrors.exists();
    const etag = nextEtag();
    this.#rows.set(key(t, next.id), { session: copy(next), etag });
    for (const o of outbox) this.#outbox.set(key(t, o.id), copy(o));
    if (deadlineOf(current.session) !== undefined && deadlineOf(next) === undefined && this.#locks.get(key(t, next.deviceId)) === next.id) {
      this.#locks.delete(key(t, next.deviceId));
    }
    if (consumed !== undefined && !outbox.some((o) => o.id === consumed)) this.#outbox.delete(key(t, consumed));
    this.#indexCode(next);
    // The end user's inbox entry goes with the status, as the Table store keeps it.
    const [listedBefore, listedAfter] = [inboxEntryOf(current.session), inboxEntryOf(next)];
    if (listedAfter && !listedBefore) this.inbox?.put(listedAfter);
    if (listedBefore && !listedAfter) this.inbox?.removeNow(t, listedBefore.userId, next.id);
    return { session: copy(next), etag };
  }

  async openOfDevice(tenantId: string, deviceId: string): Promise<StoredSession | undefined> {
    const holder = this.#locks.get(key(tenantId, deviceId));
    const found = holder === undefined ? undefined : await this.get(tenantId, holder);
    return found && isOpen(found.session.status) ? found : undefined;
  }

  async list(q: SessionListQuery): Promise<{ value: Session[]; continuationToken?: string }> {
    const all = this.#sessionsOf(q.tenantId).filter(
      (s) =>
        (q.deviceId === undefined || s.deviceId === q.deviceId) &&
        (q.status === undefined || s.status === q.status) &&
        (q.requestedSince === undefined || Date.parse(s.requestedAt) >= q.requestedSince.getTime()) &&
        q.visible(s),
    );
    const start = q.continuationToken === undefined ? 0 : Number(Buffer.from(q.continuationToken, "base64url").toString("utf8"));
    const value = all.slice(start, start + q.top);
    const end = start + value.length;
    return end < all.length ? { value, continuationToken: Buffer.from(String(end)).toString("base64url") } : { value };
  }

  async *requestedBetween(tenantId: string, from: Date, to: Date): AsyncIterable<Session> {
    await Promise.resolve();
    for (const s of this.#sessionsOf(tenantId)) {
      const at = Date.parse(s.requestedAt);
      if (at >= from.getTime() && at < to.getTime()) yield s;
    }
  }

  /** Earliest deadline first, as the Table store's open index orders them; a place is `<deadline>|<id>` of the last one before. */
  async listDue(tenantId: string, now: Date, page: RowsPage): Promise<OpenSessionsPage> {
    await Promise.resolve();
    const places = this.#sessionsOf(tenantId)
      .filter((s) => (deadlineOf(s) ?? Number.POSITIVE_INFINITY) <= now.getTime())
      .map((s) => ({ id: s.id, place: `${String(deadlineOf(s)).padStart(16, "0")}|${s.id}` }))
      .sort((a, b) => (a.place < b.place ? -1 : 1))
      .filter((s) => page.after === undefined || s.place > page.after)
      .slice(0, page.limit);
    const sessionIds = places.map((s) => s.id);
    return places.length < page.limit ? { sessionIds } : { sessionIds, next: places[places.length - 1]!.place };
  }

  #openIds(tenantId: string): string[] {
    return this.#sessionsOf(tenantId)
      .filter((s) => isOpen(s.status))
      .map((s) => s.id);
  }

  /** In session id order; a place is the last id of the page before. */
  async listOpenPage(tenantId: string, limit: number, after?: string): Promise<OpenSessionsPage> {
    await Promise.resolve();
    const ids = this.#openIds(tenantId)
      .sort()
      .filter((id) => after === undefined || id > after);
    const sessionIds = ids.slice(0, limit);
    return sessionIds.length < limit ? { sessionIds } : { sessionIds, next: sessionIds[sessionIds.length - 1]! };
  }

  async deleteOutbox(tenantId: string, entryId: string): Promise<void> {
    await Promise.resolve();
    this.#outbox.delete(key(tenantId, entryId));
  }

  /** In id order, as the Table store reads them. */
  async listOutbox(tenantId: string, olderThan: Date, page: RowsPage): Promise<OutboxPage> {
    await Promise.resolve();
    const entries = this.outbox(tenantId)
      .filter((o) => Date.parse(o.createdAt) < olderThan.getTime() && (page.after === undefined || o.id > page.after))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .slice(0, page.limit);
    return entries.length < page.limit ? { entries, unreadable: [] } : { entries, unreadable: [], next: entries[entries.length - 1]!.id };
  }

  async listTenants(): Promise<string[]> {
    await Promise.resolve();
    return [...this.#tenants];
  }

  /** Newest first, as the Table store's inverted-time row keys order them. */
  #sessionsOf(tenantId: string): Session[] {
    return [...this.#rows.values()]
      .map((r) => r.session)
      .filter((s) => s.tenantId === tenantId)
      .sort((a, b) => b.requestedAt.localeCompare(a.requestedAt) || b.id.localeCompare(a.id))
      .map(copy);
  }

  #indexCode(s: Session): void {
    const code = s.teamViewer?.code ? normalizeSessionCode(s.teamViewer.code) : "";
    if (code !== "") this.#codes.set(key(s.tenantId, code), s.id);
  }
}

const key = (tenantId: string, id: string): string => `${tenantId}|${id}`;

/** The end users' inboxes. */
/** The end users' inboxes; the memory session store writes them with the sessions (`put`, `removeNow`). */
export class MemoryInboxStore implements InboxStore {
  readonly #entries = new Map<string, InboxEntry>();

  put(entry: InboxEntry): void {
    this.#entries.set(`${entry.tenantId}|${entry.userId}|${entry.sessionId}`, copy(entry));
  }

  removeNow(tenantId: string, userId: string, sessionId: string): void {
    this.#entries.delete(`${tenantId}|${userId}|${sessionId}`);
  }

  async remove(tenantId: string, userId: string, sessionId: string): Promise<void> {
    await Promise.resolve();
    this.removeNow(tenantId, userId, sessionId);
  }

  async list(tenantId: string, userId: string): Promise<InboxEntry[]> {
    await Promise.resolve();
    return [...this.#entries.values()].filter((e) => e.tenantId === tenantId && e.userId === userId).map(copy);
  }
}

/** Pushes recorded instead of sent; `failNext` makes the next push throw (Notification Hubs down). */
export class MemoryPushGateway implements PushGateway {
  readonly pushed: PushNotification[] = [];
  readonly #failures: unknown[] = [];

  failNext(error: unknown): void {
    this.#failures.push(error);
  }

  async push(notification: PushNotification): Promise<void> {
    await Promise.resolve();
    if (this.#failures.length > 0) throw this.#failures.shift();
    this.pushed.push(copy(notification));
  }
}

// ------------------------------------------------------------------ idempotency

/** Idempotency records with the Table store's contract: create fails on an existing key, replace is etag-guarded. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #rows = new Map<string, { record: IdempotencyRecord; etag: string }>();

  /** Every record of the tenant, by its (hashed) key. */
  records(tenantId: string): Map<string, IdempotencyRecord> {
    return new Map([...this.#rows].filter(([k]) => k.startsWith(`${tenantId}|`)).map(([k, v]) => [k.slice(tenantId.length + 1), copy(v.record)]));
  }

  async tryCreate(tenantId: string, k: string, record: IdempotencyRecord): Promise<string | undefined> {
    await Promise.resolve();
    if (this.#rows.has(key(tenantId, k))) return undefined; // 409
    const etag = nextEtag();
    this.#rows.set(key(tenantId, k), { record: copy(record), etag });
    return etag;
  }

  async get(tenantId: string, k: string): Promise<{ readonly record: IdempotencyRecord; readonly etag: string } | undefined> {
    await Promise.resolve();
    const row = this.#rows.get(key(tenantId, k));
    return row ? { record: copy(row.record), etag: row.etag } : undefined;
  }

  async replace(tenantId: string, k: string, record: IdempotencyRecord, etag: string): Promise<string | undefined> {
    await Promise.resolve();
    const row = this.#rows.get(key(tenantId, k));
    if (!row || row.etag !== etag) return undefined; // 404 or 412
    const next = nextEtag();
    this.#rows.set(key(tenantId, k), { record: copy(record), etag: next });
    return next;
  }

  async delete(tenantId: string, k: string): Promise<void> {
    await Promise.resolve();
    this.#rows.delete(key(tenantId, k));
  }

  async purgeExpired(tenantId: string, before: Date, max: number): Promise<number> {
    await Promise.resolve();
    const expired = [...this.#rows].filter(([k, row]) => k.startsWith(`${tenantId}|`) && row.record.expiresAt < before.getTime()).slice(0, max);
    for (const [k] of expired) this.#rows.delete(k);
    return expired.length;
  }
}

// ------------------------------------------------------------------ messages and audit

/**
 * Service Bus as far as the app sees it: every send is kept; `delivered` drops a second
 * message with an id already sent, as duplicate detection does. `failSends` makes the
 * next n sends throw (a broker outage).
 */
export class MemoryMessageBus implements MessageBus {
  readonly sent: OutgoingMessage[] = [];
  failSends = 0;

  async send(message: OutgoingMessage): Promise<void> {
    await Promise.resolve();
    if (this.failSends > 0) {
      this.failSends--;
      throw new Error("the message bus is unreachable (test)");
    }
    this.sent.push({ ...message, body: copy(message.body) });
  }

  /** What receivers would get: duplicates (same id) dropped, optionally one queue and type only. */
  delivered(filter: { readonly queue?: string; readonly type?: string } = {}): OutgoingMessage[] {
    const seen = new Set<string>();
    return this.sent.filter((m) => {
      if (seen.has(m.id)) return false;
      seen.add(m.id);
      return (filter.queue === undefined || m.queue === filter.queue) && (filter.type === undefined || m.type === filter.type);
    });
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The audit log; `events` in the order they were recorded. */
export class MemoryAuditLog implements AuditLog {
  readonly events: (AuditEventInput & { readonly at: string })[] = [];
  readonly #clock: Clock;
  #failures = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  activities(tenantId?: string): string[] {
    return this.events.filter((e) => tenantId === undefined || e.tenantId === tenantId).map((e) => e.activity);
  }

  /** The next `count` records fail (storage unreachable) and record nothing. */
  failRecords(count = 1): void {
    this.#failures += count;
  }

  async record(event: AuditEventInput): Promise<void> {
    await Promise.resolve();
    if (this.#failures > 0) {
      this.#failures--;
      throw new Error("the audit log is unreachable (test)");
    }
    this.events.push({ ...copy(event), at: this.#clock.now().toISOString() });
  }

  async query(q: AuditQuery): Promise<{ value: AuditEvent[]; continuationToken?: string }> {
    await Promise.resolve();
    const value = this.events
      .filter((e) => e.tenantId === q.tenantId && (q.activity === undefined || e.activity === q.activity))
      .filter((e) => Date.parse(e.at) >= q.from.getTime() && Date.parse(e.at) < q.to.getTime())
      .slice(0, q.top)
      .map(({ tenantId: _tenant, ...e }, i) => ({ ...e, id: String(i + 1) }));
    return { value };
  }
}

// ------------------------------------------------------------------ TeamViewer

export interface MemoryTeamViewerSession {
  readonly tenantId: string;
  readonly code: string;
  readonly groupId: string;
  readonly customApi: string;
  readonly request: NewTeamViewerSession;
  open: boolean;
}

type Operation = "createSession" | "findOpenSessionByCustomApi" | "closeSession";

/**
 * TeamViewer's sessions API per tenant, with the behaviour the workers depend on: sessions
 * carry their `custom_api`, an unknown code is `notFound`, closing a closed session is
 * fine. `failNext` queues an error for an operation; `onCreated` runs after TeamViewer
 * has the session and before the caller hears of it (a crash or race in between).
 */
export class MemoryTeamViewer implements TeamViewerByTenant {
  readonly sessions: MemoryTeamViewerSession[] = [];
  readonly calls: { readonly tenantId: string; readonly operation: Operation }[] = [];
  onCreated: ((session: MemoryTeamViewerSession) => Promise<void>) | undefined;
  readonly #failures = new Map<Operation, unknown[]>();

  failNext(operation: Operation, error: unknown): void {
    this.#failures.set(operation, [...(this.#failures.get(operation) ?? []), error]);
  }

  callsOf(operation: Operation): number {
    return this.calls.filter((c) => c.operation === operation).length;
  }

  forTenant(tenantId: string): TenantTeamViewer {
    return {
      createSession: async (_token, request) => {
        this.#call(tenantId, "createSession");
        const n = this.sessions.length + 1;
        const digits = String(100_000_000 + n);
        const created: MemoryTeamViewerSession = {
          tenantId,
          code: `s${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`,
          groupId: `g-${tenantId}`,
          customApi: request.customApi,
          request: copy(request),
          open: true,
        };
        this.sessions.push(created);
        if (this.onCreated) await this.onCreated(created);
        return infoOf(created);
      },
      findOpenSessionByCustomApi: async (_token, customApi, groupId) => {
        this.#call(tenantId, "findOpenSessionByCustomApi");
        const found = this.sessions.find(
          (s) => s.tenantId === tenantId && s.open && s.customApi === customApi && (groupId === undefined || s.groupId === groupId),
        );
        return found ? infoOf(found) : undefined;
      },
      closeSession: async (_token, code) => {
        this.#call(tenantId, "closeSession");
        const found = this.sessions.find((s) => s.tenantId === tenantId && s.code === code);
        if (!found) throw new TeamViewerError("notFound", "PUT /api/v1/sessions/{code}: 404 not_found", { status: 404 });
        found.open = false;
      },
      ping: async () => ({ tokenValid: true }),
      getAccount: async () => ({ userId: `u-${tenantId}`, name: "Test Account" }),
      listConnections: async (): Promise<ConnectionReportPage> => Promise.reject(new Error("listConnections is not part of MemoryTeamViewer")),
    };
  }

  #call(tenantId: string, operation: Operation): void {
    this.calls.push({ tenantId, operation });
    const queued = this.#failures.get(operation);
    if (queued && queued.length > 0) throw queued.shift();
  }
}

function infoOf(s: MemoryTeamViewerSession): TeamViewerSessionInfo {
  return {
    code: s.code,
    groupId: s.groupId,
    supporterLink: `https://tv.example/supporter/${s.code}`,
    endCustomerLink: `https://tv.example/join/${s.code}`,
    validUntil: new Date(s.request.validUntil),
    customApi: s.customApi,
  };
}

/**
 * Access tokens without Key Vault or OAuth: `token-<tenant>` for onboarded tenants. A
 * tenant in `notOnboarded` gets the connector's DomainError unless the call allows it.
 */
export class MemoryTeamViewerTokens implements TeamViewerTokens {
  readonly notOnboarded = new Set<string>();
  readonly #failures: unknown[] = [];

  /** The next call fails with `error` before reaching TeamViewer (Key Vault down, refresh refused). */
  failNext(error: unknown): void {
    this.#failures.push(error);
  }

  async withAccessToken<T>(tenantId: string, fn: (accessToken: string) => Promise<T>, options: { readonly requireOnboarded?: boolean } = {}): Promise<T> {
    await Promise.resolve();
    if (this.#failures.length > 0) throw this.#failures.shift();
    if ((options.requireOnboarded ?? true) && this.notOnboarded.has(tenantId)) {
      throw new DomainError(errorCodes.connectorNotOnboarded, "The TeamViewer connector is not onboarded.");
    }
    return fn(`token-${tenantId}`);
  }
}

/** Fault points a test arms: the next hit of `point` (for one session, if given) crashes. */
export class MemoryFaultPoints implements FaultPoints {
  readonly #armed: { point: FaultPointName; sessionId?: string }[] = [];

  crashOnce(point: FaultPointName, sessionId?: string): void {
    this.#armed.push(sessionId === undefined ? { point } : { point, sessionId });
  }

  async hit(point: FaultPointName, context: FaultPointContext): Promise<void> {
    await Promise.resolve();
    const i = this.#armed.findIndex((a) => a.point === point && (a.sessionId === undefined || a.sessionId === context.sessionId));
    if (i < 0) return;
    this.#armed.splice(i, 1);
    throw new SimulatedCrash(point);
  }
}

/** One Key Vault secret, rotated by setting `value`, counting its reads (what a cache of it must spare). */
export function oneSecretVault(initial: string | undefined): SecretStore & { value: string | undefined; reads: number } {
  const store = {
    value: initial,
    reads: 0,
    get: (): Promise<string | undefined> => {
      store.reads++;
      return Promise.resolve(store.value);
    },
    set: (): Promise<void> => Promise.resolve(),
    remove: (): Promise<void> => Promise.resolve(),
    ping: (): Promise<void> => Promise.resolve(),
  };
  return store;
}

/** OAuth states in memory (the connect flow's one-use `state` values). */
export class MemoryOAuthStateStore implements OAuthStateStore {
  readonly rows = new Map<string, OAuthStateRecord>();

  async create(record: OAuthStateRecord): Promise<void> {
    await Promise.resolve();
    this.rows.set(record.id, record);
  }

  async get(id: string): Promise<OAuthStateRecord | undefined> {
    await Promise.resolve();
    return this.rows.get(id);
  }

  async transition(id: string, from: OAuthStateStatus, to: OAuthStateStatus): Promise<boolean> {
    await Promise.resolve();
    const r = this.rows.get(id);
    if (r?.status !== from) return false;
    this.rows.set(id, { ...r, status: to });
    return true;
  }

  async purgeExpired(): Promise<number> {
    return Promise.resolve(0);
  }
}

/** Connector rows in memory: update re-applies to the initial state when none is stored. */
export class MemoryConnectorStore implements ConnectorStore {
  readonly rows = new Map<string, ConnectorState>();

  async get(tenantId: string): Promise<ConnectorState | undefined> {
    await Promise.resolve();
    return this.rows.get(tenantId);
  }

  async update(tenantId: string, change: (current: ConnectorState) => ConnectorState | undefined): Promise<ConnectorState> {
    await Promise.resolve();
    const current = this.rows.get(tenantId) ?? initialConnectorState;
    const next = change(current);
    if (next) this.rows.set(tenantId, next);
    return next ?? current;
  }

  async listOnboarded(): Promise<string[]> {
    return Promise.resolve([...this.rows].filter(([, s]) => s.onboardingStatus === onboardingStatuses.onboarded).map(([t]) => t));
  }

  async listExpiredOnboardings(): Promise<string[]> {
    return Promise.resolve([]);
  }
}

/** Key Vault's one token secret per tenant, in memory. */
export class MemoryTokenVault implements TokenVault {
  readonly tokens = new Map<string, StoredToken>();
  /** The next `failWrites` writes fail (Key Vault unreachable) and store nothing. */
  failWrites = 0;

  async read(tenantId: string): Promise<StoredToken | undefined> {
    await Promise.resolve();
    return this.tokens.get(tenantId);
  }

  async write(tenantId: string, token: StoredToken): Promise<void> {
    await Promise.resolve();
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new Error("Key Vault is unreachable (test)");
    }
    this.tokens.set(tenantId, token);
  }

  async remove(tenantId: string): Promise<void> {
    await Promise.resolve();
    this.tokens.delete(tenantId);
  }
}
