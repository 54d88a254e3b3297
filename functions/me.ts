// The end user's API (the Company Portal): their open remote assistance requests, and
// accepting or declining one. Any signed-in user of the tenant may call it; each request
// is visible only to the device's primary user.
import type { FunctionDefinition } from "./definition.js";
import { endpoint } from "./http/endpoint.js";
import { problemSchema } from "../shared/contracts/common.js";
import { acceptResponseSchema, endUserRequestListSchema, sessionIdParams } from "../shared/contracts/sessions.js";
import { myPermissionsSchema } from "../shared/contracts/admin.js";
import type { Permissions, Scope } from "../shared/domain/permissions.js";

const scopeView = (s: Scope | undefined) =>
  s === undefined ? null : s.all ? { allDevices: true, scopeTags: [] } : { allDevices: false, scopeTags: [...s.tags].sort() };
const permissionsView = (p: Permissions) => ({
  administrator: p.administrator,
  update: p.update,
  request: scopeView(p.request),
  read: scopeView(p.read),
  reports: p.reports,
  approve: p.approve,
});

const tag = "End user";
const notFound = { 404: { description: "No such request for the caller", schema: problemSchema } };
const notOpen = { 409: { description: "The request was already answered, closed or expired", schema: problemSchema } };

/** POST me/remoteAssistanceRequests/{sessionId}/seen|decline: the end user's answer, 204 once recorded. */
function endUserAnswer(name: string, answer: "seen" | "decline", summary: string, recorded: string): FunctionDefinition {
  return endpoint({
    name,
    method: "POST",
    route: `me/remoteAssistanceRequests/{sessionId}/${answer}`,
    summary,
    tag,
    authenticated: true,
    access: "endUser",
    params: sessionIdParams,
    responses: { 204: { description: recorded }, ...notFound, ...notOpen },
    errors: ["notFound", "conflict"],
    handle: async ({ caller, params, services, correlationId, log }) => {
      await services.sessions.endUser[answer](caller, params.sessionId, { correlationId, log });
      return { status: 204 };
    },
  });
}

export const meFunctions: FunctionDefinition[] = [
  endpoint({
    name: "getMyPermissions",
    method: "GET",
    route: "me/permissions",
    summary:
      "What the caller may do in their tenant (app roles plus role assignments, as every other endpoint decides it), so a client can offer " +
      "only what will work instead of probing endpoints",
    tag,
    authenticated: true,
    access: "endUser",
    responses: { 200: { description: "The caller's permissions", schema: myPermissionsSchema } },
    handle: async ({ caller, services }) => ({ status: 200, body: permissionsView(await services.access.permissionsOf(caller)) }),
  }),
  endpoint({
    name: "listMyRemoteAssistanceRequests",
    method: "GET",
    route: "me/remoteAssistanceRequests",
    summary: "The caller's open remote assistance requests (for devices whose primary user they are), newest first",
    tag,
    authenticated: true,
    access: "endUser",
    responses: { 200: { description: "The open requests", schema: endUserRequestListSchema } },
    handle: async ({ caller, services, correlationId, log }) => ({
      status: 200,
      body: { value: await services.sessions.endUser.list(caller, { correlationId, log }) },
    }),
  }),
  endpoint({
    name: "acceptMyRemoteAssistanceRequest",
    method: "POST",
    route: "me/remoteAssistanceRequests/{sessionId}/accept",
    summary: "Accept a request: answers the TeamViewer link that starts QuickSupport on the device",
    tag,
    authenticated: true,
    access: "endUser",
    params: sessionIdParams,
    responses: { 200: { description: "Accepted", schema: acceptResponseSchema }, ...notFound, ...notOpen },
    errors: ["notFound", "conflict"],
    handle: async ({ caller, params, services, correlationId, log }) => ({
      status: 200,
      body: await services.sessions.endUser.accept(caller, params.sessionId, { correlationId, log }),
    }),
  }),
  endUserAnswer(
    "seeMyRemoteAssistanceRequest",
    "seen",
    "The Company Portal showed the request to the user: its notification becomes seen (idempotent)",
    "Recorded as seen",
  ),
  endUserAnswer("declineMyRemoteAssistanceRequest", "decline", "Decline a request; its TeamViewer session is closed", "Declined"),
];
