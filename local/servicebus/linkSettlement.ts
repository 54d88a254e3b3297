// Settlement on receive links: the outcome a client sends for a peek-locked delivery becomes a
// broker disposition, and the delivery is settled with the state the SDK takes as the answer.
import rhea, { type AmqpError, type Delivery } from "rhea";
import { deliveryTagToLockToken } from "./amqpEncoding.js";
import { describeError, field, record, text } from "./amqpFields.js";
import { BrokerError, type Disposition } from "./brokerTypes.js";
import type { Entity } from "./entity.js";
import { settleLast } from "./rheaInternals.js";

export const outcomeEvents = ["accepted", "rejected", "modified", "released"] as const;
export type Outcome = (typeof outcomeEvents)[number];

interface Outcomes {
  accepted(): { described(): unknown };
  rejected(fields: object): { described(): unknown };
  modified(fields: object): { described(): unknown };
  released(): { described(): unknown };
}
const outcomes = rhea.message as unknown as Outcomes;

/** Settles `delivery` in `entity`; a lost lock or a failure answers with a `rejected` carrying the error. */
export function settleDelivery(entity: Entity, delivery: Delivery, outcome: Outcome, log: (line: string) => void): void {
  const state = delivery.remote_state;
  let reply: unknown;
  try {
    const token = deliveryTagToLockToken(delivery.tag);
    if (!token) throw new BrokerError("lockLost", "The delivery tag is not a lock token.");
    entity.settle(token, toDisposition(outcome, state));
    reply = echo(outcome, state);
  } catch (error) {
    const amqpError: AmqpError =
      error instanceof BrokerError
        ? { condition: "com.microsoft:message-lock-lost", description: error.message }
        : { condition: "amqp:internal-error", description: describeError(error) };
    if (!(error instanceof BrokerError)) log(`settlement on ${entity.path} failed: ${describeError(error)}`);
    reply = outcomes.rejected({ error: amqpError }).described();
  }
  // peekLock receivers settle second: the SDK's call resolves on our settled disposition.
  if (!delivery.remote_settled) settleLast(delivery, reply);
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
