// Runs one invocation the way the Node worker does (W:eventHandlers/InvocationHandler): the library's own
// invocation model converts inputs and outputs, app hooks run around the handler, and one line is logged.
import { randomBytes, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type {
  CoreInvocationContext,
  FunctionCallback,
  HookContext,
  InvocationState,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
  RpcParameterBinding,
  RpcTypedData,
} from "./coreTypes.js";
import type { FunctionsCore, RegisteredFunction } from "./functionsCore.js";
import type { HostLog } from "./hostLog.js";

export interface InvocationRequest {
  readonly inputData: RpcParameterBinding[];
  readonly triggerMetadata?: Record<string, RpcTypedData>;
  /** The caller's W3C traceparent (HTTP header, message Diagnostic-Id); a new trace starts without one. */
  readonly traceParent?: string;
}

const traceParentFormat = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The host always sends a trace context: the caller's when it is a valid traceparent, else a new one. */
function traceContextFor(traceParent: string | undefined): { traceParent: string; traceState: string; attributes: Record<string, string> } {
  const valid = traceParent !== undefined && traceParentFormat.test(traceParent.trim());
  return {
    traceParent: valid ? traceParent.trim() : `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-00`,
    traceState: "",
    attributes: {},
  };
}

export type InvocationOutcome =
  | { readonly ok: true; readonly invocationId: string; readonly response: RpcInvocationResponse }
  | { readonly ok: false; readonly invocationId: string; readonly error: Error };

export class Invoker {
  #core: FunctionsCore;
  #log: HostLog;
  #appHookData: Record<string, unknown>;

  constructor(core: FunctionsCore, log: HostLog, appHookData: Record<string, unknown>) {
    this.#core = core;
    this.#log = log;
    this.#appHookData = appHookData;
  }

  /** Never throws: a failed invocation is an outcome, as it is for the host. */
  async invoke(fn: RegisteredFunction, request: InvocationRequest): Promise<InvocationOutcome> {
    const invocationId = randomUUID();
    const name = fn.metadata.name;
    const started = performance.now();
    let invocationContext: unknown;
    const coreCtx = this.#coreContext(fn, invocationId, request, () => invocationContext);
    let outcome: InvocationOutcome;
    try {
      const model = this.#core.programmingModel;
      if (!model) throw new Error("No programming model was set: the app never called app.* from @azure/functions.");
      const invocationModel = await model.getInvocationModel(coreCtx);
      const args = await invocationModel.getArguments();
      invocationContext = args.context;
      const hookData: Record<string, unknown> = {};
      const pre = this.#invocationHookContext(hookData, args.context, { functionCallback: fn.callback, inputs: args.inputs });
      await this.#inState(coreCtx, "preInvocationHooks", () => this.#core.runHooks("preInvocation", pre));
      const inputs = pre.inputs as unknown[];
      const callback = pre.functionCallback as FunctionCallback;

      const post = this.#invocationHookContext(hookData, args.context, { inputs, result: null, error: null });
      try {
        post.result = await this.#inState(coreCtx, "invocation", () => invocationModel.invokeFunction(args.context, inputs, callback));
      } catch (error) {
        post.error = error;
      }
      await this.#inState(coreCtx, "postInvocationHooks", () => this.#core.runHooks("postInvocation", post));
      // Post-invocation hooks may replace the error or the result (S:hooks/PostInvocationContext).
      if (post.error) throw post.error;
      const response = await invocationModel.getResponse(args.context, post.result);
      outcome = { ok: true, invocationId, response };
    } catch (error) {
      outcome = { ok: false, invocationId, error: toError(error) };
    }
    this.#log.invocation({
      functionName: name,
      invocationId,
      succeeded: outcome.ok,
      reason: outcome.ok ? undefined : describeError(outcome.error),
      durationMs: performance.now() - started,
    });
    if (!outcome.ok && outcome.error.stack) this.#log.user(name, "error", outcome.error.stack);
    return outcome;
  }

  #coreContext(fn: RegisteredFunction, invocationId: string, request: InvocationRequest, invocationContext: () => unknown): CoreInvocationContext {
    const name = fn.metadata.name;
    const ctx: CoreInvocationContext = {
      invocationId,
      metadata: fn.metadata,
      request: {
        invocationId,
        functionId: fn.functionId,
        inputData: request.inputData,
        triggerMetadata: request.triggerMetadata,
        traceContext: traceContextFor(request.traceParent),
      },
      state: undefined,
      log: (level: RpcLogLevel, category: RpcLogCategory, message: string) => {
        const entry = this.#runLogHooks(level, category, message, invocationContext());
        if (category === "user") this.#log.user(name, entry.level, entry.message);
        else this.#log.system(level, message);
      },
    };
    return ctx;
  }

  /** Log hooks run synchronously and may rewrite user logs only; a throwing hook is ignored (as in the worker). */
  #runLogHooks(level: RpcLogLevel, category: RpcLogCategory, message: string, invocationContext: unknown): { level: RpcLogLevel; message: string } {
    const hooks = this.#core.hooks("log");
    if (hooks.length === 0) return { level, message };
    const context: HookContext = { hookData: {}, appHookData: this.#appHookData, level, message, category, invocationContext };
    try {
      for (const hook of hooks) {
        const result = hook(context);
        // Log hooks are synchronous in the worker; a stray promise must not become an unhandled rejection.
        if (result instanceof Promise) result.catch(() => undefined);
      }
    } catch {
      return { level, message };
    }
    if (category !== "user") return { level, message };
    return { level: context.level as RpcLogLevel, message: String(context.message) };
  }

  #invocationHookContext(hookData: Record<string, unknown>, invocationContext: unknown, fields: Record<string, unknown>): HookContext {
    const appHookData = this.#appHookData;
    const context: HookContext = { ...fields };
    Object.defineProperties(context, {
      hookData: { get: () => hookData, enumerable: true },
      appHookData: { get: () => appHookData, enumerable: true },
      invocationContext: { get: () => invocationContext, enumerable: true },
    });
    return context;
  }

  async #inState<T>(coreCtx: CoreInvocationContext, state: InvocationState, run: () => Promise<T>): Promise<T> {
    coreCtx.state = state;
    try {
      return await run();
    } finally {
      coreCtx.state = undefined;
    }
  }
}

export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)));
}

export function describeError(error: Error): string {
  return `${error.name}: ${error.message}`;
}
