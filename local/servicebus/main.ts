// `npm run emulator:servicebus`: runs the Service Bus emulator in the foreground until SIGINT/SIGTERM.
import { parseArgs } from "node:util";
import { startServiceBusEmulator } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "5672" },
    "data-dir": { type: "string", default: ".local/servicebus" },
    host: { type: "string", default: "127.0.0.1" },
  },
  strict: true,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer from 0 to 65535, got ${values.port}`);
  process.exit(2);
}

const emulator = await startServiceBusEmulator({
  port,
  host: values.host,
  dataDir: values["data-dir"],
  log: (line) => console.log(`[servicebus] ${line}`),
});
console.log(`Service Bus emulator on amqp://${values.host}:${emulator.port} (data in ${values["data-dir"]})`);
console.log(`ServiceBusConnection=${emulator.connectionString}`);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  console.log(`[servicebus] ${signal}: shutting down`);
  emulator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
