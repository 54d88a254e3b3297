// Starts the local Service Bus emulator: queues from infra/queues.json (or the options), spoken to
// over AMQP 1.0 by the real @azure/service-bus client, journaled to dataDir when one is given.
import { z } from "zod";
import { loadQueueDefinitions, queueDefinitionSchema, type QueueDefinition } from "../../shared/queueDefinitions.js";
import { AmqpServer } from "./amqpServer.js";
import { Broker } from "./broker.js";
import { FileJournal, noJournal, type Journal, type JournalRecord } from "./journal.js";

export interface ServiceBusEmulatorOptions {
  /** Default 5672; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where the journal lives; without one, everything is in memory. */
  dataDir?: string;
  /** Default: loadQueueDefinitions(). */
  queues?: QueueDefinition[];
  log?: (line: string) => void;
}

export interface ServiceBusEmulator {
  readonly port: number;
  /** Endpoint=sb://127.0.0.1:<port>;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true */
  readonly connectionString: string;
  close(): Promise<void>;
}

const queueListSchema = z
  .array(queueDefinitionSchema)
  .refine((queues) => new Set(queues.map((q) => q.name)).size === queues.length, { message: "queue names must be unique" });

export async function startServiceBusEmulator(options: ServiceBusEmulatorOptions = {}): Promise<ServiceBusEmulator> {
  const log = options.log ?? (() => undefined);
  const queues = queueListSchema.parse(options.queues ?? loadQueueDefinitions());
  const host = options.host ?? "127.0.0.1";
  let journal: Journal = noJournal;
  let records: JournalRecord[] = [];
  if (options.dataDir) ({ journal, records } = FileJournal.open(options.dataDir, log));

  const broker = new Broker({ queues, journal, records, now: Date.now, log });
  const amqp = new AmqpServer(broker, log);
  broker.onAvailable((entity) => amqp.schedulePump(entity));
  let port: number;
  try {
    port = await amqp.listen(options.port ?? 5672, host);
  } catch (error) {
    broker.close();
    throw error;
  }
  // The official emulator's connection string, with the port we got and a host a client can dial.
  const dialHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const connectionString = `Endpoint=sb://${dialHost}:${port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true`;
  log(`listening on ${host}:${port} with queues ${queues.map((q) => q.name).join(", ")}${options.dataDir ? `; journal in ${options.dataDir}` : "; in memory"}`);

  let closing: Promise<void> | undefined;
  return {
    port,
    connectionString,
    close: () =>
      (closing ??= (async () => {
        await amqp.close();
        broker.close();
        log("closed");
      })()),
  };
}
