// The one message sender: every command and event goes out through here, with the
// envelope id as the Service Bus messageId (so duplicate detection absorbs re-sends) and
// the trace it was sent in as the `traceparent` application property (a producer span).
import { ServiceBusClient, type ServiceBusSender } from "@azure/service-bus";
import type { TokenCredential } from "@azure/core-auth";
import type { Config } from "../../config.js";
import type { MessageBus, OutgoingMessage } from "../../app/messageBus.js";
import { injectTraceContext, inSpan, traceAttributes } from "../../app/tracing.js";

export class ServiceBusMessageBus implements MessageBus {
  readonly #client: ServiceBusClient;
  readonly #senders = new Map<string, ServiceBusSender>();
  readonly #pingQueue: string;

  constructor(config: Config["serviceBus"], credential: TokenCredential, pingQueue: string) {
    this.#client =
      config.kind === "connectionString" ? new ServiceBusClient(config.connectionString) : new ServiceBusClient(config.fullyQualifiedNamespace, credential);
    this.#pingQueue = pingQueue;
  }

  #sender(queue: string): ServiceBusSender {
    let s = this.#senders.get(queue);
    if (!s) {
      s = this.#client.createSender(queue);
      this.#senders.set(queue, s);
    }
    return s;
  }

  send(m: OutgoingMessage): Promise<void> {
    const attributes = {
      "messaging.system": "servicebus",
      "messaging.operation.type": "send",
      "messaging.destination.name": m.queue,
      "messaging.message.id": m.id,
      [traceAttributes.messageType]: m.type,
      [traceAttributes.correlationId]: m.correlationId,
    };
    return inSpan(`send ${m.queue}`, { kind: "producer", attributes }, async () => {
      const applicationProperties: Record<string, string> = {};
      injectTraceContext(applicationProperties);
      await this.#sender(m.queue).sendMessages({
        messageId: m.id,
        correlationId: m.correlationId,
        subject: m.type,
        contentType: "application/json",
        body: m.body,
        ...(Object.keys(applicationProperties).length > 0 ? { applicationProperties } : {}),
        ...(m.notBefore ? { scheduledEnqueueTimeUtc: m.notBefore } : {}),
      });
    });
  }

  async ping(): Promise<void> {
    // Attaching a sender link proves the namespace answers and the queue exists.
    const batch = await this.#sender(this.#pingQueue).createMessageBatch();
    if (batch.maxSizeInBytes <= 0) throw new Error("Service Bus answered without a message size limit");
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#senders.values()].map((s) => s.close()));
    await this.#client.close();
  }
}
