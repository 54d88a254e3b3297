// Audit push against the whole local stack (the integration stack retries after 0.5 s
// and gives up after 18 s, see globalSetup): a receiver on 127.0.0.1 that is down and
// comes back gets every event, each signature checked here; one that never comes back
// ends in the dead-letter queue, its last attempt made, where the dead-letter reader logs
// and completes it (checked with the real SDK), with the give-up in the subscription's lastError; the secret shows nowhere; URL rules and the per-tenant limit.
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ServiceBusClient } from "@azure/service-bus";
import { afterEach, describe, expect, it } from "vitest";
import { api, eventually, stack, tokenFor } from "../support/api.js";
import { hostLog, newTenant } from "./connectorSupport.js";

interface Received {
  readonly id: string;
  readonly activity: string;
  readonly signatureOk: boolean;
}

/** A receiver on 127.0.0.1 that answers 503 while `down`, and checks each signature (with `state.secret`). */
async function receiver(secret: string) {
  const received: Received[] = [];
  const state = { down: true, refused: 0, secret };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (state.down) {
        state.refused++;
        res.writeHead(503).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac("sha256", state.secret).update(raw).digest("hex")}`);
      const given = Buffer.from(String(req.headers["x-signature"] ?? ""));
      const event = JSON.parse(raw.toString("utf8")) as { id: string; activity: string };
      received.push({
        id: event.id,
        activity: event.activity,
        signatureOk: given.length === expected.length && timingSafeEqual(given, expected) && req.headers["x-event-id"] === event.id,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit?token=in-the-query`, received, state };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

interface Subscription {
  id: string;
  url: string;
  lastDeliveredAt: string | null;
  lastError: { message: string; at: string } | null;
}

/** The subscription `race`'s lastError, once it has one (a delivery that failed). */
async function subscriptionFailure(token: string): Promise<{ lastError: string } | undefined> {
  const sub = await api<Subscription>("/auditSubscriptions/race", { token });
  return sub.body.lastError ? { lastError: sub.body.lastError.message } : undefined;
}

describe("audit export, push", () => {
  it("delivers every event, signed, to a receiver that was down and came back", async () => {
    // Prepare: a subscription to a receiver that answers 503 for now.
    const tenant = await newTenant();
    const secret = `s3cret-${randomUUID()}`;
    const r = await receiver(secret);
    const put = await api<Subscription>("/auditSubscriptions/siem-1", { method: "PUT", token: tenant.admin, body: { url: r.url, secret } });
    expect(put.status, put.text).toBe(201);

    // Act: events while it is down; let it fail a few times, then bring it back and add more.
    for (const minutes of [21, 22, 23, 24]) {
      expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: minutes } })).status).toBe(200);
    }
    await eventually(async () => (r.state.refused >= 10 ? true : undefined), 15_000, "failed deliveries");
    const failing = await api<Subscription>("/auditSubscriptions/siem-1", { token: tenant.admin });
    r.state.down = false;
    for (const minutes of [25, 26]) {
      expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: minutes } })).status).toBe(200);
    }
    const expected = (await api<{ value: { id: string }[]; deltaToken: string }>("/auditEvents/delta", { token: tenant.admin })).body.value;
    const createdAt = expected.findIndex((e) => (e as { activity?: string }).activity === "auditSubscription.create");
    const recordedSinceCreation = expected.slice(createdAt);
    await eventually(
      async () => (new Set(r.received.map((e) => e.id)).size >= recordedSinceCreation.length ? true : undefined),
      15_000,
      "every event delivered",
    );

    // Assess: every event since the subscription (its own creation included) arrived, each signed right.
    expect(failing.body.lastError?.message).toMatch(/503/);
    expect(recordedSinceCreation.length).toBe(7); // the create, then six settings updates
    expect(new Set(r.received.map((e) => e.id))).toEqual(new Set(recordedSinceCreation.map((e) => e.id)));
    expect(r.received.every((e) => e.signatureOk)).toBe(true);
    expect(r.received.map((e) => e.activity)).toContain("auditSubscription.create");
    // The failures before the receiver came back are over: GET does not show one as current.
    const after = await api<Subscription>("/auditSubscriptions/siem-1", { token: tenant.admin });
    expect(after.body.lastDeliveredAt).not.toBeNull();
    expect(after.body.lastError).toBeNull();
  });

  it("dead-letters what a receiver that never comes back did not get; the dead-letter reader logs it and completes it; lastError shows it", async () => {
    // Prepare: a receiver that always answers 503.
    const tenant = await newTenant();
    const secret = `never-${randomUUID()}`;
    const r = await receiver(secret);
    const put = await api<Subscription>("/auditSubscriptions/gone", { method: "PUT", token: tenant.admin, body: { url: r.url, secret } });
    expect(put.status, put.text).toBe(201);
    const auditedBefore = (await api<{ value: { activity: string }[] }>("/auditEvents?top=200", { token: tenant.admin })).body.value.map((e) => e.activity);

    // Act: wait past the give-up age (18 s here) for the dead-letter reader to log the creation's delivery.
    const line = await eventually(
      async () =>
        hostLog()
          .split("\n")
          .find((l) => l.includes("audit delivery given up and dead-lettered") && l.includes(tenant.tenantId)),
      60_000,
      "a dead-lettered delivery read",
    );
    const logged = JSON.parse(line.slice(line.indexOf("{"))) as { subscriptionId: string; attempts: number; reason?: string; eventId?: string };
    // The reader completed it: the dead-letter queue no longer holds it.
    const client = new ServiceBusClient(stack().serviceBusConnectionString);
    const dlq = client.createReceiver("audit-export", { subQueueType: "deadLetter" });
    try {
      await eventually(
        async () => ((await dlq.peekMessages(500)).some((p) => (p.body as { tenantId?: string }).tenantId === tenant.tenantId) ? undefined : true),
        15_000,
        "the dead letter completed",
      );
    } finally {
      await dlq.close();
      await client.close();
    }

    // Assess
    expect(logged.subscriptionId).toBe("gone");
    expect(logged.attempts).toBeGreaterThan(3);
    expect(logged.reason).toBeTruthy();
    const sub = await api<Subscription>("/auditSubscriptions/gone", { token: tenant.admin });
    expect(sub.body.lastError?.message).toMatch(new RegExp(`^Gave up on event ${logged.eventId} after \\d+ attempts since \\S+: the receiver answered 503$`));
    expect(r.received).toEqual([]);
    // Every attempt was posted, the last one (scheduled at the give-up age) included.
    expect(r.state.refused).toBeGreaterThanOrEqual(logged.attempts);
    // No audit event about it: it would be pushed to this very receiver.
    const audit = await api<{ value: { activity: string }[] }>("/auditEvents?top=200", { token: tenant.admin });
    expect(audit.body.value.map((e) => e.activity)).toEqual(auditedBefore);
  }, 90_000);

  it("signs deliveries queued before a PUT replaced the secret with the new secret", async () => {
    // Prepare: a receiver that is down while events queue, then takes only the new secret's signature.
    const tenant = await newTenant();
    const oldSecret = `old-${randomUUID()}`;
    const newSecret = `new-${randomUUID()}`;
    const r = await receiver(newSecret);
    expect((await api("/auditSubscriptions/rotate", { method: "PUT", token: tenant.admin, body: { url: r.url, secret: oldSecret } })).status).toBe(201);
    for (const minutes of [51, 52, 53]) {
      expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: minutes } })).status).toBe(200);
    }
    await eventually(async () => (r.state.refused >= 4 ? true : undefined), 15_000, "failed deliveries");

    // Act: replace the secret, then bring the receiver back.
    const put = await api("/auditSubscriptions/rotate", { method: "PUT", token: tenant.admin, body: { url: r.url, secret: newSecret } });
    r.state.down = false;
    const events = (await api<{ value: { id: string; activity: string }[] }>("/auditEvents/delta", { token: tenant.admin })).body.value;
    const since = events.slice(events.findIndex((e) => e.activity === "auditSubscription.create"));
    await eventually(
      async () => (since.every((e) => r.received.some((x) => x.id === e.id && x.signatureOk)) ? true : undefined),
      20_000,
      "every event, signed with the new secret",
    );

    // Assess: the queued events (the create and three settings changes) and the update itself arrived.
    expect(put.status, put.text).toBe(200);
    expect(since.map((e) => e.activity)).toEqual([
      "auditSubscription.create",
      "settings.update",
      "settings.update",
      "settings.update",
      "auditSubscription.update",
    ]);
  });

  it("drops deliveries queued for a subscription deleted meanwhile, also when one of the same id is created again", async () => {
    // Prepare: a receiver that is down while events queue for the first subscription.
    const tenant = await newTenant();
    const first = await receiver(`first-${randomUUID()}`);
    const secondSecret = `second-${randomUUID()}`;
    const second = await receiver(secondSecret);
    second.state.down = false;
    expect(
      (await api("/auditSubscriptions/again", { method: "PUT", token: tenant.admin, body: { url: first.url, secret: `first-${randomUUID()}` } })).status,
    ).toBe(201);
    expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: 61 } })).status).toBe(200);
    await eventually(async () => (first.state.refused >= 3 ? true : undefined), 15_000, "failed deliveries");

    // Act: delete it, create one of the same id to another receiver, record one more event.
    expect((await api("/auditSubscriptions/again", { method: "DELETE", token: tenant.admin })).status).toBe(204);
    expect((await api("/auditSubscriptions/again", { method: "PUT", token: tenant.admin, body: { url: second.url, secret: secondSecret } })).status).toBe(201);
    expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: 62 } })).status).toBe(200);
    first.state.down = false;
    const events = (await api<{ value: { id: string; activity: string }[] }>("/auditEvents/delta", { token: tenant.admin })).body.value;
    const recreated = events.findLastIndex((e) => e.activity === "auditSubscription.create");
    // The old deliveries' retries come back and are dropped (the host says so for this tenant).
    await eventually(
      async () =>
        hostLog()
          .split("\n")
          .some((l) => l.includes("audit delivery dropped") && l.includes(tenant.tenantId))
          ? true
          : undefined,
      20_000,
      "a queued delivery dropped",
    );
    await eventually(async () => (second.received.length >= events.length - recreated ? true : undefined), 20_000, "the new subscription's events");

    // Assess: the new receiver got exactly the events since its creation, signed with its secret; the old one nothing.
    expect(new Set(second.received.map((e) => e.id))).toEqual(new Set(events.slice(recreated).map((e) => e.id)));
    expect(second.received.every((e) => e.signatureOk)).toBe(true);
    expect(first.received).toEqual([]);
  });

  it("keeps the secret of the PUT that set the URL when a DELETE of the same id runs at the same time, again and again", async () => {
    // Prepare: a receiver that checks each delivery against the secret of the latest PUT.
    const tenant = await newTenant();
    const r = await receiver(`first-${randomUUID()}`);
    r.state.down = false;
    const outcomes: string[] = [];

    // Act: each round, a DELETE and a PUT with a new secret at once; then an event, which the
    // subscription (when the PUT came last) must deliver signed with that PUT's secret.
    for (let round = 1; round <= 6; round++) {
      expect((await api("/auditSubscriptions/race", { method: "PUT", token: tenant.admin, body: { url: r.url, secret: r.state.secret } })).status).toBeLessThan(
        300,
      );
      const secret = `round-${round}-${randomUUID()}`;
      const [deleted, put] = await Promise.all([
        api("/auditSubscriptions/race", { method: "DELETE", token: tenant.admin }),
        api("/auditSubscriptions/race", { method: "PUT", token: tenant.admin, body: { url: r.url, secret } }),
      ]);
      r.state.secret = secret;
      const standing = (await api("/auditSubscriptions/race", { token: tenant.admin })).status === 200;
      outcomes.push(`${deleted.status}/${put.status}/${standing ? "standing" : "gone"}`);
      if (!standing) continue;
      const minutes = 70 + round;
      expect((await api("/settings", { method: "PATCH", token: tenant.admin, body: { sessionTimeoutMinutes: minutes } })).status).toBe(200);
      const events = (await api<{ value: { id: string; activity: string }[] }>("/auditEvents/delta", { token: tenant.admin })).body.value;
      const last = events[events.length - 1]!;
      const delivered = await eventually(
        async () => r.received.find((e) => e.id === last.id) ?? (await subscriptionFailure(tenant.admin)),
        15_000,
        `round ${round}'s event delivered or failed`,
      );

      // Assess (each round)
      expect(delivered, `round ${round} (${outcomes.join(", ")})`).toMatchObject({ id: last.id, signatureOk: true });
    }
  }, 120_000);

  it("never shows the secret: not in responses, the host log or audit events", async () => {
    // Prepare
    const tenant = await newTenant();
    const secret = `do-not-leak-${randomUUID()}`;
    const r = await receiver(secret);
    r.state.down = false;

    // Act
    const responses = [
      await api("/auditSubscriptions/leak", { method: "PUT", token: tenant.admin, body: { url: r.url, secret } }),
      await api("/auditSubscriptions/leak", { method: "PUT", token: tenant.admin, body: { url: r.url, secret } }),
      await api("/auditSubscriptions/leak", { token: tenant.admin }),
      await api("/auditSubscriptions", { token: tenant.admin }),
      await api("/auditEvents/delta", { token: tenant.admin }),
    ];
    await eventually(async () => (r.received.length >= 2 ? true : undefined), 15_000, "deliveries");
    const audit = await api("/auditEvents?top=200", { token: tenant.admin });

    // Assess
    expect(responses.map((x) => x.status)).toEqual([201, 200, 200, 200, 200]);
    for (const text of [...responses.map((x) => x.text), audit.text, hostLog()]) expect(text.includes(secret)).toBe(false);
    expect(audit.text).not.toContain("in-the-query");
  });

  it.each([
    ["plain http to another host", { url: "http://example.com/hook" }],
    ["credentials in the URL", { url: "https://user:pw@siem.example.com/hook" }],
    ["a fragment", { url: "https://siem.example.com/hook#x" }],
    ["another scheme", { url: "ftp://siem.example.com/hook" }],
    ["a private address", { url: "https://10.1.2.3/hook" }],
    ["the metadata address", { url: "https://169.254.169.254/hook" }],
    ["a short secret", { url: "https://siem.example.com/hook", secret: "short" }],
    ["an unknown field", { url: "https://siem.example.com/hook", extra: 1 }],
  ])("rejects %s with 400 and creates nothing", async (_what, body) => {
    // Prepare
    const tenant = await newTenant();

    // Act
    const res = await api<{ code: string }>("/auditSubscriptions/bad", {
      method: "PUT",
      token: tenant.admin,
      body: { secret: "a-long-enough-secret", ...body },
    });

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("validationFailed");
    expect((await api("/auditSubscriptions/bad", { token: tenant.admin })).status).toBe(404);
  });

  it("allows five subscriptions per tenant, answers 409 to a sixth, and only admins change them", async () => {
    // Prepare
    const tenant = await newTenant();
    const body = { url: "https://siem.example.com/hook", secret: "a-long-enough-secret" };

    // Act
    const puts = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => api(`/auditSubscriptions/s${i}`, { method: "PUT", token: tenant.admin, body })));
    const byHelpdesk = await api("/auditSubscriptions/s7", { method: "PUT", token: tenant.helpdesk, body });
    // The six PUTs race for five places: any one of them may be the refused one.
    const created = `s${puts.findIndex((p) => p.status === 201) + 1}`;
    const other = await newTenant();
    const fromOtherTenant = await api(`/auditSubscriptions/${created}`, { token: other.admin });
    const deleted = await api(`/auditSubscriptions/${created}`, { method: "DELETE", token: tenant.admin });
    const list = await api<{ value: Subscription[] }>("/auditSubscriptions", { token: tenant.admin });

    // Assess
    expect(puts.map((p) => p.status).sort()).toEqual([201, 201, 201, 201, 201, 409]);
    expect(byHelpdesk.status).toBe(403);
    expect(fromOtherTenant.status).toBe(404);
    expect(deleted.status).toBe(204);
    expect(list.body.value).toHaveLength(4);
  });

  it("shows a subscription's whole URL to administrators only; a View Reports reader sees its origin", async () => {
    // Prepare: a receiver whose URL carries a token in its query.
    const tenant = await newTenant();
    const body = { url: "https://siem.example.com/hook/tenant-7?token=receiver-token-123", secret: "a-long-enough-secret" };
    expect((await api("/auditSubscriptions/with-token", { method: "PUT", token: tenant.admin, body })).status).toBe(201);
    const reader = await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "Auditor", roles: ["RemoteAssistance.ViewReports"] });

    // Act
    const asAdmin = await api<Subscription>("/auditSubscriptions/with-token", { token: tenant.admin });
    const asReader = await api<Subscription>("/auditSubscriptions/with-token", { token: reader });
    const listed = await api<{ value: Subscription[] }>("/auditSubscriptions", { token: reader });

    // Assess
    expect(asAdmin.body.url).toBe(body.url);
    expect(asReader.status).toBe(200);
    expect(asReader.body.url).toBe("https://siem.example.com");
    expect(JSON.stringify(listed.body)).not.toContain("receiver-token-123");
  });
});
