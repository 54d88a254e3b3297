// Traces through the whole local stack, read back from the trace file the local exporter
// writes (LOCAL_TRACES_FILE, `traces.jsonl` in the stack's data dir): one session request
// is one trace from the HTTP span through Service Bus to the session worker and its
// TeamViewer call, a caller's `traceparent` is continued, and no span carries a secret.
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { beforeAll, describe, expect, it } from "vitest";
import type { SpanRecord } from "../../shared/adapters/telemetry/jsonlSpanProcessor.js";
import { redact } from "../../shared/app/logging.js";
import { eventually, stack, tokenFor } from "../support/api.js";
import { connect, eventuallyConnector, followToCallback, newTenant, signInAtTeamViewer, storedTokenValue, type TestTenant } from "./connectorSupport.js";
import { createDevices, eventuallySession, managedDevice, requestSession } from "./sessionsSupport.js";

const sessionRequestSpan = "POST /api/devices/{deviceId}/remoteAssistanceSessions";

function spans(): SpanRecord[] {
  let text: string;
  try {
    text = readFileSync(join(stack().dataDir, "traces.jsonl"), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as SpanRecord);
}

interface SessionTrace {
  readonly server: SpanRecord;
  readonly producer: SpanRecord;
  readonly consumer: SpanRecord;
  readonly teamViewer: SpanRecord;
  readonly all: SpanRecord[];
}

/** The spans of the trace the session request with this correlation id began, once the worker's TeamViewer call is in. */
function sessionTrace(correlationId: string): Promise<SessionTrace> {
  return eventually(
    async () => {
      const recorded = spans();
      const server = recorded.find((s) => s.name === sessionRequestSpan && s.attributes["rac.correlation_id"] === correlationId);
      if (!server) return undefined;
      const all = recorded.filter((s) => s.traceId === server.traceId);
      const producer = all.find(
        (s) => s.kind === "producer" && s.parentSpanId === server.spanId && s.attributes["messaging.destination.name"] === "session-commands",
      );
      const consumer = all.find((s) => s.kind === "consumer" && s.attributes["rac.message_type"] === "session.create");
      const teamViewer = all.find((s) => s.name === "TeamViewer POST /sessions");
      return producer && consumer && teamViewer ? { server, producer, consumer, teamViewer, all } : undefined;
    },
    30_000,
    `the spans of session request ${correlationId}`,
  );
}

describe("traces across HTTP, Service Bus, the worker and TeamViewer", () => {
  let tenant: TestTenant;
  let deviceId: string;
  /** A device per request: a device carries one open session at a time. */
  let secondDeviceId: string;
  let oauth: { code: string; state: string };

  beforeAll(async () => {
    // Prepare: a tenant onboarded the way a browser does it (the code and state kept for the scan), and a device.
    tenant = await newTenant();
    const { authorizeUrl, state } = await connect(tenant.connectorAdmin);
    const redirect = await signInAtTeamViewer(authorizeUrl, "allow");
    oauth = { code: redirect.searchParams.get("code")!, state };
    expect((await followToCallback(redirect)).status).toBe(302);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "onboarded");
    const device = managedDevice();
    const second = managedDevice();
    deviceId = device.id;
    secondDeviceId = second.id;
    await createDevices(tenant.tenantId, tenant.admin, [device, second]);
  });

  it("gives one session request one trace: HTTP span → send → the session worker's span → the TeamViewer call", async () => {
    // Prepare
    const correlationId = `trace-${randomUUID()}`;

    // Act
    const requested = await requestSession(tenant.helpdesk, deviceId, { description: "trace me" }, { "x-correlation-id": correlationId });
    expect(requested.status, requested.text).toBe(202);
    await eventuallySession(tenant.helpdesk, requested.body.id, (s) => s.status === "awaitingEndUser", "awaitingEndUser");

    // Assess
    const t = await sessionTrace(correlationId);
    expect(t.server.parentSpanId).toBeUndefined(); // no traceparent sent: the request began the trace
    expect(t.server).toMatchObject({
      kind: "server",
      attributes: { "http.route": "/api/devices/{deviceId}/remoteAssistanceSessions", "http.response.status_code": 202 },
    });
    expect(t.producer).toMatchObject({ name: "send session-commands", parentSpanId: t.server.spanId, attributes: { "rac.message_type": "session.create" } });
    expect(t.consumer).toMatchObject({ name: "process session-commands", parentSpanId: t.producer.spanId, attributes: { "rac.function": "sessionCommands" } });
    expect(t.teamViewer).toMatchObject({
      kind: "client",
      parentSpanId: t.consumer.spanId,
      attributes: { "url.template": "/sessions", "http.response.status_code": 200 },
    });
    for (const s of [t.server, t.producer, t.consumer, t.teamViewer]) {
      expect(s.traceId, s.name).toBe(t.server.traceId);
      expect(s.attributes, s.name).toMatchObject({ "rac.tenant_id": tenant.tenantId, "rac.correlation_id": correlationId });
      expect(s.status, s.name).not.toBe("error");
    }
    // Every span of the trace hangs off another span of it: no broken parent link.
    const ids = new Set(t.all.map((s) => s.spanId));
    expect(t.all.filter((s) => s !== t.server && !ids.has(s.parentSpanId!)).map((s) => s.name)).toEqual([]);
  });

  it("continues a caller's traceparent through Service Bus to the TeamViewer call", async () => {
    // Prepare
    const traceId = randomBytes(16).toString("hex");
    const callerSpanId = randomBytes(8).toString("hex");
    const correlationId = `trace-${randomUUID()}`;

    // Act
    const requested = await requestSession(
      tenant.helpdesk,
      secondDeviceId,
      { description: "traced by the caller" },
      {
        "x-correlation-id": correlationId,
        traceparent: `00-${traceId}-${callerSpanId}-01`,
      },
    );
    expect(requested.status, requested.text).toBe(202);

    // Assess
    const t = await sessionTrace(correlationId);
    expect(t.server.traceId).toBe(traceId);
    expect(t.server.parentSpanId).toBe(callerSpanId);
    expect([t.producer, t.consumer, t.teamViewer].map((s) => s.traceId)).toEqual([traceId, traceId, traceId]);
  });

  it("continues another sender's Diagnostic-Id, and marks a message it rejects on the consumer span", async () => {
    // Prepare: a sender using the Azure SDK's own tracing property, with a message no handler takes.
    const traceId = randomBytes(16).toString("hex");
    const senderSpanId = randomBytes(8).toString("hex");
    const messageId = randomUUID();
    const client = new ServiceBusClient(stack().serviceBusConnectionString);

    // Act
    try {
      const sender = client.createSender("session-commands");
      await sender.sendMessages({
        messageId,
        body: { type: "session.teleport", version: 1, id: messageId, tenantId: tenant.tenantId, occurredAt: new Date().toISOString(), data: {} },
        contentType: "application/json",
        applicationProperties: { "Diagnostic-Id": `00-${traceId}-${senderSpanId}-01` },
      });
      await sender.close();
    } finally {
      await client.close();
    }

    // Assess
    const consumer = await eventually(
      async () => spans().find((s) => s.kind === "consumer" && s.attributes["messaging.message.id"] === messageId),
      30_000,
      "the consumer span",
    );
    expect(consumer).toMatchObject({
      traceId,
      parentSpanId: senderSpanId,
      status: "error",
      attributes: { "rac.outcome": "rejected", "error.type": "malformedMessage" },
    });
  });

  it("writes no token, secret, OAuth code or state into any span", async () => {
    // Prepare: the secrets this tenant's flow handled, and the spans that handled them.
    const stored = await storedTokenValue(tenant.tenantId);
    const tokens = JSON.parse(stored!.value) as { accessToken: string; refreshToken: string };
    const endUser = await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "End User" });
    const secrets = [
      tokens.accessToken,
      tokens.refreshToken,
      oauth.code,
      oauth.state,
      "local-client-secret",
      tenant.admin,
      tenant.helpdesk,
      tenant.connectorAdmin,
      endUser,
    ];

    // Act
    const recorded = spans();
    const text = readFileSync(join(stack().dataDir, "traces.jsonl"), "utf8");

    // Assess: the token exchange and the callback carrying code and state were traced …
    const tenantSpans = recorded.filter((s) => s.attributes["rac.tenant_id"] === tenant.tenantId);
    expect(tenantSpans.map((s) => s.name)).toEqual(expect.arrayContaining(["TeamViewer POST /oauth2/token", "POST /api/connector/connect"]));
    expect(recorded.some((s) => s.name === "GET /api/connector/oauth/callback")).toBe(true);
    // … and no secret is anywhere in the file, nor anything shaped like a credential in an attribute.
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(8);
      expect(text.includes(secret), "a secret appears in the trace file").toBe(false);
    }
    const credentialShaped = recorded.flatMap((s) => Object.entries(s.attributes).filter(([, v]) => typeof v === "string" && redact(v) !== v));
    expect(credentialShaped).toEqual([]);
    expect(recorded.length).toBeGreaterThan(20);
  });
});
