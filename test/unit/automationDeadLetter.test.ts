// An automation's remoteAssistance.requested that Service Bus gave up on: the dead-letter
// function builds the maintenance command from the message (ids folded by the schema) and a
// failed session records it, once, under the event's id; a request that did become a
// session is left alone. Delivered as the host delivers it, over the in-memory ports.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { automationFunctions } from "../../functions/automation.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import type { SessionsArea } from "../../shared/app/sessions/sessionsArea.js";
import { makeEnvelope, messageTypes } from "../../shared/contracts/messages.js";
import { deliver, installServices, partialOf, uninstallServices } from "../support/functionHarness.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const deadLetters: FunctionDefinition = automationFunctions.find((f) => f.name === "automationEventsDeadLetter")!;
const deviceId = "dddd0000-aaaa-bbbb-cccc-000000000001";
const appId = "aaaa0000-bbbb-cccc-dddd-000000000002";

let world: SessionWorkerWorld;

beforeEach(() => {
  world = new SessionWorkerWorld();
  const maintenance = world.maintenance();
  installServices({ clock: world.clock, audit: world.audit, bus: world.bus, sessions: partialOf<SessionsArea>("services.sessions", { maintenance }) });
});
afterEach(uninstallServices);

const requestEvent = () =>
  makeEnvelope(
    messageTypes.remoteAssistanceRequested,
    tenantId.toUpperCase(),
    { deviceId: deviceId.toUpperCase(), description: "  Printer will not print  ", requestedBy: { id: appId.toUpperCase(), displayName: "ITSM connector" } },
    { now: world.clock.now(), correlationId: "corr-dl-1" },
  );

describe("a dead-lettered remoteAssistance.requested", () => {
  it("becomes one failed session naming the reason, whatever the number of deliveries", async () => {
    // Prepare
    const event = requestEvent();
    const metadata = { messageId: event.id, applicationProperties: { DeadLetterReason: "MaxDeliveryCountExceeded" } };

    // Act
    const first = await deliver(deadLetters, event, metadata);
    const again = await deliver(deadLetters, event, metadata);

    // Assess
    expect([first.settled, again.settled]).toEqual(["completed", "completed"]);
    const sessions = (await world.store.list({ tenantId, top: 10, visible: () => true })).value;
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({
      deviceId,
      status: "failed",
      description: "Printer will not print",
      requestedBy: { id: appId, displayName: "ITSM connector", type: "automation" },
      failure: { code: "deadLettered", message: expect.stringMatching(/MaxDeliveryCountExceeded/) },
    });
    expect(world.audit.events.map((e) => [e.activity, e.detail])).toEqual([
      ["remoteAssistance.requested.deadLettered", expect.stringMatching(/^recorded as a failed session/)],
      ["remoteAssistance.requested.deadLettered", expect.stringMatching(/^its session exists; left as is/)],
    ]);
  });

  it("finds the session of a request sent with its id in another case, and makes no second one", async () => {
    // Prepare
    const event = requestEvent();
    const metadata = { applicationProperties: { DeadLetterReason: "MaxDeliveryCountExceeded" } };

    // Act
    await deliver(deadLetters, event, { messageId: event.id, ...metadata });
    const shouted = await deliver(deadLetters, { ...event, id: event.id.toUpperCase() }, { messageId: event.id.toUpperCase(), ...metadata });

    // Assess
    expect(shouted.settled).toBe("completed");
    expect((await world.store.list({ tenantId, top: 10, visible: () => true })).value).toHaveLength(1);
    expect(world.audit.events.map((e) => e.detail)).toEqual([
      expect.stringMatching(/^recorded as a failed session/),
      expect.stringMatching(/^its session exists; left as is/),
    ]);
  });

  it("keeps the event's ticket on the failed session, so the help desk finds it by its ticket", async () => {
    // Prepare
    const event = makeEnvelope(
      messageTypes.remoteAssistanceRequested,
      tenantId,
      { deviceId, ticketId: "INC0012345", requestedBy: { id: appId, displayName: "ITSM connector" } },
      { now: world.clock.now() },
    );

    // Act
    const delivered = await deliver(deadLetters, event, { messageId: event.id, applicationProperties: { DeadLetterReason: "MaxDeliveryCountExceeded" } });

    // Assess
    expect(delivered.settled).toBe("completed");
    const sessions = (await world.store.list({ tenantId, top: 10, visible: () => true })).value;
    expect(sessions).toMatchObject([{ status: "failed", ticketId: "INC0012345", failure: { code: "deadLettered" } }]);
  });
});
