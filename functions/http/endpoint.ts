// The one way an HTTP function is built: correlation id, rate limits, authentication, body
// limits, zod validation of path, query and body, the use case, and the one error mapper.
// Each endpoint is also data (method, route, schemas) so the OpenAPI document is
// generated from the same schemas that validate requests.
import { randomUUID } from "node:crypto";
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { z } from "zod";
import { appRoles, type AutomationCaller, type Caller, type UserCaller } from "../../shared/domain/caller.js";
import { tableOperations } from "../../shared/adapters/tables/tableOperations.js";
import { DomainError, errorCodes, rateLimited, type FieldError } from "../../shared/domain/errors.js";
import type { RateLimiter } from "../../shared/app/rateLimiter.js";
import { Contended } from "../../shared/app/contention.js";
import { createLogger, type Logger } from "../../shared/app/logging.js";
import { inSpan, traceAttributes, traceContextOfHeaders, type TraceSpan } from "../../shared/app/tracing.js";
import type { Services } from "../../shared/composition.js";
import { ensureTables, services } from "../runtime.js";
import { http, type FunctionDefinition } from "../definition.js";
import { apiSecurityHeaders, internalError, problemResponse } from "./problem.js";
import { clientAddress } from "./clientAddress.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Who may call an endpoint, declared with it so the authorization matrix test and the
 * OpenAPI document know it. The use case still decides (scope, tenant, ownership).
 * - anonymous: no token (health, OpenAPI, OAuth callback)
 * - administrator: Intune.Administrator
 * - update: RemoteAssistance.Update (or administrator)
 * - request: RemoteAssistance.Request, tenant-wide or scoped (or administrator)
 * - read: any remote assistance role; results limited to the caller's scope
 * - endUser: any signed-in user of the tenant (the /me endpoints)
 * - reports: Intune.Administrator or tenant-wide RemoteAssistance.ViewReports (audit log, export)
 * - approve: tenant-wide RemoteAssistance.Approve (approvals)
 * - automation: an app-only token with RemoteAssistance.Automation (POST /automation/events)
 */
export type Access = "anonymous" | "administrator" | "update" | "request" | "read" | "endUser" | "reports" | "approve" | "automation";

/** The caller an access level hands its endpoint: an app only at the automation door, a user elsewhere. */
export type CallerOf<X extends Access> = X extends "anonymous" ? undefined : X extends "automation" ? AutomationCaller : UserCaller;

export interface EndpointInput<P, Q, B, X extends Access> {
  readonly caller: CallerOf<X>;
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly headers: Headers;
  readonly correlationId: string;
  readonly log: Logger;
  readonly services: Services;
}

export interface EndpointResult {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface EndpointSpec<P, Q, B, A extends boolean, X extends Access> {
  readonly name: string;
  readonly method: HttpMethod;
  /** Route below the prefix, in Functions syntax: `devices/{deviceId}`. */
  readonly route: string;
  readonly summary: string;
  readonly tag: string;
  readonly authenticated: A;
  readonly access: X;
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  readonly maxBodyBytes?: number;
  /** Health answers even when storage is down, so it skips the one-time table creation. */
  readonly skipStorageInit?: boolean;
  readonly responses: Readonly<Record<number, { readonly description: string; readonly schema?: z.ZodType }>>;
  /** Error codes this endpoint may answer with, besides validation and authentication. */
  readonly errors?: readonly DomainError["code"][];
  handle(input: EndpointInput<P, Q, B, X>): Promise<EndpointResult>;
}

/** The erased form kept for the OpenAPI generator and tests. */
export interface EndpointDescription {
  readonly name: string;
  readonly method: HttpMethod;
  readonly route: string;
  readonly summary: string;
  readonly tag: string;
  readonly authenticated: boolean;
  readonly access: Access;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly responses: Readonly<Record<number, { readonly description: string; readonly schema?: z.ZodType }>>;
  readonly errors?: readonly DomainError["code"][];
}

const registry: EndpointDescription[] = [];
export const endpointDescriptions = (): readonly EndpointDescription[] => registry;

const correlationIdPattern = /^[A-Za-z0-9._:-]{8,128}$/;
const defaultMaxBodyBytes = 64 * 1024;

export function zodErrors(error: z.ZodError, prefix: string): FieldError[] {
  return error.issues.slice(0, 20).map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join("."),
    message: i.message,
  }));
}

function validate<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new DomainError(errorCodes.validationFailed, `The request ${where} is not valid.`, { errors: zodErrors(r.error, where) });
  }
  return r.data;
}

/** Path values are ids: one that cannot exist (wrong shape, too long) names nothing, so it is 404, not 400. */
function pathParams<P>(schema: z.ZodType<P> | undefined, value: unknown): P {
  if (!schema) return undefined as P;
  const r = schema.safeParse(value);
  if (!r.success) throw new DomainError(errorCodes.notFound, "Nothing exists under this id.");
  return r.data;
}

function queryObject(url: URL): Record<string, string | undefined> {
  // No prototype: a parameter named toString or __proto__ is an unknown one, not a repeat.
  const out: Record<string, string | undefined> = Object.create(null) as Record<string, string | undefined>;
  const seen = new Set<string>();
  for (const [k, v] of url.searchParams) {
    if (seen.has(k)) throw new DomainError(errorCodes.validationFailed, `The query parameter '${k.slice(0, 64)}' is repeated.`);
    seen.add(k);
    // A blank value is no value: a client filling a query template (`?deviceId=&status=&top=`,
    // a SIEM's first `?deltaToken=`) sends the names it has no value for (docs/api.md).
    // The name stays (undefined), so an unknown one is still refused by the strict schema.
    out[k] = v === "" ? undefined : v;
  }
  return out;
}

// JSON between systems is UTF-8 (RFC 8259). Bytes that are not, or a body declared in another
// charset, are refused: read as UTF-8 they would be stored with replacement characters.
const utf8 = new TextDecoder("utf-8", { fatal: true });
const notUtf8 = "The request body must be JSON in UTF-8; it is not valid UTF-8, or its Content-Type names another charset.";

async function readBody(req: HttpRequest, max: number, expectBody: boolean): Promise<unknown> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > max) throw new DomainError(errorCodes.payloadTooLarge, `The request body is larger than ${max} bytes.`);
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.byteLength > max) throw new DomainError(errorCodes.payloadTooLarge, `The request body is larger than ${max} bytes.`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new DomainError(errorCodes.validationFailed, notUtf8);
  }
  if (text.trim() === "") return expectBody ? {} : undefined;
  const type = req.headers.get("content-type") ?? "application/json";
  if (!/^application\/([a-z.+-]+\+)?json\b/i.test(type)) {
    throw new DomainError(errorCodes.validationFailed, "The request body must be JSON (Content-Type: application/json).");
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(type)?.[1];
  // ASCII reads the same in UTF-8 and in the charsets that extend it (ISO-8859-1, us-ascii…):
  // only a body with other bytes is refused for its label, as before it would have been misread.
  const sameInUtf8 = !/^(utf-?(7|16|32)|ucs-?(2|4))/i.test(charset ?? "") && bytes.every((b) => b < 0x80);
  if (charset !== undefined && !/^utf-?8$/i.test(charset) && !sameInUtf8) throw new DomainError(errorCodes.validationFailed, notUtf8);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DomainError(errorCodes.validationFailed, "The request body is not valid JSON.");
  }
}

/**
 * App-only tokens (a tenant's automation) are admitted at the automation door and nowhere
 * else; users' tokens everywhere but there. Decided here, by access level, so no endpoint
 * can forget it.
 */
function admit<X extends Access>(access: X, caller: Caller): CallerOf<X> {
  if (access === "automation") {
    if (caller.type !== "automation") {
      throw new DomainError(
        errorCodes.forbidden,
        "This endpoint is for a tenant's automation: it takes an app-only token (OAuth client credentials), not a user's token.",
      );
    }
    if (!caller.roles.includes(appRoles.automation)) {
      throw new DomainError(errorCodes.forbidden, `The app's token lacks the ${appRoles.automation} app role.`);
    }
  } else if (caller.type !== "user") {
    throw new DomainError(
      errorCodes.forbidden,
      "An app-only token is accepted only at POST /api/automation/events; this endpoint needs a signed-in user's token.",
    );
  }
  return caller as CallerOf<X>;
}

/** Whether the request offers a bearer token at all, however malformed: its 401 then says invalid_token. */
const presentsBearerToken = (authorization: string | null): boolean => /^\s*Bearer\s/i.test(authorization ?? "");

function spend(limiter: RateLimiter, key: string, who: string): void {
  const decision = limiter.take(key);
  if (!decision.allowed) {
    throw rateLimited(`Too many requests ${who}. Try again in ${decision.retryAfterSeconds} s.`, decision.retryAfterSeconds);
  }
}

/**
 * The caller, after spending one request of their budget. A request without a valid token
 * spends its client address's budget instead: its claims prove nothing until the signature
 * is checked, so keying it by them would let anyone use up someone else's budget. A refusal
 * is logged with its reason (an audience or issuer that does not match shows up there), never
 * with the token or its claims.
 */
async function authenticatedCaller(svc: Services, req: HttpRequest, log: Logger): Promise<Caller> {
  let caller: Caller;
  try {
    caller = await svc.authenticator.authenticate(req.headers.get("authorization"));
  } catch (e) {
    if (e instanceof DomainError && e.code === errorCodes.unauthenticated) log.info("authentication refused", { reason: e.detail });
    // Also when the token could not be checked at all (the key set is down): each such
    // request may try to fetch the key set again.
    spend(svc.rateLimits.addresses, clientAddress(req.headers), "from this address");
    throw e;
  }
  spend(svc.rateLimits.callers, `${caller.tenantId}/${caller.userId}`, "from this caller");
  return caller;
}

export function endpoint<P, Q, B, A extends boolean, X extends (A extends true ? Exclude<Access, "anonymous"> : "anonymous")>(
  spec: EndpointSpec<P, Q, B, A, X>,
): FunctionDefinition {
  registry.push(spec as unknown as EndpointDescription);
  const httpRoute = routeOf(spec.route);

  const respond = async (req: HttpRequest, ctx: InvocationContext, correlationId: string, span: TraceSpan): Promise<HttpResponseInit> => {
    const log = createLogger((level, line) => (level === "error" ? ctx.error(line) : level === "warn" ? ctx.warn(line) : ctx.log(line)), { correlationId });
    try {
      const svc = services();
      if (!spec.authenticated) spend(svc.rateLimits.addresses, clientAddress(req.headers), "from this address");
      const caller = spec.authenticated ? admit(spec.access, await authenticatedCaller(svc, req, log)) : undefined;
      if (caller) span.annotate({ [traceAttributes.tenantId]: caller.tenantId });
      if (!spec.skipStorageInit) await ensureTables();
      const params = pathParams(spec.params, req.params);
      const query = validate<unknown>(spec.query ?? z.strictObject({}), queryObject(new URL(req.url)), "query");
      const rawBody = await readBody(req, spec.maxBodyBytes ?? defaultMaxBodyBytes, spec.body !== undefined);
      if (!spec.body && rawBody !== undefined && !(typeof rawBody === "object" && rawBody && !Array.isArray(rawBody) && Object.keys(rawBody).length === 0)) {
        throw new DomainError(errorCodes.validationFailed, "This endpoint takes no request body.");
      }
      const body = validate(spec.body, rawBody, "body");
      const result = await spec.handle({
        caller: caller as CallerOf<X>,
        params: params as P,
        query: query as Q,
        body: body as B,
        headers: req.headers,
        correlationId,
        log,
        services: svc,
      });
      const headers: Record<string, string> = { "x-correlation-id": correlationId, "cache-control": "no-store", ...apiSecurityHeaders, ...result.headers };
      if (result.body === undefined) return { status: result.status, headers };
      return { status: result.status, jsonBody: result.body, headers };
    } catch (e) {
      if (e instanceof DomainError) {
        if (e.code === errorCodes.internal) log.error(`${spec.name} failed`, e.cause ?? e);
        span.set({ [traceAttributes.errorCode]: e.code });
        return problemResponse(e, correlationId, { tokenPresented: presentsBearerToken(req.headers.get("authorization")) });
      }
      if (e instanceof Contended) {
        log.warn(`${spec.name}: ${e.message}`);
        span.set({ [traceAttributes.errorCode]: errorCodes.rateLimited });
        return problemResponse(rateLimited("Other requests are changing the same item at this moment. Try again in a second.", 1), correlationId);
      }
      log.error(`${spec.name} failed with an unexpected error`, e);
      span.set({ [traceAttributes.errorCode]: errorCodes.internal });
      return problemResponse(internalError(), correlationId);
    }
  };

  return http(spec.name, {
    methods: [spec.method],
    authLevel: "anonymous",
    route: spec.route,
    // Table requests are counted per function (tableOperations.ts), round trips included.
    handler: (req: HttpRequest, ctx: InvocationContext): Promise<HttpResponseInit> =>
      tableOperations.withinInvocation(spec.name, () => {
        const offered = req.headers.get("x-correlation-id");
        const correlationId = offered && correlationIdPattern.test(offered) ? offered : randomUUID();
        // A server span per request, continuing the caller's `traceparent` if it sent one.
        return inSpan(
          `${spec.method} ${httpRoute}`,
          {
            kind: "server",
            parent: traceContextOfHeaders(req.headers),
            attributes: {
              "http.request.method": spec.method,
              "http.route": httpRoute,
              [traceAttributes.functionName]: spec.name,
              [traceAttributes.correlationId]: correlationId,
            },
          },
          async (span) => {
            const response = await respond(req, ctx, correlationId, span);
            const status = response.status ?? 200;
            span.set({ "http.response.status_code": status });
            // A 4xx is the caller's doing (its code is on the span); a 5xx fails the span.
            if (status >= 500) span.fail(String(status));
            return response;
          },
        );
      }),
  });
}

/** The route as the host serves it (`extensions.http.routePrefix` is `api`), ids as templates. */
function routeOf(route: string): string {
  return `/api/${route}`;
}
