// The audit log's two views on Azurite: the list (GET /api/auditEvents, partitions per
// month, newest first) and the stream behind the export (GET /api/auditEvents/delta and
// the push subscriptions), and the subscriptions stored beside it. What is shown: paging
// across month boundaries with the smallest page and range edges; the stream in recorded
// order, read while events are being recorded; a delivery's outcome does not stick to a
// subscription deleted or replaced meanwhile.
import { randomUUID } from "node:crypto";
import { RestError, type TableClient, type TransactionAction } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzuriteTables, type AzuriteTables } from "../../local/azurite.js";
import { freePort } from "../../local/ports.js";
import { localDevelopmentCredential } from "../../shared/adapters/keyvault/credentials.js";
import { TableAuditLog } from "../../shared/adapters/tables/tableAuditLog.js";
import { TableAuditSubscriptionStore } from "../../shared/adapters/tables/tableAuditSubscriptionStore.js";
import { createTables, type Tables } from "../../shared/adapters/tables/tables.js";
import type { AuditEvent, AuditEventInput } from "../../shared/app/audit/auditLog.js";
import type { NewSubscription } from "../../shared/app/audit/auditSubscriptionPorts.js";
import { ManualClock } from "../support/memoryPorts.js";

let azurite: AzuriteTables;
let tables: Tables;

beforeAll(async () => {
  azurite = await startAzuriteTables({ port: await freePort() });
  tables = createTables({ kind: "connectionString", connectionString: azurite.connectionString, allowInsecure: true }, localDevelopmentCredential);
  await tables.ensureAll();
});

afterAll(async () => {
  await azurite?.close();
});

const admin = { id: "admin-1", displayName: "Adele Vance", type: "user" as const };
const input = (tenantId: string, n: number): AuditEventInput => ({
  tenantId,
  actor: admin,
  activity: n % 2 === 0 ? "settings.update" : "roleAssignment.create",
  target: { type: "settings", id: String(n) },
  result: "success",
  correlationId: `corr-${n}`,
});

/** Every page of the list, following tokens. */
async function allPages(log: TableAuditLog, q: { tenantId: string; from: Date; to: Date; top: number; activity?: string }): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let continuationToken: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await log.query({ ...q, continuationToken });
    out.push(...r.value);
    continuationToken = r.continuationToken;
    if (!continuationToken) return out;
  }
  throw new Error("the list did not end");
}

describe("the audit list across month partitions", () => {
  it("pages newest first over three months, one event a page, each event once; from and to are inclusive", async () => {
    // Prepare: events on both sides of two month boundaries.
    const tenantId = randomUUID();
    const clock = new ManualClock("2026-10-31T23:59:59.999Z");
    const log = new TableAuditLog(tables, clock);
    const times = ["2026-10-31T23:59:59.999Z", "2026-11-01T00:00:00.000Z", "2026-11-30T23:59:59.999Z", "2026-12-01T00:00:00.000Z", "2026-12-01T00:00:00.001Z"];
    for (const [i, t] of times.entries()) {
      clock.advance(new Date(t).getTime() - clock.now().getTime());
      await log.record(input(tenantId, i));
    }

    // Act
    const everything = await allPages(log, { tenantId, from: new Date(times[0]), to: new Date(times[4]), top: 1 });
    const inner = await allPages(log, { tenantId, from: new Date(times[1]), to: new Date(times[3]), top: 2 });
    const exact = await allPages(log, { tenantId, from: new Date(times[2]), to: new Date(times[2]), top: 200 });
    const odd = await allPages(log, { tenantId, from: new Date(times[0]), to: new Date(times[4]), top: 1, activity: "roleAssignment.create" });
    const stream = await log.readAfter(tenantId, 0, 1000);

    // Assess
    expect(everything.map((e) => e.at)).toEqual([...times].reverse());
    expect(new Set(everything.map((e) => e.id)).size).toBe(5);
    expect(inner.map((e) => e.at)).toEqual([times[3], times[2], times[1]]);
    expect(exact.map((e) => e.at)).toEqual([times[2]]);
    expect(odd.map((e) => e.target.id)).toEqual(["3", "1"]);
    expect(stream.map((s) => s.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(stream.map((s) => s.event.at)).toEqual(times);
    expect(stream.map((s) => s.event.id)).toEqual([...everything].reverse().map((e) => e.id));
    expect(stream[0].event).toMatchObject({ actor: admin, correlationId: "corr-0", result: "success" });
  });

  it("an empty tenant: empty list without a token, empty stream, last 0", async () => {
    const tenantId = randomUUID();
    const log = new TableAuditLog(tables, new ManualClock());

    const page = await log.query({ tenantId, from: new Date("2026-01-01T00:00:00Z"), to: new Date("2026-12-31T00:00:00Z"), top: 50 });

    expect(page).toEqual({ value: [] });
    expect(await log.readAfter(tenantId, 0, 1000)).toEqual([]);
    expect(await log.last(tenantId)).toBe(0);
  });
});

describe("the audit stream while events are recorded", () => {
  it("gives every event once and in sequence to a reader that reads on while two instances record", async () => {
    // Prepare: two instances of the log (two Function instances) of one tenant.
    const tenantId = randomUUID();
    const clock = new ManualClock("2026-12-07T00:00:00Z");
    const [a, b] = [new TableAuditLog(tables, clock), new TableAuditLog(tables, clock)];

    // Act: 2 × 60 events recorded in small bursts while a reader follows the stream 7 at a time.
    let writing = true;
    const writers = Promise.all(
      [a, b].map(async (log, w) => {
        for (let i = 0; i < 60; i += 3) await Promise.all([0, 1, 2].map((k) => log.record(input(tenantId, w * 100 + i + k))));
      }),
    ).finally(() => (writing = false));
    const read: number[] = [];
    const ids: string[] = [];
    let after = 0;
    while (writing || read.length < 120) {
      const page = await a.readAfter(tenantId, after, 7);
      for (const s of page) {
        read.push(s.sequence);
        ids.push(s.event.id);
      }
      after = page.at(-1)?.sequence ?? after;
      if (!writing && page.length === 0) break;
    }
    await writers;

    // Assess
    expect(read).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(new Set(ids).size).toBe(120);
    expect(await b.last(tenantId)).toBe(120);
  });
});

/**
 * The tables with the audit table's transactions interfered with once, as the network can:
 * `lostAnswer` commits a stream (or `listLostAnswer` a list) transaction and then fails as
 * the SDK's retry of it would (its answer was lost; the retry finds the counter moved, or
 * the rows there); `listDown` fails a list transaction without committing it (storage
 * briefly unavailable).
 */
function interfered(fault: "lostAnswer" | "listLostAnswer" | "listDown"): Tables {
  let done = false;
  return {
    ensureAll: () => tables.ensureAll(),
    ping: () => tables.ping(),
    client: (name) => {
      const real = tables.client(name);
      return new Proxy(real, {
        get(target, property, receiver) {
          if (property !== "submitTransaction") return Reflect.get(target, property, receiver) as unknown;
          return async (actions: TransactionAction[]) => {
            const stream = actions[0][1].partitionKey.endsWith("|log");
            if (done || stream !== (fault === "lostAnswer")) return target.submitTransaction(actions);
            done = true;
            if (fault === "listDown") throw new RestError("Server Busy", { statusCode: 503 });
            await target.submitTransaction(actions);
            return target.submitTransaction(actions);
          };
        },
      }) as TableClient;
    },
  };
}

describe("recording an event when storage fails part way", () => {
  it("records it once when a stream write committed but its answer was lost and retried", async () => {
    // Prepare
    const tenantId = randomUUID();
    const clock = new ManualClock("2026-12-07T00:00:00Z");
    await new TableAuditLog(tables, clock).record(input(tenantId, 0));
    const log = new TableAuditLog(interfered("lostAnswer"), clock);

    // Act
    await log.record(input(tenantId, 1));
    await log.record(input(tenantId, 2));

    // Assess: three events, each once, numbered without gaps, listed once each.
    const stream = await log.readAfter(tenantId, 0, 1000);
    expect(stream.map((s) => s.event.target.id)).toEqual(["0", "1", "2"]);
    expect(stream.map((s) => s.sequence)).toEqual([1, 2, 3]);
    const listed = await allPages(log, { tenantId, from: new Date("2026-12-01T00:00:00Z"), to: new Date("2026-12-08T00:00:00Z"), top: 50 });
    expect(listed.map((e) => e.id).sort()).toEqual(stream.map((s) => s.event.id).sort());
  });

  it.each(["listDown", "listLostAnswer"] as const)("lists an event whose list write failed once (%s), and records it once", async (fault) => {
    // Prepare
    const tenantId = randomUUID();
    const log = new TableAuditLog(interfered(fault), new ManualClock("2026-12-07T00:00:00Z"));

    // Act
    await log.record(input(tenantId, 0));

    // Assess
    const stream = await log.readAfter(tenantId, 0, 1000);
    const listed = await allPages(log, { tenantId, from: new Date("2026-12-01T00:00:00Z"), to: new Date("2026-12-08T00:00:00Z"), top: 50 });
    expect(stream.map((s) => s.event.target.id)).toEqual(["0"]);
    expect(listed.map((e) => e.id)).toEqual([stream[0].event.id]);
  });
});

describe("a delivery's outcome and the subscription it was for", () => {
  const sub = (id: string): NewSubscription => ({
    id,
    url: "https://siem.example.com/audit",
    generation: randomUUID(),
    secretVersion: randomUUID(),
    createdAt: "2026-12-07T00:00:00.000Z",
    createdBy: admin,
  });

  it("a create whose answer was lost and retried is still a create, counted once", async () => {
    // Prepare
    const tenantId = randomUUID();
    const store = new TableAuditSubscriptionStore(interfered("lostAnswer"));

    // Act
    const outcome = await store.create(tenantId, sub("siem"), 5);

    // Assess
    expect(outcome).toBe("created");
    expect((await store.list(tenantId)).map((s) => s.id)).toEqual(["siem"]);
    expect(await new TableAuditSubscriptionStore(tables).delete(tenantId, "siem")).toBeDefined();
    for (let i = 0; i < 5; i++) expect(await store.create(tenantId, sub(`s${i}`), 5)).toBe("created");
  });

  it("a delete whose answer was lost and retried is still a delete, counted once", async () => {
    // Prepare: five subscriptions, the most a tenant may have.
    const tenantId = randomUUID();
    const plain = new TableAuditSubscriptionStore(tables);
    for (let i = 0; i < 5; i++) expect(await plain.create(tenantId, sub(`s${i}`), 5)).toBe("created");
    const version = (await plain.get(tenantId, "s0"))!.secretVersion;

    // Act
    const deleted = await new TableAuditSubscriptionStore(interfered("lostAnswer")).delete(tenantId, "s0");

    // Assess: deleted (so the caller removes its secret and records it), and room for exactly one more.
    expect(deleted).toEqual({ secretVersion: version });
    expect((await plain.list(tenantId)).map((s) => s.id)).toEqual(["s1", "s2", "s3", "s4"]);
    expect(await plain.create(tenantId, sub("s5"), 5)).toBe("created");
    expect(await plain.create(tenantId, sub("s6"), 5)).toBe("limit");
  });

  it("an outcome recorded after the subscription was deleted does not show on a new one of the same id", async () => {
    // Prepare: a subscription whose delivery is under way (read before the delete).
    const tenantId = randomUUID();
    const store = new TableAuditSubscriptionStore(tables);
    expect(await store.create(tenantId, sub("siem"), 5)).toBe("created");
    const inFlight = (await store.get(tenantId, "siem"))!;

    // Act: deleted and created again; then the old delivery's failure is recorded.
    expect(await store.delete(tenantId, "siem")).toBeDefined();
    expect(await store.create(tenantId, sub("siem"), 5)).toBe("created");
    await store.recordOutcome(tenantId, inFlight, { error: { message: "the receiver answered 503", at: "2026-12-07T00:00:05.000Z" } });

    // Assess
    const fresh = await store.get(tenantId, "siem");
    expect(fresh?.lastError).toBeNull();
    expect((await store.list(tenantId))[0].lastError).toBeNull();
  });

  it("an outcome recorded after a PUT replaced the URL and secret does not show on the replaced subscription", async () => {
    // Prepare
    const tenantId = randomUUID();
    const store = new TableAuditSubscriptionStore(tables);
    expect(await store.create(tenantId, sub("siem"), 5)).toBe("created");
    const inFlight = (await store.get(tenantId, "siem"))!;

    // Act: replaced (the lastError of the old URL is cleared), then the old delivery fails.
    expect(await store.replace(tenantId, inFlight, { url: "https://other.example.com/audit", secretVersion: randomUUID() })).toBe(true);
    await store.recordOutcome(tenantId, inFlight, { error: { message: "the receiver answered 401", at: "2026-12-07T00:00:05.000Z" } });

    // Assess: the replaced subscription shows no error of the old URL; an outcome of its own shows.
    const replaced = (await store.get(tenantId, "siem"))!;
    expect(replaced.lastError).toBeNull();
    await store.recordOutcome(tenantId, replaced, { error: { message: "the receiver answered 500", at: "2026-12-07T00:00:06.000Z" } });
    expect((await store.get(tenantId, "siem"))?.lastError?.message).toBe("the receiver answered 500");
    expect((await store.list(tenantId))[0].lastError?.message).toBe("the receiver answered 500");
  });

  it("a delivery that succeeds after a failure hides the failure; a failure after the success shows", async () => {
    // Prepare: a subscription whose delivery failed.
    const tenantId = randomUUID();
    const store = new TableAuditSubscriptionStore(tables);
    expect(await store.create(tenantId, sub("siem"), 5)).toBe("created");
    const s = (await store.get(tenantId, "siem"))!;
    await store.recordOutcome(tenantId, s, { error: { message: "the receiver answered 503", at: "2026-12-07T00:00:05.000Z" } });

    // Act: a later delivery succeeds; then another fails.
    await store.recordOutcome(tenantId, s, { deliveredAt: "2026-12-07T00:00:06.000Z" });
    const afterSuccess = await store.get(tenantId, "siem");
    const listedAfterSuccess = (await store.list(tenantId))[0];
    await store.recordOutcome(tenantId, s, { error: { message: "the receiver answered 500", at: "2026-12-07T00:00:07.000Z" } });
    const afterFailure = await store.get(tenantId, "siem");

    // Assess
    expect(afterSuccess?.lastError).toBeNull();
    expect(listedAfterSuccess.lastError).toBeNull();
    expect(afterSuccess?.lastDeliveredAt).toBe("2026-12-07T00:00:06.000Z");
    expect(afterFailure?.lastError).toEqual({ message: "the receiver answered 500", at: "2026-12-07T00:00:07.000Z" });
  });

  it("a delete answers the secret version it deleted, also when a PUT replaced the subscription after the delete read it", async () => {
    // Prepare: the PUT's replace runs just before the delete's first transaction.
    const tenantId = randomUUID();
    const plain = new TableAuditSubscriptionStore(tables);
    expect(await plain.create(tenantId, sub("siem"), 5)).toBe("created");
    const replacedBy = randomUUID();
    const store = new TableAuditSubscriptionStore(
      beforeFirstTransaction(async () => {
        const current = (await plain.get(tenantId, "siem"))!;
        expect(await plain.replace(tenantId, current, { url: "https://other.example.com/audit", secretVersion: replacedBy })).toBe(true);
      }),
    );

    // Act
    const deleted = await store.delete(tenantId, "siem");

    // Assess: the version it deleted is the PUT's (whose secret is the one to remove), and the id is free.
    expect(deleted).toEqual({ secretVersion: replacedBy });
    expect(await plain.get(tenantId, "siem")).toBeUndefined();
    expect(await plain.create(tenantId, sub("siem"), 5)).toBe("created");
  });

  it("a delete whose tombstone could not be removed leaves no subscription, and a create writes over it", async () => {
    // Prepare: storage refuses the removal of the tombstone.
    const tenantId = randomUUID();
    const plain = new TableAuditSubscriptionStore(tables);
    for (let i = 0; i < 5; i++) expect(await plain.create(tenantId, sub(`s${i}`), 5)).toBe("created");
    const store = new TableAuditSubscriptionStore(failingDeletes());

    // Act
    const deleted = await store.delete(tenantId, "s0");
    const listed = (await plain.list(tenantId)).map((s) => s.id);
    const again = sub("s0");
    const created = await plain.create(tenantId, again, 5);

    // Assess: gone while the tombstone stays; created again over it, counted once.
    expect(deleted).toBeDefined();
    expect(listed).toEqual(["s1", "s2", "s3", "s4"]);
    expect(created).toBe("created");
    expect((await plain.get(tenantId, "s0"))?.generation).toBe(again.generation);
    expect(await plain.create(tenantId, sub("s5"), 5)).toBe("limit");
  });
});

/** Tables whose first transaction on an audit stream partition runs `before` first. */
function beforeFirstTransaction(before: () => Promise<void>): Tables {
  let done = false;
  return {
    ensureAll: () => tables.ensureAll(),
    ping: () => tables.ping(),
    client: (name) =>
      new Proxy(tables.client(name), {
        get(target, property, receiver) {
          if (property !== "submitTransaction") return Reflect.get(target, property, receiver) as unknown;
          return async (actions: TransactionAction[]) => {
            if (!done && actions[0][1].partitionKey.endsWith("|log")) {
              done = true;
              await before();
            }
            return target.submitTransaction(actions);
          };
        },
      }) as TableClient,
  };
}

/** Tables that refuse to delete a subscription row on its own (503). */
function failingDeletes(): Tables {
  return {
    ensureAll: () => tables.ensureAll(),
    ping: () => tables.ping(),
    client: (name) =>
      new Proxy(tables.client(name), {
        get(target, property, receiver) {
          if (property !== "deleteEntity") return Reflect.get(target, property, receiver) as unknown;
          return async (partitionKey: string, rowKey: string, options?: { etag?: string }) =>
            rowKey.startsWith("sub|") ? Promise.reject(new RestError("Server Busy", { statusCode: 503 })) : target.deleteEntity(partitionKey, rowKey, options);
        },
      }) as TableClient,
  };
}
