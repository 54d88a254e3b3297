// The session worker over in-memory ports: one shared "world" (tables, Service Bus,
// TeamViewer, clock) and as many worker instances as a test needs (each one a process
// whose memory, e.g. its TeamViewer group cache, dies with it). The only file of test/
// that imports the worker and the writer, so a rename there is re-pointed here.
import { ulid } from "ulid";
import type { Logger } from "../../shared/app/logging.js";
import { SessionClosing, type CloseCommand } from "../../shared/app/sessions/sessionClosing.js";
export { closeRetryPolicy } from "../../shared/app/sessions/sessionClosing.js";
import { SessionCreation } from "../../shared/app/sessions/sessionCreation.js";
import { SessionExpiry } from "../../shared/app/sessions/expiry.js";
import { SessionMaintenance } from "../../shared/app/sessions/sessionMaintenance.js";
import type { CommandContext } from "../../shared/app/sessions/sessionMessages.js";
import type { DeviceDirectory, IdempotencyStore } from "../../shared/app/sessions/ports.js";
import { SessionWriter } from "../../shared/app/sessions/sessionWriter.js";
import { sessionMessageIds } from "../../shared/app/sessions/sessionMessages.js";
import { createMessages, withReservedCreate } from "../../shared/app/sessions/newSession.js";
import { claimLeaseMs } from "../../shared/app/sessions/retryPolicy.js";
import type { Device } from "../../shared/domain/device.js";
import { initialWorkerState, type Session } from "../../shared/domain/session.js";
import type { SessionCloseReason } from "../../shared/contracts/messages.js";
import type { OutgoingMessage } from "../../shared/app/messageBus.js";
import {
  ManualClock,
  MemoryAuditLog,
  MemoryFaultPoints,
  MemoryIdempotencyStore,
  MemoryInboxStore,
  MemoryPushGateway,
  MemoryMessageBus,
  MemorySessionStore,
  MemoryTeamViewer,
  MemoryTeamViewerTokens,
  recordingLogger,
} from "./memoryPorts.js";

export const tenantId = "t1";
/** The TeamViewer client's per-call timeout in these tests; a claim lasts 4 × this + 10 s. */
export const teamViewerTimeoutMs = 5_000;

/** A request waiting for its TeamViewer session, made `at`, expiring after `timeoutMinutes`. */
export function requestedSession(at: Date, over: Partial<Session> = {}, timeoutMinutes = 60): Session {
  const id = ulid(at.getTime());
  return {
    tenantId,
    id,
    deviceId: `d-${id.toLowerCase()}`,
    device: {
      deviceName: "DIEGO-LAPTOP",
      operatingSystem: "Windows",
      osVersion: "10.0.26100",
      platform: "windows",
      userDisplayName: "Diego Siciliani",
      userPrincipalName: "diego@contoso.example",
      scopeTags: ["0"],
    },
    endUser: { id: "u1", displayName: "Diego Siciliani", email: "diego@contoso.example" },
    requestedBy: { id: "a1", displayName: "Adele Vance", type: "user" },
    requestedAt: at.toISOString(),
    description: "Outlook keeps crashing",
    ticketId: null,
    approval: { required: false, decision: null },
    acknowledgedWarnings: [],
    status: "requested",
    history: [{ status: "requested", at: at.toISOString(), detail: "Requested by Adele Vance." }],
    expiresAt: new Date(at.getTime() + timeoutMinutes * 60_000).toISOString(),
    teamViewer: null,
    endUserLink: null,
    endUserNotification: { channel: "companyPortal", status: "pending", dispatches: 1 },
    endUserResponse: null,
    closedAt: null,
    closedBy: null,
    closeReason: null,
    failure: null,
    warnings: [],
    waitingForTeamViewerQuotaUntil: null,
    worker: initialWorkerState,
    ...over,
  };
}

export interface Delivery {
  readonly messageId: string;
  readonly deliveryCount: number;
}

const storedDevice = (tenantId: string, id: string): Device => ({
  tenantId,
  id,
  deviceName: "GONE",
  operatingSystem: "Windows",
  osVersion: "10.0",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  roleScopeTagIds: [],
  removed: false,
  updatedAt: "2026-01-01T00:00:00.000Z",
});
const removedDevice = (tenantId: string, id: string): Device => ({ ...storedDevice(tenantId, id), removed: true, removedAt: "2026-01-01T00:00:00.000Z" });

/** One worker process, as the host runs it: session.create and session.close. */
export interface WorkerProcess {
  readonly creation: SessionCreation;
  readonly closing: SessionClosing;
  create(ctx: CommandContext): Promise<void>;
  close(ctx: CloseCommand): Promise<void>;
}

export class SessionWorkerWorld {
  readonly clock = new ManualClock();
  readonly inbox = new MemoryInboxStore();
  readonly store = new MemorySessionStore(this.inbox);
  readonly push = new MemoryPushGateway();
  readonly bus = new MemoryMessageBus();
  readonly audit = new MemoryAuditLog(this.clock);
  readonly teamViewer = new MemoryTeamViewer();
  readonly tokens = new MemoryTeamViewerTokens();
  readonly faults = new MemoryFaultPoints();
  readonly writer = new SessionWriter({ store: this.store, bus: this.bus, clock: this.clock });
  readonly logs = recordingLogger();
  /** Ids of devices the inventory removed (every other device is as it was requested). */
  readonly removedDevices = new Set<string>();
  /** Devices the inventory gave to another primary user: device id → that user's id. */
  readonly reassignedDevices = new Map<string, string>();
  /** The tenant's approvalRequiredScopeTags as the workers read them. */
  approvalScopeTags: readonly string[] = [];
  /** The inventory as the workers read it: see removedDevices and reassignedDevices. */
  readonly devices: DeviceDirectory = { get: async (tenantId, id) => this.#inventoryDevice(tenantId, id) };

  /**
   * A worker process: its creation and closing workers, sharing what the process learns (the
   * tenant's TeamViewer group). `random` 0 makes backoff delays their minimum (half the step).
   */
  worker(random: () => number = () => 0): WorkerProcess {
    const groups = new Map<string, string>();
    const creation = new SessionCreation({
      writer: this.writer,
      devices: this.devices,
      approvalScopeTags: async () => this.approvalScopeTags,
      tokens: this.tokens,
      teamViewer: this.teamViewer,
      faults: this.faults,
      audit: this.audit,
      clock: this.clock,
      teamViewerTimeoutMs,
      random,
      groups,
      push: this.push,
    });
    const closing = new SessionClosing({
      writer: this.writer,
      tokens: this.tokens,
      teamViewer: this.teamViewer,
      audit: this.audit,
      clock: this.clock,
      groups,
      random,
    });
    return { creation, closing, create: (ctx) => creation.create(ctx), close: (ctx) => closing.close(ctx) };
  }

  /** The session timer and disconnect closer over this world (its own Idempotency-Key store unless given one). */
  maintenance(idempotency: IdempotencyStore = new MemoryIdempotencyStore()): SessionMaintenance {
    return new SessionMaintenance({
      writer: this.writer,
      expiry: new SessionExpiry({ writer: this.writer, audit: this.audit, clock: this.clock }),
      idempotency,
      tokens: this.tokens,
      teamViewer: this.teamViewer,
      audit: this.audit,
      clock: this.clock,
      log: this.log,
    });
  }

  /** Stores a requested session (with its session.create in the outbox, as a request does). */
  async request(over: Partial<Session> = {}, timeoutMinutes?: number): Promise<Session> {
    const s = requestedSession(this.clock.now(), over, timeoutMinutes);
    const result = await this.store.create(s, []);
    if (!result.created) throw new Error(`the test session was not created: ${result.reason}`);
    return s;
  }

  /** A session as a request stores it: the first session.create's claim reserved, that message in the outbox. */
  async requestReserved(): Promise<Session> {
    const s = withReservedCreate(requestedSession(this.clock.now()), claimLeaseMs(teamViewerTimeoutMs));
    const result = await this.store.create(s, createMessages(s, undefined));
    if (!result.created) throw new Error(`the test session was not created: ${result.reason}`);
    return s;
  }

  session(id: string): Session {
    const s = this.store.peek(tenantId, id);
    if (!s) throw new Error(`no session ${id}`);
    return s;
  }

  /** The command context of a session.create delivery (the request's own message by default). */
  createContext(sessionId: string, delivery: Partial<Delivery> = {}): CommandContext {
    return this.#context(sessionId, delivery.messageId ?? sessionMessageIds.create(sessionId), delivery);
  }

  closeContext(sessionId: string, reason: SessionCloseReason, delivery: Partial<Delivery> = {}): CloseCommand {
    return { ...this.#context(sessionId, delivery.messageId ?? sessionMessageIds.close(sessionId), delivery), reason };
  }

  /** The device as the inventory has it now: removed, given to another user, or unknown (as it was requested). */
  #inventoryDevice(tenantId: string, id: string): Device | undefined {
    if (this.removedDevices.has(id)) return removedDevice(tenantId, id);
    const userId = this.reassignedDevices.get(id);
    return userId === undefined ? undefined : { ...storedDevice(tenantId, id), userId };
  }

  #context(sessionId: string, messageId: string, delivery: Partial<Delivery>): CommandContext {
    return { tenantId, sessionId, messageId, deliveryCount: delivery.deliveryCount ?? 1, correlationId: "corr-test-0001", log: this.log };
  }

  get log(): Logger {
    return this.logs.log;
  }

  /** Messages about the session that reached Service Bus (duplicates dropped). */
  messages(sessionId: string, type?: string): OutgoingMessage[] {
    return this.bus.delivered(type === undefined ? {} : { type }).filter((m) => dataOf(m).sessionId === sessionId);
  }
}

/** The `data` of a sent envelope. */
export function dataOf(m: OutgoingMessage): { readonly sessionId?: string; readonly reason?: SessionCloseReason; readonly [k: string]: unknown } {
  return (m.body as { data: { sessionId?: string; reason?: SessionCloseReason } }).data;
}
