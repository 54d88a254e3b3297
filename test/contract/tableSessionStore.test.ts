// TableSessionStore against Azurite with the real @azure/data-tables SDK: a session larger
// than one Table property is stored in parts (data, data1, …) and read back whole, and a
// later, shorter write leaves no part behind; a list page reads a bounded number of
// sessions and its token names no session; a request whose device lock is released under it
// takes the lock instead of failing; the open sessions are read a page at a time from a place.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ulid } from "ulid";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables, getOrUndefined, tableNames, type Tables } from "../../shared/adapters/tables/tables.js";
import { sessionDataPartLength } from "../../shared/adapters/tables/sessionDataParts.js";
import { sessionListReadBudget } from "../../shared/adapters/tables/sessionListing.js";
import { sessionRowKey, TableSessionStore } from "../../shared/adapters/tables/tableSessionStore.js";
import type { HistoryEntry, Session } from "../../shared/domain/session.js";
import { requestedSession } from "../support/sessionWorkerHarness.js";

let azurite: AzuriteTables;
let tables: Tables;
let sessions: TableSessionStore;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  sessions = new TableSessionStore(tables);
});

afterAll(async () => {
  await azurite?.close();
});

/**
 * A session of about 100,000 characters of JSON: more than the domain's bounds allow, so
 * that it spans four parts; its details hold emoji (surrogate pairs) and control characters
 * (six characters each in JSON), wherever the part boundaries fall.
 */
function oversized(tenantId: string): Session {
  const base = requestedSession(new Date(), { id: ulid(), deviceId: randomUUID() });
  const detail = (i: number) => `${i} ${"😀".repeat(100)} \u0001\u0002 ${"é".repeat(97)}`;
  const history: HistoryEntry[] = Array.from({ length: 300 }, (_, i) => ({ status: "requested", at: base.requestedAt, detail: detail(i) }));
  return { ...base, tenantId, history };
}

async function rawEntity(s: Session): Promise<Record<string, unknown>> {
  const e = await getOrUndefined<Record<string, unknown>>(tables.client(tableNames.sessions), s.tenantId, sessionRowKey(s.id));
  if (!e) throw new Error("no session row");
  return e;
}

describe("a session larger than one Table property", () => {
  it("is stored in parts and read back whole, by get and by list", async () => {
    // Prepare
    const s = oversized(randomUUID());
    expect(JSON.stringify(s).length).toBeGreaterThan(3 * sessionDataPartLength);

    // Act
    const created = await sessions.create(s, []);
    const read = await sessions.get(s.tenantId, s.id);
    const listed = await sessions.list({ tenantId: s.tenantId, top: 10, visible: () => true });

    // Assess
    expect(created.created).toBe(true);
    expect(read?.session).toEqual(s);
    expect(listed.value).toEqual([s]);
    const raw = await rawEntity(s);
    const parts = Object.keys(raw).filter((k) => /^data\d*$/.test(k));
    expect(parts.sort()).toEqual(["data", "data1", "data2", "data3"]);
    expect(parts.every((k) => (raw[k] as string).length <= sessionDataPartLength)).toBe(true);
  });

  it("leaves no part behind when a later write is shorter", async () => {
    // Prepare
    const s = oversized(randomUUID());
    await sessions.create(s, []);
    const current = await sessions.get(s.tenantId, s.id);
    const shorter: Session = { ...s, history: s.history.slice(0, 1) };

    // Act
    const written = await sessions.update(current!, shorter);
    const read = await sessions.get(s.tenantId, s.id);

    // Assess
    expect(written).toBeDefined();
    expect(read?.session).toEqual(shorter);
    expect(Object.keys(await rawEntity(s)).filter((k) => /^data\d*$/.test(k))).toEqual(["data"]);
  });
});

describe("a page of the sessions list", () => {
  it("reads at most its budget of sessions the caller may not see, then ends with a sealed token that resumes", async () => {
    // Prepare: the oldest session is the only one the caller may see; more than a page's budget are newer.
    const tenantId = randomUUID();
    const start = Date.parse("2026-12-01T08:00:00.000Z");
    const at = (i: number) => new Date(start + i * 1_000);
    const seen = { ...requestedSession(at(0), { deviceId: "visible-device" }), tenantId };
    await sessions.create(seen, []);
    const hidden = sessionListReadBudget(10) + 5;
    const others: Session[] = [];
    for (let i = 1; i <= hidden; i++) others.push({ ...requestedSession(at(i), { deviceId: `hidden-${i}` }), tenantId });
    for (let i = 0; i < others.length; i += 25) await Promise.all(others.slice(i, i + 25).map((o) => sessions.create(o, [])));
    const visible = (s: Session) => s.deviceId === "visible-device";

    // Act
    const first = await sessions.list({ tenantId, top: 10, visible });
    const second = await sessions.list({ tenantId, top: 10, visible, continuationToken: first.continuationToken });

    // Assess: the first page stopped at its budget, empty, with a token that names no session.
    expect(first.value).toEqual([]);
    expect(first.continuationToken).toBeDefined();
    const plain = Buffer.from(first.continuationToken!, "base64url").toString("latin1");
    expect(others.some((o) => first.continuationToken!.includes(o.id) || plain.includes(o.id))).toBe(false);
    expect(second.value.map((s) => s.id)).toEqual([seen.id]);
    expect(second.continuationToken).toBeUndefined();
    const forged = Buffer.from(JSON.stringify({ v: 1, rk: sessionRowKey(others[0].id) })).toString("base64url");
    await expect(sessions.list({ tenantId, top: 10, visible, continuationToken: forged })).rejects.toMatchObject({ code: "validationFailed" });
  });
});

describe("a request for a device whose open session closes at the same moment", () => {
  it("takes the released lock or names the holder, and never fails on the lock row that just went", async () => {
    // Prepare: the device's session A is open; the second request's read of the lock row is
    // followed, before it reads A, by A's close (which deletes the lock row).
    const tenantId = randomUUID();
    const deviceId = randomUUID();
    const a = { ...requestedSession(new Date(Date.now() - 1_000), { deviceId }), tenantId };
    await sessions.create(a, []);
    let interleaved = false;
    const interleaving: Tables = {
      ...tables,
      client: (name) => {
        const client = tables.client(name);
        if (name !== tableNames.sessions) return client;
        return new Proxy(client, {
          get(target, prop, receiver) {
            if (prop !== "getEntity") return Reflect.get(target, prop, receiver) as unknown;
            return async (pk: string, rk: string) => {
              const read = await target.getEntity(pk, rk);
              if (rk === `device|${deviceId}` && !interleaved) {
                interleaved = true;
                const current = await sessions.get(tenantId, a.id);
                await sessions.update(current!, { ...current!.session, status: "closed", closedAt: new Date().toISOString() });
              }
              return read;
            };
          },
        });
      },
    };
    const racing = new TableSessionStore(interleaving);
    const b = { ...requestedSession(new Date(), { deviceId }), tenantId };

    // Act
    const result = await racing.create(b, []);

    // Assess
    expect(interleaved).toBe(true);
    expect(result).toMatchObject({ created: true });
    expect((await sessions.get(tenantId, b.id))?.session.status).toBe("requested");
  });
});

describe("a page of the open sessions", () => {
  it("pages through them in order from a place, and a session closed meanwhile drops out", async () => {
    // Prepare: five open sessions (one without a deadline) and a closed one
    const tenantId = randomUUID();
    const start = Date.parse("2026-12-01T08:00:00.000Z");
    const open = [0, 1, 2, 3].map((i) => ({ ...requestedSession(new Date(start + i * 1_000), { deviceId: `open-${i}` }), tenantId }));
    const accepted = { ...requestedSession(new Date(start - 1_000), { deviceId: "accepted", status: "accepted" }), tenantId };
    const closed = { ...requestedSession(new Date(start), { deviceId: "closed", status: "closed", closedAt: new Date(start).toISOString() }), tenantId };
    for (const s of [...open, accepted, closed]) await sessions.create(s, []);

    // Act: pages of two; the first session of the second page is closed before that page is read
    const first = await sessions.listOpenPage(tenantId, 2);
    const current = await sessions.get(tenantId, open[2].id);
    await sessions.update(current!, { ...current!.session, status: "closed", closedAt: new Date().toISOString() });
    const second = await sessions.listOpenPage(tenantId, 2, first.next);
    const third = await sessions.listOpenPage(tenantId, 2, second.next);

    // Assess: by deadline, the accepted one last; none twice, none closed
    expect(first.sessionIds).toEqual([open[0].id, open[1].id]);
    expect(first.next).toBeDefined();
    expect(second.sessionIds).toEqual([open[3].id, accepted.id]);
    expect(third).toEqual({ sessionIds: [] });
    // A place that is not one starts from the first open session, never at other rows
    expect((await sessions.listOpenPage(tenantId, 10, "dedupe|x")).sessionIds).toEqual([open[0].id, open[1].id, open[3].id, accepted.id]);
  });
});

describe("the session timer's pages", () => {
  it("reads due sessions earliest deadline first, a page at a time from a place, never one not yet due", async () => {
    // Prepare: three requests due, one due later, and an accepted one (no deadline)
    const tenantId = randomUUID();
    const start = Date.parse("2026-12-01T08:00:00.000Z");
    const due = [2, 0, 1].map((i) => ({ ...requestedSession(new Date(start + i * 1_000), { deviceId: `due-${i}` }, 1), tenantId }));
    const later = { ...requestedSession(new Date(start + 10 * 60_000), { deviceId: "later" }, 1), tenantId };
    const accepted = { ...requestedSession(new Date(start), { deviceId: "accepted", status: "accepted" }), tenantId };
    for (const s of [...due, later, accepted]) await sessions.create(s, []);
    const now = new Date(start + 5 * 60_000);

    // Act
    const first = await sessions.listDue(tenantId, now, { limit: 2 });
    const second = await sessions.listDue(tenantId, now, { limit: 2, ...(first.next === undefined ? {} : { after: first.next }) });

    // Assess
    expect(first.sessionIds).toEqual([due[1].id, due[2].id]);
    expect(first.next).toBeDefined();
    expect(second).toEqual({ sessionIds: [due[0].id] });
  });

  it("reads the outbox a page at a time from a place, counting unreadable rows in the page", async () => {
    // Prepare: three old outbox rows (one not JSON) and a fresh one
    const tenantId = randomUUID();
    const table = tables.client(tableNames.sessions);
    const row = (id: string, createdAt: string, body = "{}") =>
      table.createEntity({
        partitionKey: tenantId,
        rowKey: `outbox|${id}`,
        kind: "outbox",
        queue: "session-commands",
        type: "session.create",
        body,
        createdAt,
      });
    await row("a", "2026-12-01T08:00:00.000Z");
    await row("b", "2026-12-01T08:00:00.000Z", "{not json");
    await row("c", "2026-12-01T08:00:00.000Z");
    await row("d", "2026-12-01T09:00:00.000Z");
    const olderThan = new Date("2026-12-01T08:30:00.000Z");

    // Act
    const first = await sessions.listOutbox(tenantId, olderThan, { limit: 2 });
    const second = await sessions.listOutbox(tenantId, olderThan, { limit: 2, ...(first.next === undefined ? {} : { after: first.next }) });

    // Assess
    expect({ entries: first.entries.map((e) => e.id), unreadable: first.unreadable, next: first.next }).toEqual({
      entries: ["a"],
      unreadable: ["b"],
      next: "b",
    });
    expect({ entries: second.entries.map((e) => e.id), unreadable: second.unreadable, next: second.next }).toEqual({
      entries: ["c"],
      unreadable: [],
      next: undefined,
    });
  });
});
