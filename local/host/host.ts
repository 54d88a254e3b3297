// The local Functions host: loads the app's entry point through the `@azure/functions-core` stand-in, then
// serves its HTTP triggers, runs a receiver per Service Bus trigger and a schedule per timer, and shuts down
// without leaving work half done.
import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { RpcBindingInfo } from "./coreTypes.js";
import { functionsCore, type RegisteredFunction } from "./functionsCore.js";
import { readHostConfig, type HostConfig } from "./hostConfig.js";
import { HostLog } from "./hostLog.js";
import { HttpTriggerServer, type HttpRoute } from "./httpTrigger.js";
import { InFlight } from "./inFlight.js";
import { Invoker } from "./invoker.js";
import { parseRouteTemplate } from "./routeTemplate.js";
import { ServiceBusListeners, type ServiceBusFunction } from "./serviceBusTrigger.js";
import { defaultUseMonitor, parseTimerSchedule, resolveSettingExpressions, TimerListener } from "./timerTrigger.js";

export interface FunctionsHostOptions {
  appRoot: string;
  /** Absolute, or relative to appRoot: "functions/index.ts", "dist/functions/index.js". */
  entry: string;
  /** Default 7071; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default <appRoot>/host.json. */
  hostJsonPath?: string;
  /** A folder served for paths outside the route prefix (e.g. the portal at "/"). */
  staticDir?: string;
  /** Headers on every static file (the portal's Content-Security-Policy and the like). */
  staticHeaders?: Readonly<Record<string, string>>;
  /** Where log lines go (default stdout). */
  log?: (line: string) => void;
  /** Functions not to start, like `AzureWebJobs.<name>.Disabled=true`. */
  disabledFunctions?: string[];
  /** How long close() waits for in-flight invocations (default 30 s). */
  shutdownTimeoutMs?: number;
}

export type FunctionTrigger = "http" | "serviceBusTrigger" | "timerTrigger";

export interface FunctionsHost {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The functions the host started (disabled, unsupported and broken ones are left out). */
  readonly functions: readonly { name: string; trigger: FunctionTrigger }[];
  close(): Promise<void>;
}

interface Classified {
  readonly fn: RegisteredFunction;
  readonly triggerName: string;
  readonly binding: RpcBindingInfo;
}

const defaultShutdownTimeoutMs = 30_000;

function triggerOf(fn: RegisteredFunction): Classified | undefined {
  const entry = Object.entries(fn.metadata.bindings).find(([, b]) => /trigger$/i.test(b.type ?? ""));
  return entry ? { fn, triggerName: entry[0], binding: entry[1] } : undefined;
}

function isDisabled(name: string, disabled: ReadonlySet<string>): boolean {
  const setting = process.env[`AzureWebJobs.${name}.Disabled`]?.trim().toLowerCase();
  return disabled.has(name.toLowerCase()) || setting === "true" || setting === "1";
}

/** The IANA zone schedules are computed in: UTC as in Azure, unless WEBSITE_TIME_ZONE or TZ says otherwise. */
function timerZone(): string {
  return process.env.WEBSITE_TIME_ZONE || process.env.TZ || "UTC";
}

export async function startFunctionsHost(options: FunctionsHostOptions): Promise<FunctionsHost> {
  const core = functionsCore();
  const bindHost = options.host ?? "127.0.0.1";
  const appRoot = resolve(options.appRoot);
  const entry = isAbsolute(options.entry) ? options.entry : join(appRoot, options.entry);
  core.claimHost(`app ${entry}`);

  const sink = options.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  // Replaced once host.json's log levels are known; until then errors go out unfiltered.
  let hostLog = new HostLog(sink);
  const inFlight = new InFlight();
  const timers: TimerListener[] = [];
  let http: HttpTriggerServer | undefined;
  let serviceBus: ServiceBusListeners | undefined;
  try {
    const config: HostConfig = readHostConfig(options.hostJsonPath ?? join(appRoot, "host.json"));
    const log = new HostLog(sink, config.logLevels);
    hostLog = log;
    core.setSystemLog((level, _category, message) => log.system(level, message));

    if (!existsSync(entry)) throw new Error(`Found zero files matching the entry point "${entry}"`);
    let registered: RegisteredFunction[];
    try {
      registered = await core.loadApp(entry);
    } catch (error) {
      throw new Error(`Worker was unable to load entry point "${entry}": ${(error as Error).message}`, { cause: error });
    }
    const model = core.programmingModel;
    if (registered.length === 0) {
      hostLog.warn(
        model
          ? `No job functions found in "${entry}".`
          : `No job functions found in "${entry}": it never called app.* from @azure/functions (or the library was loaded in test mode before the host started).`,
      );
    }
    if (model?.getCapabilities) {
      const capabilities = await model.getCapabilities({});
      if (capabilities.HttpUri) throw new Error("app.setup({ enableHttpStream: true }) is not supported by the local host");
    }

    const appHookData: Record<string, unknown> = {};
    const appLevelOnlyHookData: Record<string, unknown> = {};
    const invoker = new Invoker(core, hostLog, appHookData);
    const disabled = new Set((options.disabledFunctions ?? []).map((n) => n.toLowerCase()));
    const started: { name: string; trigger: FunctionTrigger }[] = [];
    const httpRoutes: HttpRoute[] = [];
    const sbFunctions: ServiceBusFunction[] = [];
    const tz = timerZone();

    for (const fn of registered) {
      const name = fn.metadata.name;
      const trigger = triggerOf(fn);
      if (!trigger) {
        hostLog.error(`The '${name}' function is in error: it has no trigger binding`);
        continue;
      }
      if (isDisabled(name, disabled)) {
        hostLog.info(`Function '${name}' is disabled`);
        continue;
      }
      const type = String(trigger.binding.type).toLowerCase();
      try {
        if (type === "httptrigger") {
          const route = typeof trigger.binding.route === "string" ? trigger.binding.route : name;
          const methods = Array.isArray(trigger.binding.methods) ? trigger.binding.methods.map((m) => String(m).toUpperCase()) : [];
          const template = parseRouteTemplate(route);
          httpRoutes.push({
            ...trigger,
            template,
            // No methods listed means every method, as in the host.
            methods: new Set(methods.length > 0 ? methods : ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]),
          });
          started.push({ name, trigger: "http" });
        } else if (type === "servicebustrigger") {
          sbFunctions.push(trigger);
        } else if (type === "timertrigger") {
          const expression = resolveSettingExpressions(String(trigger.binding.schedule ?? ""));
          const schedule = parseTimerSchedule(expression, tz);
          const configured = typeof trigger.binding.useMonitor === "boolean" ? trigger.binding.useMonitor : undefined;
          timers.push(
            new TimerListener({
              ...trigger,
              schedule,
              runOnStartup: trigger.binding.runOnStartup === true,
              useMonitor: defaultUseMonitor(schedule, configured),
              tz,
              invoker,
              inFlight,
              log: hostLog,
            }),
          );
          started.push({ name, trigger: "timerTrigger" });
        } else {
          hostLog.warn(`Function '${name}' has a ${trigger.binding.type} trigger, which the local host does not run`);
        }
      } catch (error) {
        hostLog.error(`The '${name}' function is in error: ${(error as Error).message}`);
      }
    }

    await core.runHooks("appStart", appHookContext(appLevelOnlyHookData, appHookData, { functionAppDirectory: appRoot }));

    const timersByName = new Map(timers.map((t) => [t.name.toLowerCase(), t] as const));
    const sbByName = new Map(sbFunctions.map((f) => [f.fn.metadata.name.toLowerCase(), f] as const));
    const invokeByName = (name: string, input: string): boolean => {
      const timer = timersByName.get(name.toLowerCase());
      if (timer) {
        void inFlight.track(timer.invokeNow());
        return true;
      }
      const sb = sbByName.get(name.toLowerCase());
      if (!sb || !started.some((s) => s.name === sb.fn.metadata.name)) return false;
      // A batch function gets a batch of one, as the admin endpoint does in Azure.
      const data = sb.binding.cardinality === "many" ? { collectionString: { string: [input] } } : { string: input };
      void inFlight.track(invoker.invoke(sb.fn, { inputData: [{ name: sb.triggerName, data }] }));
      return true;
    };

    http = await HttpTriggerServer.start({
      host: bindHost,
      port: options.port ?? 7071,
      routePrefix: config.routePrefix,
      routes: httpRoutes,
      staticDir: options.staticDir,
      staticHeaders: options.staticHeaders,
      invokeByName,
      invoker,
      inFlight,
      log: hostLog,
    });
    const url = `http://${bindHost}:${http.port}`;

    if (sbFunctions.length > 0) {
      serviceBus = new ServiceBusListeners({ functions: sbFunctions, config: config.serviceBus, invoker, inFlight, log: hostLog });
      for (const name of await serviceBus.start()) started.push({ name, trigger: "serviceBusTrigger" });
    }
    for (const t of timers) t.start();

    hostLog.info(`Functions host started on ${url} (${started.length} function${started.length === 1 ? "" : "s"})`);
    for (const r of httpRoutes) {
      const prefix = config.routePrefix ? `/${config.routePrefix}` : "";
      hostLog.info(`  ${r.fn.metadata.name}: [${[...r.methods].join(",")}] ${url}${prefix}/${r.template.template.replace(/^\//, "")}`);
    }
    for (const f of started.filter((s) => s.trigger !== "http")) hostLog.info(`  ${f.name}: ${f.trigger}`);

    const shutdownTimeoutMs = options.shutdownTimeoutMs ?? defaultShutdownTimeoutMs;
    const httpServer = http;
    const sb = serviceBus;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        hostLog.info("Stopping the Functions host: no new requests, messages or timer runs");
        httpServer.stopAccepting();
        const timersStopped = Promise.all(timers.map((t) => t.stop()));
        if (sb) await withTimeout(sb.stopReceiving(), 5_000);
        const drained = await inFlight.drain(shutdownTimeoutMs);
        if (!drained) {
          hostLog.warn(`${inFlight.size} invocation(s) still running after ${shutdownTimeoutMs} ms; shutting down anyway`);
          const abandoned = (await sb?.abandonUnsettled()) ?? 0;
          if (abandoned > 0) hostLog.warn(`Abandoned ${abandoned} message(s) whose invocations had not finished`);
        }
        await withTimeout(timersStopped, 1_000);
        try {
          await core.runHooks("appTerminate", appHookContext(appLevelOnlyHookData, appHookData, {}));
        } catch (error) {
          hostLog.error(`An appTerminate hook failed: ${String(error)}`);
        }
        await sb?.close();
        httpServer.closeConnections();
        hostLog.info("Functions host stopped");
        core.setSystemLog(undefined);
        core.releaseHost();
      })());

    return { port: http.port, url, functions: started, close };
  } catch (error) {
    for (const t of timers) void t.stop();
    http?.stopAccepting();
    http?.closeConnections();
    await serviceBus?.close();
    core.setSystemLog(undefined);
    core.releaseHost();
    hostLog.error(error instanceof Error ? error.message : String(error));
    throw error;
  }
}

/** App-level hook context (W:startApp): `hookData` is app-level-only, `appHookData` is shared with invocations. */
function appHookContext(hookData: Record<string, unknown>, appHookData: Record<string, unknown>, fields: Record<string, unknown>): Record<string, unknown> {
  const context: Record<string, unknown> = { ...fields };
  Object.defineProperties(context, {
    hookData: { get: () => hookData, enumerable: true },
    appHookData: { get: () => appHookData, enumerable: true },
  });
  return context;
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
