// The queue consumer, run as the host runs it: a message body and a real
// `InvocationContext` (messageId, deliveryCount) into the session-commands functions, over
// services installed through the runtime seam. Settlement is what the host makes of the
// handler's outcome: returning completes the message; throwing leaves it for redelivery
// (and, after the queue's maxDeliveryCount, Service Bus dead-letters it).
import { RestError } from "@azure/data-tables";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sessionQueueFunctions } from "../../functions/sessionQueues.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import { makeEnvelope, messageTypes } from "../../shared/contracts/messages.js";
import { queueNames } from "../../shared/queueDefinitions.js";
import { TeamViewerQuotaExhausted } from "../../shared/app/quota/teamViewerQuota.js";
import type { SessionsArea } from "../../shared/app/sessions/sessionsArea.js";
import { applyEvent } from "../../shared/domain/session.js";
import { deliver, installServices, partialOf, uninstallServices } from "../support/functionHarness.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const definition = (name: string): FunctionDefinition => {
  const d = sessionQueueFunctions.find((f) => f.name === name);
  if (!d) throw new Error(`no function ${name}`);
  return d;
};
const sessionCommands = definition("sessionCommands");
const sessionCommandsDeadLetter = definition("sessionCommandsDeadLetter");

let world: SessionWorkerWorld;

/** Services with the session worker over the world's in-memory ports; `sessions` parts override. */
function install(sessions: Partial<SessionsArea> = {}): void {
  const workerProcess = world.worker();
  installServices({
    clock: world.clock,
    audit: world.audit,
    bus: world.bus,
    sessions: partialOf<SessionsArea>("services.sessions", { creation: workerProcess.creation, closing: workerProcess.closing, ...sessions }),
  });
}

const createMessage = (sessionId: string, tenant = tenantId) =>
  makeEnvelope(messageTypes.sessionCreate, tenant, { sessionId }, { now: world.clock.now(), correlationId: "corr-unit-0001" });

beforeEach(() => {
  world = new SessionWorkerWorld();
  install();
});
afterEach(uninstallServices);

describe("a message that cannot be processed", () => {
  it("is completed (never retried) and audited under the tenant it names", async () => {
    // Act
    const result = await deliver(sessionCommands, { type: "session.create", tenantId: "T1", data: {} }, { messageId: "m-bad-1" });

    // Assess
    expect(result.settled).toBe("completed");
    expect(world.audit.events).toEqual([
      expect.objectContaining({ tenantId: "t1", activity: "message.rejected", result: "failure", target: { type: "message", id: "m-bad-1" } }),
    ]);
    expect(result.logs).toContainEqual(expect.objectContaining({ level: "warning", text: expect.stringMatching(/discarded a message on session-commands/) }));
  });

  // Producers other than ours send JSON text or bytes; the claimed tenant is read from the
  // decoded body, so such a message is audited as the same message sent as an object.
  it.each([
    ["JSON text", (json: string): unknown => json],
    ["JSON bytes", (json: string): unknown => new TextEncoder().encode(json)],
  ])("is audited under the tenant it names when it arrives as %s", async (_, encode) => {
    // Prepare
    const body = encode(JSON.stringify({ type: "session.create", tenantId: "T1", data: {} }));

    // Act
    const result = await deliver(sessionCommands, body, { messageId: "m-bad-3" });

    // Assess
    expect(result.settled).toBe("completed");
    expect(world.audit.events).toEqual([
      expect.objectContaining({ tenantId: "t1", activity: "message.rejected", result: "failure", target: { type: "message", id: "m-bad-3" } }),
    ]);
  });

  it("is completed with a log line only when it names no tenant (nothing to file it under)", async () => {
    // Act
    const result = await deliver(sessionCommands, "not json at all", { messageId: "m-bad-2" });

    // Assess
    expect(result.settled).toBe("completed");
    expect(world.audit.events).toHaveLength(0);
    expect(result.logs.some((l) => l.level === "warning")).toBe(true);
  });

  it("is completed and audited when it is on the wrong queue", async () => {
    // Prepare
    const notification = makeEnvelope(
      messageTypes.notificationSend,
      tenantId,
      { sessionId: "01JDX0000000000000000000000", userId: "u1" },
      { now: world.clock.now() },
    );

    // Act
    const result = await deliver(sessionCommands, notification, { messageId: notification.id });

    // Assess
    expect(result.settled).toBe("completed");
    expect(world.audit.events[0]).toMatchObject({ activity: "message.rejected", detail: expect.stringMatching(/wrong queue/) });
  });
});

describe("a valid command", () => {
  it("runs its handler (the session worker over in-memory ports) and is completed", async () => {
    // Prepare
    const s = await world.request();
    const message = createMessage(s.id);

    // Act
    const result = await deliver(sessionCommands, message, { messageId: message.id });

    // Assess
    expect(result.settled).toBe("completed");
    expect(world.session(s.id).status).toBe("awaitingEndUser");
    expect(world.teamViewer.sessions).toHaveLength(1);
  });

  it("accepts the body as JSON text, as Service Bus may hand it over", async () => {
    // Prepare
    const s = await world.request();
    const message = createMessage(s.id);

    // Act
    const result = await deliver(sessionCommands, JSON.stringify(message), { messageId: message.id });

    // Assess
    expect(result.settled).toBe("completed");
    expect(world.session(s.id).status).toBe("awaitingEndUser");
  });

  it("is completed and audited as failed when its handler fails permanently (a DomainError)", async () => {
    // Prepare: the session does not exist
    const message = createMessage("01JDX0000000000000000000000");

    // Act
    const result = await deliver(sessionCommands, message, { messageId: message.id });

    // Assess
    expect(result.settled).toBe("completed");
    expect(world.audit.events).toEqual([expect.objectContaining({ activity: "session.create.failed", detail: expect.stringMatching(/^notFound: /) })]);
  });

  it("is left for redelivery when its handler fails transiently", async () => {
    // Prepare
    const s = await world.request();
    world.tokens.failNext(new Error("Key Vault unreachable"));
    const message = createMessage(s.id);

    // Act
    const result = await deliver(sessionCommands, message, { messageId: message.id, deliveryCount: 3 });

    // Assess
    expect(result.settled).toBe("redelivered");
    expect(result.logs).toContainEqual(expect.objectContaining({ level: "warning", text: expect.stringMatching(/will be retried \(delivery 4\)/) }));
    expect(world.audit.events).toHaveLength(0);
  });

  it("is sent again for when the tenant's TeamViewer quota has room, and completed", async () => {
    // Prepare: a closed session whose TeamViewer session is still open; the close finds no quota
    const s = await world.request();
    await world.worker().create(world.createContext(s.id));
    await world.writer.change(tenantId, s.id, (cur) => ({ next: applyEvent(cur, "close", world.clock.now()) }), world.log);
    const retryAt = new Date(world.clock.now().getTime() + 30_000);
    world.teamViewer.failNext("closeSession", new TeamViewerQuotaExhausted(tenantId, retryAt, "closeSession", false));
    const close = makeEnvelope(messageTypes.sessionClose, tenantId, { sessionId: s.id, reason: "admin" }, { now: world.clock.now() });
    const sentBefore = world.bus.sent.length;

    // Act
    const result = await deliver(sessionCommands, close, { messageId: close.id });

    // Assess
    expect(result.settled).toBe("completed");
    const [again] = world.bus.sent.slice(sentBefore);
    expect(again).toMatchObject({ queue: queueNames.sessionCommands, type: messageTypes.sessionClose, body: close, notBefore: retryAt });
    expect(again?.id).not.toBe(close.id); // the original id is still in duplicate detection's window
  });
});

describe("a dead-lettered command", () => {
  const deadLettered = () => createMessage("01JDX0000000000000000000000");

  it("stays in the dead-letter queue when a service its handler needs is out", async () => {
    // Prepare
    install({
      maintenance: partialOf<SessionsArea["maintenance"]>("maintenance", {
        createDeadLettered: () => Promise.reject(new RestError("Server busy", { statusCode: 503 })),
      }),
    });
    const message = deadLettered();

    // Act
    const result = await deliver(sessionCommandsDeadLetter, message, {
      messageId: message.id,
      applicationProperties: { DeadLetterReason: "MaxDeliveryCountExceeded" },
    });

    // Assess
    expect(result.settled).toBe("redelivered");
    expect(world.audit.events).toHaveLength(0);
  });

  it("is given up on (audited, completed) when its handler fails in a way another delivery would only repeat", async () => {
    // Prepare
    install({
      maintenance: partialOf<SessionsArea["maintenance"]>("maintenance", {
        createDeadLettered: () => Promise.reject(new TypeError("Cannot read properties of undefined")),
      }),
    });
    const message = deadLettered();

    // Act
    const result = await deliver(sessionCommandsDeadLetter, message, {
      messageId: message.id,
      applicationProperties: { DeadLetterReason: "MaxDeliveryCountExceeded" },
    });

    // Assess
    expect(result.settled).toBe("completed");
    expect(world.audit.events).toEqual([
      expect.objectContaining({ activity: "message.deadLetterAbandoned", detail: expect.stringMatching(/MaxDeliveryCountExceeded/) }),
    ]);
    expect(result.logs).toContainEqual(expect.objectContaining({ level: "error", text: expect.stringMatching(/gave up on dead-lettered session.create/) }));
  });
});
