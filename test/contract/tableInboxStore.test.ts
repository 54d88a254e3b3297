// The end users' inbox against Azurite with the real @azure/data-tables SDK: its entries are
// rows of the tenant's sessions partition, written and deleted by TableSessionStore.update in
// the same transaction as the status that lists or ends a request (so no inbox write of its
// own per session), and entries written to the old `inbox` table by earlier versions are
// still listed and removed.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ulid } from "ulid";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { createTables, getOrUndefined, tableNames, type Tables } from "../../shared/adapters/tables/tables.js";
import { TableInboxStore } from "../../shared/adapters/tables/tableInboxStore.js";
import { openRowKey, sessionRowKey, TableSessionStore } from "../../shared/adapters/tables/tableSessionStore.js";
import { applyEvent, type Session } from "../../shared/domain/session.js";
import { requestedSession } from "../support/sessionWorkerHarness.js";

let azurite: AzuriteTables;
let tables: Tables;
let sessions: TableSessionStore;
let inbox: TableInboxStore;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
  sessions = new TableSessionStore(tables);
  inbox = new TableInboxStore(tables);
});

afterAll(async () => {
  await azurite?.close();
});

/** A requested session of a fresh tenant, stored; its end user is `u1`. */
async function stored(tenantId: string, over: Partial<Session> = {}): Promise<Session> {
  const s: Session = { ...requestedSession(new Date(), { id: ulid(), deviceId: randomUUID(), ...over }), tenantId };
  const result = await sessions.create(s, []);
  if (!result.created) throw new Error("not created");
  return s;
}

async function move(s: Session, event: Parameters<typeof applyEvent>[1]): Promise<Session> {
  const current = await sessions.get(s.tenantId, s.id);
  const next = applyEvent(current!.session, event, new Date(), "test");
  const written = await sessions.update(current!, next);
  if (!written) throw new Error("lost a race in a test that has none");
  return next;
}

describe("the inbox kept by the session store", () => {
  it("lists a request from the write that makes it awaitingEndUser until the write that ends it, and only for its user", async () => {
    // Prepare
    const tenantId = randomUUID();
    const s = await stored(tenantId);
    expect(await inbox.list(tenantId, "u1")).toEqual([]);

    // Act
    const awaiting = await move(s, "teamViewerSessionCreated");
    const listed = await inbox.list(tenantId, "u1");
    const accepted = await move(awaiting, "endUserAccepted");
    const stillListed = await inbox.list(tenantId, "u1");
    await move(accepted, "close");

    // Assess
    expect(listed).toEqual([expect.objectContaining({ tenantId, userId: "u1", sessionId: s.id, deviceName: s.device.deviceName })]);
    expect(stillListed.map((e) => e.sessionId)).toEqual([s.id]);
    expect(await inbox.list(tenantId, "u1")).toEqual([]);
    expect(await inbox.list(tenantId, "u2")).toEqual([]);
    expect(await inbox.list(randomUUID(), "u1")).toEqual([]);
  });

  it("lists newest first, and keeps no entry for a session that does not notify through the Company Portal", async () => {
    // Prepare
    const tenantId = randomUUID();
    const older = await stored(tenantId);
    await new Promise((r) => setTimeout(r, 5));
    const newer = await stored(tenantId);
    const silent = await stored(tenantId, { endUserNotification: { channel: "none", status: "notSupported", dispatches: 0 } });

    // Act
    for (const s of [older, newer, silent]) await move(s, "teamViewerSessionCreated");

    // Assess
    expect((await inbox.list(tenantId, "u1")).map((e) => e.sessionId)).toEqual([newer.id, older.id]);
  });

  it("still lists and removes entries an earlier version wrote to the inbox table", async () => {
    // Prepare
    const tenantId = randomUUID();
    const old = ulid();
    await tables.client(tableNames.inbox).upsertEntity({
      partitionKey: `${tenantId}|u1`,
      rowKey: sessionRowKey(old),
      sessionId: old,
      deviceId: "d-old",
      deviceName: "OLD-PC",
      requestedByDisplayName: "Help Desk",
      requestedAt: new Date().toISOString(),
    });
    const current = await move(await stored(tenantId), "teamViewerSessionCreated");

    // Act
    const before = await inbox.list(tenantId, "u1");
    await inbox.remove(tenantId, "u1", old);

    // Assess
    expect(before.map((e) => e.sessionId)).toEqual([current.id, old]);
    expect(before[1]).toMatchObject({ deviceName: "OLD-PC", description: null });
    expect((await inbox.list(tenantId, "u1")).map((e) => e.sessionId)).toEqual([current.id]);
  });

  it("ends a request whose inbox entry is not in the sessions partition, and still deletes its open-index and device lock rows", async () => {
    // Prepare: a request that was awaitingEndUser before the inbox moved into the sessions
    // partition has no inbox row there, so the close transaction's inbox delete finds nothing.
    const tenantId = randomUUID();
    const awaiting = await move(await stored(tenantId), "teamViewerSessionCreated");
    const rows = tables.client(tableNames.sessions);
    const inboxRows = [];
    for await (const row of rows.listEntities({ queryOptions: { filter: `PartitionKey eq '${tenantId}' and RowKey ge 'inbox|' and RowKey lt 'inbox}'` } }))
      inboxRows.push(row);
    expect(inboxRows).toHaveLength(1);
    await rows.deleteEntity(tenantId, inboxRows[0].rowKey!);
    const open = openRowKey(awaiting)!;
    expect(await getOrUndefined(rows, tenantId, open)).toBeDefined();
    expect(await getOrUndefined(rows, tenantId, `device|${awaiting.deviceId}`)).toBeDefined();

    // Act
    const closed = await move(awaiting, "close");

    // Assess: only the delete that found nothing was left out of the retried transaction.
    expect((await sessions.get(tenantId, awaiting.id))?.session.status).toBe(closed.status);
    expect(await getOrUndefined(rows, tenantId, open)).toBeUndefined();
    expect(await getOrUndefined(rows, tenantId, `device|${awaiting.deviceId}`)).toBeUndefined();
  });
});
