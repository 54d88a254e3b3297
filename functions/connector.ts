// The connector area: its HTTP endpoints, the connector-commands worker (and its
// dead-letter reader), and the two timers (stale onboardings, health).
import type { FunctionDefinition } from "./definition.js";
import { endpoint } from "./http/endpoint.js";
import { deadLetterConsumer, queueConsumer } from "./queue/consumer.js";
import { scheduled } from "./timer/scheduled.js";
import { problemSchema } from "../shared/contracts/common.js";
import { connectBody, connectorSchema, connectResponseSchema, oauthCallbackQuery, verifyResponseSchema } from "../shared/contracts/connector.js";
import { queueNames } from "../shared/queueDefinitions.js";
import type { Envelope } from "../shared/contracts/messages.js";
import type { AuthorizeCommand, DisconnectCommand } from "../shared/app/connector/connectorWorker.js";

const tag = "Connector";
const problem = (description: string) => ({ description, schema: problemSchema });

// The connector worker's commands, built here from the validated messages.
const authorizeCommand = (m: Envelope<"connector.authorize">): AuthorizeCommand => ({
  tenantId: m.tenantId,
  stateId: m.data.stateId,
  code: m.data.code,
  correlationId: m.correlationId,
});
const disconnectCommand = (m: Envelope<"connector.disconnect">): DisconnectCommand => ({
  tenantId: m.tenantId,
  requestedBy: { id: m.data.requestedBy.id, displayName: m.data.requestedBy.displayName, type: "user" },
  correlationId: m.correlationId,
  ...(m.data.generation === undefined ? {} : { generation: m.data.generation }),
  ...(m.data.sessionsAfter === undefined ? {} : { sessionsAfter: m.data.sessionsAfter }),
  ...(m.data.sessionsClosed === undefined ? {} : { sessionsClosed: m.data.sessionsClosed }),
  ...(m.data.disconnectedGeneration === undefined ? {} : { disconnectedGeneration: m.data.disconnectedGeneration }),
});

export const connectorFunctions: FunctionDefinition[] = [
  endpoint({
    name: "getConnector",
    method: "GET",
    route: "connector",
    summary: "The tenant's TeamViewer connector: onboarding status, health, account, consent",
    tag,
    authenticated: true,
    access: "read",
    responses: { 200: { description: "The connector", schema: connectorSchema }, 403: problem("No remote assistance role") },
    handle: async ({ caller, services }) => ({ status: 200, body: await services.connector.view(caller) }),
  }),
  endpoint({
    name: "connectConnector",
    method: "POST",
    route: "connector/connect",
    summary: "Accept the license agreement and start the TeamViewer sign-in (OAuth); answers the URL to send the browser to",
    tag,
    authenticated: true,
    access: "update",
    body: connectBody,
    responses: {
      200: { description: "Onboarding started; send the browser to authorizeUrl", schema: connectResponseSchema },
      403: problem("No Update Remote Assistance permission (forbidden), or no Intune license (intuneLicenseRequired)"),
      409: problem("The connector is already onboarded"),
    },
    errors: ["forbidden", "intuneLicenseRequired", "conflict"],
    handle: async ({ caller, services, correlationId }) => ({ status: 200, body: await services.connector.connect(caller, correlationId) }),
  }),
  endpoint({
    name: "connectorOAuthCallback",
    method: "GET",
    route: "connector/oauth/callback",
    summary: "Where TeamViewer sends the browser after sign-in (anonymous: the OAuth state is the credential); redirects to the portal",
    tag,
    authenticated: false,
    access: "anonymous",
    query: oauthCallbackQuery,
    responses: {
      302: { description: "To the portal's connector page, with result=pending, denied or failed" },
      400: problem("The state is unknown, used, expired or replaced (invalidOAuthState), or the query is malformed"),
    },
    errors: ["invalidOAuthState"],
    handle: async ({ query, services, correlationId, log }) => {
      const { redirectTo } = await services.connector.completeSignIn(query, correlationId, log);
      return { status: 302, headers: { location: redirectTo } };
    },
  }),
  endpoint({
    name: "disconnectConnector",
    method: "POST",
    route: "connector/disconnect",
    summary: "Disconnect TeamViewer: revoke the token, delete it, close open sessions (asynchronously)",
    tag,
    authenticated: true,
    access: "update",
    responses: {
      202: { description: "Disconnect queued; the connector as it is now", schema: connectorSchema },
      403: problem("No Update Remote Assistance permission"),
    },
    errors: ["forbidden"],
    handle: async ({ caller, services, correlationId }) => ({
      status: 202,
      body: await services.connector.requestDisconnect(caller, correlationId),
      headers: { location: "/api/connector" },
    }),
  }),
  endpoint({
    name: "verifyConnector",
    method: "POST",
    route: "connector/verify",
    summary: "Ping TeamViewer with the stored token now and record the connector's health",
    tag,
    authenticated: true,
    access: "read",
    responses: {
      200: { description: "What the check found", schema: verifyResponseSchema },
      403: problem("No remote assistance role"),
      409: problem("The connector is not onboarded"),
      429: problem("No room in the tenant's TeamViewer quota for the check now (rateLimited); Retry-After says when"),
    },
    errors: ["forbidden", "connectorNotOnboarded", "rateLimited"],
    handle: async ({ caller, services, correlationId, log }) => ({ status: 200, body: await services.connectorHealth.verify(caller, correlationId, log) }),
  }),
  queueConsumer({
    name: "connectorCommands",
    queue: queueNames.connectorCommands,
    handlers: {
      "connector.authorize": ({ message, services, log }) => services.connectorWorker.authorize(authorizeCommand(message), log),
      "connector.disconnect": ({ message, services, log }) => services.connectorWorker.disconnect(disconnectCommand(message), log),
    },
  }),
  deadLetterConsumer({
    name: "connectorCommandsDeadLetter",
    queue: queueNames.connectorCommands,
    handlers: {
      "connector.authorize": ({ message, services, deadLetterReason, log }) =>
        services.connectorWorker.deadLettered(
          { kind: "authorize", tenantId: message.tenantId, stateId: message.data.stateId, correlationId: message.correlationId },
          deadLetterReason,
          log,
        ),
      "connector.disconnect": ({ message, services, deadLetterReason, log }) =>
        services.connectorWorker.deadLettered({ kind: "disconnect", ...disconnectCommand(message) }, deadLetterReason, log),
    },
  }),
  scheduled({
    name: "connectorOnboardingExpiry",
    schedule: "0 * * * * *",
    run: async ({ services, log }) => {
      await services.connector.expireStaleOnboardings(log);
    },
  }),
  scheduled({
    name: "connectorHealth",
    schedule: "0 */5 * * * *",
    run: async ({ services, log }) => {
      await services.connectorHealth.checkAll(log);
    },
  }),
];
