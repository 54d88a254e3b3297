// The connector-commands functions build the worker's commands from the validated message,
// as the sessions area does: the worker never sees a wire envelope. Delivered as the host
// delivers (a body and a real InvocationContext); the worker is a recording stand-in, since
// what is under test is the function's mapping (the worker itself runs against the
// emulators in the connector integration tests).
import { afterEach, describe, expect, it } from "vitest";
import { connectorFunctions } from "../../functions/connector.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import type { AuthorizeCommand, ConnectorWorker, DeadLetteredConnectorCommand, DisconnectCommand } from "../../shared/app/connector/connectorWorker.js";
import { makeEnvelope, messageTypes } from "../../shared/contracts/messages.js";
import { deliver, installServices, partialOf, uninstallServices } from "../support/functionHarness.js";

const definition = (name: string): FunctionDefinition => {
  const d = connectorFunctions.find((f) => f.name === name);
  if (!d) throw new Error(`no function ${name}`);
  return d;
};
const now = new Date("2026-12-06T08:00:00.000Z");
const tenantId = "aaaabbbb-cccc-dddd-eeee-ffff00001111";
const adminId = "ccccdddd-eeee-ffff-0000-111122223333";
const stateId = "q2lWbX9c4vTnR0aHk3sJ8pYdLm5fG1eZ";

type Call = { readonly method: string; readonly command: AuthorizeCommand | DisconnectCommand | DeadLetteredConnectorCommand; readonly reason?: string };

function recordingWorker(): Call[] {
  const calls: Call[] = [];
  installServices({
    connectorWorker: partialOf<ConnectorWorker>("connectorWorker", {
      authorize: async (command) => void calls.push({ method: "authorize", command }),
      disconnect: async (command) => void calls.push({ method: "disconnect", command }),
      deadLettered: async (command, reason) => void calls.push({ method: "deadLettered", command, ...(reason === undefined ? {} : { reason }) }),
    }),
  });
  return calls;
}

afterEach(uninstallServices);

describe("connector-commands", () => {
  it("hands connector.authorize to the worker as a command, the tenant folded", async () => {
    // Prepare
    const calls = recordingWorker();
    const message = makeEnvelope(messageTypes.connectorAuthorize, tenantId.toUpperCase(), { stateId, code: "the-code" }, { now, correlationId: "corr-1" });

    // Act
    const result = await deliver(definition("connectorCommands"), message, { messageId: message.id });

    // Assess
    expect(result.settled).toBe("completed");
    expect(calls).toEqual([{ method: "authorize", command: { tenantId, stateId, code: "the-code", correlationId: "corr-1" } }]);
  });

  it("hands connector.disconnect to the worker with the requester as a user actor", async () => {
    // Prepare
    const calls = recordingWorker();
    const message = makeEnvelope(
      messageTypes.connectorDisconnect,
      tenantId,
      { requestedBy: { id: adminId.toUpperCase(), displayName: "Adele Vance" } },
      { now },
    );

    // Act
    const result = await deliver(definition("connectorCommands"), message, { messageId: message.id });

    // Assess
    expect(result.settled).toBe("completed");
    expect(calls).toEqual([
      { method: "disconnect", command: { tenantId, requestedBy: { id: adminId, displayName: "Adele Vance", type: "user" }, correlationId: undefined } },
    ]);
  });

  it("hands connector.disconnect's generation to the worker: it undoes only the connection of that generation", async () => {
    // Prepare
    const calls = recordingWorker();
    const message = makeEnvelope(
      messageTypes.connectorDisconnect,
      tenantId,
      { requestedBy: { id: adminId, displayName: "Adele Vance" }, generation: 3 },
      { now },
    );

    // Act
    const result = await deliver(definition("connectorCommands"), message, { messageId: message.id });

    // Assess
    expect(result.settled).toBe("completed");
    expect(calls).toMatchObject([{ method: "disconnect", command: { tenantId, generation: 3 } }]);
  });

  it("reports a dead-lettered authorization without its code", async () => {
    // Prepare
    const calls = recordingWorker();
    const message = makeEnvelope(messageTypes.connectorAuthorize, tenantId, { stateId, code: "the-code" }, { now, correlationId: "corr-2" });

    // Act
    const result = await deliver(definition("connectorCommandsDeadLetter"), message, {
      messageId: message.id,
      applicationProperties: { DeadLetterReason: "MaxDeliveryCountExceeded" },
    });

    // Assess
    expect(result.settled).toBe("completed");
    expect(calls).toEqual([
      { method: "deadLettered", command: { kind: "authorize", tenantId, stateId, correlationId: "corr-2" }, reason: "MaxDeliveryCountExceeded" },
    ]);
    expect(JSON.stringify(calls)).not.toContain("the-code");
  });

  it("reports a dead-lettered disconnect with its requester", async () => {
    // Prepare
    const calls = recordingWorker();
    const message = makeEnvelope(messageTypes.connectorDisconnect, tenantId, { requestedBy: { id: adminId, displayName: "Adele Vance" } }, { now });

    // Act
    const result = await deliver(definition("connectorCommandsDeadLetter"), message, {
      messageId: message.id,
      applicationProperties: { DeadLetterReason: "MaxDeliveryCountExceeded" },
    });

    // Assess
    expect(result.settled).toBe("completed");
    expect(calls).toEqual([
      {
        method: "deadLettered",
        command: { kind: "disconnect", tenantId, requestedBy: { id: adminId, displayName: "Adele Vance", type: "user" }, correlationId: undefined },
        reason: "MaxDeliveryCountExceeded",
      },
    ]);
  });
});
