// Contract: the real @azure/service-bus client against the local emulator — sending (single,
// batch, scheduled, duplicate), receiving (peek-lock, receive-and-delete, credit), peek and errors.
import { ServiceBusClient, type ServiceBusMessage, type ServiceBusSender } from "@azure/service-bus";
import rhea from "rhea";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServiceBusEmulator, type ServiceBusEmulator } from "../../local/servicebus/server.js";
import { errorCode, queue, receiveUpTo, sleep } from "./servicebus.helpers.js";

let emulator: ServiceBusEmulator;
let client: ServiceBusClient;

beforeAll(async () => {
  emulator = await startServiceBusEmulator({
    port: 0,
    queues: [
      queue("roundtrip"),
      queue("batch"),
      queue("delete-mode"),
      queue("credit"),
      queue("competing"),
      queue("long-lived"),
      queue("dedupe", { requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindow: "PT1M" }),
      queue("scheduled"),
      queue("peek"),
      queue("defer"),
      queue("no-sasl"),
      queue("plain-sasl"),
    ],
  });
  client = new ServiceBusClient(emulator.connectionString);
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

async function send(queueName: string, messages: ServiceBusMessage | ServiceBusMessage[]): Promise<void> {
  const sender = client.createSender(queueName);
  try {
    await sender.sendMessages(messages);
  } finally {
    await sender.close();
  }
}

describe("Service Bus emulator: sending and receiving", () => {
  it("hands out the emulator's connection string with its port", () => {
    expect(emulator.port).toBeGreaterThan(0);
    expect(emulator.connectionString).toBe(
      `Endpoint=sb://127.0.0.1:${emulator.port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true`,
    );
  });

  it("round-trips every message property and body type through send, peek-lock receive and complete", async () => {
    // Prepare
    const enqueuedAfter = Date.now() - 1;
    const bodies: unknown[] = [Buffer.from([0, 1, 2, 254, 255]), "plain text", { nested: { list: [1, "two", null] } }, 42.5, [1, 2, 3], true];
    const date = new Date("2024-05-06T07:08:09.010Z");
    const messages: ServiceBusMessage[] = bodies.map((body, i) => ({
      body,
      messageId: `id-${i}`,
      correlationId: `corr-${i}`,
      subject: "subject-line",
      contentType: "application/x-test",
      to: "someone",
      replyTo: "reply-queue",
      replyToSessionId: "reply-session",
      timeToLive: 3_600_000,
      applicationProperties: { text: "é ü 漢", int: -7, big: 2 ** 40, double: 1.25, flag: false, when: date },
    }));
    const receiver = client.createReceiver("roundtrip");

    // Act
    await send("roundtrip", messages);
    const received = await receiveUpTo(receiver, messages.length);
    for (const m of received) await receiver.completeMessage(m);
    const left = await receiver.peekMessages(10);
    await receiver.close();

    // Assess
    expect(received.map((m) => m.body)).toEqual(bodies);
    received.forEach((m, i) => {
      expect(m).toMatchObject({
        messageId: `id-${i}`,
        correlationId: `corr-${i}`,
        subject: "subject-line",
        contentType: "application/x-test",
        to: "someone",
        replyTo: "reply-queue",
        replyToSessionId: "reply-session",
        timeToLive: 3_600_000,
        deliveryCount: 0,
        state: "active",
      });
      // Dates in application properties come back as epoch milliseconds (SDK behaviour).
      expect(m.applicationProperties).toEqual({ text: "é ü 漢", int: -7, big: 2 ** 40, double: 1.25, flag: false, when: date.getTime() });
      expect(m.lockToken).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(m.enqueuedTimeUtc?.getTime()).toBeGreaterThan(enqueuedAfter);
      expect(m.lockedUntilUtc?.getTime()).toBeGreaterThan(Date.now() + 20_000);
      expect(m.expiresAtUtc?.getTime()).toBe((m.enqueuedTimeUtc?.getTime() ?? 0) + 3_600_000);
    });
    const seqs = received.map((m) => m.sequenceNumber?.toNumber() ?? 0);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(left).toEqual([]);
  });

  it("accepts batches (ServiceBusMessageBatch and arrays), unpacks them in order and stamps missing message ids", async () => {
    // Prepare
    const sender = client.createSender("batch");
    const batch = await sender.createMessageBatch();
    for (let i = 0; i < 20; i++) expect(batch.tryAddMessage({ body: { i }, applicationProperties: { i } })).toBe(true);
    const receiver = client.createReceiver("batch");

    // Act
    await sender.sendMessages(batch);
    await sender.sendMessages([{ body: "a1" }, { body: "a2", messageId: "given" }]);
    const received = await receiveUpTo(receiver, 22);
    for (const m of received) await receiver.completeMessage(m);
    await sender.close();
    await receiver.close();

    // Assess
    expect(batch.maxSizeInBytes).toBe(262_144);
    expect(received.map((m) => m.body)).toEqual([...Array.from({ length: 20 }, (_, i) => ({ i })), "a1", "a2"]);
    expect(received.slice(0, 20).map((m) => m.applicationProperties?.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const ids = received.map((m) => m.messageId);
    expect(ids[21]).toBe("given");
    for (const id of ids.slice(0, 21)) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(22);
  });

  it("removes messages on delivery in receiveAndDelete mode", async () => {
    // Prepare
    await send("delete-mode", [{ body: 1 }, { body: 2 }, { body: 3 }]);
    const receiver = client.createReceiver("delete-mode", { receiveMode: "receiveAndDelete" });

    // Act
    const received = await receiveUpTo(receiver, 3);
    const left = await receiver.peekMessages(10);
    await receiver.close();

    // Assess
    expect(received.map((m) => m.body)).toEqual([1, 2, 3]);
    for (const m of received) expect(m.lockToken).toBeUndefined();
    expect(left).toEqual([]);
  });

  it("delivers only against credit: a receiver asking for 1 gets 1 while the other 49 wait for someone else", async () => {
    // Prepare
    await send(
      "credit",
      Array.from({ length: 50 }, (_, i) => ({ body: i })),
    );
    const first = client.createReceiver("credit");
    const second = client.createReceiver("credit");

    // Act
    const one = await first.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    const rest = await receiveUpTo(second, 49);
    const none = await first.receiveMessages(5, { maxWaitTimeInMs: 300 });
    await Promise.all([...one.map((m) => first.completeMessage(m)), ...rest.map((m) => second.completeMessage(m))]);
    await first.close();
    await second.close();

    // Assess
    expect(one.map((m) => m.body)).toEqual([0]);
    expect(rest.map((m) => m.body)).toEqual(Array.from({ length: 49 }, (_, i) => i + 1));
    expect(none).toEqual([]);
  });

  it("shares one queue between competing subscribers, each message to exactly one of them", async () => {
    // Prepare
    const count = 40;
    const seen: Array<{ who: string; body: unknown }> = [];
    const receivers = [client.createReceiver("competing"), client.createReceiver("competing")];
    const errors: unknown[] = [];
    const subscriptions = receivers.map((r, n) =>
      r.subscribe(
        {
          processMessage: async (m) => {
            seen.push({ who: `r${n}`, body: m.body });
            await sleep(10);
          },
          processError: async (args) => void errors.push(args.error),
        },
        { maxConcurrentCalls: 2 },
      ),
    );

    // Act
    await send(
      "competing",
      Array.from({ length: count }, (_, i) => ({ body: i })),
    );
    const deadline = Date.now() + 10_000;
    while (seen.length < count && Date.now() < deadline) await sleep(50);
    await Promise.all(subscriptions.map((s) => s.close()));
    await Promise.all(receivers.map((r) => r.close()));

    // Assess
    expect(errors).toEqual([]);
    expect(seen.map((s) => s.body).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(seen.filter((s) => s.who === "r0").length).toBeGreaterThan(0);
    expect(seen.filter((s) => s.who === "r1").length).toBeGreaterThan(0);
  });

  it("keeps one peek-lock link flowing well past 2048 settled deliveries", async () => {
    // Prepare: rhea's default session queue holds 2048 deliveries; settled ones must leave it.
    const count = 2_300;
    const sender = client.createSender("long-lived");
    let batch = await sender.createMessageBatch();
    for (let i = 0; i < count; i++) {
      if (!batch.tryAddMessage({ body: i })) {
        await sender.sendMessages(batch);
        batch = await sender.createMessageBatch();
        batch.tryAddMessage({ body: i });
      }
    }
    await sender.sendMessages(batch);
    const receiver = client.createReceiver("long-lived");
    let handled = 0;

    // Act
    const subscription = receiver.subscribe({ processMessage: async () => void handled++, processError: async () => undefined }, { maxConcurrentCalls: 16 });
    const deadline = Date.now() + 20_000;
    while (handled < count && Date.now() < deadline) await sleep(50);
    await subscription.close();
    const left = await receiver.peekMessages(5);
    await Promise.all([sender.close(), receiver.close()]);

    // Assess
    expect(handled).toBe(count);
    expect(left).toEqual([]);
  });

  it("drops a duplicate messageId within the detection window but accepts the send", async () => {
    // Prepare
    const receiver = client.createReceiver("dedupe");

    // Act
    await send("dedupe", { body: "first", messageId: "same" });
    await send("dedupe", { body: "again", messageId: "same" });
    await send("dedupe", [
      { body: "in a batch", messageId: "same" },
      { body: "other", messageId: "different" },
    ]);
    const received = await receiveUpTo(receiver, 2);
    received.push(...(await receiver.receiveMessages(2, { maxWaitTimeInMs: 300 })));
    for (const m of received) await receiver.completeMessage(m);
    await receiver.close();

    // Assess
    expect(received.map((m) => [m.messageId, m.body])).toEqual([
      ["same", "first"],
      ["different", "other"],
    ]);
  });

  it("holds scheduled messages until their time, and cancelled ones for good", async () => {
    // Prepare
    const sender: ServiceBusSender = client.createSender("scheduled");
    const receiver = client.createReceiver("scheduled");
    const at = new Date(Date.now() + 1_500);

    // Act
    const [kept, cancelled] = await sender.scheduleMessages([{ body: "kept" }, { body: "cancelled" }], at);
    await sender.sendMessages({ body: "plain send, scheduled", scheduledEnqueueTimeUtc: at });
    await sender.cancelScheduledMessages(cancelled);
    const peeked = await receiver.peekMessages(10);
    const early = await receiver.receiveMessages(5, { maxWaitTimeInMs: 500 });
    const later = await receiveUpTo(receiver, 2, 4_000);
    later.push(...(await receiver.receiveMessages(2, { maxWaitTimeInMs: 300 })));
    for (const m of later) await receiver.completeMessage(m);
    await sender.close();
    await receiver.close();

    // Assess
    expect(kept.toNumber()).toBeLessThan(cancelled.toNumber());
    expect(peeked.map((m) => [m.body, m.state])).toEqual([
      ["kept", "scheduled"],
      ["plain send, scheduled", "scheduled"],
    ]);
    expect(early).toEqual([]);
    expect(later.map((m) => m.body)).toEqual(["kept", "plain send, scheduled"]);
    expect(later[0].sequenceNumber?.toNumber()).toBe(kept.toNumber());
    for (const m of later) expect(m.enqueuedTimeUtc?.getTime()).toBe(at.getTime());
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
  });

  it("peeks without locking, page by page, including locked messages", async () => {
    // Prepare
    await send(
      "peek",
      Array.from({ length: 5 }, (_, i) => ({ body: i })),
    );
    const locker = client.createReceiver("peek");
    const [locked] = await locker.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    const peeker = client.createReceiver("peek");

    // Act
    const page1 = await peeker.peekMessages(3);
    const page2 = await peeker.peekMessages(3);
    const page3 = await peeker.peekMessages(3);
    const fromStart = await peeker.peekMessages(2, { fromSequenceNumber: page1[0].sequenceNumber });
    await locker.completeMessage(locked);
    await locker.close();
    await peeker.close();

    // Assess
    expect(page1.map((m) => m.body)).toEqual([0, 1, 2]);
    expect(page2.map((m) => m.body)).toEqual([3, 4]);
    expect(page3).toEqual([]);
    expect(fromStart.map((m) => m.body)).toEqual([0, 1]);
    expect(page1[0].lockToken).toBeUndefined();
  });

  it("defers a message and hands it out again only by sequence number", async () => {
    // Prepare
    await send("defer", { body: "later", applicationProperties: { step: 1 } });
    const receiver = client.createReceiver("defer");
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });

    // Act
    await receiver.deferMessage(m, { step: 2 });
    const normal = await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 });
    const [deferred] = await receiver.receiveDeferredMessages(m.sequenceNumber!);
    await receiver.completeMessage(deferred);
    const left = await receiver.peekMessages(5);
    const missing = await errorCode(receiver.receiveDeferredMessages(m.sequenceNumber!));
    await receiver.close();

    // Assess
    expect(normal).toEqual([]);
    expect(deferred).toMatchObject({ body: "later", state: "deferred", deliveryCount: 1, applicationProperties: { step: 2 } });
    expect(left).toEqual([]);
    expect(missing).toBe("MessageNotFound");
  });

  it("answers an unknown queue with MessagingEntityNotFound, for senders and receivers", async () => {
    // Prepare
    const sender = client.createSender("no-such-queue");
    const receiver = client.createReceiver("no-such-queue");

    // Act
    const onSend = await errorCode(sender.sendMessages({ body: "x" }));
    const onReceive = await errorCode(receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 }));
    await sender.close();
    await receiver.close();

    // Assess
    expect(onSend).toBe("MessagingEntityNotFound");
    expect(onReceive).toBe("MessagingEntityNotFound");
  });

  it("accepts clients that skip SASL (SharedAccessSignature connection string)", async () => {
    // Prepare
    const sasClient = new ServiceBusClient(
      `Endpoint=sb://127.0.0.1:${emulator.port};SharedAccessSignature=SharedAccessSignature sr=x&sig=y&se=9999999999&skn=z;UseDevelopmentEmulator=true`,
    );

    // Act
    const sender = sasClient.createSender("no-sasl");
    await sender.sendMessages({ body: "via SAS" });
    const receiver = sasClient.createReceiver("no-sasl", { receiveMode: "receiveAndDelete" });
    const received = await receiveUpTo(receiver, 1);
    await sasClient.close();

    // Assess
    expect(received.map((m) => m.body)).toEqual(["via SAS"]);
  });

  it.each([
    ["SASL PLAIN", { username: "user", password: "secret" }],
    ["no SASL layer at all", {}],
  ])("accepts a plain AMQP client using %s", async (how, credentials) => {
    // Prepare
    const container = rhea.create_container();
    const connection = container.connect({ host: "127.0.0.1", port: emulator.port, reconnect: false, ...credentials });
    const messageId = `plain-${how}`;

    // Act
    const outcome = await new Promise<string>((resolve, reject) => {
      connection.once("sendable", (ctx) => {
        ctx.sender?.send({ body: rhea.message.data_section(Buffer.from(JSON.stringify(how))), message_id: messageId });
      });
      connection.on("accepted", () => resolve("accepted"));
      connection.on("rejected", () => resolve("rejected"));
      connection.on("connection_error", (ctx) => reject(ctx.connection.error));
      connection.on("disconnected", (ctx) => reject(ctx.error ?? new Error("disconnected")));
      connection.open_sender("plain-sasl");
    });
    connection.removeAllListeners("disconnected");
    connection.close();
    const receiver = client.createReceiver("plain-sasl", { receiveMode: "receiveAndDelete" });
    const received = await receiveUpTo(receiver, 1);
    await receiver.close();

    // Assess
    expect(outcome).toBe("accepted");
    expect(received.map((m) => [m.messageId, m.body])).toEqual([[messageId, how]]);
  });

  it("listens on 5672 by default, for the official emulator's connection string without a port", async (ctx) => {
    // Prepare
    const started = await startServiceBusEmulator({ queues: [queue("default-port")] }).catch((e: unknown) => e);
    if (started instanceof Error && "code" in started && started.code === "EADDRINUSE") ctx.skip("port 5672 is taken on this machine");
    const defaultEmulator = started as ServiceBusEmulator;
    const official = new ServiceBusClient(
      "Endpoint=sb://127.0.0.1;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true",
    );

    try {
      // Act
      await official.createSender("default-port").sendMessages({ body: "on 5672" });
      const received = await receiveUpTo(official.createReceiver("default-port", { receiveMode: "receiveAndDelete" }), 1);

      // Assess
      expect(defaultEmulator.port).toBe(5672);
      expect(received.map((m) => m.body)).toEqual(["on 5672"]);
    } finally {
      await official.close();
      await defaultEmulator.close();
    }
  });
});
