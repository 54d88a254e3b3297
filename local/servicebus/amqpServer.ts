// The AMQP 1.0 side of the emulator, on rhea: the listener and its connections, SASL, and link
// attach: each link gets its role (CBS, $management, a queue's producer or consumer) and its events.
import type { Server, Socket } from "node:net";
import rhea, { type Connection, type Container, type EventContext, type Receiver, type Sender, type ServerConnectionOptions, type link as Link } from "rhea";
import { addressOf, describeError, field, record, text } from "./amqpFields.js";
import type { Broker } from "./broker.js";
import type { ReceiveMode } from "./brokerTypes.js";
import { DeliveryPump } from "./deliveryPump.js";
import type { Entity } from "./entity.js";
import { outcomeEvents, settleDelivery, type Outcome } from "./linkSettlement.js";
import { acceptTransfer, maxMessageSize } from "./producerTransfers.js";
import { RequestResponder } from "./requestLinks.js";
import { captureIncomingTransfers, linkCredit, setSettleModes } from "./rheaInternals.js";

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

export class AmqpServer {
  readonly #broker: Broker;
  readonly #log: (line: string) => void;
  readonly #container: Container;
  readonly #roles = new WeakMap<object, Role>();
  readonly #deliveries = new DeliveryPump();
  readonly #requests: RequestResponder;
  readonly #rawTransfers = new WeakMap<object, Buffer>();
  readonly #settled = new WeakSet<object>();
  readonly #connections = new Set<Connection>();
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;

  constructor(broker: Broker, log: (line: string) => void) {
    this.#broker = broker;
    this.#log = log;
    this.#requests = new RequestResponder((sender) => this.#roles.get(sender)?.kind === "reply", log);
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
    this.#deliveries.clear();
  }

  /** Called by the broker when `entity` may have messages to hand out; batched per microtask. */
  schedulePump(entity: Entity): void {
    this.#deliveries.schedule(entity);
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
        if (role?.kind === "consumer") this.#deliveries.pump(role.entity);
      });
    }
    for (const outcome of outcomeEvents) {
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
    this.#deliveries.add(entity, sender, mode);
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
    if (role?.kind === "consumer" && link.is_sender()) this.#deliveries.remove(role.entity, link as Sender);
  }

  #dropConnection(connection: Connection): void {
    this.#connections.delete(connection);
    this.#deliveries.dropConnection(connection);
  }

  // ---- incoming messages ----

  #onMessage(ctx: EventContext): void {
    const receiver = ctx.receiver;
    const role = receiver && this.#roles.get(receiver);
    if (!receiver || !role) return;
    const raw = this.#rawTransfers.get(receiver);
    this.#rawTransfers.delete(receiver);
    if (role.kind === "producer") acceptTransfer(ctx, role.entity, raw, this.#log);
    else if (role.kind === "cbs") this.#requests.putToken(ctx);
    else if (role.kind === "management") this.#requests.management(ctx, role.entity);
    if (linkCredit(receiver) < (role.kind === "producer" ? producerCredit : requestCredit) / 2) {
      receiver.add_credit((role.kind === "producer" ? producerCredit : requestCredit) - linkCredit(receiver));
    }
  }

  // ---- settlement ----

  #onOutcome(ctx: EventContext, outcome: Outcome): void {
    const sender = ctx.sender;
    const delivery = ctx.delivery;
    const role = sender && this.#roles.get(sender);
    if (!delivery || role?.kind !== "consumer" || role.mode === "receiveAndDelete" || this.#settled.has(delivery)) return;
    this.#settled.add(delivery);
    settleDelivery(role.entity, delivery, outcome, this.#log);
  }
}
