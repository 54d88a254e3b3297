// Sessions in Table storage. Partition = tenant; beside each session row live its outbox
// rows and one index row while it is open, so a session, its pending messages and its
// index change together in one transaction (one table, one partition). Row keys:
//   s|<inverted request time>|<ulid>   the session (ascending order = newest first)
//   outbox|<message id>                a message not yet known to be sent
//   open|<deadline ms>|<ulid>          open sessions by deadline: expiry reads a key range
//   dedupe|<key>                       "this producer's request became that session"
//   tv|<normalized TeamViewer code>    the session that got this TeamViewer session code
//   device|<device id>                 the device's one open session (its lock; deleted on release)
//   inbox|<user id>|<session row key>  the end user's inbox entry, while the request is listed for them
// and partition `~tenants` lists every tenant with sessions, for the timers.
import { odata, type TableClient, type TableEntityResult, type TransactionAction } from "@azure/data-tables";
import { sessionDataProperties, sessionOf, type SessionDataParts } from "./sessionDataParts.js";
import { listSessions } from "./sessionListing.js";
import { decodeTime } from "ulid";
import { isSessionId, type Session } from "../../domain/session.js";
import { normalizeSessionCode } from "../../domain/sessionConnections.js";
import {
  inboxEntryOf,
  type CreateSessionResult,
  type OpenSessionsPage,
  type OutboxPage,
  type RowsPage,
  type OutboxEntry,
  type SessionListQuery,
  type SessionStore,
  type StoredSession,
} from "../../app/sessions/ports.js";
import { deleteIfExists, failedActionIndex, getOrUndefined, invertedTime, isStatus, tableNames, type Tables } from "./tables.js";

const tenantsPartition = "~tenants";
/** Accepted sessions have no deadline: they stay open until closed. */
const noDeadline = 9_999_999_999_999;

/** The session's RowKey, computed from its id alone (the ULID carries the request time). Check isSessionId first. */
export function sessionRowKey(sessionId: string): string {
  if (!isSessionId(sessionId)) throw new Error("not a session id: it has no RowKey");
  return `s|${invertedTime(decodeTime(sessionId))}|${sessionId}`;
}

const pad13 = (ms: number): string => String(Math.max(0, Math.min(ms, noDeadline))).padStart(13, "0");

/** The open-index row a session needs in its status, or undefined when it is not open. */
export function openRowKey(s: Pick<Session, "id" | "status" | "expiresAt">): string | undefined {
  switch (s.status) {
    case "pendingApproval":
    case "requested":
    case "awaitingEndUser":
      return `open|${pad13(Date.parse(s.expiresAt))}|${s.id}`;
    case "accepted":
      return `open|${pad13(noDeadline)}|${s.id}`;
    default:
      return undefined;
  }
}

// A type alias, not an interface: table entities need an implicit index signature.
type SessionEntity = SessionDataParts & {
  kind: "session";
  status: string;
  deviceId: string;
  requestedAt: string;
  requestedById: string;
};

type OutboxEntity = {
  kind: "outbox";
  queue: string;
  type: string;
  correlationId?: string;
  body: string;
  createdAt: string;
  notBefore?: string;
};

type PointerEntity = {
  kind: "open" | "dedupe" | "teamViewerCode" | "device";
  sessionId: string;
};

// Device ids are lower-case letters, digits and dashes (checked at every boundary): safe in a RowKey.
const deviceLockRowKey = (deviceId: string): string => `device|${deviceId}`;
const holdsDeviceLock = (s: Pick<Session, "status" | "id" | "expiresAt">): boolean => openRowKey(s) !== undefined;
/** An outbox row as an entry; undefined when its body is not JSON. */
function outboxEntryOf(id: string, e: OutboxEntity): OutboxEntry | undefined {
  let body: unknown;
  try {
    body = JSON.parse(e.body) as unknown;
  } catch {
    return undefined;
  }
  const { queue, type, correlationId, createdAt, notBefore } = e;
  return { id, queue, type, ...(correlationId ? { correlationId } : {}), body, createdAt, ...(notBefore ? { notBefore } : {}) };
}
/** Attempts at taking a device's lock before giving up (the first assumes it is free; each lost one after means another request won). */
const maxLockAttempts = 4;

type Keyed<T> = T & { partitionKey: string; rowKey: string };

/** An end user's inbox entry, a row of the tenant's sessions partition (tableInboxStore.ts reads them). */
export type InboxEntity = {
  kind: "inbox";
  sessionId: string;
  deviceId: string;
  deviceName: string;
  requestedByDisplayName: string;
  requestedAt: string;
  description?: string;
};

/** A user's inbox rows: `inbox|<userId>|<session RowKey>`, newest first (user ids are checked at every boundary: safe in a RowKey). */
export const inboxRowPrefix = (userId: string): string => `inbox|${userId}|`;

function inboxEntity(s: Session): Keyed<InboxEntity> | undefined {
  const entry = inboxEntryOf(s);
  if (!entry) return undefined;
  return {
    partitionKey: entry.tenantId,
    rowKey: `${inboxRowPrefix(entry.userId)}${sessionRowKey(entry.sessionId)}`,
    kind: "inbox",
    sessionId: entry.sessionId,
    deviceId: entry.deviceId,
    deviceName: entry.deviceName,
    requestedByDisplayName: entry.requestedBy.displayName,
    requestedAt: entry.requestedAt,
    ...(entry.description === null ? {} : { description: entry.description }),
  };
}

function sessionEntity(s: Session): Keyed<SessionEntity> {
  return {
    partitionKey: s.tenantId,
    rowKey: sessionRowKey(s.id),
    kind: "session",
    status: s.status,
    deviceId: s.deviceId,
    requestedAt: s.requestedAt,
    requestedById: s.requestedBy.id,
    ...sessionDataProperties(JSON.stringify(s)),
  };
}

function outboxEntity(tenantId: string, o: OutboxEntry): Keyed<OutboxEntity> {
  return {
    partitionKey: tenantId,
    rowKey: `outbox|${o.id}`,
    kind: "outbox",
    queue: o.queue,
    type: o.type,
    ...(o.correlationId === undefined ? {} : { correlationId: o.correlationId }),
    body: JSON.stringify(o.body),
    createdAt: o.createdAt,
    ...(o.notBefore === undefined ? {} : { notBefore: o.notBefore }),
  };
}

/** The pointer row a session needs once TeamViewer gave it a code (connection reports name the code only). */
function codeRowKey(s: Pick<Session, "teamViewer">): string | undefined {
  const code = s.teamViewer?.code;
  if (!code) return undefined;
  const normalized = normalizeSessionCode(code);
  return normalized === "" ? undefined : `tv|${normalized}`;
}

export class TableSessionStore implements SessionStore {
  readonly #table: TableClient;
  readonly #tables: Tables;
  /** Tenants this process already registered: one upsert per tenant per process. */
  readonly #knownTenants = new Set<string>();

  constructor(tables: Tables) {
    this.#table = tables.client(tableNames.sessions);
    this.#tables = tables;
  }

  async create(session: Session, outbox: readonly OutboxEntry[], options: { dedupeKey?: string } = {}): Promise<CreateSessionResult> {
    await this.#registerTenant(session.tenantId);
    const entity = sessionEntity(session);
    const actions: TransactionAction[] = [["create", entity], ...outbox.map((o): TransactionAction => ["create", outboxEntity(session.tenantId, o)])];
    const open = openRowKey(session);
    if (open) actions.push(["create", { partitionKey: session.tenantId, rowKey: open, kind: "open", sessionId: session.id }]);
    const dedupeRow = options.dedupeKey === undefined ? undefined : `dedupe|${options.dedupeKey}`;
    if (dedupeRow) actions.push(["create", { partitionKey: session.tenantId, rowKey: dedupeRow, kind: "dedupe", sessionId: session.id }]);
    const duplicate = async (): Promise<CreateSessionResult | undefined> => {
      const pointer = dedupeRow ? await getOrUndefined<PointerEntity>(this.#table, session.tenantId, dedupeRow) : undefined;
      return pointer ? { created: false, reason: "duplicate", existingSessionId: pointer.sessionId } : undefined;
    };
    const locks = holdsDeviceLock(session);
    for (let attempt = 0; ; attempt++) {
      // The device's lock row is taken in the same transaction: first created without a
      // read (a free device has no lock row: releasing deletes it), and after a conflict
      // guarded by the etag read here. Of racing requests one commits.
      let lockAction: TransactionAction | undefined;
      if (locks && attempt === 0)
        lockAction = ["create", { partitionKey: session.tenantId, rowKey: deviceLockRowKey(session.deviceId), kind: "device", sessionId: session.id }];
      else if (locks) {
        const taken = await this.#lockFor(session);
        if (taken.kind === "busy") return (await duplicate()) ?? { created: false, reason: "deviceBusy", existingSessionId: taken.sessionId };
        lockAction = taken.action;
      }
      try {
        const result = await this.#table.submitTransaction(lockAction ? [...actions, lockAction] : actions);
        // Sub-responses come in the order of the actions; the session row is the first.
        const etag = result.subResponses[0]?.etag;
        if (etag) return { created: true, stored: { session, etag } };
        const reread = await this.get(session.tenantId, session.id);
        if (!reread) throw new Error("a session written in a transaction could not be read back");
        return { created: true, stored: reread };
      } catch (e) {
        // A taken-over lock row can be gone by now (its holder closed and deleted it): 404.
        const lockGone = isStatus(e, 404) && lockAction?.[0] === "update";
        if (!isStatus(e, 409) && !isStatus(e, 412) && !lockGone) throw e;
        const dup = await duplicate();
        if (dup) return dup;
        // Lost the lock to a racing request: the next read names the winner.
        if (!locks || attempt >= maxLockAttempts) throw e;
      }
    }
  }

  /**
   * How `s` can take its device's lock: create it, take over a free one (released, or
   * left by a session whose row is gone or no longer open) by its etag, or not at all.
   */
  async #lockFor(s: Session): Promise<{ kind: "busy"; sessionId: string } | { kind: "free"; action: TransactionAction }> {
    const entity = { partitionKey: s.tenantId, rowKey: deviceLockRowKey(s.deviceId), kind: "device", sessionId: s.id };
    const lock = await getOrUndefined<PointerEntity>(this.#table, s.tenantId, entity.rowKey);
    if (!lock) return { kind: "free", action: ["create", entity] };
    if (lock.sessionId !== "" && lock.sessionId !== s.id) {
      const holder = await this.get(s.tenantId, lock.sessionId);
      if (holder && holdsDeviceLock(holder.session)) return { kind: "busy", sessionId: lock.sessionId };
    }
    return { kind: "free", action: ["update", entity, "Replace", { etag: lock.etag }] };
  }

  /**
   * The action releasing `s`'s device lock if it holds it: the row is deleted, so the next
   * request creates it without a read. (A transaction's delete takes no etag; none is needed:
   * it commits only with `s`'s etag-guarded update, so `s` was still open, and a lock is only
   * ever taken over from a session that is not.)
   */
  async #releaseLock(s: Session): Promise<TransactionAction | undefined> {
    const rowKey = deviceLockRowKey(s.deviceId);
    const lock = await getOrUndefined<PointerEntity>(this.#table, s.tenantId, rowKey);
    if (!lock || lock.sessionId !== s.id) return undefined;
    return ["delete", { partitionKey: s.tenantId, rowKey }];
  }

  async get(tenantId: string, sessionId: string): Promise<StoredSession | undefined> {
    // Only ULIDs name sessions; anything else names none (and has no RowKey to compute).
    // (ulid's isValid admits ids whose time overflows 48 bits, on which decodeTime throws.)
    if (!isSessionId(sessionId)) return undefined;
    const e = await getOrUndefined<SessionEntity>(this.#table, tenantId, sessionRowKey(sessionId));
    return e && e.etag ? { session: sessionOf(e), etag: e.etag } : undefined;
  }

  async update(current: StoredSession, next: Session, outbox: readonly OutboxEntry[] = [], consumed?: string): Promise<StoredSession | undefined> {
    const entity = sessionEntity(next);
    const before = openRowKey(current.session);
    const after = openRowKey(next);
    const base: TransactionAction[] = [
      ["update", entity, "Replace", { etag: current.etag }],
      ...outbox.map((o): TransactionAction => ["create", outboxEntity(next.tenantId, o)]),
    ];
    const index: TransactionAction[] = [];
    if (after && after !== before) index.push(["upsert", { partitionKey: next.tenantId, rowKey: after, kind: "open", sessionId: next.id }, "Replace"]);
    if (before && before !== after) index.push(["delete", { partitionKey: next.tenantId, rowKey: before }]);
    // The end user's inbox entry comes and goes with the status that lists the request.
    const [inboxBefore, inboxAfter] = [inboxEntity(current.session), inboxEntity(next)];
    if (inboxAfter && inboxAfter.rowKey !== inboxBefore?.rowKey) index.push(["upsert", inboxAfter, "Replace"]);
    if (inboxBefore && inboxBefore.rowKey !== inboxAfter?.rowKey) index.push(["delete", { partitionKey: next.tenantId, rowKey: inboxBefore.rowKey }]);
    const code = codeRowKey(next);
    if (code && code !== codeRowKey(current.session))
      index.push(["upsert", { partitionKey: next.tenantId, rowKey: code, kind: "teamViewerCode", sessionId: next.id }, "Replace"]);
    // Every way out of the open statuses goes through here: the device's lock goes with it.
    if (holdsDeviceLock(current.session) && !holdsDeviceLock(next)) {
      const release = await this.#releaseLock(next);
      if (release) index.push(release);
    }
    // The handled message's outbox row goes with this write: no delete of its own after the send.
    if (consumed !== undefined && !outbox.some((o) => o.id === consumed)) index.push(["delete", { partitionKey: next.tenantId, rowKey: `outbox|${consumed}` }]);
    // A row to delete may be gone already (the timer re-sent and deleted the outbox row, or
    // cleaned up the index row; a re-scheduled message has no row; an inbox entry written to
    // the old inbox table): the rest still applies. The transaction is tried again without
    // the delete that failed it (the error names its action), each delete at most once; an
    // error that names no delete drops every delete, as one last try.
    let actions = [...base, ...index];
    for (;;) {
      try {
        return await this.#submitUpdate(next, actions);
      } catch (e) {
        if (isStatus(e, 412)) return undefined;
        if (!isStatus(e, 404) || !actions.some(([kind]) => kind === "delete")) throw e;
        const failed = failedActionIndex(e);
        actions =
          failed !== undefined && actions[failed]?.[0] === "delete" ? actions.filter((_, i) => i !== failed) : actions.filter(([kind]) => kind !== "delete");
      }
    }
  }

  async #submitUpdate(next: Session, actions: TransactionAction[]): Promise<StoredSession> {
    const result = await this.#table.submitTransaction(actions);
    // Sub-responses come in the order of the actions; the session row is the first (an
    // update's sub-response has no Location, so it cannot be found by its RowKey).
    const etag = result.subResponses[0]?.etag;
    if (etag) return { session: next, etag };
    const reread = await this.get(next.tenantId, next.id);
    if (!reread) throw new Error("an updated session could not be read back");
    return reread;
  }

  async findByTeamViewerCode(tenantId: string, code: string): Promise<StoredSession | undefined> {
    const normalized = normalizeSessionCode(code);
    if (normalized === "" || normalized.length > 64) return undefined;
    const pointer = await getOrUndefined<PointerEntity>(this.#table, tenantId, `tv|${normalized}`);
    return pointer ? this.get(tenantId, pointer.sessionId) : undefined;
  }

  async openOfDevice(tenantId: string, deviceId: string): Promise<StoredSession | undefined> {
    const lock = await getOrUndefined<PointerEntity>(this.#table, tenantId, deviceLockRowKey(deviceId));
    // A lock left by a session that is no longer open (or gone) is free: it names no open session.
    const holder = lock && lock.sessionId !== "" ? await this.get(tenantId, lock.sessionId) : undefined;
    return holder && holdsDeviceLock(holder.session) ? holder : undefined;
  }

  list(q: SessionListQuery): Promise<{ value: Session[]; continuationToken?: string }> {
    return listSessions(this.#table, this.#tables, q);
  }

  async *requestedBetween(tenantId: string, from: Date, to: Date): AsyncIterable<Session> {
    const newest = `s|${invertedTime(to.getTime())}|~`;
    const oldest = `s|${invertedTime(from.getTime())}|~`;
    const filter = odata`PartitionKey eq ${tenantId} and RowKey gt ${newest} and RowKey lt ${oldest}`;
    for await (const e of this.#table.listEntities<SessionEntity>({ queryOptions: { filter } })) yield sessionOf(e);
  }

  async listDue(tenantId: string, now: Date, page: RowsPage): Promise<OpenSessionsPage> {
    return this.#openPage(tenantId, `open|${pad13(now.getTime())}|~`, page);
  }

  listOpenPage(tenantId: string, limit: number, after?: string): Promise<OpenSessionsPage> {
    return this.#openPage(tenantId, "open|~", after === undefined ? { limit } : { limit, after });
  }

  /** Open-index rows below `below` (deadline order), a page of them after `page.after`. */
  async #openPage(tenantId: string, below: string, { limit, after }: RowsPage): Promise<OpenSessionsPage> {
    // A place is an open-index RowKey; anything else starts from the first (never another kind of row).
    const from = after?.startsWith("open|") ? odata` and RowKey gt ${after}` : odata` and RowKey ge ${"open|"}`;
    const filter = odata`PartitionKey eq ${tenantId} and RowKey lt ${below}` + from;
    const rows: TableEntityResult<PointerEntity>[] = [];
    // A page may come back short with a continuation token (Azure ends a query after 5 s).
    const pages = this.#table.listEntities<PointerEntity>({ queryOptions: { filter, select: ["RowKey", "sessionId"] } }).byPage({ maxPageSize: limit });
    for await (const page of pages) {
      rows.push(...page);
      if (rows.length >= limit || !page.continuationToken) break;
    }
    const taken = rows.slice(0, limit);
    const sessionIds = taken.map((e) => e.sessionId);
    return taken.length < limit ? { sessionIds } : { sessionIds, next: taken[taken.length - 1]!.rowKey! };
  }

  async deleteOutbox(tenantId: string, entryId: string): Promise<void> {
    await deleteIfExists(this.#table, tenantId, `outbox|${entryId}`);
  }

  async listOutbox(tenantId: string, olderThan: Date, { limit, after }: RowsPage): Promise<OutboxPage> {
    const from = after === undefined ? odata`RowKey ge ${"outbox|"}` : odata`RowKey gt ${`outbox|${after}`}`;
    const filter = odata`PartitionKey eq ${tenantId} and ` + from + odata` and RowKey lt ${"outbox|~"} and createdAt lt ${olderThan.toISOString()}`;
    const entries: OutboxEntry[] = [];
    const unreadable: string[] = [];
    let last = "";
    // A page may come back short with a continuation token (Azure ends a query after 5 s).
    for await (const page of this.#table.listEntities<OutboxEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: limit })) {
      for (const e of page.slice(0, limit - entries.length - unreadable.length)) {
        last = e.rowKey!.slice("outbox|".length);
        const entry = outboxEntryOf(last, e);
        // One bad row must not hide the others from the timer.
        if (entry) entries.push(entry);
        else unreadable.push(last);
      }
      if (entries.length + unreadable.length >= limit || !page.continuationToken) break;
    }
    return entries.length + unreadable.length < limit ? { entries, unreadable } : { entries, unreadable, next: last };
  }

  async listTenants(): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.#table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${tenantsPartition}`, select: ["RowKey"] } })) {
      out.push(e.rowKey!);
    }
    return out;
  }

  async #registerTenant(tenantId: string): Promise<void> {
    if (this.#knownTenants.has(tenantId)) return;
    await this.#table.upsertEntity({ partitionKey: tenantsPartition, rowKey: tenantId }, "Merge");
    this.#knownTenants.add(tenantId);
  }
}
