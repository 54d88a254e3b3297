// Contract: settlement and message lifetime against the local emulator with the real SDK —
// abandon, lock expiry, lock renewal, dead-lettering (explicit, delivery count, TTL) and lock loss.
import { ServiceBusClient, type ServiceBusReceivedMessage } from "@azure/service-bus";
import { afterAll, beforeAll, describe, it } from "vitest";
import { startServiceBusEmulator, type ServiceBusEmulator } from "../../local/servicebus/server.js";
import { errorCode, queue, receiveUpTo, sleep } from "./servicebus.helpers.js";

let emulator: ServiceBusEmulator;
let client: ServiceBusClient;

beforeAll(async () => {
  emulator = await startServiceBusEmulator({
    port: 0,
    queues: [
      queue("abandon"),
      queue("lock-expiry", { lockDuration: "PT2S" }),
      queue("lock-renewal", { lockDuration: "PT2S" }),
      queue("renew-call", { lockDuration: "PT2S" }),
      queue("dead-letter"),
      queue("max-delivery", { maxDeliveryCount: 2 }),
      queue("max-delivery-expiry", { maxDeliveryCount: 1, lockDuration: "PT1S" }),
      queue("dead-letter-no-limit", { maxDeliveryCount: 1 }),
      queue("ttl-dead-letter", { defaultMessageTimeToLive: "PT1S" }),
      queue("ttl-drop", { deadLetteringOnMessageExpiration: false }),
    ],
  });
  client = new ServiceBusClient(emulator.connectionString);
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

async function sendOne(queueName: string, body: unknown, extra: { timeToLive?: number } = {}): Promise<void> {
  const sender = client.createSender(queueName);
  await sender.sendMessages({ body, ...extra });
  await sender.close();
}

/** Receives without settling and without auto lock renewal (the SDK renews by default), like a crashed worker. */
async function receiveAndForget(queueName: string, timeoutMs = 5_000): Promise<ServiceBusReceivedMessage | undefined> {
  const receiver = client.createReceiver(queueName, { maxAutoLockRenewalDurationInMs: 0 });
  const [m] = await receiveUpTo(receiver, 1, timeoutMs);
  return m;
}

describe.concurrent("Service Bus emulator: settlement and message lifetime", () => {
  it("redelivers an abandoned message with deliveryCount + 1 and the properties the abandon set", async ({ expect }) => {
    // Prepare
    await sendOne("abandon", "again");
    const receiver = client.createReceiver("abandon");
    const [first] = await receiveUpTo(receiver, 1);

    // Act
    await receiver.abandonMessage(first, { attempt: "one" });
    const [second] = await receiveUpTo(receiver, 1);
    await receiver.completeMessage(second);
    await receiver.close();

    // Assess
    expect(first.deliveryCount).toBe(0);
    expect(second).toMatchObject({ body: "again", deliveryCount: 1, messageId: first.messageId, applicationProperties: { attempt: "one" } });
    expect(second.sequenceNumber?.toNumber()).toBe(first.sequenceNumber?.toNumber());
    expect(second.lockToken).not.toBe(first.lockToken);
  });

  it("returns a message whose lock expired, with deliveryCount + 1, and refuses the stale lock", async ({ expect }) => {
    // Prepare
    await sendOne("lock-expiry", "forgotten");
    const first = await receiveAndForget("lock-expiry");
    const receivedAt = Date.now();
    const other = client.createReceiver("lock-expiry");

    // Act
    const [again] = await receiveUpTo(other, 1, 6_000);
    const redeliveredAfter = Date.now() - receivedAt;
    const stale = await errorCode(client.createReceiver("lock-expiry").completeMessage(first!));
    await other.completeMessage(again);

    // Assess
    expect(first?.deliveryCount).toBe(0);
    expect(again).toMatchObject({ body: "forgotten", deliveryCount: 1 });
    expect(redeliveredAfter).toBeGreaterThanOrEqual(1_500);
    expect(stale).toBe("MessageLockLost");
  });

  it("keeps a message locked past its lock duration while subscribe() renews the lock", async ({ expect }) => {
    // Prepare
    await sendOne("lock-renewal", "slow work");
    const worker = client.createReceiver("lock-renewal");
    const thief = client.createReceiver("lock-renewal");
    const errors: unknown[] = [];
    const handled: ServiceBusReceivedMessage[] = [];
    let stolen: ServiceBusReceivedMessage[] | undefined;

    // Act
    const subscription = worker.subscribe(
      {
        processMessage: async (m) => {
          handled.push(m);
          stolen = await thief.receiveMessages(1, { maxWaitTimeInMs: 4_500 });
        },
        processError: async (args) => void errors.push(args.error),
      },
      { autoCompleteMessages: true },
    );
    const deadline = Date.now() + 10_000;
    while (stolen === undefined && Date.now() < deadline) await sleep(50);
    await sleep(300); // autoComplete runs after the handler returns
    await subscription.close();
    const left = await thief.peekMessages(5);
    await worker.close();
    await thief.close();

    // Assess
    expect(errors).toEqual([]);
    expect(handled.map((m) => m.body)).toEqual(["slow work"]);
    expect(stolen).toEqual([]);
    expect(left).toEqual([]);
  });

  it("renews a lock on request and reports the new locked-until time", async ({ expect }) => {
    // Prepare
    await sendOne("renew-call", "renew me");
    const receiver = client.createReceiver("renew-call", { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiveUpTo(receiver, 1);
    const before = m.lockedUntilUtc?.getTime() ?? 0;
    await sleep(1_000);

    // Act
    const renewed = await receiver.renewMessageLock(m);
    await sleep(1_500);
    const nothingElse = await client.createReceiver("renew-call").receiveMessages(1, { maxWaitTimeInMs: 200 });
    await receiver.completeMessage(m);
    await receiver.close();

    // Assess
    expect(renewed.getTime()).toBeGreaterThanOrEqual(before + 900);
    expect(m.lockedUntilUtc?.getTime()).toBe(renewed.getTime());
    expect(nothingElse).toEqual([]);
  });

  it("dead-letters on request into <queue>/$DeadLetterQueue with reason, description and properties", async ({ expect }) => {
    // Prepare
    await sendOne("dead-letter", { order: 7 });
    const receiver = client.createReceiver("dead-letter");
    const [m] = await receiveUpTo(receiver, 1);

    // Act
    await receiver.deadLetterMessage(m, { deadLetterReason: "BadOrder", deadLetterErrorDescription: "order 7 has no lines", extra: "kept" });
    const byPath = client.createReceiver("dead-letter/$DeadLetterQueue");
    const peeked = await byPath.peekMessages(5);
    const bySubQueue = client.createReceiver("dead-letter", { subQueueType: "deadLetter" });
    const [dead] = await receiveUpTo(bySubQueue, 1);
    await bySubQueue.completeMessage(dead);
    const lowerCase = await client.createReceiver("DEAD-LETTER/$deadletterqueue").peekMessages(5);
    const queueLeft = await receiver.peekMessages(5);
    await Promise.all([receiver.close(), byPath.close(), bySubQueue.close()]);

    // Assess
    expect(peeked).toHaveLength(1);
    expect(dead).toMatchObject({
      body: { order: 7 },
      messageId: m.messageId,
      deadLetterReason: "BadOrder",
      deadLetterErrorDescription: "order 7 has no lines",
      deadLetterSource: "dead-letter",
      applicationProperties: { DeadLetterReason: "BadOrder", DeadLetterErrorDescription: "order 7 has no lines", extra: "kept" },
    });
    expect(lowerCase).toEqual([]);
    expect(queueLeft).toEqual([]);
  });

  it("dead-letters with MaxDeliveryCountExceeded once the delivery budget is spent by abandons", async ({ expect }) => {
    // Prepare
    await sendOne("max-delivery", "poison");
    const receiver = client.createReceiver("max-delivery");

    // Act
    const counts: number[] = [];
    for (let i = 0; i < 2; i++) {
      const [m] = await receiveUpTo(receiver, 1);
      counts.push(m.deliveryCount ?? -1);
      await receiver.abandonMessage(m);
    }
    const third = await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 });
    const [dead] = await receiveUpTo(client.createReceiver("max-delivery", { subQueueType: "deadLetter" }), 1);
    await receiver.close();

    // Assess
    expect(counts).toEqual([0, 1]);
    expect(third).toEqual([]);
    expect(dead).toMatchObject({
      body: "poison",
      deadLetterReason: "MaxDeliveryCountExceeded",
      deadLetterErrorDescription: "Message could not be consumed after 2 delivery attempts.",
    });
  });

  it("dead-letters with MaxDeliveryCountExceeded when the last lock simply runs out", async ({ expect }) => {
    // Prepare
    await sendOne("max-delivery-expiry", "abandoned by a crash");
    const m = await receiveAndForget("max-delivery-expiry");

    // Act
    const [dead] = await receiveUpTo(client.createReceiver("max-delivery-expiry", { subQueueType: "deadLetter" }), 1, 4_000);

    // Assess
    expect(m?.deliveryCount).toBe(0);
    expect(dead).toMatchObject({ body: "abandoned by a crash", deadLetterReason: "MaxDeliveryCountExceeded" });
  });

  it("keeps a dead letter in the dead-letter queue however often it is abandoned there, its reason intact", async ({ expect }) => {
    // Prepare: one delivery spent, so the queue dead-letters it with MaxDeliveryCountExceeded.
    await sendOne("dead-letter-no-limit", "handled later");
    const receiver = client.createReceiver("dead-letter-no-limit");
    const [first] = await receiveUpTo(receiver, 1);
    await receiver.abandonMessage(first);
    await receiver.close();
    const dlq = client.createReceiver("dead-letter-no-limit", { subQueueType: "deadLetter" });

    // Act: abandon it in the dead-letter queue more often than the queue's maxDeliveryCount.
    const reasons: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const [m] = await receiveUpTo(dlq, 1);
      reasons.push(m.deadLetterReason);
      await dlq.abandonMessage(m);
    }
    const [still] = await receiveUpTo(dlq, 1);
    await dlq.completeMessage(still);
    const after = await dlq.peekMessages(5);
    await dlq.close();

    // Assess: a dead-letter queue has no delivery limit (the consumer's own rules must end a
    // dead letter's retries), and completing is what removes it.
    expect(reasons).toEqual(["MaxDeliveryCountExceeded", "MaxDeliveryCountExceeded", "MaxDeliveryCountExceeded"]);
    expect(still).toMatchObject({ body: "handled later", deadLetterReason: "MaxDeliveryCountExceeded" });
    expect(after).toEqual([]);
  });

  it("dead-letters expired messages with TTLExpiredException (queue default and per message TTL)", async ({ expect }) => {
    // Prepare
    await sendOne("ttl-dead-letter", "queue default");
    await sendOne("ttl-dead-letter", "own ttl", { timeToLive: 300 });

    // Act
    await sleep(1_300);
    const alive = await client.createReceiver("ttl-dead-letter").peekMessages(5);
    const dead = await receiveUpTo(client.createReceiver("ttl-dead-letter", { subQueueType: "deadLetter", receiveMode: "receiveAndDelete" }), 2);

    // Assess
    expect(alive).toEqual([]);
    expect(dead.map((m) => [m.body, m.deadLetterReason])).toEqual([
      ["queue default", "TTLExpiredException"],
      ["own ttl", "TTLExpiredException"],
    ]);
  });

  it("drops expired messages when the queue does not dead-letter on expiry", async ({ expect }) => {
    // Prepare
    await sendOne("ttl-drop", "short-lived", { timeToLive: 200 });
    await sendOne("ttl-drop", "long-lived");

    // Act
    await sleep(400);
    const received = await receiveUpTo(client.createReceiver("ttl-drop", { receiveMode: "receiveAndDelete" }), 2, 800);
    const dead = await client.createReceiver("ttl-drop", { subQueueType: "deadLetter" }).peekMessages(5);

    // Assess
    expect(received.map((m) => m.body)).toEqual(["long-lived"]);
    expect(dead).toEqual([]);
  });
});
