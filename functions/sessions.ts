// The admin's session API: request a session for a device, list and read sessions, close
// one, resend its notification, and the sessions report. Thin: parse → use case → map.
import type { FunctionDefinition } from "./definition.js";
import { endpoint, zodErrors, type EndpointResult } from "./http/endpoint.js";
import { problemSchema } from "../shared/contracts/common.js";
import {
  approvalDecisionBody,
  deviceSessionParams,
  idempotencyKeySchema,
  sessionIdParams,
  sessionListQuery,
  sessionListSchema,
  sessionReportQuery,
  sessionReportSchema,
  sessionRequestBody,
  sessionSchema,
} from "../shared/contracts/sessions.js";
import { DomainError, errorCodes } from "../shared/domain/errors.js";
import type { Session } from "../shared/domain/session.js";
import { toSessionResource } from "../shared/app/sessions/sessionView.js";

const tag = "Sessions";
const noRole = { 403: { description: "The caller has no remote assistance role", schema: problemSchema } };
const notFound = { 404: { description: "No such session in the caller's tenant and scope", schema: problemSchema } };
const noRequestPermission = { 403: { description: "No Request Remote Assistance permission for this session's device", schema: problemSchema } };
const location = (id: string): string => `/api/sessions/${id}`;
/** The session an action changed, with its Location. */
const sessionAnswer = (status: 200 | 202, session: Session): EndpointResult => ({
  status,
  body: toSessionResource(session),
  headers: { location: location(session.id) },
});

function idempotencyKeyOf(headers: Headers): string | undefined {
  const raw = headers.get("idempotency-key");
  if (raw === null) return undefined;
  const parsed = idempotencyKeySchema.safeParse(raw);
  if (!parsed.success) {
    throw new DomainError(errorCodes.validationFailed, "The Idempotency-Key header is not valid.", {
      errors: zodErrors(parsed.error, "headers.Idempotency-Key"),
    });
  }
  return parsed.data;
}

export const sessionFunctions: FunctionDefinition[] = [
  endpoint({
    name: "requestSession",
    method: "POST",
    route: "devices/{deviceId}/remoteAssistanceSessions",
    summary:
      "Request a new remote assistance session for a device. Checks scope, the connector and eligibility, then creates the TeamViewer session in the background. " +
      "Send an Idempotency-Key header to make retries safe: the same key with the same body answers the same session.",
    tag,
    authenticated: true,
    access: "request",
    params: deviceSessionParams,
    body: sessionRequestBody,
    responses: {
      202: { description: "Requested; follow Location until the session awaits the end user", schema: sessionSchema },
      403: { description: "No Request Remote Assistance permission for this device's scope", schema: problemSchema },
      404: { description: "No such device in the caller's tenant and scope", schema: problemSchema },
      400: { description: "Not valid, or the tenant requires a ticketId and none was sent", schema: problemSchema },
      409: {
        description:
          "The connector is not onboarded, the Idempotency-Key was used for another request, the device already has an open session (`existingSessionId`), " +
          "or the device is not compliant and the warning was not acknowledged (`acknowledgementRequired`, `warnings`)",
        schema: problemSchema,
      },
      422: { description: "The device is not eligible; `reason` says why", schema: problemSchema },
    },
    errors: ["notFound", "connectorNotOnboarded", "conflict", "acknowledgementRequired", "deviceNotEligible"],
    handle: async ({ caller, params, body, headers, services, correlationId, log }) => {
      const key = idempotencyKeyOf(headers);
      const result = await services.sessions.requests.request(
        {
          source: "user",
          caller,
          tenantId: caller.tenantId,
          deviceId: params.deviceId,
          ...(body.description === undefined ? {} : { description: body.description }),
          ...(body.ticketId === undefined ? {} : { ticketId: body.ticketId }),
          ...(body.acknowledgeWarnings === undefined ? {} : { acknowledgeWarnings: body.acknowledgeWarnings }),
          ...(key === undefined ? {} : { idempotencyKey: key }),
        },
        { correlationId, log },
      );
      if (!result.ok) throw result.refusal.error;
      const { session, replayed } = result;
      return {
        status: 202,
        body: toSessionResource(session),
        headers: { location: location(session.id), ...(replayed ? { "idempotent-replayed": "true" } : {}) },
      };
    },
  }),
  endpoint({
    name: "listSessions",
    method: "GET",
    route: "sessions",
    summary:
      "Sessions in the caller's scope, newest first, optionally for one device or in one status (pendingApproval: the requests of the last 25 hours, the longest one can wait)",
    tag,
    authenticated: true,
    access: "read",
    query: sessionListQuery,
    responses: { 200: { description: "A page of sessions", schema: sessionListSchema }, ...noRole },
    handle: async ({ caller, query, services }) => {
      const page = await services.sessions.admin.list(caller, query);
      return {
        status: 200,
        body: { value: page.value.map(toSessionResource), ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) },
      };
    },
  }),
  endpoint({
    name: "getSession",
    method: "GET",
    route: "sessions/{sessionId}",
    summary: "One session with its history and TeamViewer details",
    tag,
    authenticated: true,
    access: "read",
    params: sessionIdParams,
    responses: { 200: { description: "The session", schema: sessionSchema }, ...noRole, ...notFound },
    errors: ["notFound"],
    handle: async ({ caller, params, services, correlationId, log }) => ({
      status: 200,
      body: toSessionResource(await services.sessions.admin.get(caller, params.sessionId, { correlationId, log })),
    }),
  }),
  endpoint({
    name: "closeSession",
    method: "POST",
    route: "sessions/{sessionId}/close",
    summary: "Close a session; its TeamViewer session is closed in the background",
    tag,
    authenticated: true,
    access: "request",
    params: sessionIdParams,
    responses: {
      202: { description: "Closed here; closing at TeamViewer follows", schema: sessionSchema },
      ...noRequestPermission,
      ...notFound,
      409: { description: "The session is not open", schema: problemSchema },
    },
    errors: ["notFound", "conflict"],
    handle: async ({ caller, params, services, correlationId, log }) =>
      sessionAnswer(202, await services.sessions.admin.close(caller, params.sessionId, { correlationId, log })),
  }),
  endpoint({
    name: "resendSessionNotification",
    method: "POST",
    route: "sessions/{sessionId}/resendNotification",
    summary: "Notify the end user again, while the session awaits them",
    tag,
    authenticated: true,
    access: "request",
    params: sessionIdParams,
    responses: {
      202: { description: "The notification is on its way", schema: sessionSchema },
      ...noRequestPermission,
      ...notFound,
      409: {
        description:
          "The session does not await the end user, the device cannot be notified, the inventory removed the device or gave it to another primary user since the request, or the notification was already resent 10 times",
        schema: problemSchema,
      },
      429: { description: "The notification was resent less than a minute ago (Retry-After says when it may be resent)", schema: problemSchema },
    },
    errors: ["notFound", "conflict", "rateLimited"],
    handle: async ({ caller, params, services, correlationId, log }) =>
      sessionAnswer(202, await services.sessions.admin.resendNotification(caller, params.sessionId, { correlationId, log })),
  }),
  ...(["approve", "deny"] as const).map((kind) =>
    endpoint({
      name: kind === "approve" ? "approveSession" : "denySession",
      method: "POST",
      route: `sessions/{sessionId}/${kind}`,
      summary:
        kind === "approve"
          ? "Approve a request waiting for approval (not one's own): the TeamViewer session is created in the background and the end user asked"
          : "Deny a request waiting for approval (not one's own): it ends as denied and nothing is created at TeamViewer",
      tag,
      authenticated: true,
      access: "approve",
      params: sessionIdParams,
      body: approvalDecisionBody,
      responses: {
        200: { description: kind === "approve" ? "Approved; it is requested now" : "Denied", schema: sessionSchema },
        403: { description: "No tenant-wide Approve Remote Assistance permission, or the caller requested it", schema: problemSchema },
        404: { description: "No such session in the caller's tenant", schema: problemSchema },
        409: { description: "The session is not waiting for approval", schema: problemSchema },
      },
      errors: ["notFound", "conflict"],
      handle: async ({ caller, params, body, services, correlationId, log }) =>
        sessionAnswer(200, await services.sessions.approvals.decide(caller, params.sessionId, kind, body.comment || undefined, { correlationId, log })),
    }),
  ),
  endpoint({
    name: "sessionReport",
    method: "GET",
    route: "reports/sessions",
    summary:
      "Who helped whom, when: sessions requested in a time range (default the last 30 days) by status, platform and requester, and the median time to accept",
    tag: "Reports",
    authenticated: true,
    access: "read",
    query: sessionReportQuery,
    responses: { 200: { description: "The report", schema: sessionReportSchema }, ...noRole },
    handle: async ({ caller, query, services }) => ({ status: 200, body: await services.sessions.admin.report(caller, query) }),
  }),
];
