// The one way a queue function is built. A message is parsed (envelope, then data);
// malformed or unknown messages are audited, logged and completed (never retried);
// a DomainError from the use case is a permanent failure: audited, logged, completed;
// work that found no room in the tenant's TeamViewer quota is sent again, scheduled for
// when there will be room, and this message completed (schedule first, complete second:
// a crash in between leaves a duplicate, which the handlers' idempotency absorbs);
// anything else is transient: thrown, so Service Bus redelivers it (and dead-letters it
// after the queue's maxDeliveryCount).
// A dead-letter queue has no delivery limit, and the delivery count of a dead letter is the
// broker's business (it may carry over from the queue, or not grow at all); so dead-letter
// functions never decide by it. Their handlers read the entity the message is about and
// change only what is still open; a failure of a service they depend on (storage
// unreachable, 5xx, throttled) leaves the dead letter where it is for the next delivery,
// and any other failure, which another delivery would only repeat, is logged as an error,
// audited and completed.
// Each delivery is a consumer span, a child of the span that sent the message (its
// `traceparent` application property).
import type { InvocationContext } from "@azure/functions";
import { systemActor } from "../../shared/domain/caller.js";
import { DomainError } from "../../shared/domain/errors.js";
import { createLogger, type Logger } from "../../shared/app/logging.js";
import { inSpan, traceAttributes, traceContextOfProperties, type TraceSpan } from "../../shared/app/tracing.js";
import type { Services } from "../../shared/composition.js";
import { decodeBody, messageForLog, parseMessage, type Envelope, type Message, type MessageType, type QueueName } from "../../shared/contracts/messages.js";
import { failureKind, isOutage } from "../../shared/app/timerRows.js";
import { isQuotaExhausted, type TeamViewerQuotaExhausted } from "../../shared/app/quota/teamViewerQuota.js";
import { nameBasedUuid } from "../../shared/app/sessions/sessionMessages.js";
import { tableOperations } from "../../shared/adapters/tables/tableOperations.js";
import { serviceBusQueue, type FunctionDefinition } from "../definition.js";
import { ensureTables, services } from "../runtime.js";

export interface QueueHandlerInput<M> {
  readonly message: M;
  readonly messageId: string;
  readonly deliveryCount: number;
  readonly log: Logger;
  readonly services: Services;
  /** For dead-lettered messages: why Service Bus gave up on it. */
  readonly deadLetterReason?: string;
}

export type QueueHandlers = { readonly [T in MessageType]?: (input: QueueHandlerInput<Envelope<T>>) => Promise<void> };

/**
 * Work waits for TeamViewer quota at most this long after it was asked for (the queues keep
 * a message a day); after that the wait counts as a failure and takes the redelivery path.
 */
const maxQuotaWaitMs = 24 * 60 * 60_000;

export interface TriggerFacts {
  readonly messageId: string;
  readonly deliveryCount: number;
  readonly deadLetterReason?: string;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
}

function triggerFacts(ctx: InvocationContext): TriggerFacts {
  const m = ctx.triggerMetadata ?? {};
  const props = (m.applicationProperties ?? {}) as Record<string, unknown>;
  const reason = props.deadLetterReason ?? props.DeadLetterReason;
  return {
    messageId: typeof m.messageId === "string" ? m.messageId : "unknown",
    deliveryCount: typeof m.deliveryCount === "number" ? m.deliveryCount : Number(m.deliveryCount ?? 0),
    deadLetterReason: typeof reason === "string" ? reason.slice(0, 200) : undefined,
    applicationProperties: props,
  };
}

export function loggerFor(ctx: InvocationContext, props: Record<string, unknown>): Logger {
  return createLogger((level, line) => (level === "error" ? ctx.error(line) : level === "warn" ? ctx.warn(line) : ctx.log(line)), props);
}

/**
 * The tenant of a message that failed validation, if its envelope names one plausibly. The
 * body is decoded as `parseMessage` decodes it, so JSON text or bytes name their tenant as
 * an object does.
 */
function claimedTenant(body: unknown): string | undefined {
  const decoded = decodeBody(body);
  const envelope = decoded.ok ? decoded.value : undefined;
  const t = envelope && typeof envelope === "object" ? (envelope as { tenantId?: unknown }).tenantId : undefined;
  return typeof t === "string" && /^[A-Za-z0-9-]{1,64}$/.test(t) ? t.toLowerCase() : undefined;
}

export async function rejectMalformed(svc: Services, log: Logger, body: unknown, queue: string, facts: TriggerFacts, reason: string): Promise<void> {
  log.warn(`discarded a message on ${queue} that cannot be processed: ${reason}`, { messageId: facts.messageId });
  const tenantId = claimedTenant(body);
  if (!tenantId) return; // No tenant to file it under: the log line is the record.
  await ensureTables();
  await svc.audit.record({
    tenantId,
    actor: systemActor,
    activity: "message.rejected",
    target: { type: "message", id: facts.messageId.slice(0, 128) },
    result: "failure",
    detail: `${queue}: ${reason}`.slice(0, 1000),
  });
}

/** One delivery, start to end; `facts` says which message it is (a batch's invocation has several). */
export function dispatch(
  handlers: QueueHandlers,
  queue: QueueName,
  body: unknown,
  ctx: InvocationContext,
  deadLetter: boolean,
  facts: TriggerFacts = triggerFacts(ctx),
): Promise<void> {
  return inSpan(
    `process ${deadLetter ? `${queue}/$DeadLetterQueue` : queue}`,
    {
      kind: "consumer",
      parent: traceContextOfProperties(facts.applicationProperties),
      attributes: {
        "messaging.system": "servicebus",
        "messaging.operation.type": "process",
        "messaging.destination.name": queue,
        "messaging.message.id": facts.messageId,
        "messaging.servicebus.message.delivery_count": facts.deliveryCount,
        [traceAttributes.functionName]: ctx.functionName,
      },
    },
    (span) => handleDelivery(handlers, queue, body, ctx, deadLetter, facts, span),
  );
}

async function handleDelivery(
  handlers: QueueHandlers,
  queue: QueueName,
  body: unknown,
  ctx: InvocationContext,
  deadLetter: boolean,
  facts: TriggerFacts,
  span: TraceSpan,
): Promise<void> {
  const svc = services();
  const baseLog = loggerFor(ctx, { messageId: facts.messageId, deliveryCount: facts.deliveryCount });
  const parsed = parseMessage(body, { queue });
  if (!parsed.ok) {
    span.set({ [traceAttributes.outcome]: "rejected" });
    span.fail("malformedMessage");
    return rejectMalformed(svc, baseLog, body, queue, facts, parsed.reason);
  }
  const message = parsed.message;
  span.annotate({
    [traceAttributes.tenantId]: message.tenantId,
    [traceAttributes.correlationId]: message.correlationId,
    [traceAttributes.messageType]: message.type,
  });
  const handler = handlers[message.type] as ((input: QueueHandlerInput<Message>) => Promise<void>) | undefined;
  if (!handler) {
    span.set({ [traceAttributes.outcome]: "rejected" });
    span.fail("unhandledMessageType");
    return rejectMalformed(svc, baseLog, body, queue, facts, `no handler for message type ${message.type}`);
  }
  const log = baseLog.with({ correlationId: message.correlationId, type: message.type, tenantId: message.tenantId });
  log.info(`${deadLetter ? "dead-lettered " : ""}${message.type} received`, messageForLog(message));
  await ensureTables();
  try {
    await handler({ message, messageId: facts.messageId, deliveryCount: facts.deliveryCount, log, services: svc, deadLetterReason: facts.deadLetterReason });
  } catch (e) {
    if (e instanceof DomainError) {
      span.set({ [traceAttributes.outcome]: "failedPermanently" });
      span.fail(e.name, e.code);
      log.warn(`${message.type} failed permanently: ${e.code}: ${e.detail}`);
      await svc.audit.record({
        tenantId: message.tenantId,
        actor: systemActor,
        activity: `${message.type}.failed`,
        target: { type: "message", id: message.id },
        result: "failure",
        detail: `${e.code}: ${e.detail}`,
        correlationId: message.correlationId,
      });
      return;
    }
    if (!deadLetter && isQuotaExhausted(e) && (await rescheduleForQuota(svc, log, queue, body, message, facts, e))) {
      span.set({ [traceAttributes.outcome]: "waitingForQuota" });
      return;
    }
    if (deadLetter && deadLetterFailure(e) === "giveUp") {
      span.set({ [traceAttributes.outcome]: "givenUp" });
      span.fail(e instanceof Error ? e.name : "Error");
      return giveUpOnDeadLetter(svc, log, queue, message, facts, e);
    }
    const next = deadLetter
      ? "a service it needs is out; the dead letter waits for its next delivery"
      : `will be retried (delivery ${facts.deliveryCount + 1})`;
    log.warn(`${message.type} failed, ${next}`, { error: e instanceof Error ? e.message : String(e) });
    span.set({ [traceAttributes.outcome]: "retried" });
    throw e;
  }
}

/**
 * What a dead-letter function does with a failure that is not a DomainError: wait for the
 * next delivery when a service it depends on is out, give up otherwise. Never by delivery count.
 */
export function deadLetterFailure(e: unknown): "retry" | "giveUp" {
  return isOutage(e) ? "retry" : "giveUp";
}

async function giveUpOnDeadLetter(svc: Services, log: Logger, queue: QueueName, message: Message, facts: TriggerFacts, e: unknown): Promise<void> {
  const kind = failureKind(e);
  log.error(`gave up on dead-lettered ${message.type}: its handler failed (${kind}), and another delivery would only repeat that`, e);
  await svc.audit.record({
    tenantId: message.tenantId,
    actor: systemActor,
    activity: "message.deadLetterAbandoned",
    target: { type: "message", id: message.id },
    result: "failure",
    detail: `${queue}: ${message.type} dead-lettered${facts.deadLetterReason ? ` (${facts.deadLetterReason})` : ""}; its handling failed: ${kind}`.slice(
      0,
      1000,
    ),
    correlationId: message.correlationId,
  });
}

/** Sends the message again for when the quota has room; false when it has waited long enough. */
async function rescheduleForQuota(
  svc: Services,
  log: Logger,
  queue: QueueName,
  body: unknown,
  message: Message,
  facts: TriggerFacts,
  e: TeamViewerQuotaExhausted,
): Promise<boolean> {
  if (e.retryAt.getTime() - Date.parse(message.occurredAt) > maxQuotaWaitMs) {
    log.warn(`${message.type} has waited for TeamViewer quota since ${message.occurredAt}; no more waiting`);
    return false;
  }
  await svc.bus.send({
    queue,
    // A new message per wait (the original id is still in duplicate detection's window).
    id: nameBasedUuid(`${facts.messageId}|quota|${e.retryAt.getTime()}`),
    type: message.type,
    ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
    body,
    notBefore: e.retryAt,
  });
  log.info(`${message.type} waits for the tenant's TeamViewer quota; scheduled again`, { at: e.retryAt.toISOString(), byTeamViewer: e.byTeamViewer });
  return true;
}

export function queueConsumer(spec: { name: string; queue: QueueName; handlers: QueueHandlers }): FunctionDefinition {
  return serviceBusQueue(spec.name, {
    connection: "ServiceBusConnection",
    queueName: spec.queue,
    handler: (body: unknown, ctx: InvocationContext) =>
      tableOperations.withinInvocation(spec.name, () => dispatch(spec.handlers, spec.queue, body, ctx, false)),
  });
}

export function deadLetterConsumer(spec: { name: string; queue: QueueName; handlers: QueueHandlers }): FunctionDefinition {
  return serviceBusQueue(spec.name, {
    connection: "ServiceBusConnection",
    queueName: `${spec.queue}/$DeadLetterQueue`,
    handler: (body: unknown, ctx: InvocationContext) => tableOperations.withinInvocation(spec.name, () => dispatch(spec.handlers, spec.queue, body, ctx, true)),
  });
}
