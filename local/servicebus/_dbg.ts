import { ServiceBusClient } from "@azure/service-bus";
import { startServiceBusEmulator } from "./server.js";
const q = [{ name: "bq", lockDuration: "PT1M", maxDeliveryCount: 10, requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindow: "PT10M", defaultMessageTimeToLive: "P1D", deadLetteringOnMessageExpiration: true }];
const emu = await startServiceBusEmulator({ port: 0, queues: q, log: (l) => console.log("[emu]", l) });
const client = new ServiceBusClient(emu.connectionString);
const sender = client.createSender("bq");
const receiver = client.createReceiver("bq");
const N = Number(process.argv[2] ?? 1000);
async function phase(tag: string) {
  let handled = 0;
  const sub = receiver.subscribe({ processMessage: async () => { handled++; }, processError: async (a) => console.log("ERR", a.error.message) }, { maxConcurrentCalls: 32 });
  for (let i = 0; i < N; i++) await sender.sendMessages({ body: i, messageId: `${tag}${i}` });
  const t = Date.now();
  while (handled < N && Date.now() - t < 3000) await new Promise((r) => setTimeout(r, 100));
  console.log(tag, "handled", handled);
  await sub.close();
  const peek = await client.createReceiver("bq").peekMessages(N);
  console.log("left in queue", peek.length, peek.slice(0, 3).map((m) => [m.messageId, m.lockedUntilUtc, m.deliveryCount]));
}
await phase("a"); await phase("b");
await client.close(); await emu.close();
