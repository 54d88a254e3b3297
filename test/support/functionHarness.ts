// Runs function definitions as the host would, with the Functions library's own
// `HttpRequest` and `InvocationContext`, over services a test installs through the
// runtime seam (`setServicesForTests`). A test builds only the services its path touches;
// touching any other throws, naming it, instead of reaching for configuration.
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";
import type { Authenticator } from "../../shared/adapters/auth/jwtAuthenticator.js";
import type { Tables } from "../../shared/adapters/tables/tables.js";
import type { Services } from "../../shared/composition.js";
import { RateLimiter } from "../../shared/app/rateLimiter.js";
import type { Clock } from "../../shared/app/clock.js";
import { DomainError, errorCodes } from "../../shared/domain/errors.js";
import type { Caller } from "../../shared/domain/caller.js";
import type { FunctionDefinition } from "../../functions/definition.js";
import { setServicesForTests } from "../../functions/runtime.js";

/**
 * `parts` as a `T`: members it lacks throw when read, naming `what.member`, so a test
 * learns at once that its path needs one more service.
 */
export function partialOf<T extends object>(what: string, parts: Partial<T>): T {
  return new Proxy(parts, {
    get(target, property, receiver) {
      // Probes by await, inspection and matchers are answered as for a plain object.
      if (typeof property === "symbol" || property === "then" || property === "toJSON" || property in target)
        return Reflect.get(target, property, receiver) as unknown;
      throw new Error(`${what}.${property} is not provided in this test`);
    },
  }) as T;
}

/** Tables that need no creating: the services' `ensureTables` passes, anything else is not this test's. */
export const readyTables: Tables = partialOf<Tables>("tables", { ensureAll: async () => undefined, ping: async () => undefined });

/** Generous per-caller and per-address limits on the test's clock. */
export function rateLimits(clock: Clock, perMinute = 600): Services["rateLimits"] {
  return { callers: new RateLimiter({ perMinute, burst: perMinute }, clock), addresses: new RateLimiter({ perMinute, burst: perMinute }, clock) };
}

/** Installs `parts` as the app's services until the next call (or `uninstallServices`). */
export function installServices(parts: Partial<Services>): Services {
  const services = partialOf<Services>("services", { tables: readyTables, ...parts });
  setServicesForTests(services);
  return services;
}

export function uninstallServices(): void {
  setServicesForTests(undefined);
}

/** Bearer tokens a test hands out: `Bearer <token>` authenticates as the caller it names; anything else is 401. */
export class StaticAuthenticator implements Authenticator {
  readonly #callers: ReadonlyMap<string, Caller>;

  constructor(callers: Record<string, Caller>) {
    this.#callers = new Map(Object.entries(callers));
  }

  async authenticate(header: string | null): Promise<Caller> {
    await Promise.resolve();
    if (header === null) throw new DomainError(errorCodes.unauthenticated, "An Authorization header with a bearer token is required.");
    const caller = this.#callers.get(header.replace(/^Bearer\s+/i, ""));
    if (!caller) throw new DomainError(errorCodes.unauthenticated, "The bearer token is not valid.");
    return caller;
  }
}

export interface LogRecord {
  readonly level: string;
  readonly text: string;
}

function context(functionName: string, triggerMetadata: Record<string, unknown> = {}): { ctx: InvocationContext; logs: LogRecord[] } {
  const logs: LogRecord[] = [];
  const ctx = new InvocationContext({
    functionName,
    invocationId: `test-${functionName}`,
    triggerMetadata,
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(" ") }),
  });
  return { ctx, logs };
}

export interface HttpCall {
  readonly method?: string;
  /** Path and query below the host, e.g. `/api/sessions/01J…`. */
  readonly url: string;
  readonly params?: Record<string, string>;
  readonly headers?: Record<string, string>;
  /** Sent as JSON unless a string, or as they are when bytes. */
  readonly body?: unknown;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The JSON answer (problem documents included), or undefined without a body. */
  readonly json: unknown;
  readonly logs: LogRecord[];
}

/** Calls an HTTP function definition with a real `HttpRequest`. */
export async function invokeHttp(definition: FunctionDefinition, call: HttpCall): Promise<HttpAnswer> {
  if (definition.kind !== "http") throw new Error(`${definition.name} is not an HTTP function`);
  const bytes = call.body instanceof Uint8Array ? call.body : undefined;
  const body = call.body === undefined || bytes ? undefined : typeof call.body === "string" ? call.body : JSON.stringify(call.body);
  const request = new HttpRequest({
    method: call.method ?? definition.options.methods?.[0] ?? "GET",
    url: `http://localhost:7071${call.url}`,
    headers: { ...(body !== undefined && typeof call.body !== "string" ? { "content-type": "application/json" } : {}), ...call.headers },
    params: call.params ?? {},
    ...(bytes ? { body: { bytes } } : body === undefined ? {} : { body: { string: body } }),
  });
  const { ctx, logs } = context(definition.name);
  const response = (await definition.options.handler(request, ctx)) as HttpResponseInit;
  const headers = Object.fromEntries(Object.entries((response.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
  const json: unknown = response.jsonBody !== undefined ? response.jsonBody : typeof response.body === "string" ? JSON.parse(response.body) : undefined;
  return { status: response.status ?? 200, headers, json, logs };
}

/** What happened to a delivered message: completed (the handler returned) or left for redelivery (it threw). */
export type Settlement =
  { readonly settled: "completed"; readonly logs: LogRecord[] } | { readonly settled: "redelivered"; readonly error: unknown; readonly logs: LogRecord[] };

/** Delivers one Service Bus message to a queue function definition. */
export async function deliver(
  definition: FunctionDefinition,
  body: unknown,
  metadata: { readonly messageId: string; readonly deliveryCount?: number; readonly applicationProperties?: Record<string, unknown> },
): Promise<Settlement> {
  if (definition.kind !== "serviceBusQueue") throw new Error(`${definition.name} is not a Service Bus queue function`);
  const { ctx, logs } = context(definition.name, {
    messageId: metadata.messageId,
    deliveryCount: metadata.deliveryCount ?? 1,
    applicationProperties: metadata.applicationProperties ?? {},
  });
  try {
    await definition.options.handler(body, ctx);
    return { settled: "completed", logs };
  } catch (error) {
    return { settled: "redelivered", error, logs };
  }
}

/**
 * Delivers a batch of Service Bus messages to a `cardinality: "many"` queue function, with
 * the metadata as the host sends it: one array per key, in the order of the bodies.
 */
export async function deliverBatch(
  definition: FunctionDefinition,
  messages: readonly { readonly body: unknown; readonly messageId: string; readonly deliveryCount?: number }[],
): Promise<Settlement> {
  if (definition.kind !== "serviceBusQueue") throw new Error(`${definition.name} is not a Service Bus queue function`);
  const { ctx, logs } = context(definition.name, {
    messageIdArray: messages.map((m) => m.messageId),
    deliveryCountArray: messages.map((m) => m.deliveryCount ?? 1),
    applicationPropertiesArray: messages.map(() => ({})),
  });
  try {
    await definition.options.handler(
      messages.map((m) => m.body),
      ctx,
    );
    return { settled: "completed", logs };
  } catch (error) {
    return { settled: "redelivered", error, logs };
  }
}
