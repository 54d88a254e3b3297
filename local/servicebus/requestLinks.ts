// Request/response links: CBS put-token and $management requests arrive on the client's sender and
// are answered on its receiver that reply-to names (by link name; for $management also by address).
import type { Connection, EventContext, Sender } from "rhea";
import { amqpTypes, encodeMessage } from "./amqpEncoding.js";
import { addressOf, field, text } from "./amqpFields.js";
import type { Entity } from "./entity.js";
import { handleManagementRequest } from "./management.js";

export class RequestResponder {
  readonly #isReplyLink: (sender: Sender) => boolean;
  readonly #log: (line: string) => void;

  /** `isReplyLink` tells our senders that carry CBS and management replies from the rest. */
  constructor(isReplyLink: (sender: Sender) => boolean, log: (line: string) => void) {
    this.#isReplyLink = isReplyLink;
    this.#log = log;
  }

  putToken(ctx: EventContext): void {
    // Authorization is not emulated: every token is accepted.
    const request = ctx.message;
    this.#reply(ctx.connection, request, { "status-code": amqpTypes.wrap_int(202), "status-description": "Accepted" }, undefined);
    ctx.delivery?.accept();
  }

  management(ctx: EventContext, entity: Entity): void {
    const request = ctx.message;
    const operation = field(field(request, "application_properties"), "operation");
    const reply = handleManagementRequest(entity, operation, field(request, "body"));
    if (reply.status >= 400) this.#log(`${String(operation)} on ${entity.path}: ${reply.status} ${reply.description}`);
    const properties: Record<string, unknown> = { statusCode: amqpTypes.wrap_int(reply.status), statusDescription: reply.description };
    if (reply.condition) properties["error-condition"] = amqpTypes.wrap_symbol(reply.condition);
    this.#reply(ctx.connection, request, properties, reply.body ?? {});
    ctx.delivery?.accept();
  }

  #reply(connection: Connection, request: unknown, properties: Record<string, unknown>, body: unknown): void {
    const replyTo = text(field(request, "reply_to"));
    const sender = connection.find_sender((s: Sender) => this.#isReplyLink(s) && (s.name === replyTo || addressOf(s.target) === replyTo));
    if (!sender) {
      this.#log(`no reply link named ${String(replyTo)}; reply dropped`);
      return;
    }
    const correlationId = field(request, "message_id");
    sender.send(encodeMessage({ correlation_id: correlationId, to: replyTo, application_properties: properties, body }), undefined, 0);
  }
}
