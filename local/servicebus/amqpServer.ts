// The AMQP 1.0 side of the emulator, on rhea: SASL and CBS, sender links into queues, receiver links
// fed only while they have credit, settlement outcomes, and the $management request/response links.
import type { Server, Socket } from "node:net";
import rhea, {
  type AmqpError,
  type Connection,
  type Container,
  type EventContext,
  type Receiver,
  type Sender,
  type ServerConnectionOptions,
  type link as Link,
} from "rhea";
import {
  amqpTypes,
  batchMessageFormat,
  deliveryTagToLockToken,
  encodeForDelivery,
  encodeMessage,
  lockTokenToDeliveryTag,
  parseMessage,
  unpackBatch,
  type ParsedMessage,
} from "./amqpEncoding.js";
import type { Broker } from "./broker.js";
import { BrokerError, type Disposition, type ReceiveMode } from "./brokerTypes.js";
import type { Entity } from "./entity.js";
import { handleManagementRequest } from "./management.js";
import { captureIncomingTransfers, deliverableCount, linkCredit, sessionCapacity, setSettleModes, settleLast } from "./rheaInternals.js";

/** Standard tier's limit; the SDK sizes `createMessageBatch()` from the value on the attach. */
export const maxMessageSize = 262_144;
const producerCredit = 1000;
const requestCredit = 100;
const managementSuffix = "/$management";

type Role =
  | { readonly kind: "cbs" }
  | { readonly kind: "management"; readonly entity: Entity }
  | { readonly kind: "producer"; readonly entity: Entity }
  | { readonly kind: "consumer"; readonly entity: Entity; readonly mode: ReceiveMode }
  /** Our sender for CBS and management replies; found by link name when a request names it in reply-to. */
  | { readonly kind: "reply" };

interface Consumer {
  readonly sender: Sender;
  readonly mode: ReceiveMode;
}

type Outcome = "accepted" | "rejected" | "modified" | "released";

interface Outcomes {
  accepted(): { described(): unknown };
  rejected(fields: object): { described(): unknown };
  modified(fields: object): { described(): unknown };
  released(): { described(): unknown };
}
const outcomes = rhea.message as unknown as Outcomes;

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Buffer.isBuffer(value) ? (value as Record<string, unknown>) : undefined;
}

function addressOf(terminus: unknown): string | undefined {
  return text(field(terminus, "address"));
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class AmqpServer {
  readonly #broker: Broker;
  readonly #log: (line: string) => void;
  readonly #container: Container;
  readonly #roles = new WeakMap<object, Role>();
  readonly #consumers = new Map<Entity, Set<Consumer>>();
  readonly #consumerOf = new WeakMap<Sender, Consumer>();
  readonly #rawTransfers = new WeakMap<object, Buffer>();
  readonly #settled = new WeakSet<object>();
  readonly #pumpsDue = new Set<Entity>();
  readonly #connections = new Set<Connection>();
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #turn = 0;

  constructor(broker: Broker, log: (line: string) => void) {
    this.#broker = broker;
    this.#log = log;
    this.#container = rhea.create_container({ id: "servicebus-emulator" });
    // ANONYMOUS also lets clients skip SASL altogether (rhea then selects per connection).
    const mechanisms = this.#container.sasl_server_mechanisms as { enable_anonymous(): void; enable_plain(check: () => boolean): void };
    mechanisms.enable_anonymous();
    mechanisms.enable_plain(() => true);
    this.#wire();
  }

  listen(port: number, host: string): Promise<number> {
    const options: ServerConnectionOptions = {
      port,
      host,
      // A session queues every unsettled delivery; a message a client never settles (its lock just
      // runs out) pins that queue's head, so it is made roomy. The session then stalls only after this many more.
      session_buffer_size: { incoming: 2048, outgoing: 65_536 },
      sender_options: { autosettle: true },
      receiver_options: { credit_window: 0, autoaccept: false, max_message_size: maxMessageSize },
    };
    // Options rhea reads but does not type: handle abandon and defer once, as `modified` rather than
    // again as `released`; and no Nagle delay on replies, which the SDK waits for one at a time.
    Object.assign(options.sender_options ?? {}, { treat_modified_as_released: false });
    Object.assign(options, { tcp_no_delay: true });
    const server = this.#container.listen(options);
    this.#server = server;
    server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.once("listening", () => {
        server.off("error", reject);
        server.on("error", (e: Error) => this.#log(`listener error: ${e.message}`));
        const address = server.address();
        resolve(typeof address === "object" && address ? address.port : port);
      });
    });
  }

  /** Closes every client connection and the listener; resolves once the port is free. */
  async close(): Promise<void> {
    for (const connection of this.#connections) connection.close({ condition: "amqp:connection:forced", description: "The emulator is shutting down." });
    // One turn of the event loop lets rhea write the close frames before the sockets go.
    await new Promise((resolve) => setImmediate(resolve));
    for (const socket of this.#sockets) socket.destroy();
    const server = this.#server;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.#connections.clear();
    this.#consumers.clear();
  }

  /** Called by the broker when `entity` may have messages to hand out; batched per microtask. */
  schedulePump(entity: Entity): void {
    if (this.#pumpsDue.has(entity)) return;
    this.#pumpsDue.add(entity);
    queueMicrotask(() => {
      this.#pumpsDue.delete(entity);
      this.#pump(entity);
    });
  }

  #wire(): void {
    const c = this.#container;
    c.on("connection_open", (ctx: EventContext) => {
      this.#connections.add(ctx.connection);
      this.#log(`connection open from container ${String(ctx.connection.container_id)}`);
    });
    c.on("session_open", (ctx: EventContext) => {
      if (ctx.session) captureIncomingTransfers(ctx.session, (link, bytes) => this.#rawTransfers.set(link as object, bytes));
    });
    c.on("receiver_open", (ctx: EventContext) => ctx.receiver && this.#onReceiverOpen(ctx.receiver, ctx.connection));
    c.on("sender_open", (ctx: EventContext) => ctx.sender && this.#onSenderOpen(ctx.sender, ctx.connection));
    c.on("message", (ctx: EventContext) => this.#onMessage(ctx));
    // Credit arrived, a drain was asked for, or the session queue has room again.
    for (const event of ["sender_flow", "sender_draining", "sendable"]) {
      c.on(event, (ctx: EventContext) => {
        const role = ctx.sender && this.#roles.get(ctx.sender);
        if (role?.kind === "consumer") this.#pump(role.entity);
      });
    }
    for (const outcome of ["accepted", "rejected", "modified", "released"] as const) {
      c.on(outcome, (ctx: EventContext) => this.#onOutcome(ctx, outcome));
    }
    c.on("sender_close", (ctx: EventContext) => ctx.sender && this.#forget(ctx.sender));
    c.on("receiver_close", (ctx: EventContext) => ctx.receiver && this.#forget(ctx.receiver));
    c.on("connection_close", (ctx: EventContext) => this.#dropConnection(ctx.connection));
    c.on("disconnected", (ctx: EventContext) => this.#dropConnection(ctx.connection));
    for (const event of ["sender_error", "receiver_error", "session_error", "connection_error", "protocol_error"]) {
      c.on(event, (ctx: EventContext) => {
        const error: unknown = ctx.sender?.error ?? ctx.receiver?.error ?? ctx.session?.error ?? ctx.connection.error ?? ctx.error;
        this.#log(`${event}: ${JSON.stringify(error) ?? "unknown"}`);
      });
    }
    c.on("error", (error: unknown) => this.#log(`error: ${describeError(error)}`));
  }

  // ---- attach ----

  /** The client's sender: put-token requests, management requests, or messages for a queue. */
  #onReceiverOpen(receiver: Receiver, connection: Connection): void {
    const address = addressOf(receiver.target);
    if (address === "$cbs") {
      this.#accept(receiver, { kind: "cbs" }, requestCredit);
      return;
    }
    if (address?.toLowerCase().endsWith(managementSuffix)) {
      const entity = this.#broker.entity(address.slice(0, -managementSuffix.length));
      if (!entity) return this.#notFound(receiver, connection, address);
      this.#accept(receiver, { kind: "management", entity }, requestCredit);
      return;
    }
    const entity = address === undefined ? undefined : this.#broker.entity(address);
    if (!entity || address === undefined) return this.#notFound(receiver, connection, address ?? "");
    if (entity.isDeadLetterQueue) {
      receiver.close({ condition: "amqp:not-allowed", description: `Cannot send messages to the dead-letter queue ${entity.path}.` });
      return;
    }
    this.#accept(receiver, { kind: "producer", entity }, producerCredit);
  }

  /** The client's receiver: CBS or management replies, or deliveries from a queue. */
  #onSenderOpen(sender: Sender, connection: Connection): void {
    const address = addressOf(sender.source);
    if (address === "$cbs") {
      this.#accept(sender, { kind: "reply" }, 0);
      return;
    }
    if (address?.toLowerCase().endsWith(managementSuffix)) {
      if (!this.#broker.entity(address.slice(0, -managementSuffix.length))) return this.#notFound(sender, connection, address);
      this.#accept(sender, { kind: "reply" }, 0);
      return;
    }
    const entity = address === undefined ? undefined : this.#broker.entity(address);
    if (!entity || address === undefined) return this.#notFound(sender, connection, address ?? "");
    if (record(field(sender.source, "filter"))?.["com.microsoft:session-filter"] !== undefined) {
      sender.close({ condition: "amqp:not-implemented", description: "The emulator does not support session-enabled queues." });
      return;
    }
    const mode: ReceiveMode = sender.snd_settle_mode === 1 ? "receiveAndDelete" : "peekLock";
    setSettleModes(sender, sender.snd_settle_mode, sender.rcv_settle_mode);
    this.#accept(sender, { kind: "consumer", entity, mode }, 0);
    const consumer: Consumer = { sender, mode };
    this.#consumerOf.set(sender, consumer);
    let set = this.#consumers.get(entity);
    if (!set) this.#consumers.set(entity, (set = new Set()));
    set.add(consumer);
  }

  #accept(link: Link, role: Role, credit: number): void {
    this.#roles.set(link, role);
    // Echo the client's terminus addresses; rhea's terminus setters want plain fields, not its decoded objects.
    link.set_source({ address: addressOf(link.source) } as { address: string });
    link.set_target({ address: addressOf(link.target) } as { address: string });
    if (credit > 0 && link.is_receiver()) (link as Receiver).add_credit(credit);
  }

  #notFound(link: Link, connection: Connection, address: string): void {
    const host = text(connection.hostname) ?? "localhost";
    this.#log(`attach to unknown entity '${address}'`);
    // The SDK maps amqp:not-found to MessagingEntityNotFound only with this wording.
    link.close({
      condition: "amqp:not-found",
      description: `The messaging entity 'sb://${host}/${address}' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.`,
    });
  }

  #forget(link: Link): void {
    const role = this.#roles.get(link);
    this.#roles.delete(link);
    if (role?.kind === "consumer" && link.is_sender()) {
      const consumer = this.#consumerOf.get(link as Sender);
      if (consumer) this.#consumers.get(role.entity)?.delete(consumer);
    }
  }

  #dropConnection(connection: Connection): void {
    this.#connections.delete(connection);
    // Links of a dropped socket never report their own close.
    for (const set of this.#consumers.values()) {
      for (const consumer of set) if (consumer.sender.connection === connection) set.delete(consumer);
    }
  }

  // ---- incoming messages ----

  #onMessage(ctx: EventContext): void {
    const receiver = ctx.receiver;
    const role = receiver && this.#roles.get(receiver);
    if (!receiver || !role) return;
    const raw = this.#rawTransfers.get(receiver);
    this.#rawTransfers.delete(receiver);
    if (role.kind === "producer") this.#onSend(ctx, role.entity, raw);
    else if (role.kind === "cbs") this.#onPutToken(ctx);
    else if (role.kind === "management") this.#onManagementRequest(ctx, role.entity);
    if (linkCredit(receiver) < (role.kind === "producer" ? producerCredit : requestCredit) / 2) {
      receiver.add_credit((role.kind === "producer" ? producerCredit : requestCredit) - linkCredit(receiver));
    }
  }

  #onSend(ctx: EventContext, entity: Entity, raw: Buffer | undefined): void {
    const delivery = ctx.delivery;
    if (!delivery) return;
    const format = field(ctx, "format");
    const bytes = format === batchMessageFormat ? ctx.message : raw;
    if (!Buffer.isBuffer(bytes) || (format !== undefined && format !== 0 && format !== batchMessageFormat)) {
      delivery.reject({ condition: "amqp:not-implemented", description: `Unsupported message format ${String(format)}.` });
      return;
    }
    if (bytes.length > maxMessageSize) {
      delivery.reject({ condition: "amqp:link:message-size-exceeded", description: `The message is ${bytes.length} bytes; the limit is ${maxMessageSize}.` });
      return;
    }
    let messages: ParsedMessage[];
    try {
      messages = format === batchMessageFormat ? unpackBatchMessages(bytes) : [parseMessage(bytes)];
    } catch (error) {
      delivery.reject({ condition: "amqp:decode-error", description: describeError(error) });
      return;
    }
    try {
      entity.send(messages);
      delivery.accept();
    } catch (error) {
      this.#log(`send to ${entity.path} failed: ${describeError(error)}`);
      delivery.reject({ condition: "amqp:internal-error", description: describeError(error) });
    }
  }

  #onPutToken(ctx: EventContext): void {
    // Authorization is not emulated: every token is accepted.
    const request = ctx.message;
    this.#reply(ctx.connection, request, { "status-code": amqpTypes.wrap_int(202), "status-description": "Accepted" }, undefined);
    ctx.delivery?.accept();
  }

  #onManagementRequest(ctx: EventContext, entity: Entity): void {
    const request = ctx.message;
    const operation = field(field(request, "application_properties"), "operation");
    const reply = handleManagementRequest(entity, operation, field(request, "body"));
    if (reply.status >= 400) this.#log(`${String(operation)} on ${entity.path}: ${reply.status} ${reply.description}`);
    const properties: Record<string, unknown> = { statusCode: amqpTypes.wrap_int(reply.status), statusDescription: reply.description };
    if (reply.condition) properties["error-condition"] = amqpTypes.wrap_symbol(reply.condition);
    this.#reply(ctx.connection, request, properties, reply.body ?? {});
    ctx.delivery?.accept();
  }

  /** Replies go out on the client's receiver named in reply-to (its name; for $management also its address). */
  #reply(connection: Connection, request: unknown, properties: Record<string, unknown>, body: unknown): void {
    const replyTo = text(field(request, "reply_to"));
    const sender = connection.find_sender((s: Sender) => this.#roles.get(s)?.kind === "reply" && (s.name === replyTo || addressOf(s.target) === replyTo));
    if (!sender) {
      this.#log(`no reply link named ${String(replyTo)}; reply dropped`);
      return;
    }
    const correlationId = field(request, "message_id");
    sender.send(encodeMessage({ correlation_id: correlationId, to: replyTo, application_properties: properties, body }), undefined, 0);
  }

  // ---- outgoing messages ----

  /** Hands out messages while some consumer has credit, taking turns; then answers drains. */
  #pump(entity: Entity): void {
    const set = this.#consumers.get(entity);
    if (!set || set.size === 0) return;
    const all = [...set];
    const start = this.#turn++ % all.length;
    const consumers = [...all.slice(start), ...all.slice(0, start)];
    const credit = new Map(consumers.map((c) => [c, c.sender.is_open() ? deliverableCount(c.sender) : 0]));
    let delivering = true;
    while (delivering) {
      delivering = false;
      for (const consumer of consumers) {
        if ((credit.get(consumer) ?? 0) <= 0 || sessionCapacity(consumer.sender) <= 0) continue;
        const handed = entity.take(consumer.mode);
        if (!handed) {
          delivering = false;
          break;
        }
        const tag = handed.lockToken ? lockTokenToDeliveryTag(handed.lockToken) : undefined;
        consumer.sender.send(encodeForDelivery(handed.message, handed.annotations), tag, 0);
        credit.set(consumer, (credit.get(consumer) ?? 0) - 1);
        delivering = true;
      }
    }
    // Nothing more to hand out: a link that asked to drain gets its credit back (no-op otherwise).
    for (const consumer of consumers) if ((credit.get(consumer) ?? 0) > 0) consumer.sender.set_drained(true);
  }

  #onOutcome(ctx: EventContext, outcome: Outcome): void {
    const sender = ctx.sender;
    const delivery = ctx.delivery;
    const role = sender && this.#roles.get(sender);
    if (!delivery || role?.kind !== "consumer" || role.mode === "receiveAndDelete" || this.#settled.has(delivery)) return;
    this.#settled.add(delivery);
    const state = delivery.remote_state;
    let reply: unknown;
    try {
      const token = deliveryTagToLockToken(delivery.tag);
      if (!token) throw new BrokerError("lockLost", "The delivery tag is not a lock token.");
      role.entity.settle(token, toDisposition(outcome, state));
      reply = echo(outcome, state);
    } catch (error) {
      const amqpError: AmqpError =
        error instanceof BrokerError
          ? { condition: "com.microsoft:message-lock-lost", description: error.message }
          : { condition: "amqp:internal-error", description: describeError(error) };
      if (!(error instanceof BrokerError)) this.#log(`settlement on ${role.entity.path} failed: ${describeError(error)}`);
      reply = outcomes.rejected({ error: amqpError }).described();
    }
    // peekLock receivers settle second: the SDK's call resolves on our settled disposition.
    if (!delivery.remote_settled) settleLast(delivery, reply);
  }
}

function unpackBatchMessages(envelope: Buffer): ParsedMessage[] {
  return unpackBatch(envelope).map(parseMessage);
}

function toDisposition(outcome: Outcome, state: unknown): Disposition {
  switch (outcome) {
    case "accepted":
      return { kind: "complete" };
    case "released":
      return { kind: "abandon" };
    case "modified": {
      const properties = record(field(state, "message_annotations"));
      return field(state, "undeliverable_here") === true ? { kind: "defer", properties } : { kind: "abandon", properties };
    }
    case "rejected": {
      const error = field(state, "error");
      const info = { ...record(field(error, "info")) };
      const reason = text(info.DeadLetterReason) ?? (field(error, "condition") === "com.microsoft:dead-letter" ? undefined : text(field(error, "condition")));
      const description = text(info.DeadLetterErrorDescription) ?? text(field(error, "description"));
      delete info.DeadLetterReason;
      delete info.DeadLetterErrorDescription;
      return { kind: "deadLetter", reason, description, properties: info };
    }
  }
}

/** The outcome to settle with; dead-letter is answered with an error-free `rejected`, which the SDK takes as success. */
function echo(outcome: Outcome, state: unknown): unknown {
  switch (outcome) {
    case "accepted":
      return outcomes.accepted().described();
    case "released":
      return outcomes.released().described();
    case "modified":
      return outcomes.modified({ delivery_failed: field(state, "delivery_failed"), undeliverable_here: field(state, "undeliverable_here") }).described();
    case "rejected":
      return outcomes.rejected({}).described();
  }
}
