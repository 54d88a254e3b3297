// Transfers on a producer link: one message or a batch envelope, size-checked, decoded and handed
// to the queue, then answered `accepted` or `rejected` with the condition the SDK translates.
import type { EventContext } from "rhea";
import { batchMessageFormat, parseMessage, unpackBatch, type ParsedMessage } from "./amqpEncoding.js";
import { describeError, field } from "./amqpFields.js";
import type { Entity } from "./entity.js";

/** Standard tier's limit; the SDK sizes `createMessageBatch()` from the value on the attach. */
export const maxMessageSize = 262_144;

/** `raw` is the transfer's bytes as captured for format 0; a batch envelope arrives in `ctx.message`. */
export function acceptTransfer(ctx: EventContext, entity: Entity, raw: Buffer | undefined, log: (line: string) => void): void {
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
    messages = format === batchMessageFormat ? unpackBatch(bytes).map(parseMessage) : [parseMessage(bytes)];
  } catch (error) {
    delivery.reject({ condition: "amqp:decode-error", description: describeError(error) });
    return;
  }
  try {
    entity.send(messages);
    delivery.accept();
  } catch (error) {
    log(`send to ${entity.path} failed: ${describeError(error)}`);
    delivery.reject({ condition: "amqp:internal-error", description: describeError(error) });
  }
}
