// The receive links of each queue, and the pump that hands a queue's messages to them while they
// have credit, taking turns, and then answers drains.
import type { Connection, Sender } from "rhea";
import { encodeForDelivery, lockTokenToDeliveryTag } from "./amqpEncoding.js";
import type { ReceiveMode } from "./brokerTypes.js";
import type { Entity } from "./entity.js";
import { deliverableCount, sessionCapacity } from "./rheaInternals.js";

interface Consumer {
  readonly sender: Sender;
  readonly mode: ReceiveMode;
}

export class DeliveryPump {
  readonly #consumers = new Map<Entity, Set<Consumer>>();
  readonly #consumerOf = new WeakMap<Sender, Consumer>();
  readonly #pumpsDue = new Set<Entity>();
  #turn = 0;

  add(entity: Entity, sender: Sender, mode: ReceiveMode): void {
    const consumer: Consumer = { sender, mode };
    this.#consumerOf.set(sender, consumer);
    let set = this.#consumers.get(entity);
    if (!set) this.#consumers.set(entity, (set = new Set()));
    set.add(consumer);
  }

  remove(entity: Entity, sender: Sender): void {
    const consumer = this.#consumerOf.get(sender);
    if (consumer) this.#consumers.get(entity)?.delete(consumer);
  }

  /** Links of a dropped socket never report their own close. */
  dropConnection(connection: Connection): void {
    for (const set of this.#consumers.values()) {
      for (const consumer of set) if (consumer.sender.connection === connection) set.delete(consumer);
    }
  }

  clear(): void {
    this.#consumers.clear();
  }

  /** A pump of `entity` soon; pumps asked for in the same turn run once, in a microtask. */
  schedule(entity: Entity): void {
    if (this.#pumpsDue.has(entity)) return;
    this.#pumpsDue.add(entity);
    queueMicrotask(() => {
      this.#pumpsDue.delete(entity);
      this.pump(entity);
    });
  }

  /** Hands out messages while some consumer has credit, taking turns; then answers drains. */
  pump(entity: Entity): void {
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
}
