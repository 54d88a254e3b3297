// The shapes `@azure/functions` exchanges with its host through `@azure/functions-core`.
// That package exists only inside the Azure Functions Node worker, so its types are restated here.

/** RPC typed data: exactly one member is set (the worker's `TypedData` message). */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
  collectionBytes?: { bytes?: Uint8Array[] | null } | null;
  collectionString?: { string?: string[] | null } | null;
  collectionDouble?: { double?: number[] | null } | null;
  collectionSint64?: { sint64?: number[] | null } | null;
}

export interface RpcNullable<T> {
  value?: T | null;
}

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: RpcNullable<string> | null;
  path?: RpcNullable<string> | null;
  expires?: RpcNullable<{ seconds?: number | null; nanos?: number | null }> | null;
  secure?: RpcNullable<boolean> | null;
  httpOnly?: RpcNullable<boolean> | null;
  sameSite?: "none" | "lax" | "strict" | "explicitNone" | null;
  maxAge?: RpcNullable<number> | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  enableContentNegotiation?: boolean | null;
  cookies?: RpcHttpCookie[] | null;
}

/** A binding as the library describes it: the trigger/input/output options plus type and direction. */
export interface RpcBindingInfo {
  type?: string | null;
  direction?: "in" | "out" | "inout" | null;
  dataType?: "undefined" | "string" | "binary" | "stream" | null;
  properties?: Record<string, string> | null;
  readonly [option: string]: unknown;
}

export interface CoreFunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export type RpcLogLevel = "trace" | "debug" | "information" | "warning" | "error" | "critical" | "none";
export type RpcLogCategory = "user" | "system" | "customMetric";

export interface RpcParameterBinding {
  name: string;
  data: RpcTypedData | null | undefined;
}

export interface RpcInvocationRequest {
  invocationId: string;
  functionId: string;
  inputData: RpcParameterBinding[];
  triggerMetadata?: Record<string, RpcTypedData>;
  traceContext?: { traceParent?: string; traceState?: string; attributes?: Record<string, string> };
  retryContext?: { retryCount: number; maxRetryCount: number };
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: { name?: string | null; data?: RpcTypedData | null }[] | null;
  returnValue?: RpcTypedData | null;
}

export type InvocationState = "preInvocationHooks" | "postInvocationHooks" | "invocation";

export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: CoreFunctionMetadata;
  state?: InvocationState;
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface InvocationArguments {
  context: unknown;
  inputs: unknown[];
}

export interface InvocationModel {
  getArguments(): Promise<InvocationArguments>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(capabilities: Record<string, string>): Record<string, string> | Promise<Record<string, string>>;
}

export const hookNames = ["appStart", "appTerminate", "preInvocation", "postInvocation", "log"] as const;
export type HookName = (typeof hookNames)[number];

/** What a hook callback receives; the library wraps it in its own *Context class and writes through it. */
export type HookContext = Record<string, unknown>;
export type HookCallback = (context: HookContext) => void | Promise<void>;

export interface DisposableLike {
  dispose(): void;
}
