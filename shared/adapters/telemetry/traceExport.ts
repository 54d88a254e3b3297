// Where spans go, chosen once per process: Application Insights through the Azure Monitor
// OpenTelemetry distro when a connection string is set, else the local JSONL file when the
// local stack names one, else nowhere (the OpenTelemetry API then stays a no-op).
import type { TokenCredential } from "@azure/core-auth";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { JsonlSpanProcessor } from "./jsonlSpanProcessor.js";

export interface TraceExportOptions {
  readonly applicationInsights?: { readonly connectionString: string; readonly credential?: TokenCredential };
  readonly file?: string;
}

export interface TraceExport {
  readonly destination: "applicationInsights" | "file" | "none";
  /** Sends or writes what is still buffered. */
  shutdown(): Promise<void>;
}

let started: TraceExport | undefined;

export async function startTraceExport(options: TraceExportOptions): Promise<TraceExport> {
  // The tracer provider is process-wide: a second start would register a second one.
  if (started) return started;
  if (options.applicationInsights) {
    // Loaded only here: the distro is large, and nothing else needs it.
    const { useAzureMonitor, shutdownAzureMonitor } = await import("@azure/monitor-opentelemetry");
    const { connectionString, credential } = options.applicationInsights;
    useAzureMonitor({
      // With the component's local auth off, ingestion takes only Entra tokens (the app's identity).
      azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}) },
      // The Functions host already feeds Live Metrics; the distro's own would be a second stream.
      enableLiveMetrics: false,
      instrumentationOptions: {
        // The Azure SDKs' own spans (Tables, Key Vault, Service Bus) under ours.
        azureSdk: { enabled: true },
        // The worker serves no HTTP itself, and outgoing TeamViewer calls have their own span;
        // off, so no raw URL is recorded anywhere.
        http: { enabled: false },
        mongoDb: { enabled: false },
        mySql: { enabled: false },
        postgreSql: { enabled: false },
        redis: { enabled: false },
        redis4: { enabled: false },
        // Logs reach Application Insights through the Functions host already.
        bunyan: { enabled: false },
        winston: { enabled: false },
        console: { enabled: false },
      },
    });
    started = { destination: "applicationInsights", shutdown: () => shutdownAzureMonitor() };
    return started;
  }
  if (options.file) {
    const provider = new NodeTracerProvider({ spanProcessors: [new JsonlSpanProcessor({ file: options.file })] });
    // Registers the AsyncLocalStorage context manager and the W3C trace-context propagator too.
    provider.register();
    started = { destination: "file", shutdown: () => provider.shutdown() };
    return started;
  }
  started = { destination: "none", shutdown: () => Promise.resolve() };
  return started;
}
