// Service Bus triggers: a peek-lock receiver per function (@azure/service-bus), settled like the host's
// extension 5.x does it — complete on success, abandon on failure — with host.json concurrency and lock
// renewal, the message handed over as RPC typed data and the host's binding data as trigger metadata.
// A `cardinality: "many"` trigger gets batches of up to maxMessageBatchSize (serviceBusBatch.ts): one
// invocation per batch, every message of it completed when it succeeds and abandoned when it fails.
import { isServiceBusError, ServiceBusClient, type ProcessErrorArgs, type ServiceBusReceivedMessage, type ServiceBusReceiver } from "@azure/service-bus";
import type { RpcBindingInfo } from "./coreTypes.js";
import type { RegisteredFunction } from "./functionsCore.js";
import { maxMessageBatchSizeDefault, type HostConfig } from "./hostConfig.js";
import type { HostLog } from "./hostLog.js";
import type { InFlight } from "./inFlight.js";
import type { Invoker } from "./invoker.js";
import { resolveSettingExpressions } from "./timerTrigger.js";
import { idString, serviceBusBatchData, serviceBusBatchTriggerMetadata, serviceBusMessageData, serviceBusTriggerMetadata } from "./serviceBusMetadata.js";
import { receiveBatches } from "./serviceBusBatch.js";

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
        const batch = sb.binding.cardinality === "many";
        const entity = parseServiceBusEntity(sb.binding, this.#env);
        const connection = typeof sb.binding.connection === "string" && sb.binding.connection ? sb.binding.connection : "AzureWebJobsServiceBus";
        const client = await this.#client(connection);
        const receiverOptions = {
          receiveMode: "peekLock" as const,
          subQueueType: entity.subQueueType,
          // Batches are not renewed (the extension renews single-message deliveries only).
          maxAutoLockRenewalDurationInMs: batch ? 0 : this.#o.config.maxAutoLockRenewalDurationMs,
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
        listener.subscription = batch
          ? receiveBatches({
              receiver,
              maxMessageCount: this.#o.config.maxMessageBatchSize ?? maxMessageBatchSizeDefault,
              process: (messages) => this.#processBatch(listener, messages),
              onError: (error) =>
                this.#onError(listener, {
                  error,
                  errorSource: "receive",
                  entityPath: entity.displayName,
                  fullyQualifiedNamespace: "",
                  identifier: receiver.identifier,
                }),
            })
          : receiver.subscribe(
              {
                processMessage: (message) => this.#process(listener, message),
                processError: async (args) => this.#onError(listener, args),
              },
              { autoCompleteMessages: false, maxConcurrentCalls: this.#o.config.maxConcurrentCalls },
            );
        this.#o.log.info(`Service Bus trigger '${name}' listening on '${entity.displayName}' (connection '${connection}')${batch ? ", in batches" : ""}`);
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

  /** A `cardinality: "many"` delivery: one invocation for the batch; every message settled with its outcome. */
  async #processBatch(listener: Listener, messages: ServiceBusReceivedMessage[]): Promise<void> {
    if (this.#stopping) {
      await Promise.all(messages.map((m) => this.#settle(listener, m, "abandon")));
      return;
    }
    listener.lastErrorCode = undefined;
    const entries = messages.map((message): Unsettled => ({ listener, message, settled: false }));
    for (const e of entries) this.#unsettled.add(e);
    const work = (async () => {
      try {
        // No traceParent: a batch has no single parent, so its invocation starts a trace of its own.
        const outcome = await this.#o.invoker.invoke(listener.sb.fn, {
          inputData: [{ name: listener.sb.triggerName, data: serviceBusBatchData(messages, listener.sb.binding) }],
          triggerMetadata: serviceBusBatchTriggerMetadata(messages),
        });
        if (!this.#autoComplete(listener.sb)) return;
        const action = outcome.ok ? "complete" : "abandon";
        const open = entries.filter((e) => !e.settled);
        for (const e of open) e.settled = true;
        await Promise.all(open.map((e) => this.#settle(listener, e.message, action)));
      } finally {
        for (const e of entries) this.#unsettled.delete(e);
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
