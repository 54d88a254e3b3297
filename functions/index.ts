// The package entry point: registers every function definition with the Azure Functions
// host. The local host (local/host) provides the same core API and loads this file too.
import { app } from "@azure/functions";
import { allDefinitions } from "./all.js";
import type { FunctionDefinition } from "./definition.js";
import { services } from "./runtime.js";
import { startTracing } from "../shared/composition.js";

function register(d: FunctionDefinition): void {
  switch (d.kind) {
    case "http":
      app.http(d.name, d.options);
      return;
    case "serviceBusQueue":
      app.serviceBusQueue(d.name, d.options);
      return;
    case "timer":
      app.timer(d.name, d.options);
      return;
  }
}

// Fail fast: a missing or malformed setting stops start-up with a message naming it.
const { config } = services();

// Before any invocation, so the first request is traced too; flushed when the host stops.
const tracing = await startTracing(config);
app.hook.appTerminate(() => tracing.shutdown());

for (const d of allDefinitions()) register(d);
