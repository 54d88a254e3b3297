// A queue function that takes its messages in batches (the Service Bus trigger's
// `cardinality: "many"`, up to host.json's extensions.serviceBus.maxMessageBatchSize at a
// time): for message types with a bulk handler, one call handles all of the batch's
// messages of that type (device.upserted: many devices per Table transaction); every other
// message goes through the one-message path of consumer.ts, with the same outcome as there.
// Settlement is the batch's: completed when the invocation returns, abandoned when it
// throws. So a message that would be completed alone (malformed, unknown type, a permanent
// DomainError) is audited and not thrown; a transient failure of any message throws, and
// the whole batch is delivered again. That is safe because every handler is idempotent
// (device writes are ordered by occurredAt, session requests keyed by the event id), and
// the rejections are audited last, after everything that can fail transiently, so a
// redelivered batch does not audit them twice.
import type { InvocationContext } from "@azure/functions";
import { inSpan, traceAttributes } from "../../shared/app/tracing.js";
import { parseMessage, type Envelope, type MessageType, type QueueName } from "../../shared/contracts/messages.js";
import { tableOperations } from "../../shared/adapters/tables/tableOperations.js";
import { serviceBusQueue, type FunctionDefinition } from "../definition.js";
import { ensureTables, services } from "../runtime.js";
import { dispatch, loggerFor, rejectMalformed, type QueueHandlerInput, type QueueHandlers, type TriggerFacts } from "./consumer.js";

export type BulkHandlers = { readonly [T in MessageType]?: (inputs: readonly QueueHandlerInput<Envelope<T>>[]) => Promise<void> };

/** One-message handlers running at once within a batch. */
const singleConcurrency = 8;

const at = (value: unknown, i: number): unknown => (Array.isArray(value) ? value[i] : undefined);

/** The trigger metadata of the i-th message: the host sends one array per key (`messageIdArray`…). */
function batchTriggerFacts(ctx: InvocationContext, i: number): TriggerFacts {
  const m = ctx.triggerMetadata ?? {};
  const id = at(m.messageIdArray, i);
  const count = at(m.deliveryCountArray, i);
  const props = (at(m.applicationPropertiesArray, i) ?? {}) as Record<string, unknown>;
  return {
    messageId: typeof id === "string" ? id : "unknown",
    deliveryCount: typeof count === "number" ? count : Number(count ?? 0),
    applicationProperties: props,
  };
}

async function settledAll(items: readonly (() => Promise<void>)[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < items.length; i += singleConcurrency) {
    const results = await Promise.allSettled(items.slice(i, i + singleConcurrency).map((run) => run()));
    for (const r of results) if (r.status === "rejected" && !failure) failure = { error: r.reason };
  }
  if (failure) throw failure.error;
}

async function dispatchBatch(spec: BatchSpec, bodies: readonly unknown[], ctx: InvocationContext): Promise<void> {
  const svc = services();
  const bulk = new Map<MessageType, QueueHandlerInput<Envelope<MessageType>>[]>();
  const single: (() => Promise<void>)[] = [];
  const rejected: (() => Promise<void>)[] = [];
  bodies.forEach((body, i) => {
    const facts = batchTriggerFacts(ctx, i);
    const parsed = parseMessage(body, { queue: spec.queue });
    const type = parsed.ok ? parsed.message.type : undefined;
    if (parsed.ok && type && spec.bulk[type]) {
      const message = parsed.message;
      const log = loggerFor(ctx, { messageId: facts.messageId, deliveryCount: facts.deliveryCount }).with({
        correlationId: message.correlationId,
        type: message.type,
        tenantId: message.tenantId,
      });
      const inputs = bulk.get(message.type) ?? [];
      inputs.push({ message, messageId: facts.messageId, deliveryCount: facts.deliveryCount, log, services: svc });
      bulk.set(message.type, inputs);
    } else if (parsed.ok && type && spec.handlers[type]) {
      single.push(() => dispatch(spec.handlers, spec.queue, body, ctx, false, facts));
    } else {
      const reason = parsed.ok ? `no handler for message type ${parsed.message.type}` : parsed.reason;
      const log = loggerFor(ctx, { messageId: facts.messageId, deliveryCount: facts.deliveryCount });
      rejected.push(() => rejectMalformed(svc, log, body, spec.queue, facts, reason));
    }
  });
  await ensureTables();
  for (const [type, inputs] of bulk) {
    const handler = spec.bulk[type] as (inputs: readonly QueueHandlerInput<Envelope<MessageType>>[]) => Promise<void>;
    await inSpan(
      `process ${spec.queue}`,
      {
        kind: "consumer",
        attributes: {
          "messaging.system": "servicebus",
          "messaging.operation.type": "process",
          "messaging.destination.name": spec.queue,
          "messaging.batch.message_count": inputs.length,
          [traceAttributes.functionName]: ctx.functionName,
          [traceAttributes.messageType]: type,
        },
      },
      async (span) => {
        ctx.log(`${inputs.length} ${type} received in a batch of ${bodies.length}`);
        const started = performance.now();
        try {
          await handler(inputs);
          ctx.log(`${inputs.length} ${type} handled in ${Math.round(performance.now() - started)} ms`);
        } catch (e) {
          // Transient (storage out, throttled): the whole batch comes again; the writes are idempotent.
          ctx.warn(`${inputs.length} ${type} failed, the batch will be retried: ${e instanceof Error ? e.message : String(e)}`);
          span.set({ [traceAttributes.outcome]: "retried" });
          throw e;
        }
      },
    );
  }
  await settledAll(single);
  await settledAll(rejected);
}

interface BatchSpec {
  readonly name: string;
  readonly queue: QueueName;
  /** The one-message handlers, for types without a bulk handler. */
  readonly handlers: QueueHandlers;
  readonly bulk: BulkHandlers;
}

export function queueBatchConsumer(spec: BatchSpec): FunctionDefinition {
  return serviceBusQueue(spec.name, {
    connection: "ServiceBusConnection",
    queueName: spec.queue,
    cardinality: "many",
    handler: (bodies: unknown, ctx: InvocationContext) =>
      tableOperations.withinInvocation(spec.name, () => dispatchBatch(spec, Array.isArray(bodies) ? bodies : [bodies], ctx)),
  });
}
