// The automation door, end to end: a tenant's app registered at the identity emulator gets
// an app-only token with the real @azure/identity ClientSecretCredential and raises
// sessions through POST /api/automation/events. Its tenant is the token's; a user's token
// is refused there and an app's token everywhere else; role assignments naming the app
// scope it, on the door and on the queue path alike.
import { randomUUID } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import { ClientSecretCredential } from "@azure/identity";
import { beforeAll, describe, expect, it } from "vitest";
import { allDefinitions } from "../../functions/all.js";
import { endpointDescriptions } from "../../functions/http/endpoint.js";
import type { SessionResource } from "../../shared/contracts/sessions.js";
import { api, eventually, stack } from "../support/api.js";
import { sampleRequest } from "../support/samples.js";
import { auditEvents, newTenant, onboard, type TestTenant } from "./connectorSupport.js";
import { createDevices, envelope, eventuallySession, listSessions, managedDevice, sendAutomationEvents } from "./sessionsSupport.js";

interface App {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly objectId: string;
  readonly displayName: string;
}

/** The identity emulator's self-signed certificate, as its HTTPS listener presents it. */
async function emulatorCertificate(): Promise<string> {
  const url = new URL(stack().identityTlsUrl);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    // Read only, to trust it below; this connection sends nothing.
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
      const der = socket.getPeerCertificate().raw;
      socket.end();
      resolve(der);
    });
    socket.on("error", reject);
  });
  return `-----BEGIN CERTIFICATE-----\n${raw
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trim()}\n-----END CERTIFICATE-----\n`;
}

let certificate = "";

async function registerApp(tenantId: string, displayName: string, roles = ["RemoteAssistance.Automation"]): Promise<App> {
  const res = await fetch(`${stack().identityUrl}/apps`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tenantId, displayName, roles }),
  });
  expect(res.status).toBe(201);
  return { ...((await res.json()) as Omit<App, "displayName">), displayName };
}

/** What the tenant's automation does: client credentials against the emulator as its Entra authority. */
async function appToken(tenantId: string, app: App): Promise<string> {
  const credential = new ClientSecretCredential(tenantId, app.clientId, app.clientSecret, {
    authorityHost: stack().identityTlsUrl,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: certificate },
  });
  return (await credential.getToken(`${stack().audience}/.default`)).token;
}

const door = (token: string, body: unknown) =>
  api<{ id?: string; code?: string; detail?: string; errors?: { path: string; message: string }[] }>("/automation/events", { method: "POST", token, body });
const requested = (deviceId: string, extra: Record<string, unknown> = {}) => ({
  type: "remoteAssistance.requested",
  version: 1,
  ...extra,
  data: { deviceId, description: "INC0012345" },
});
const byApp = async (tenant: TestTenant, app: App, deviceId: string): Promise<SessionResource[]> =>
  (await listSessions(tenant.admin, `&deviceId=${deviceId}`)).filter((s) => s.requestedBy.id === app.objectId);

let tenant: TestTenant;
let other: TestTenant;
let bot: App;
let botToken = "";
const untagged = managedDevice();
const tagged = managedDevice({ roleScopeTagIds: ["0", "branch-x"] });
const repeated = managedDevice();
const otherDevice = managedDevice();

beforeAll(async () => {
  [tenant, other, certificate] = await Promise.all([newTenant(), newTenant(), emulatorCertificate()]);
  await Promise.all([
    onboard(tenant),
    createDevices(tenant.tenantId, tenant.admin, [untagged, tagged, repeated]),
    createDevices(other.tenantId, other.admin, [otherDevice]),
  ]);
  bot = await registerApp(tenant.tenantId, "ServiceNow remote assistance");
  botToken = await appToken(tenant.tenantId, bot);
}, 120_000);

describe("the automation door", () => {
  it("raises a session for the app's tenant, requested by the app as automation, which reaches the end user", async () => {
    // Act
    const res = await door(botToken, requested(untagged.id));

    // Assess
    expect(res.status, res.text).toBe(202);
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    const [session] = await eventually(
      async () => {
        const found = await byApp(tenant, bot, untagged.id);
        return found.length > 0 ? found : undefined;
      },
      20_000,
      "the app's session",
    );
    const reached = await eventuallySession(tenant.admin, session.id, (s) => s.status === "awaitingEndUser", "the app's session to await the end user");
    expect(reached.requestedBy).toEqual({ id: bot.objectId, displayName: "ServiceNow remote assistance", type: "automation" });
    expect(reached.description).toBe("INC0012345");
    const audit = (await auditEvents(tenant.admin, "session.requested")).filter((e) => e.actor.id === bot.objectId && e.target.id === session.id);
    expect(audit).toMatchObject([{ result: "success", actor: { type: "automation", displayName: "ServiceNow remote assistance" } }]);
  });

  it("takes the same envelope id twice as one request, and refuses that id for another device", async () => {
    // Prepare
    const id = randomUUID();

    // Act
    const first = await door(botToken, requested(repeated.id, { id, tenantId: tenant.tenantId.toUpperCase(), occurredAt: new Date().toISOString() }));
    const second = await door(botToken, requested(repeated.id, { id }));
    const reused = await door(botToken, requested(untagged.id, { id }));

    // Assess
    expect(first.status, first.text).toBe(202);
    expect(second.status, second.text).toBe(202);
    expect(first.body.id).toBe(id);
    expect(second.body.id).toBe(id);
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe("conflict");
    expect(await byApp(tenant, bot, repeated.id)).toHaveLength(1);
  });

  it("refuses an envelope id used again with another ticket or description (409), and keeps the first request as it was", async () => {
    // Prepare
    const device = managedDevice();
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const id = randomUUID();
    const event = (data: Record<string, unknown>) => ({ type: "remoteAssistance.requested", version: 1, id, data: { deviceId: device.id, ...data } });

    // Act
    const first = await door(botToken, event({ ticketId: "INC-1", description: "Outlook crashes" }));
    const retried = await door(botToken, event({ ticketId: "INC-1", description: "Outlook crashes" }));
    const otherTicket = await door(botToken, event({ ticketId: "INC-2", description: "Outlook crashes" }));
    const otherDescription = await door(botToken, event({ ticketId: "INC-1", description: "The printer is offline" }));

    // Assess
    expect(first.status, first.text).toBe(202);
    expect(retried.status, retried.text).toBe(202);
    expect(otherTicket.status, otherTicket.text).toBe(409);
    expect(otherTicket.body.code).toBe("conflict");
    expect(otherDescription.status, otherDescription.text).toBe(409);
    const sessions = await byApp(tenant, bot, device.id);
    expect(sessions.map((s) => ({ ticketId: s.ticketId, description: s.description }))).toEqual([{ ticketId: "INC-1", description: "Outlook crashes" }]);
  });

  it("refuses an event naming another tenant with 403, and that tenant gains nothing: no session, no audit event", async () => {
    // Act
    const res = await door(botToken, requested(otherDevice.id, { tenantId: other.tenantId }));

    // Assess
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("forbidden");
    expect(res.body.detail).toContain("another tenant");
    expect(await listSessions(other.admin)).toEqual([]);
    expect(await auditEvents(other.admin, "session.requested")).toEqual([]);
    expect((await listSessions(tenant.admin, `&deviceId=${otherDevice.id}`)).length).toBe(0);
  });

  it("refuses a user's token with 403, even an administrator's", async () => {
    // Act
    const helpdesk = await door(tenant.helpdesk, requested(untagged.id));
    const admin = await door(tenant.admin, requested(untagged.id));

    // Assess
    expect(helpdesk.status).toBe(403);
    expect(helpdesk.body.code).toBe("forbidden");
    expect(helpdesk.body.detail).toContain("app-only token");
    expect(admin.status).toBe(403);
  });

  it("refuses an app without the RemoteAssistance.Automation role", async () => {
    // Prepare
    const roleless = await registerApp(tenant.tenantId, "Unconsented tool", []);
    const token = await appToken(tenant.tenantId, roleless);

    // Act
    const res = await door(token, requested(untagged.id));

    // Assess
    expect(res.status).toBe(403);
    expect(res.body.detail).toContain("RemoteAssistance.Automation");
    expect(await byApp(tenant, roleless, untagged.id)).toEqual([]);
  });

  it("refuses device.removed (400) and the device is still there; other inventory types too", async () => {
    // Act
    const removed = await door(botToken, { type: "device.removed", version: 1, data: { id: untagged.id } });
    const upserted = await door(botToken, { type: "device.upserted", version: 1, data: managedDevice() });

    // Assess
    expect(removed.status).toBe(400);
    expect(removed.body.code).toBe("validationFailed");
    expect(removed.body.errors?.some((e) => e.path === "body.type" && e.message.includes("remoteAssistance.requested"))).toBe(true);
    expect(upserted.status).toBe(400);
    expect((await api(`/devices/${untagged.id}`, { token: tenant.admin })).status).toBe(200);
  });

  it("refuses a requestedBy in the body: the requester is the app its token names", async () => {
    // Act
    const res = await door(botToken, {
      type: "remoteAssistance.requested",
      version: 1,
      data: { deviceId: untagged.id, requestedBy: { id: randomUUID(), displayName: "Someone else" } },
    });

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.errors?.find((e) => e.path === "body.data.requestedBy")?.message).toContain("token");
  });

  it("refuses the app's token on every other endpoint with 403", async () => {
    // Prepare
    allDefinitions();
    const others = endpointDescriptions().filter((d) => d.authenticated && d.access !== "automation");

    // Act
    const answers = await Promise.all(
      others.map(async (d) => {
        const r = sampleRequest(d);
        const res = await api<{ code?: string }>(r.path, { method: d.method, token: botToken, body: r.body });
        return { endpoint: `${d.method} ${d.route}`, status: res.status, code: res.body?.code };
      }),
    );

    // Assess
    expect(others.length).toBeGreaterThan(5);
    for (const a of answers) expect(a, a.endpoint).toMatchObject({ status: 403, code: "forbidden" });
  });
});

describe("an app scoped by a role assignment", () => {
  let scoped: App;
  let scopedToken = "";
  beforeAll(async () => {
    scoped = await registerApp(tenant.tenantId, "Branch X bot");
    scopedToken = await appToken(tenant.tenantId, scoped);
    const put = await api(`/roleAssignments/${randomUUID()}`, {
      method: "PUT",
      token: tenant.admin,
      body: { principalId: scoped.objectId, principalType: "user", permission: "RemoteAssistance.Request", scopeTags: ["branch-x"] },
    });
    expect(put.status, put.text).toBe(201);
  });

  it("cannot raise a session through the door on a device without its tag (404, as for a user), but can on one with it", async () => {
    // Act
    const outside = await door(scopedToken, requested(untagged.id));
    const inside = await door(scopedToken, requested(tagged.id));

    // Assess
    expect(outside.status).toBe(404);
    expect(outside.body.code).toBe("notFound");
    expect(inside.status, inside.text).toBe(202);
    expect(await byApp(tenant, scoped, untagged.id)).toEqual([]);
    expect(await byApp(tenant, scoped, tagged.id)).toHaveLength(1);
    const refusals = (await auditEvents(tenant.admin, "session.requested")).filter((e) => e.actor.id === scoped.objectId && e.result === "failure");
    expect(refusals.map((e) => e.target)).toContainEqual({ type: "device", id: untagged.id });
  });

  it("cannot on the queue path either: the request is refused and audited, and no session is created", async () => {
    // Prepare
    const event = envelope("remoteAssistance.requested", tenant.tenantId, {
      deviceId: untagged.id,
      requestedBy: { id: scoped.objectId, displayName: "Branch X bot" },
    });
    const allowed = envelope("remoteAssistance.requested", tenant.tenantId, {
      deviceId: tagged.id,
      requestedBy: { id: scoped.objectId, displayName: "Branch X bot" },
    });

    // Act
    await sendAutomationEvents([event, allowed]);

    // Assess: the allowed one, sent after, shows the queue got to both.
    await eventually(async () => ((await byApp(tenant, scoped, tagged.id)).length === 2 ? true : undefined), 30_000, "the allowed queue request");
    // The door's refusal (test above) and the queue's: two audited failures for the untagged device.
    const refusals = await eventually(
      async () => {
        const found = (await auditEvents(tenant.admin, "session.requested")).filter(
          (e) => e.actor.id === scoped.objectId && e.result === "failure" && e.target.id === untagged.id,
        );
        return found.length >= 2 ? found : undefined;
      },
      30_000,
      "the queue refusal's audit event",
    );
    expect(refusals[0].detail).toContain("notFound");
    expect(await byApp(tenant, scoped, untagged.id)).toEqual([]);
  });
});

describe("just-in-time rules at the door", () => {
  it("carries ticketId and acknowledgeWarnings, refuses a non-compliant device without the acknowledgement, and one open session per device", async () => {
    // Prepare
    const noncompliant = managedDevice({ complianceState: "noncompliant" });
    await createDevices(tenant.tenantId, tenant.admin, [noncompliant]);

    // Act
    const unacknowledged = await door(botToken, { type: "remoteAssistance.requested", version: 1, data: { deviceId: noncompliant.id, ticketId: "INC-77" } });
    const acknowledged = await door(botToken, {
      type: "remoteAssistance.requested",
      version: 1,
      data: { deviceId: noncompliant.id, ticketId: "INC-77", acknowledgeWarnings: ["deviceNotCompliant"] },
    });
    const second = await door(botToken, {
      type: "remoteAssistance.requested",
      version: 1,
      data: { deviceId: noncompliant.id, ticketId: "INC-78", acknowledgeWarnings: ["deviceNotCompliant"] },
    });

    // Assess
    expect(unacknowledged.status, unacknowledged.text).toBe(409);
    expect(unacknowledged.body).toMatchObject({ code: "acknowledgementRequired", warnings: ["deviceNotCompliant"] });
    expect(acknowledged.status, acknowledged.text).toBe(202);
    const [session] = await byApp(tenant, bot, noncompliant.id);
    expect(session).toMatchObject({ ticketId: "INC-77", acknowledgedWarnings: ["deviceNotCompliant"] });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: "conflict", existingSessionId: session.id });
  });

  it("refuses a request without a ticket where the tenant requires one (400 naming data.ticketId)", async () => {
    // Prepare
    const device = managedDevice();
    const strict = await newTenant();
    await onboard(strict);
    await createDevices(strict.tenantId, strict.admin, [device]);
    await api("/settings", { method: "PATCH", token: strict.admin, body: { requireTicketId: true } });
    const app = await registerApp(strict.tenantId, "Strict ITSM");
    const token = await appToken(strict.tenantId, app);

    // Act
    const res = await door(token, requested(device.id));

    // Assess
    expect(res.status, res.text).toBe(400);
    expect(res.body.errors).toEqual([{ path: "body.data.ticketId", message: "required by this tenant" }]);
    expect(await listSessions(strict.admin)).toEqual([]);
  });
});

describe("retries and races at the door", () => {
  const problemType = (res: { headers: Headers }) => res.headers.get("content-type") ?? "";

  it("takes the same event retried with another occurredAt, its id in upper case, and sent five times at once, as one request", async () => {
    // Prepare
    const device = managedDevice();
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const id = randomUUID();
    const attempt = (i: number) =>
      door(botToken, requested(device.id, { id: i % 2 === 0 ? id : id.toUpperCase(), occurredAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() }));

    // Act
    const answers = await Promise.all([0, 1, 2, 3, 4].map(attempt));
    const later = await attempt(5);

    // Assess
    for (const a of [...answers, later]) {
      expect(a.status, a.text).toBe(202);
      expect(a.body.id).toBe(id);
    }
    expect(await byApp(tenant, bot, device.id)).toHaveLength(1);
  });

  it("takes an event id once more after a refusal for a device not synced yet, when the device arrives", async () => {
    // Prepare
    const device = managedDevice();
    const id = randomUUID();

    // Act
    const early = await door(botToken, requested(device.id, { id }));
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const late = await door(botToken, requested(device.id, { id }));

    // Assess
    expect(early.status).toBe(404);
    expect(early.body.code).toBe("notFound");
    expect(late.status, late.text).toBe(202);
    expect(late.body.id).toBe(id);
    expect(await byApp(tenant, bot, device.id)).toHaveLength(1);
  });

  it("answers a device of another tenant as one that does not exist, and writes nothing there", async () => {
    // Act
    const res = await door(botToken, requested(otherDevice.id));

    // Assess
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("notFound");
    expect(await listSessions(other.admin)).toEqual([]);
  });

  it("answers every refusal as problem+json with a code", async () => {
    // Act
    const answers = {
      notJson: await api<{ code?: string }>("/automation/events", {
        method: "POST",
        token: botToken,
        rawBody: "{not json",
        headers: { "content-type": "application/json" },
      }),
      array: await door(botToken, [requested(untagged.id)]),
      badId: await door(botToken, requested(untagged.id, { id: "not-a-uuid" })),
      noToken: await api<{ code?: string }>("/automation/events", { method: "POST", body: requested(untagged.id) }),
      tooLarge: await door(botToken, requested(untagged.id, { correlationId: "x".repeat(70_000) })),
      unknownDevice: await door(botToken, requested(randomUUID())),
    };

    // Assess
    expect(
      Object.fromEntries(Object.entries(answers).map(([k, r]) => [k, { status: r.status, code: r.body?.code, type: problemType(r).split(";")[0] }])),
    ).toEqual({
      notJson: { status: 400, code: "validationFailed", type: "application/problem+json" },
      array: { status: 400, code: "validationFailed", type: "application/problem+json" },
      badId: { status: 400, code: "validationFailed", type: "application/problem+json" },
      noToken: { status: 401, code: "unauthenticated", type: "application/problem+json" },
      tooLarge: { status: 413, code: "payloadTooLarge", type: "application/problem+json" },
      unknownDevice: { status: 404, code: "notFound", type: "application/problem+json" },
    });
  });

  it("makes one session of an event id sent on the queue in upper case and through the door in lower case", async () => {
    // Prepare
    const device = managedDevice();
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const id = randomUUID();
    const queued = {
      ...envelope("remoteAssistance.requested", tenant.tenantId, {
        deviceId: device.id,
        description: "INC0012345",
        requestedBy: { id: bot.objectId, displayName: "ServiceNow remote assistance" },
      }),
      id: id.toUpperCase(),
    };

    // Act
    await sendAutomationEvents([queued]);
    await eventually(async () => ((await byApp(tenant, bot, device.id)).length > 0 ? true : undefined), 30_000, "the queued request's session");
    const res = await door(botToken, requested(device.id, { id }));

    // Assess
    expect(res.status, res.text).toBe(202);
    expect(await byApp(tenant, bot, device.id)).toHaveLength(1);
  });
});
