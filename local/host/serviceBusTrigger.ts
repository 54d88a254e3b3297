// Service Bus triggers: a peek-lock receiver per function (@azure/service-bus), settled like the host's
// extension 5.x does it — complete on success, abandon on failure — with host.json concurrency and lock
// renewal, the message handed over as RPC typed data and the host's binding data as trigger metadata.
import {
  isServiceBusError,
  ServiceBusClient,
  type ProcessErrorArgs,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from "@azure/service-bus";
import type { RpcBindingInfo, RpcTypedData } from "./coreTypes.js";
import type { RegisteredFunction } from "./functionsCore.js";
import type { HostConfig } from "./hostConfig.js";
import type { HostLog } from "./hostLog.js";
import type { InFlight } from "./inFlight.js";
import type { Invoker } from "./invoker.js";
import { resolveSettingExpressions } from "./timerTrigger.js";

export interface ServiceBusFunction {
  readonly fn: RegisteredFunction;
  readonly triggerName: string;
  readonly binding: RpcBindingInfo;
}

export interface ServiceBusEntity {
  /** Queue or topic name as the SDK wants it. */
  readonly entity: string;
  readonly subscription?: string;
  readonly subQueueType?: "deadLetter" | "transferDeadLetter";
  /** For messages: the queue or `topic/Subscriptions/sub` path, with the sub-queue suffix. */
  readonly displayName: string;
}

/** Splits a trigger's queue or topic/subscription, recognising `…/$DeadLetterQueue` and `…/$Transfer/$DeadLetterQueue`. */
export function parseServiceBusEntity(binding: RpcBindingInfo, env: NodeJS.ProcessEnv = process.env): ServiceBusEntity {
  const str = (key: string): string | undefined => {
    const v = binding[key];
    return typeof v === "string" && v !== "" ? resolveSettingExpressions(v, env) : undefined;
  };
  const queue = str("queueName");
  const topic = str("topicName");
  const subscription = str("subscriptionName");
  const path = queue ?? subscription;
  if (!path || (!queue && !topic)) throw new Error("a Service Bus trigger needs queueName, or topicName and subscriptionName");
  let base = path;
  let subQueueType: ServiceBusEntity["subQueueType"];
  const transfer = /\/\$Transfer\/\$DeadLetterQueue$/i;
  const deadLetter = /\/\$DeadLetterQueue$/i;
  if (transfer.test(base)) {
    base = base.replace(transfer, "");
    subQueueType = "transferDeadLetter";
  } else if (deadLetter.test(base)) {
    base = base.replace(deadLetter, "");
    subQueueType = "deadLetter";
  }
  return queue
    ? { entity: base, subQueueType, displayName: path }
    : { entity: topic!, subscription: base, subQueueType, displayName: `${topic}/Subscriptions/${path}` };
}

const dotNetMax = "9999-12-31T23:59:59.9999999";

/** Newtonsoft's rendering of a UTC DateTime (`…Z`) or a DateTimeOffset (`…+00:00`), trailing zero fractions dropped. */
function dotNetTime(date: Date | undefined, kind: "utc" | "offset"): string | undefined {
  if (!date || Number.isNaN(date.getTime())) return undefined;
  const suffix = kind === "utc" ? "Z" : "+00:00";
  // An infinite time-to-live gives an expiry beyond .NET's range: the host reports DateTime.MaxValue.
  if (date.getUTCFullYear() > 9999) return `${dotNetMax}${suffix}`;
  const [whole, frac] = date.toISOString().replace("Z", "").split(".");
  const fraction = frac.replace(/0+$/, "");
  return `${whole}${fraction ? `.${fraction}` : ""}${suffix}`;
}

function typed(value: unknown): RpcTypedData | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return { string: value };
  if (typeof value === "number") return Number.isInteger(value) ? { int: value } : { double: value };
  return { json: JSON.stringify(value) };
}

function idString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.toString("hex");
  return String(value);
}

/** The binding data the Service Bus extension (5.x) gives the host for one message (X-sb). */
export function serviceBusTriggerMetadata(message: ServiceBusReceivedMessage): Record<string, RpcTypedData> {
  const applicationProperties = message.applicationProperties ?? {};
  // .NET DateTime/DateTimeOffset values reach the worker as JSON strings.
  const time = (date: Date | undefined, kind: "utc" | "offset"): RpcTypedData | undefined => {
    const text = dotNetTime(date, kind);
    return text === undefined ? undefined : { json: JSON.stringify(text) };
  };
  const entries: Record<string, RpcTypedData | undefined> = {
    // The wire (AMQP) count starts at 0; .NET — and so the host — reports it plus one (JS reports it raw).
    DeliveryCount: typed((message.deliveryCount ?? 0) + 1),
    DeadLetterSource: typed(message.deadLetterSource),
    LockToken: typed(message.lockToken),
    ExpiresAtUtc: time(message.expiresAtUtc, "utc"),
    ExpiresAt: time(message.expiresAtUtc, "offset"),
    EnqueuedTimeUtc: time(message.enqueuedTimeUtc, "utc"),
    EnqueuedTime: time(message.enqueuedTimeUtc, "offset"),
    MessageId: typed(idString(message.messageId)),
    ContentType: typed(message.contentType),
    ReplyTo: typed(message.replyTo),
    SequenceNumber: typed(message.sequenceNumber?.toNumber()),
    To: typed(message.to),
    Subject: typed(message.subject),
    Label: typed(message.subject),
    CorrelationId: typed(idString(message.correlationId)),
    ApplicationProperties: typed(applicationProperties),
    UserProperties: typed(applicationProperties),
    SessionId: typed(message.sessionId),
    ReplyToSessionId: typed(message.replyToSessionId),
    PartitionKey: typed(message.partitionKey),
  };
  const metadata: Record<string, RpcTypedData> = {};
  // Null values are left out, as the host does.
  for (const [key, data] of Object.entries(entries)) if (data) metadata[key] = data;
  return metadata;
}

/** The message body as the host sends it: UTF-8 text (the library JSON-parses it when it can), or bytes for dataType "binary". */
export function serviceBusMessageData(message: ServiceBusReceivedMessage, binding: RpcBindingInfo): RpcTypedData {
  const body: unknown = message.body;
  let bytes: Buffer;
  if (Buffer.isBuffer(body)) bytes = body;
  else if (body instanceof Uint8Array) bytes = Buffer.from(body);
  else if (typeof body === "string") bytes = Buffer.from(body, "utf8");
  else bytes = Buffer.from(JSON.stringify(body ?? null), "utf8");
  return binding.dataType === "binary" ? { bytes } : { string: bytes.toString("utf8") };
}

interface Listener {
  readonly sb: ServiceBusFunction;
  readonly entity: ServiceBusEntity;
  readonly connection: string;
  readonly receiver: ServiceBusReceiver;
  subscription?: { close(): Promise<void> };
  lastErrorCode?: string;
  lastErrorLoggedAt?: number;
}

interface Unsettled {
  readonly listener: Listener;
  readonly message: ServiceBusReceivedMessage;
  settled: boolean;
}

export interface ServiceBusListenersOptions {
  readonly functions: readonly ServiceBusFunction[];
  readonly config: HostConfig["serviceBus"];
  readonly invoker: Invoker;
  readonly inFlight: InFlight;
  readonly log: HostLog;
  readonly env?: NodeJS.ProcessEnv;
}

export class ServiceBusListeners {
  #o: ServiceBusListenersOptions;
  #env: NodeJS.ProcessEnv;
  #clients = new Map<string, ServiceBusClient>();
  #listeners: Listener[] = [];
  #unsettled = new Set<Unsettled>();
  #stopping = false;

  constructor(options: ServiceBusListenersOptions) {
    this.#o = options;
    this.#env = options.env ?? process.env;
  }

  /** Starts a receiver per function; one whose connection or entity is unusable is logged and skipped. Returns the started names. */
  async start(): Promise<string[]> {
    const started: string[] = [];
    for (const sb of this.#o.functions) {
      const name = sb.fn.metadata.name;
      try {
        if (sb.binding.isSessionsEnabled === true) throw new Error("session-enabled triggers are not supported by the local host");
        if (sb.binding.cardinality === "many") throw new Error('cardinality "many" is not supported by the local host');
        const entity = parseServiceBusEntity(sb.binding, this.#env);
        const connection = typeof sb.binding.connection === "string" && sb.binding.connection ? sb.binding.connection : "AzureWebJobsServiceBus";
        const client = await this.#client(connection);
        const receiverOptions = {
          receiveMode: "peekLock" as const,
          subQueueType: entity.subQueueType,
          maxAutoLockRenewalDurationInMs: this.#o.config.maxAutoLockRenewalDurationMs,
          // The host passes the raw body on; the library does the JSON parsing.
          skipParsingBodyAsJson: true,
          skipConvertingDate: true,
        };
        const receiver = entity.subscription
          ? client.createReceiver(entity.entity, entity.subscription, receiverOptions)
          : client.createReceiver(entity.entity, receiverOptions);
        const listener: Listener = { sb, entity, connection, receiver };
        this.#listeners.push(listener);
        if (!this.#autoComplete(sb)) {
          this.#o.log.warn(`${name}: autoCompleteMessages is false, so the host will not settle its messages (their locks expire and they are redelivered)`);
        }
        listener.subscription = receiver.subscribe(
          {
            processMessage: (message) => this.#process(listener, message),
            processError: async (args) => this.#onError(listener, args),
          },
          { autoCompleteMessages: false, maxConcurrentCalls: this.#o.config.maxConcurrentCalls },
        );
        this.#o.log.info(`Service Bus trigger '${name}' listening on '${entity.displayName}' (connection '${connection}')`);
        started.push(name);
      } catch (error) {
        this.#o.log.error(`The '${name}' function is in error: ${(error as Error).message}`);
      }
    }
    return started;
  }

  /** Stops taking new messages; messages already handed to functions finish and are settled. */
  async stopReceiving(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#listeners.map(async (l) => {
        try {
          // A link that is failing (missing queue, broker down) cannot drain; with nothing in flight, just close it.
          if (l.lastErrorCode && ![...this.#unsettled].some((u) => u.listener === l)) {
            await l.receiver.close();
            return;
          }
          await l.subscription?.close();
        } catch (error) {
          this.#o.log.warn(`${l.sb.fn.metadata.name}: closing the subscription failed: ${String(error)}`);
        }
      }),
    );
  }

  /** After a shutdown timeout: give back messages whose invocations are still running, so none stays locked. */
  async abandonUnsettled(): Promise<number> {
    const pending = [...this.#unsettled].filter((u) => !u.settled);
    await Promise.all(
      pending.map(async (u) => {
        u.settled = true;
        await this.#settle(u.listener, u.message, "abandon");
      }),
    );
    return pending.length;
  }

  async close(): Promise<void> {
    await Promise.all(this.#listeners.map((l) => l.receiver.close().catch(() => undefined)));
    await Promise.all([...this.#clients.values()].map((c) => c.close().catch(() => undefined)));
    this.#listeners = [];
    this.#clients.clear();
  }

  #autoComplete(sb: ServiceBusFunction): boolean {
    const own = sb.binding.autoCompleteMessages;
    return typeof own === "boolean" ? own : this.#o.config.autoCompleteMessages;
  }

  async #client(connection: string): Promise<ServiceBusClient> {
    const existing = this.#clients.get(connection);
    if (existing) return existing;
    const env = this.#env;
    const connectionString = env[connection] ?? env[`AzureWebJobs${connection}`];
    let client: ServiceBusClient;
    if (connectionString) client = new ServiceBusClient(connectionString);
    else {
      const namespace = env[`${connection}__fullyQualifiedNamespace`];
      if (!namespace) {
        throw new Error(
          `Service Bus connection '${connection}' is not configured: set the app setting "${connection}" (connection string) ` +
            `or "${connection}__fullyQualifiedNamespace" (identity)`,
        );
      }
      const identity = await import("@azure/identity");
      const clientId = env[`${connection}__clientId`];
      const credential =
        env[`${connection}__credential`] === "managedidentity"
          ? new identity.ManagedIdentityCredential(clientId ? { clientId } : {})
          : new identity.DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
      client = new ServiceBusClient(namespace, credential);
    }
    this.#clients.set(connection, client);
    return client;
  }

  async #process(listener: Listener, message: ServiceBusReceivedMessage): Promise<void> {
    if (this.#stopping) {
      // Arrived after shutdown began: hand it straight back rather than start an invocation we cannot wait for.
      await this.#settle(listener, message, "abandon");
      return;
    }
    listener.lastErrorCode = undefined;
    const entry: Unsettled = { listener, message, settled: false };
    this.#unsettled.add(entry);
    const work = (async () => {
      try {
        const outcome = await this.#o.invoker.invoke(listener.sb.fn, {
          inputData: [{ name: listener.sb.triggerName, data: serviceBusMessageData(message, listener.sb.binding) }],
          triggerMetadata: serviceBusTriggerMetadata(message),
          traceParent: typeof message.applicationProperties?.["Diagnostic-Id"] === "string" ? message.applicationProperties["Diagnostic-Id"] : undefined,
        });
        if (entry.settled || !this.#autoComplete(listener.sb)) return;
        entry.settled = true;
        await this.#settle(listener, message, outcome.ok ? "complete" : "abandon");
      } finally {
        this.#unsettled.delete(entry);
      }
    })();
    await this.#o.inFlight.track(work);
  }

  async #settle(listener: Listener, message: ServiceBusReceivedMessage, action: "complete" | "abandon"): Promise<void> {
    try {
      if (action === "complete") await listener.receiver.completeMessage(message);
      else await listener.receiver.abandonMessage(message);
    } catch (error) {
      // Typically a lost lock: the broker redelivers the message, so this is worth a warning, not a crash.
      this.#o.log.warn(
        `${listener.sb.fn.metadata.name}: could not ${action} message ${idString(message.messageId) ?? "?"} on '${listener.entity.displayName}': ${String(error)}`,
      );
    }
  }

  #onError(listener: Listener, args: ProcessErrorArgs): void {
    const name = listener.sb.fn.metadata.name;
    const code = isServiceBusError(args.error) ? args.error.code : undefined;
    // The SDK keeps retrying a broken link; say it once per kind of failure (and a minute) instead of flooding the log.
    const key = `${args.errorSource}:${code ?? args.error.name}`;
    const now = Date.now();
    if (listener.lastErrorCode === key && now - (listener.lastErrorLoggedAt ?? 0) < 60_000) return;
    listener.lastErrorCode = key;
    listener.lastErrorLoggedAt = now;
    if (code === "MessagingEntityNotFound") {
      this.#o.log.error(
        `${name}: Service Bus ${listener.entity.subscription ? "subscription" : "queue"} '${listener.entity.displayName}' does not exist ` +
          `(connection '${listener.connection}'). Create it, or fix the trigger's queue name.`,
      );
      return;
    }
    this.#o.log.error(`${name}: Service Bus ${args.errorSource} error on '${listener.entity.displayName}'${code ? ` (${code})` : ""}: ${args.error.message}`);
  }
}
