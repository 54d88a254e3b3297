// The caller-facing limits from outside. On the shared stack (whose request rate limits are
// lifted for the load and fuzz tests): the 60-second resend throttle, and a poisoned
// session row that must not stop the expiry of the others, and an outbox row that cannot be
// sent, given up after 24 hours. On a stack of its own with the
// production rate limits (and the resend throttle off, to reach the cap of 10): bursts
// from one caller, from garbage tokens and from one address, and 120 resends.
import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { TableClient } from "@azure/data-tables";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRowKey, sessionRowKey } from "../../shared/adapters/tables/tableSessionStore.js";
import type { Session } from "../../shared/domain/session.js";
import { api, eventually, stack, tokenFor, useStack, type ApiResponse } from "../support/api.js";
import { startStackProcess, type StackProcess } from "../support/stackProcess.js";
import { auditEvents, newTenant, onboard, type TestTenant } from "./connectorSupport.js";
import { createDevices, eventuallySession, managedDevice, pushes, requestSession, runFunctionNow } from "./sessionsSupport.js";

const sessionsTable = (): TableClient => TableClient.fromConnectionString(stack().tablesConnectionString, "sessions", { allowInsecureConnection: true });

/** A session of a fresh, onboarded tenant, awaiting its end user with the first push sent. */
async function notifiedSession(): Promise<{ tenant: TestTenant; id: string }> {
  const tenant = await newTenant();
  await onboard(tenant);
  const device = managedDevice();
  await createDevices(tenant.tenantId, tenant.admin, [device]);
  const requested = await requestSession(tenant.helpdesk, device.id);
  expect(requested.status, requested.text).toBe(202);
  await eventuallySession(tenant.admin, requested.body.id, (s) => s.status === "awaitingEndUser" && s.endUserNotification.status === "sent", "the first push");
  return { tenant, id: requested.body.id };
}

const resend = (token: string, id: string): Promise<ApiResponse<{ code?: string }>> =>
  api<{ code?: string }>(`/sessions/${id}/resendNotification`, { method: "POST", token });

/** GET from a chosen loopback source address (all of 127.0.0.0/8 is loopback on Linux): a client of its own. */
function getFrom(localAddress: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; retryAfter?: string; body: string }> {
  const url = new URL(`${stack().apiUrl}${path}`);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: "GET", headers, localAddress }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const expectRateLimitedProblem = (status: number, retryAfter: string | null | undefined, contentType: string | null | undefined, body: string): void => {
  expect(status).toBe(429);
  expect(retryAfter).toMatch(/^[1-9]\d*$/);
  expect(contentType).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(body)).toMatchObject({ status: 429, code: "rateLimited" });
};

describe("on the shared stack", () => {
  it("a second resend within 60 s is 429 rateLimited with Retry-After of at most 60, and pushes nothing", async () => {
    // Prepare
    const { tenant, id } = await notifiedSession();

    // Act
    const first = await resend(tenant.helpdesk, id);
    const second = await resend(tenant.helpdesk, id);

    // Assess
    expect(first.status, first.text).toBe(202);
    expectRateLimitedProblem(second.status, second.headers.get("retry-after"), second.headers.get("content-type"), second.text);
    expect(Number(second.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    await eventually(async () => (pushes().filter((p) => p.sessionId === id).length === 2 ? true : undefined), 30_000, "the resent push");
    const session = await api<{ history: { detail?: string }[] }>(`/sessions/${id}`, { token: tenant.admin });
    expect(session.body.history.filter((h) => h.detail?.startsWith("Notification resent")).length).toBe(1);
  });

  describe("a poisoned session row", () => {
    const poisoned: { tenantId: string; rowKey: string; openKey: string }[] = [];
    afterAll(async () => {
      const table = sessionsTable();
      for (const p of poisoned) {
        await table.deleteEntity(p.tenantId, p.rowKey).catch(() => undefined);
        await table.deleteEntity(p.tenantId, p.openKey).catch(() => undefined);
      }
    });

    it("does not stop the expiry of the tenant's other sessions: it is skipped, logged and audited", async () => {
      // Prepare: two real sessions awaiting their end users, made due (as if their timeout
      // had passed: expiresAt and the open-index row moved to two minutes ago), and, due
      // before them, a session row whose JSON does not parse.
      const tenant = await newTenant();
      await onboard(tenant);
      const devices = [managedDevice(), managedDevice()];
      await createDevices(tenant.tenantId, tenant.admin, devices);
      const ids: string[] = [];
      for (const d of devices) {
        const r = await requestSession(tenant.helpdesk, d.id);
        expect(r.status, r.text).toBe(202);
        await eventuallySession(tenant.admin, r.body.id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
        ids.push(r.body.id);
      }
      const table = sessionsTable();
      const past = new Date(Date.now() - 120_000);
      for (const id of ids) {
        const row = await table.getEntity<{ data: string }>(tenant.tenantId, sessionRowKey(id));
        const session = JSON.parse(row.data) as Session;
        const due: Session = { ...session, expiresAt: past.toISOString() };
        await table.updateEntity({ partitionKey: tenant.tenantId, rowKey: sessionRowKey(id), data: JSON.stringify(due) }, "Merge", { etag: row.etag });
        await table.deleteEntity(tenant.tenantId, openRowKey(session)!);
        await table.createEntity({ partitionKey: tenant.tenantId, rowKey: openRowKey(due)!, kind: "open", sessionId: id });
      }
      const badId = ulid(Date.now() - 600_000);
      const bad = { tenantId: tenant.tenantId, rowKey: sessionRowKey(badId), openKey: `open|${String(past.getTime() - 60_000).padStart(13, "0")}|${badId}` };
      poisoned.push(bad);
      await table.createEntity({
        partitionKey: tenant.tenantId,
        rowKey: bad.rowKey,
        kind: "session",
        status: "awaitingEndUser",
        deviceId: String(devices[0].id),
        requestedAt: new Date().toISOString(),
        requestedById: "someone",
        data: '{"id":"' + badId + '","endUserLink":"https://secret.example/join?x=1", not json',
      });
      await table.createEntity({ partitionKey: tenant.tenantId, rowKey: bad.openKey, kind: "open", sessionId: badId });

      // Act
      await runFunctionNow("sessionTimers");

      // Assess: storage itself (not a read, which would expire them too) says both expired.
      const statuses = await eventually(
        async () => {
          const s = await Promise.all(ids.map(async (id) => (await table.getEntity<{ status: string }>(tenant.tenantId, sessionRowKey(id))).status));
          return s.every((x) => x === "expired") ? s : undefined;
        },
        30_000,
        "the timer to expire the good sessions",
      );
      expect(statuses).toEqual(["expired", "expired"]);
      const skipped = await eventually(
        async () => (await auditEvents(tenant.admin, "session.maintenanceSkipped")).find((e) => e.target.id === badId),
        30_000,
        "the skip to be audited",
      );
      expect(skipped).toMatchObject({ result: "failure", actor: { type: "system" }, target: { type: "session", id: badId } });
      expect(skipped.detail).toContain("not valid JSON");
      expect(skipped.detail).not.toContain("secret");
      const stillThere = await table.getEntity<{ data: string }>(tenant.tenantId, bad.rowKey);
      expect(stillThere.data).toContain("not json");
    });
  });
});

describe("an outbox row whose send keeps failing", () => {
  const rows: { tenantId: string; rowKey: string }[] = [];
  afterAll(async () => {
    for (const r of rows)
      await sessionsTable()
        .deleteEntity(r.tenantId, r.rowKey)
        .catch(() => undefined);
  });

  it("is re-sent for 24 hours, then audited, logged and deleted: not re-sent every minute for ever", async () => {
    // Prepare: a tenant the timer walks (it has a session), and two outbox rows for a queue
    // that does not exist (a send that can never succeed): one written 25 hours ago, one
    // 2 minutes ago. Both are older than the timer's one-minute grace.
    const { tenant } = await notifiedSession();
    const table = sessionsTable();
    const row = (id: string, agoMs: number) => ({
      partitionKey: tenant.tenantId,
      rowKey: `outbox|${id}`,
      kind: "outbox",
      queue: "no-such-queue",
      type: "session.close",
      body: JSON.stringify({ tenantId: tenant.tenantId, sessionId: ulid() }),
      createdAt: new Date(Date.now() - agoMs).toISOString(),
    });
    const oldId = `old-${randomUUID()}`;
    const youngId = `young-${randomUUID()}`;
    for (const r of [row(oldId, 25 * 3600_000), row(youngId, 120_000)]) {
      rows.push({ tenantId: r.partitionKey, rowKey: r.rowKey });
      await table.createEntity(r);
    }

    // Act
    await runFunctionNow("sessionTimers");

    // Assess: the old row is audited as given up and gone; the young one stays for the next run.
    const skipped = await eventually(
      async () => (await auditEvents(tenant.admin, "outboxMessage.maintenanceSkipped")).find((e) => e.target.id === oldId),
      30_000,
      "the given-up row to be audited",
    );
    expect(skipped).toMatchObject({ result: "failure", actor: { type: "system" }, target: { type: "outboxMessage", id: oldId } });
    expect(skipped.detail).toContain("not sent within 24 hours");
    expect(skipped.detail).toContain("deleted unsent");
    await eventually(
      async () => ((await table.getEntity(tenant.tenantId, `outbox|${oldId}`).catch((e: { statusCode?: number }) => e.statusCode)) === 404 ? true : undefined),
      30_000,
      "the given-up row to be deleted",
    );
    expect((await table.getEntity(tenant.tenantId, `outbox|${youngId}`)).rowKey).toBe(`outbox|${youngId}`);
    expect((await auditEvents(tenant.admin, "outboxMessage.maintenanceSkipped")).map((e) => e.target.id)).not.toContain(youngId);
  });
});

describe("on a stack with the production rate limits", () => {
  let own: StackProcess | undefined;

  beforeAll(async () => {
    // Production rate limits (nothing set), and no resend throttle so the cap of 10 can be reached at once.
    own = await startStackProcess({ RESEND_MIN_INTERVAL_SECONDS: "0" });
    useStack(own.endpoints);
  });

  afterAll(async () => {
    useStack(undefined);
    await own?.stop();
  });

  it("a burst from one caller gets 429 with Retry-After while another caller of the same tenant is served", async () => {
    // Prepare: a caller of its own (fresh object id) and a colleague in the same tenant.
    const tenant = await newTenant();
    const caller = await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "Bursty", roles: ["RemoteAssistance.Request"], groups: [] });
    const path = `/sessions/${ulid()}`;

    // Act: 300 requests at once (bursts of 100 are allowed, 5 a second after that).
    const burst = await Promise.all(Array.from({ length: 300 }, () => api(path, { token: caller })));
    const colleague = await api(path, { token: tenant.admin });

    // Assess
    const served = burst.filter((r) => r.status === 404).length;
    const limited = burst.filter((r) => r.status === 429);
    expect(served + limited.length).toBe(300);
    expect(served).toBeGreaterThanOrEqual(100);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited.slice(0, 5)) expectRateLimitedProblem(r.status, r.headers.get("retry-after"), r.headers.get("content-type"), r.text);
    expect(colleague.status).toBe(404);
  });

  it("garbage tokens spend their address's budget, never the caller they name", async () => {
    // Prepare: a forged (unsigned) token naming a real caller.
    const tenant = await newTenant();
    const victimId = randomUUID();
    const victim = await tokenFor({ tid: tenant.tenantId, oid: victimId, name: "Victim", roles: ["RemoteAssistance.Request"], groups: [] });
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
    const forged = `${b64({ alg: "none", typ: "JWT" })}.${b64({ tid: tenant.tenantId, oid: victimId, exp: 9_999_999_999 })}.`;

    // Act: 70 requests with it from one address.
    const started = Date.now();
    const garbage = await Promise.all(Array.from({ length: 70 }, () => getFrom("127.0.0.3", "/sessions", { authorization: `Bearer ${forged}` })));
    const elapsedSeconds = Math.ceil((Date.now() - started) / 1000);
    const victims = await Promise.all(Array.from({ length: 50 }, () => api("/sessions", { token: victim })));

    // Assess: 401 until the address's 60 are spent, then 429; the victim is served throughout.
    const unauthenticated = garbage.filter((r) => r.status === 401).length;
    expect(unauthenticated).toBeGreaterThanOrEqual(60);
    expect(unauthenticated).toBeLessThanOrEqual(60 + elapsedSeconds);
    expect(garbage.filter((r) => r.status === 429).length).toBe(70 - unauthenticated);
    expect(victims.every((r) => r.status === 200)).toBe(true);
  });

  it("an anonymous burst on /api/health from one address gets 429 after 60, from one shared probe", async () => {
    // Act
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 80 }, () => getFrom("127.0.0.2", "/health")));
    const elapsedSeconds = Math.ceil((Date.now() - started) / 1000);
    const otherAddress = await getFrom("127.0.0.4", "/health");

    // Assess
    const served = burst.filter((r) => r.status !== 429);
    const limited = burst.filter((r) => r.status === 429);
    expect(served.length).toBeGreaterThanOrEqual(60);
    expect(served.length).toBeLessThanOrEqual(60 + elapsedSeconds);
    expect(limited.length).toBe(80 - served.length);
    expect(limited[0].retryAfter).toMatch(/^[1-9]\d*$/);
    expect(JSON.parse(limited[0].body)).toMatchObject({ status: 429, code: "rateLimited" });
    expect(otherAddress.status).toBe(200);
    // At most one probe per 10 s: a burst of a few seconds sees one or two checkedAt values.
    const checkedAt = new Set(served.map((r) => (JSON.parse(r.body) as { checkedAt: string }).checkedAt));
    expect(checkedAt.size).toBeLessThanOrEqual(1 + Math.ceil(elapsedSeconds / 10));
  });

  it("a second verify of a tenant within 60 s is 429 with Retry-After and checks nothing; another tenant is served", async () => {
    // Prepare: two onboarded tenants.
    const [tenant, other] = [await newTenant(), await newTenant()];
    await onboard(tenant);
    await onboard(other);
    const verify = (token: string): Promise<ApiResponse<{ code?: string; health?: string }>> =>
      api<{ code?: string; health?: string }>("/connector/verify", { method: "POST", token });

    // Act: the connector admin checks, then a help-desk user (any reader may) checks 20 times at once.
    const first = await verify(tenant.connectorAdmin);
    const again = await Promise.all(Array.from({ length: 20 }, () => verify(tenant.helpdesk)));
    const otherTenant = await verify(other.connectorAdmin);

    // Assess
    expect(first.status, first.text).toBe(200);
    expect(first.body.health).toBe("healthy");
    for (const r of again) {
      expectRateLimitedProblem(r.status, r.headers.get("retry-after"), r.headers.get("content-type"), r.text);
      expect(Number(r.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    }
    expect(otherTenant.status, otherTenant.text).toBe(200);
    // Refused before any check (the message says why; the quota's own refusal says otherwise).
    // TeamViewer's call log is not counted here: the health timer may ping these tenants too.
    for (const r of again) expect(r.text).toContain("checked less than 60 s ago");
    const verifies = await auditEvents(tenant.admin, "connector.verify");
    expect(verifies.length).toBe(1);
  });

  it("a verify that reuses its x-correlation-id is limited as any other", async () => {
    // Prepare: a script that sends the same correlation id on every call (the API accepts one).
    const tenant = await newTenant();
    await onboard(tenant);
    const headers = { "x-correlation-id": `verify-script-${randomUUID()}` };

    // Act
    const first = await api("/connector/verify", { method: "POST", token: tenant.connectorAdmin, headers });
    const second = await api("/connector/verify", { method: "POST", token: tenant.connectorAdmin, headers });

    // Assess
    expect(first.status, first.text).toBe(200);
    expectRateLimitedProblem(second.status, second.headers.get("retry-after"), second.headers.get("content-type"), second.text);
    expect((await auditEvents(tenant.admin, "connector.verify")).length).toBe(1);
  });

  it("120 resends: at most 10 accepted, the rest 409 or 429, and the session stays small", async () => {
    // Prepare: a help-desk caller with the longest display name a token may carry.
    const { tenant, id } = await notifiedSession();
    const longName = await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "N".repeat(256), roles: ["RemoteAssistance.Request"], groups: [] });

    // Act
    const answers = await Promise.all(Array.from({ length: 120 }, () => resend(longName, id)));

    // Assess
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 202).length).toBe(10);
    const unexpected = answers.filter((r) => r.status !== 202 && r.status !== 409 && r.status !== 429).map((r) => `${r.status} ${r.text.slice(0, 300)}`);
    expect(unexpected).toEqual([]);
    const conflict = answers.find((r) => r.status === 409);
    expect(conflict?.body.code).toBe("conflict");
    const pushed = (): number => pushes().filter((p) => p.sessionId === id).length;
    await eventually(async () => (pushed() === 11 ? true : undefined), 60_000, "eleven pushes").catch((e: Error) => {
      throw new Error(`${e.message} (saw ${pushed()})`);
    });
    const session = await api<{ history: unknown[] }>(`/sessions/${id}`, { token: tenant.admin });
    expect(session.status).toBe(200);
    expect(session.body.history.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(session.body).length).toBeLessThan(32_000);
    console.log(
      `120 resends: ${statuses.filter((s) => s === 202).length} × 202, ${statuses.filter((s) => s === 409).length} × 409, ${statuses.filter((s) => s === 429).length} × 429`,
    );
  });
});
