// The `@azure/functions-core` stand-in. The Azure Functions Node worker patches `Module.prototype.require`
// so the library's lazy `require("@azure/functions-core")` reaches the worker; we do the same, so an app's
// `app.http(...)` calls register with the local host instead of falling into the library's "test mode".
import { randomUUID } from "node:crypto";
import Module from "node:module";
import { pathToFileURL } from "node:url";
import {
  hookNames,
  type CoreFunctionMetadata,
  type DisposableLike,
  type FunctionCallback,
  type HookCallback,
  type HookContext,
  type HookName,
  type ProgrammingModel,
  type RpcLogCategory,
  type RpcLogLevel,
} from "./coreTypes.js";

export const coreModuleId = "@azure/functions-core";
/** The worker version we stand in for (the library only checks that `log` exists). */
export const workerVersion = "3.11.0";
/** The Functions runtime line this host imitates. */
export const hostVersion = "4.1041.200";

export interface RegisteredFunction {
  readonly functionId: string;
  readonly metadata: CoreFunctionMetadata;
  readonly callback: FunctionCallback;
}

export type SystemLogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

/** Same contract as the worker's Disposable: `dispose()` runs the callback once. */
export class Disposable implements DisposableLike {
  #callOnDispose: (() => void) | undefined;

  static from(...disposables: DisposableLike[]): Disposable {
    return new Disposable(() => {
      for (const d of disposables) d.dispose();
    });
  }

  constructor(callOnDispose: () => void) {
    this.#callOnDispose = callOnDispose;
  }

  dispose(): void {
    const callback = this.#callOnDispose;
    this.#callOnDispose = undefined;
    callback?.();
  }
}

interface LoadedApp {
  readonly functions: RegisteredFunction[];
  readonly hooks: [HookName, HookCallback][];
}

/** Process-wide state behind the core API: the library itself is a process-wide singleton. */
export class FunctionsCore {
  #programmingModel: ProgrammingModel | undefined;
  /** Open only while an entry point is being imported: registration is legal during startup only. */
  #loading: LoadedApp | undefined;
  #loaded = new Map<string, LoadedApp>();
  #hooks = new Map<HookName, Set<HookCallback>>(hookNames.map((n) => [n, new Set<HookCallback>()]));
  #systemLog: SystemLogSink | undefined;
  #activeHost: string | undefined;

  /** The object `require("@azure/functions-core")` returns, shaped like the worker's (W:setupCoreModule). */
  readonly api: Readonly<Record<string, unknown>>;

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getters below need the instance
    const core = this;
    this.api = Object.freeze({
      version: workerVersion,
      get hostVersion() {
        return hostVersion;
      },
      registerHook: (hookName: string, callback: HookCallback) => core.registerHook(hookName, callback),
      setProgrammingModel: (model: ProgrammingModel) => {
        core.#programmingModel = model;
      },
      getProgrammingModel: () => core.#programmingModel,
      registerFunction: (metadata: CoreFunctionMetadata, callback: FunctionCallback) => core.registerFunction(metadata, callback),
      log: (level: RpcLogLevel, category: RpcLogCategory, message: string) => core.log(level, category, message),
      Disposable,
    });
  }

  get programmingModel(): ProgrammingModel | undefined {
    return this.#programmingModel;
  }

  registerFunction(metadata: CoreFunctionMetadata, callback: FunctionCallback): Disposable {
    const loading = this.#loading;
    if (!loading) throw new Error("A function can only be registered during app startup.");
    if (!metadata?.name || !metadata.bindings) throw new Error("registerFunction needs metadata with a name and bindings.");
    if (loading.functions.some((f) => f.metadata.name.toLowerCase() === metadata.name.toLowerCase())) {
      // Function names are case-insensitive in the host; a duplicate fails indexing there too.
      throw new Error(`A function named "${metadata.name}" is already registered.`);
    }
    const registered: RegisteredFunction = { functionId: randomUUID(), metadata, callback };
    loading.functions.push(registered);
    return new Disposable(() => {
      if (this.#loading !== loading) throw new Error("A function can only be disposed during app startup.");
      loading.functions.splice(loading.functions.indexOf(registered), 1);
    });
  }

  registerHook(hookName: string, callback: HookCallback): Disposable {
    const set = this.#hooks.get(hookName as HookName);
    if (!set) {
      // RangeError is what the library looks for to explain an unsupported hook (S:hooks/registerHook).
      const error = new RangeError(`Unrecognized hook "${hookName}"`) as RangeError & { isAzureFunctionsSystemError: boolean };
      error.isAzureFunctionsSystemError = true;
      throw error;
    }
    set.add(callback);
    this.#loading?.hooks.push([hookName as HookName, callback]);
    return new Disposable(() => set.delete(callback));
  }

  hooks(name: HookName): HookCallback[] {
    return [...(this.#hooks.get(name) ?? [])];
  }

  /** Runs hooks in registration order, awaiting each, as the worker does (W:hooks/executeHooks). */
  async runHooks(name: HookName, context: HookContext): Promise<void> {
    for (const hook of this.hooks(name)) await hook(context);
  }

  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
    if (this.#systemLog) this.#systemLog(level, category, message);
    else if (level === "error" || level === "critical" || level === "warning") console.error(message);
  }

  setSystemLog(sink: SystemLogSink | undefined): void {
    this.#systemLog = sink;
  }

  /** Marks the one host allowed per process; throws if another is running. */
  claimHost(description: string): void {
    if (this.#activeHost) {
      throw new Error(
        `A Functions host is already running in this process (${this.#activeHost}). ` +
          "Close it before starting another: @azure/functions keeps its registrations in process-wide state.",
      );
    }
    this.#activeHost = description;
  }

  releaseHost(): void {
    this.#activeHost = undefined;
  }

  /**
   * Imports the app's entry point with registration open, then closes it. An entry already imported in this
   * process does not run again (the module cache), so its earlier registrations are reused.
   */
  async loadApp(entryPath: string): Promise<RegisteredFunction[]> {
    const bucket: LoadedApp = { functions: [], hooks: [] };
    this.#loading = bucket;
    try {
      await import(pathToFileURL(entryPath).href);
    } finally {
      this.#loading = undefined;
    }
    const previous = this.#loaded.get(entryPath);
    if (bucket.functions.length === 0 && bucket.hooks.length === 0 && previous) return previous.functions;
    if (previous) {
      // The module ran again (a fresh module graph): drop the hooks its previous run registered.
      for (const [name, hook] of previous.hooks) this.#hooks.get(name)?.delete(hook);
    }
    this.#loaded.set(entryPath, bucket);
    return bucket.functions;
  }
}

const stateKey = Symbol.for("remote-assistance-connector.local-host.functions-core");
type GlobalWithCore = typeof globalThis & { [stateKey]?: FunctionsCore };

/** The process's core API, installing the `require` interception on first use. */
export function functionsCore(): FunctionsCore {
  const g = globalThis as GlobalWithCore;
  let core = g[stateKey];
  if (!core) {
    core = new FunctionsCore();
    g[stateKey] = core;
    const api = core.api;
    type RequireFn = (this: unknown, id: string) => unknown;
    const proto = Module.prototype as unknown as { require: RequireFn };
    proto.require = new Proxy(proto.require, {
      apply(target, thisArg: unknown, args: [string]) {
        return args[0] === coreModuleId ? api : Reflect.apply(target, thisArg, args);
      },
    });
  }
  return core;
}
