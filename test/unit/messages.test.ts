// Queue messages: every type parses, malformed ones fail with a path and never throw,
// and unknown Graph enum values in device.upserted are kept.
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeEnvelope, messageForLog, messageQueue, messageTypes, parseMessage, type MessageData, type MessageType } from "../../shared/contracts/messages.js";
import { queueNames } from "../../shared/queueDefinitions.js";

const tenantId = "11111111-1111-1111-1111-111111111111";
const deviceId = "22222222-2222-2222-2222-222222222222";
const userId = "33333333-3333-3333-3333-333333333333";
const sessionId = "01HZX3Q0J5V9YB8M2W4K6T7R1C";
const now = new Date("2026-01-10T09:00:00.000Z");
const admin = { id: userId, displayName: "Adele Vance" };

const graphDevice: MessageData<"device.upserted"> = {
  id: deviceId,
  deviceName: "DESKTOP-1",
  operatingSystem: "Windows",
  osVersion: "10.0.22631.3447",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  deviceType: "desktop",
  userId,
  userPrincipalName: "adele@contoso.example",
  userDisplayName: "Adele Vance",
  emailAddress: "adele@contoso.example",
  roleScopeTagIds: ["0", "7"],
  lastSyncDateTime: "2026-01-10T08:55:12.1234567Z",
};

const validData: { readonly [T in MessageType]: MessageData<T> } = {
  "connector.authorize": { stateId: "q2lWbX9c4vTnR0aHk3sJ8pYdLm5fG1eZ", code: "oauth-code-value" },
  "connector.disconnect": { requestedBy: admin },
  "session.create": { sessionId },
  "session.close": { sessionId, reason: "admin", closedBy: { ...admin, type: "user" } },
  "notification.send": { sessionId, userId },
  "device.upserted": graphDevice,
  "device.removed": { id: deviceId },
  "user.upserted": {
    id: userId,
    userPrincipalName: "adele@contoso.example",
    displayName: "Adele Vance",
    mail: "adele@contoso.example",
    intuneLicensed: true,
    groups: ["44444444-4444-4444-4444-444444444444"],
  },
  "remoteAssistance.requested": { deviceId, description: "Printer driver will not install", requestedBy: admin },
  "audit.deliver": {
    subscriptionId: "siem-1",
    generation: "0b8f8b2e-5c1e-4f57-9f5b-8f0f0d6a1c11",
    sequence: 7,
    attempt: 2,
    firstFailedAt: "2026-01-10T09:00:00.000Z",
  },
  "device.reindex": { version: 2 },
};

function envelope<T extends MessageType>(type: T, data: MessageData<T> = validData[type]): Record<string, unknown> {
  return { ...makeEnvelope(type, tenantId, data, { now, correlationId: "corr-123" }) };
}

function expectFailure(body: unknown, path: string): { reason: string; issues: readonly { path: string; message: string }[] } {
  const result = parseMessage(body);
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error("unreachable");
  expect(result.issues.map((i) => i.path)).toContain(path);
  expect(result.reason).toContain(`${path}: `);
  return result;
}

describe("parseMessage: valid envelopes", () => {
  it.each(Object.values(messageTypes))("parses %s", (type) => {
    // Prepare
    const body = envelope(type);

    // Act
    const result = parseMessage(body);

    // Assess
    expect(result).toEqual({ ok: true, message: body });
  });

  it("decodes JSON text and bytes, as other producers send them", () => {
    // Prepare
    const body = envelope("session.create");
    const text = JSON.stringify(body);

    // Act
    const fromText = parseMessage(text);
    const fromBytes = parseMessage(new TextEncoder().encode(text));

    // Assess
    expect(fromText).toEqual({ ok: true, message: body });
    expect(fromBytes).toEqual({ ok: true, message: body });
  });

  it("accepts a queue's own types when the queue is given", () => {
    // Prepare
    const body = envelope("session.close");

    // Act
    const result = parseMessage(body, { queue: queueNames.sessionCommands });

    // Assess
    expect(result.ok).toBe(true);
  });
});

describe("parseMessage folds ids", () => {
  // Producers send GUIDs in either case; ids compare lower-case everywhere, so the schemas
  // fold them once on parse and no handler lower-cases by hand. Session ids are ULIDs and stay.
  const upper = (v: string): string => v.toUpperCase();
  const tenant = "aaaabbbb-cccc-dddd-eeee-ffff00001111";
  const device = "bbbbcccc-dddd-eeee-ffff-000011112222";
  const user = "ccccdddd-eeee-ffff-0000-111122223333";
  const requester = { id: user, displayName: "Adele Vance" };

  it.each([
    ["device.upserted", { ...graphDevice, id: upper(device), userId: upper(user) }, { id: device, userId: user }],
    ["device.removed", { id: upper(device) }, { id: device }],
    [
      "user.upserted",
      { ...validData["user.upserted"], id: upper(user), groups: ["ABCDEF01-2345-6789-ABCD-EF0123456789"] },
      { id: user, groups: ["abcdef01-2345-6789-abcd-ef0123456789"] },
    ],
    [
      "remoteAssistance.requested",
      { deviceId: upper(device), requestedBy: { id: upper(user), displayName: "Adele Vance" } },
      { deviceId: device, requestedBy: requester },
    ],
    ["notification.send", { sessionId, userId: upper(user) }, { sessionId, userId: user }],
    [
      "session.close",
      { sessionId, reason: "admin", closedBy: { id: upper(user), displayName: "Adele Vance", type: "user" } },
      { sessionId, closedBy: { ...requester, type: "user" } },
    ],
    ["connector.disconnect", { requestedBy: { id: upper(user), displayName: "Adele Vance" } }, { requestedBy: requester }],
  ] as const)("%s: the envelope's tenant and the data's ids", (type, data, folded) => {
    // Prepare
    const body = { ...makeEnvelope(type, upper(tenant), data as MessageData<typeof type>, { now }) };

    // Act
    const result = parseMessage(body);

    // Assess
    if (!result.ok) throw new Error(result.reason);
    expect(result.message.tenantId).toBe(tenant);
    expect(result.message.data).toMatchObject(folded);
  });

  it("folds the envelope id: it keys an automation's request, through the door (which folds it) or the queue", () => {
    // Prepare
    const id = "ABCDEF01-2345-4789-8BCD-EF0123456789";
    const body = { ...makeEnvelope("remoteAssistance.requested", tenant, { deviceId: device, requestedBy: requester }, { now, id }) };

    // Act
    const result = parseMessage(body);

    // Assess
    if (!result.ok) throw new Error(result.reason);
    expect(result.message.id).toBe(id.toLowerCase());
  });

  it("keeps a session id (a ULID) as sent", () => {
    // Act
    const result = parseMessage(envelope("session.create", { sessionId }));

    // Assess
    if (!result.ok) throw new Error(result.reason);
    expect(result.message.data).toEqual({ sessionId });
  });
});

describe("parseMessage: malformed messages", () => {
  it.each([
    ["missing tenantId", (e: Record<string, unknown>) => ({ ...e, tenantId: undefined }), "tenantId"],
    ["missing data", (e: Record<string, unknown>) => ({ ...e, data: undefined }), "data"],
    ["wrong version", (e: Record<string, unknown>) => ({ ...e, version: 2 }), "version"],
    ["version as a string", (e: Record<string, unknown>) => ({ ...e, version: "1" }), "version"],
    ["bad uuid", (e: Record<string, unknown>) => ({ ...e, id: "not-a-uuid" }), "id"],
    ["unknown type", (e: Record<string, unknown>) => ({ ...e, type: "session.explode" }), "type"],
    ["occurredAt not a timestamp", (e: Record<string, unknown>) => ({ ...e, occurredAt: "yesterday" }), "occurredAt"],
    ["tenant id with a slash", (e: Record<string, unknown>) => ({ ...e, tenantId: "../other-tenant" }), "tenantId"],
    ["tenant id too long", (e: Record<string, unknown>) => ({ ...e, tenantId: "a".repeat(65) }), "tenantId"],
    ["an unknown envelope field", (e: Record<string, unknown>) => ({ ...e, priority: "high" }), "(message)"],
    ["data as an array", (e: Record<string, unknown>) => ({ ...e, data: [sessionId] }), "data"],
  ])("rejects an envelope with %s", (_name, mutate, path) => {
    // Prepare
    const body = JSON.parse(JSON.stringify(mutate(envelope("session.create")))) as unknown;

    // Act & Assess
    expectFailure(body, path);
  });

  it.each([
    ["session.create with a numeric sessionId", envelope("session.create", { sessionId: 42 } as never), "data.sessionId"],
    ["session.create with an extra field", envelope("session.create", { sessionId, priority: 1 } as never), "data"],
    ["session.close with an unknown reason", envelope("session.close", { sessionId, reason: "bored" } as never), "data.reason"],
    ["connector.authorize without a code", envelope("connector.authorize", { stateId: "q2lWbX9c4vTnR0aHk3sJ8pYdLm5fG1eZ" } as never), "data.code"],
    ["connector.disconnect without a display name", envelope("connector.disconnect", { requestedBy: { id: userId } } as never), "data.requestedBy.displayName"],
    [
      "connector.disconnect with a fractional generation",
      envelope("connector.disconnect", { requestedBy: { id: userId, displayName: "Adele Vance" }, generation: 1.5 }),
      "data.generation",
    ],
    ["notification.send with a bad user id", envelope("notification.send", { sessionId, userId: "adele vance" }), "data.userId"],
    [
      "device.upserted with a numeric enrollment type",
      envelope("device.upserted", { ...graphDevice, deviceEnrollmentType: 3 } as never),
      "data.deviceEnrollmentType",
    ],
    ["device.upserted with an oversized device name", envelope("device.upserted", { ...graphDevice, deviceName: "x".repeat(257) }), "data.deviceName"],
    ["device.upserted with an oversized enum value", envelope("device.upserted", { ...graphDevice, deviceType: "y".repeat(65) }), "data.deviceType"],
    [
      "device.upserted with too many scope tags",
      envelope("device.upserted", { ...graphDevice, roleScopeTagIds: Array.from({ length: 101 }, (_, i) => String(i)) }),
      "data.roleScopeTagIds",
    ],
    [
      "device.upserted with a non-string scope tag",
      envelope("device.upserted", { ...graphDevice, roleScopeTagIds: ["0", 7] } as never),
      "data.roleScopeTagIds.1",
    ],
    ["device.removed without an id", envelope("device.removed", {} as never), "data.id"],
    [
      "user.upserted with a string license flag",
      envelope("user.upserted", { ...validData["user.upserted"], intuneLicensed: "yes" } as never),
      "data.intuneLicensed",
    ],
    [
      "remoteAssistance.requested with a 501-character description",
      envelope("remoteAssistance.requested", { deviceId, description: "d".repeat(501), requestedBy: admin }),
      "data.description",
    ],
  ])("rejects %s", (_name, body, path) => {
    // Act & Assess
    expectFailure(body, path);
  });

  it("says which message type's data was wrong", () => {
    // Prepare
    const body = envelope("remoteAssistance.requested", { deviceId, requestedBy: admin, description: "d".repeat(501) });

    // Act
    const failure = expectFailure(body, "data.description");

    // Assess
    expect(failure.reason).toMatch(/^invalid remoteAssistance\.requested message: data\.description: /);
  });

  it.each([
    ["null", null],
    ["a number", 42],
    ["an array", [1, 2]],
    ["text that is not JSON", "{ not json"],
    ["bytes that are not JSON", new Uint8Array([0xff, 0x00, 0x7b])],
  ])("rejects a body that is %s", (_name, body) => {
    // Act & Assess
    expectFailure(body, "(message)");
  });

  it("rejects a command put on the automation queue", () => {
    // Prepare
    const body = envelope("connector.disconnect");

    // Act
    const result = parseMessage(body, { queue: queueNames.automationEvents });

    // Assess
    expect(result).toMatchObject({ ok: false, issues: [{ path: "type" }] });
  });

  it("does not echo the OAuth code in a failure", () => {
    // Prepare
    const body = envelope("connector.authorize", { stateId: "short", code: "secret-oauth-code" });

    // Act
    const result = parseMessage(body);

    // Assess
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain("secret-oauth-code");
  });

  it("never throws, whatever the body", () => {
    // Prepare
    const hostile = {
      get type(): string {
        throw new Error("boom");
      },
    };
    const arbitraryBodies = fc.oneof(fc.anything(), fc.string(), fc.jsonValue(), fc.constant(hostile));

    // Act & Assess
    fc.assert(
      fc.property(arbitraryBodies, (body) => {
        const result = parseMessage(body);
        return result.ok === false && result.reason.length > 0;
      }),
    );
    expect(parseMessage(hostile)).toMatchObject({ ok: false });
  });
});

describe("device.upserted keeps what Graph sends", () => {
  it("accepts enum values it does not know, unchanged", () => {
    // Prepare
    const data = {
      ...graphDevice,
      managedDeviceOwnerType: "sharedByFamily",
      deviceEnrollmentType: "windowsQuantumEnrollment",
      deviceType: "smartFridge",
      operatingSystem: "FridgeOS",
    };

    // Act
    const result = parseMessage(envelope("device.upserted", data));

    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok || result.message.type !== "device.upserted") throw new Error("expected a device.upserted message");
    expect(result.message.data).toMatchObject({
      managedDeviceOwnerType: "sharedByFamily",
      deviceEnrollmentType: "windowsQuantumEnrollment",
      deviceType: "smartFridge",
      operatingSystem: "FridgeOS",
    });
  });

  it("accepts Graph's nulls and empty strings for a userless device, and drops fields it does not use", () => {
    // Prepare
    const { roleScopeTagIds: _omitted, ...withoutTags } = graphDevice;
    const data = {
      ...withoutTags,
      deviceEnrollmentType: "windowsBulkUserless",
      deviceType: null,
      userId: "",
      userPrincipalName: null,
      userDisplayName: null,
      emailAddress: "",
      lastSyncDateTime: "0001-01-01T00:00:00Z",
      complianceState: "compliant",
      azureADDeviceId: "55555555-5555-5555-5555-555555555555",
    };

    // Act
    const result = parseMessage(envelope("device.upserted", data as never));

    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok || result.message.type !== "device.upserted") throw new Error("expected a device.upserted message");
    expect(result.message.data.userId).toBe("");
    expect(result.message.data.roleScopeTagIds).toEqual([]);
    expect(result.message.data.complianceState).toBe("compliant");
    expect(result.message.data).not.toHaveProperty("azureADDeviceId");
  });
});

describe("makeEnvelope, messageQueue and messageForLog", () => {
  it("builds an envelope with a fresh uuid and the clock's time", () => {
    // Act
    const built = makeEnvelope("session.create", tenantId, { sessionId }, { now });

    // Assess
    expect(built).toEqual({
      type: "session.create",
      version: 1,
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      tenantId,
      occurredAt: "2026-01-10T09:00:00.000Z",
      data: { sessionId },
    });
    expect(built).not.toHaveProperty("correlationId");
  });

  it("keeps a given id, so re-sends carry the entity's id", () => {
    // Prepare
    const id = "6f1c2a9e-3b7d-4e5f-8a1b-2c3d4e5f6a7b";

    // Act
    const built = makeEnvelope("notification.send", tenantId, { sessionId, userId }, { now, id, correlationId: "c-1" });

    // Assess
    expect(built.id).toBe(id);
    expect(built.correlationId).toBe("c-1");
  });

  it("routes every type to one of the six queues", () => {
    // Act
    const routes = Object.fromEntries(Object.values(messageTypes).map((t) => [t, messageQueue[t]]));

    // Assess
    expect(routes).toEqual({
      "connector.authorize": "connector-commands",
      "connector.disconnect": "connector-commands",
      "session.create": "session-commands",
      "session.close": "session-commands",
      "notification.send": "device-notifications",
      "device.upserted": "automation-events",
      "device.removed": "automation-events",
      "user.upserted": "automation-events",
      "remoteAssistance.requested": "automation-events",
      "audit.deliver": "audit-export",
      "device.reindex": "device-index",
    });
  });

  it("redacts the OAuth code for logging and leaves the message intact", () => {
    // Prepare
    const parsed = parseMessage(envelope("connector.authorize"));
    if (!parsed.ok) throw new Error(parsed.reason);

    // Act
    const logged = messageForLog(parsed.message);

    // Assess
    expect(logged.data).toEqual({ stateId: "q2lWbX9c4vTnR0aHk3sJ8pYdLm5fG1eZ", code: "[redacted]" });
    expect(JSON.stringify(logged)).not.toContain("oauth-code-value");
    expect(parsed.message.data).toMatchObject({ code: "oauth-code-value" });
  });
});
