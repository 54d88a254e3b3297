// A disconnect of a tenant with many open sessions: one connector.disconnect message closes a
// page of them and hands the rest on to a follow-up message (same generation, an id that
// makes a redelivered message's follow-up a duplicate), so no invocation does thousands of
// reads, writes and TeamViewer calls, runs past its lock or is delivered again half done.
// The token is revoked once, after the last page: closing a session at TeamViewer needs it.
// Delivered through the connectorCommands function, over in-memory ports.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connectorFunctions } from "../../functions/connector.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import { ConnectorWorker } from "../../shared/app/connector/connectorWorker.js";
import { connectorNotOnboarded } from "../../shared/app/connector/connectorErrors.js";
import type { OutgoingMessage } from "../../shared/app/messageBus.js";
import { teamViewerRequest } from "../../shared/app/sessions/teamViewerSessions.js";
import { makeEnvelope, messageTypes } from "../../shared/contracts/messages.js";
import { connectorHealths, initialConnectorState, onboardingStatuses } from "../../shared/domain/connector.js";
import { deliver, installServices, uninstallServices } from "../support/functionHarness.js";
import { MemoryConnectorStore, MemoryTokenVault } from "../support/memoryPorts.js";
import { requestedSession, SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const connectorCommands: FunctionDefinition = connectorFunctions.find((f) => f.name === "connectorCommands")!;
const generation = 3;
/** The most open sessions one message may close (the worker's page). */
const page = 100;

let world: SessionWorkerWorld;
let connectors: MemoryConnectorStore;
let vault: MemoryTokenVault;
let revoked: string[];
/** Session rows read or written: the storage work of the sessions' side. */
let sessionOperations: number;
/** Runs once the secret was deleted (the connector row says notOnboarded by then). */
let afterSecretDeleted: (() => Promise<void>) | undefined;

beforeEach(() => {
  world = new SessionWorkerWorld();
  connectors = new MemoryConnectorStore();
  connectors.rows.set(tenantId, { ...initialConnectorState, generation, onboardingStatus: onboardingStatuses.onboarded, health: connectorHealths.healthy });
  vault = new MemoryTokenVault();
  vault.tokens.set(tenantId, { accessToken: "at-3", refreshToken: "rt-3", expiresAt: new Date("2026-11-23T11:00:00.000Z"), generation });
  const remove = vault.remove.bind(vault);
  afterSecretDeleted = undefined;
  vault.remove = async (t) => {
    await remove(t);
    await afterSecretDeleted?.();
  };
  revoked = [];
  sessionOperations = 0;
  const store = world.store;
  const [get, update] = [store.get.bind(store), store.update.bind(store)];
  store.get = async (...args) => (sessionOperations++, get(...args));
  store.update = async (...args) => (sessionOperations++, update(...args));
  const maintenance = world.maintenance();
  const connectorWorker = new ConnectorWorker({
    connectors,
    states: undefined as never,
    vault,
    tokens: {
      withTokenLease: async (_t, work) => work(),
      invalidate: () => undefined,
      withAccessToken: async (t, work) => {
        const token = await vault.read(t);
        if (!token) throw connectorNotOnboarded();
        return work(token.accessToken);
      },
    },
    teamViewer: { exchangeCode: async () => Promise.reject(new Error("not in this test")), revoke: async (token) => void revoked.push(token) },
    webApi: world.teamViewer,
    openSessions: maintenance,
    bus: world.bus,
    audit: world.audit,
    clock: world.clock,
  });
  installServices({ connectorWorker, audit: world.audit, clock: world.clock, bus: world.bus });
});
afterEach(uninstallServices);

/** `n` sessions waiting for their end user, each with its TeamViewer session. */
async function openSessions(n: number): Promise<void> {
  const api = world.teamViewer.forTenant(tenantId);
  for (let i = 0; i < n; i++) {
    const s = requestedSession(world.clock.now());
    const tv = await api.createSession(`at-${generation}`, teamViewerRequest(s));
    const teamViewer = { code: tv.code, supporterLink: tv.supporterLink ?? "", validUntil: s.expiresAt, groupId: tv.groupId, closedAt: null };
    const created = await world.store.create({ ...s, status: "awaitingEndUser", teamViewer }, []);
    if (!created.created) throw new Error("the test session was not created");
  }
}

const closedAudits = () => world.audit.events.filter((e) => e.activity === "session.closed").length;
const disconnectMessages = () => world.bus.delivered({ type: messageTypes.connectorDisconnect });

/** What one delivery did: the sessions it closed, its TeamViewer calls and session reads and writes. */
async function deliverOnce(message: OutgoingMessage): Promise<{ closed: number; teamViewerCalls: number; sessionOperations: number }> {
  const [closed, calls, operations] = [closedAudits(), world.teamViewer.calls.length, sessionOperations];
  const result = await deliver(connectorCommands, message.body, { messageId: message.id });
  expect(result.settled).toBe("completed");
  return { closed: closedAudits() - closed, teamViewerCalls: world.teamViewer.calls.length - calls, sessionOperations: sessionOperations - operations };
}

/** Delivers every follow-up not delivered yet, in order, until none is left; answers what each delivery did. */
async function deliverFollowUps(delivered: Set<string>): Promise<Awaited<ReturnType<typeof deliverOnce>>[]> {
  const done = [];
  for (let next = disconnectMessages().find((m) => !delivered.has(m.id)); next; next = disconnectMessages().find((m) => !delivered.has(m.id))) {
    delivered.add(next.id);
    done.push(await deliverOnce(next));
    if (done.length > 50) throw new Error("the disconnect never ends");
  }
  return done;
}

function requested(): OutgoingMessage {
  const body = makeEnvelope(
    messageTypes.connectorDisconnect,
    tenantId,
    { requestedBy: { id: "admin-1", displayName: "Adele Vance" }, generation },
    { now: world.clock.now(), correlationId: "corr-1" },
  );
  return { queue: "connector-commands", id: body.id, type: body.type, body };
}

describe("connector.disconnect of a tenant with many open sessions", () => {
  it("closes a page of sessions per message and hands the rest on; the token is revoked once, after the last page", async () => {
    // Prepare
    await openSessions(250);
    const first = requested();

    // Act
    const firstDelivery = await deliverOnce(first);

    // Assess: one page, the connection still there for the next one
    expect(firstDelivery.closed).toBe(page);
    expect(firstDelivery.teamViewerCalls).toBeLessThanOrEqual(page);
    expect(firstDelivery.sessionOperations).toBeLessThanOrEqual(3 * page);
    expect(revoked).toEqual([]);
    expect(connectors.rows.get(tenantId)?.onboardingStatus).toBe(onboardingStatuses.onboarded);
    expect(disconnectMessages()).toHaveLength(1);
    expect(disconnectMessages()[0].body).toMatchObject({ tenantId, data: { generation } });

    // Act: the follow-ups
    const rest = await deliverFollowUps(new Set([first.id]));

    // Assess: every delivery bounded, every session closed here and at TeamViewer, then the token revoked
    expect(rest.map((d) => d.closed)).toEqual([page, 50]);
    expect(Math.max(...rest.map((d) => d.teamViewerCalls))).toBeLessThanOrEqual(page);
    expect((await world.store.listOpenPage(tenantId, 1000)).sessionIds).toEqual([]);
    expect(world.teamViewer.sessions.filter((s) => s.open)).toEqual([]);
    expect(revoked).toEqual(["at-3"]);
    expect(vault.tokens.has(tenantId)).toBe(false);
    expect(connectors.rows.get(tenantId)).toMatchObject({ onboardingStatus: onboardingStatuses.notOnboarded, generation: generation + 1 });
    const disconnected = world.audit.events.filter((e) => e.activity === "connector.disconnect");
    expect(disconnected).toMatchObject([{ result: "success", detail: expect.stringContaining("250 open sessions closed") }]);
  });

  it("a message delivered again after it handed on closes no session twice, and the connector is disconnected once", async () => {
    // Prepare
    await openSessions(250);
    const first = requested();

    // Act: the first message, then the same again (its completion was lost), then whatever follows
    await deliverOnce(first);
    await deliverOnce(first);
    await deliverFollowUps(new Set([first.id]));

    // Assess
    expect(closedAudits()).toBe(250);
    expect(world.teamViewer.callsOf("closeSession")).toBe(250);
    expect((await world.store.listOpenPage(tenantId, 1000)).sessionIds).toEqual([]);
    expect(revoked).toEqual(["at-3"]);
    expect(world.audit.events.filter((e) => e.activity === "connector.disconnect")).toHaveLength(1);
  });

  it("closes the requests admitted while it ran a page per message too, once the connector is disconnected", async () => {
    // Prepare: 150 requests stored just as the connector row said notOnboarded
    afterSecretDeleted = async () => {
      afterSecretDeleted = undefined;
      await openSessions(150);
    };
    const first = requested();

    // Act
    const firstDelivery = await deliverOnce(first);
    const rest = await deliverFollowUps(new Set([first.id]));

    // Assess: closed here (the token is gone), a page per message
    expect(firstDelivery.closed).toBe(page);
    expect(rest.map((d) => d.closed)).toEqual([50]);
    expect((await world.store.listOpenPage(tenantId, 1000)).sessionIds).toEqual([]);
    expect(connectors.rows.get(tenantId)).toMatchObject({ onboardingStatus: onboardingStatuses.notOnboarded, generation: generation + 1 });
    expect(world.audit.events.filter((e) => e.activity === "connector.disconnect")).toHaveLength(1);
  });
});
