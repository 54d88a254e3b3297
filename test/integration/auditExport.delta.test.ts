// GET /api/auditEvents/delta against the whole local stack: every audit event exactly once
// and in recorded order, across many calls and while other callers record events in
// parallel; who may read it; tokens that are malformed or another tenant's.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api, tokenFor } from "../support/api.js";
import { newTenant } from "./connectorSupport.js";

interface Event {
  id: string;
  at: string;
  activity: string;
}
interface Delta {
  value: Event[];
  deltaToken: string;
}

async function delta(token: string, deltaToken?: string) {
  return api<Delta & { code?: string }>(`/auditEvents/delta${deltaToken ? `?deltaToken=${encodeURIComponent(deltaToken)}` : ""}`, { token });
}

/** Every event of GET /api/auditEvents, newest first, all pages. */
async function listed(token: string): Promise<Event[]> {
  const out: Event[] = [];
  let continuation: string | undefined;
  do {
    const res = await api<{ value: Event[]; continuationToken?: string }>(`/auditEvents?top=200${continuation ? `&continuationToken=${continuation}` : ""}`, {
      token,
    });
    expect(res.status, res.text).toBe(200);
    out.push(...res.body.value);
    continuation = res.body.continuationToken;
  } while (continuation);
  return out;
}

describe("audit export, pull", () => {
  it("returns every event exactly once, in recorded order, across many calls and concurrent writers", async () => {
    // Prepare: a tenant, four admins who will write in parallel, and a ViewReports reader.
    const tenant = await newTenant();
    const admins = await Promise.all(
      [1, 2, 3, 4].map((i) => tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: `Writer ${i}`, roles: ["Intune.Administrator"] })),
    );
    const reader = await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "SIEM", roles: ["RemoteAssistance.ViewReports"] });
    const perWriter = 30;

    // Act: the writers record 4 × 30 events (settings PATCHes and role assignment PUTs)
    // while the reader pages the delta with its last token, again and again.
    let writing = true;
    const writers = Promise.all(
      admins.map(async (admin, w) => {
        for (let i = 0; i < perWriter; i++) {
          const res =
            i % 2 === 0
              ? await api("/settings", { method: "PATCH", token: admin, body: { sessionTimeoutMinutes: 10 + ((w * perWriter + i) % 100) } })
              : await api(`/roleAssignments/${randomUUID()}`, {
                  method: "PUT",
                  token: admin,
                  body: { principalId: randomUUID(), principalType: "user", permission: "RemoteAssistance.Request", scopeTags: [] },
                });
          expect(res.status, res.text).toBeLessThan(300);
        }
      }),
    ).finally(() => (writing = false));
    const read: Event[] = [];
    let token: string | undefined;
    let calls = 0;
    const pageSizes: number[] = [];
    while (writing || calls === 0) {
      const res = await delta(reader, token);
      expect(res.status, res.text).toBe(200);
      read.push(...res.body.value);
      pageSizes.push(res.body.value.length);
      token = res.body.deltaToken;
      calls++;
    }
    await writers;
    // Drain: call again while the page is full, then once more to see it empty.
    for (;;) {
      const res = await delta(reader, token);
      expect(res.status).toBe(200);
      read.push(...res.body.value);
      pageSizes.push(res.body.value.length);
      token = res.body.deltaToken;
      calls++;
      if (res.body.value.length === 0) break;
    }

    // Assess: the same set as the audit log, no repeats, nothing lost, and the list's
    // (time) order reversed is the delta's order wherever the times differ.
    const all = await listed(tenant.admin);
    const ids = read.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(all.map((e) => e.id)));
    expect(ids.length).toBeGreaterThanOrEqual(4 * perWriter + 1);
    expect(calls).toBeGreaterThan(2);
    expect(Math.max(...pageSizes)).toBeLessThanOrEqual(1000);
    const position = new Map(ids.map((id, i) => [id, i]));
    const listedOldestFirst = [...all].reverse();
    for (let i = 1; i < listedOldestFirst.length; i++) {
      const [a, b] = [listedOldestFirst[i - 1], listedOldestFirst[i]];
      // Recorders racing for the counter may commit in another order than their clocks
      // read; events more than a second apart are never reordered.
      if (Date.parse(b.at) - Date.parse(a.at) > 1000) expect(position.get(a.id)!).toBeLessThan(position.get(b.id)!);
    }
  });

  it("follows sequential writes in exactly their order", async () => {
    // Prepare
    const tenant = await newTenant();
    const start = await delta(tenant.admin);
    expect(start.status).toBe(200);

    // Act: three writes one after the other.
    for (const minutes of [11, 12, 13]) {
      expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: minutes } })).status).toBe(200);
    }
    const next = await delta(tenant.admin, start.body.deltaToken);

    // Assess
    expect(next.status).toBe(200);
    expect(next.body.value.map((e) => (e as Event & { detail?: string }).detail)).toEqual([
      "sessionTimeoutMinutes=11",
      "sessionTimeoutMinutes=12",
      "sessionTimeoutMinutes=13",
    ]);
    const again = await delta(tenant.admin, next.body.deltaToken);
    expect(again.body.value).toEqual([]);
    expect(again.body.deltaToken).toBe(next.body.deltaToken);
  });

  it("takes a first call with a blank deltaToken (a filled-in query template) as a first call", async () => {
    // Prepare
    const tenant = await newTenant();
    expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: 21 } })).status).toBe(200);

    // Act: a SIEM poller filling the template ?deltaToken= before it has one.
    const blank = await api<Delta>("/auditEvents/delta?deltaToken=", { token: tenant.admin });
    const absent = await delta(tenant.admin);

    // Assess
    expect(blank.status, blank.text).toBe(200);
    expect(blank.body.value.map((e) => e.id)).toEqual(absent.body.value.map((e) => e.id));
    expect(blank.body.value.some((e) => e.activity === "settings.update")).toBe(true);
    const sessions = await api("/sessions?deviceId=&status=&top=&continuationToken=", { token: tenant.admin });
    expect(sessions.status, sessions.text).toBe(200);
  });

  it("answers 403 to a caller without report permission", async () => {
    // Prepare
    const tenant = await newTenant();

    // Act
    const res = await delta(tenant.helpdesk);
    const connectorAdmin = await delta(tenant.connectorAdmin);

    // Assess
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("forbidden");
    expect(connectorAdmin.status).toBe(403);
  });

  it.each([
    ["not base64 JSON", "bm90LWpzb24"],
    ["not even base64url", "%%%"],
    ["a number from the future", Buffer.from(JSON.stringify({ v: 1, t: "TENANT", s: 999999 })).toString("base64url")],
    ["a negative number", Buffer.from(JSON.stringify({ v: 1, t: "TENANT", s: -1 })).toString("base64url")],
    ["a continuation token of another list", Buffer.from(JSON.stringify({ v: 1, m: "2026-01", rk: "x" })).toString("base64url")],
  ])("answers 400 validationFailed to %s", async (_what, raw) => {
    // Prepare
    const tenant = await newTenant();
    const token = raw.replace("TENANT", tenant.tenantId);

    // Act
    const res = await delta(tenant.admin, token);

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("validationFailed");
  });

  it("refuses another tenant's token, so it cannot read this tenant's events", async () => {
    // Prepare: tenant A has events and a token part-way through them.
    const a = await newTenant();
    const b = await newTenant();
    const tokenOfA = (await delta(a.admin)).body.deltaToken;
    expect((await api("/settings", { method: "PATCH", token: a.admin, body: { sessionTimeoutMinutes: 42 } })).status).toBe(200);

    // Act: B presents A's token; A's own token still works for A.
    const asB = await delta(b.admin, tokenOfA);
    const asA = await delta(a.admin, tokenOfA);

    // Assess
    expect(asB.status).toBe(400);
    expect(asB.body.code).toBe("validationFailed");
    expect(asB.text).not.toContain("sessionTimeoutMinutes=42");
    expect(asA.status).toBe(200);
    expect(asA.body.value.map((e) => e.activity)).toEqual(["settings.update"]);
  });
});
