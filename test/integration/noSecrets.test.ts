// A whole flow with the host's logs captured: onboarding, a session requested, accepted
// and closed. No token, secret, OAuth code or state may appear in any log line, response
// body or header, or audit event.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api, tokenFor, type ApiResponse } from "../support/api.js";
import { auditEvents, connect, eventuallyConnector, followToCallback, hostLog, newTenant, signInAtTeamViewer, storedTokenValue } from "./connectorSupport.js";
import { createDevices, eventuallySession, managedDevice, requestSession } from "./sessionsSupport.js";

describe("secrets stay secret through a whole flow", () => {
  it("finds no token, client secret, code or state in logs, responses or audit events", async () => {
    // Prepare: a tenant, its connector onboarded the way a browser does it.
    const responses: string[] = [];
    const keep = <T>(r: ApiResponse<T>): ApiResponse<T> => {
      responses.push(`${r.status} ${JSON.stringify([...r.headers.entries()])} ${r.text}`);
      return r;
    };
    const tenant = await newTenant();
    const { authorizeUrl, state } = await connect(tenant.connectorAdmin);
    const redirect = await signInAtTeamViewer(authorizeUrl, "allow");
    const code = redirect.searchParams.get("code")!;
    const callback = await followToCallback(redirect);
    responses.push(`${callback.status} ${JSON.stringify([...callback.headers.entries()])} ${await callback.text()}`);
    await eventuallyConnector(tenant.connectorAdmin, (c) => c.onboardingStatus === "onboarded", "onboarded");
    keep(await api("/connector", { token: tenant.admin }));
    keep(await api("/connector/verify", { method: "POST", token: tenant.admin }));

    // Act: a session for a device of a user who accepts, then the admin closes it.
    const userId = randomUUID();
    const device = managedDevice({ userId, userPrincipalName: "enduser@x.example", userDisplayName: "End User" });
    await createDevices(tenant.tenantId, tenant.admin, [device]);
    const requested = keep(await requestSession(tenant.helpdesk, device.id, { description: "printer driver" }));
    expect(requested.status).toBe(202);
    const sessionId = (requested.body as { id: string }).id;
    await eventuallySession(tenant.helpdesk, sessionId, (s) => s.status === "awaitingEndUser", "awaitingEndUser");
    const endUser = await tokenFor({ tid: tenant.tenantId, oid: userId, name: "End User" });
    keep(await api("/me/remoteAssistanceRequests", { token: endUser }));
    keep(await api(`/me/remoteAssistanceRequests/${sessionId}/accept`, { method: "POST", token: endUser }));
    keep(await api(`/sessions/${sessionId}`, { token: tenant.helpdesk }));
    keep(await api(`/sessions/${sessionId}/close`, { method: "POST", token: tenant.helpdesk }));
    await eventuallySession(tenant.helpdesk, sessionId, (s) => s.status === "closed", "closed");

    // Assess
    const stored = await storedTokenValue(tenant.tenantId);
    expect(stored).toBeDefined();
    const tokens = JSON.parse(stored!.value) as { accessToken: string; refreshToken: string };
    const secrets = [
      tokens.accessToken,
      tokens.refreshToken,
      code,
      state,
      "local-client-secret",
      tenant.admin,
      tenant.helpdesk,
      tenant.connectorAdmin,
      endUser,
    ];
    const audit = await auditEvents(tenant.admin);
    expect(audit.length).toBeGreaterThan(5);
    const log = hostLog();
    expect(log).toContain(sessionId); // the log did capture this flow
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(8);
      expect(log.includes(secret), "a secret appears in the host log").toBe(false);
      expect(
        responses.some((r) => r.includes(secret)),
        "a secret appears in a response",
      ).toBe(false);
      expect(JSON.stringify(audit).includes(secret), "a secret appears in an audit event").toBe(false);
    }
  });
});
