// The tenant's TeamViewer quota, through the whole local stack: requests beyond the
// setting wait (the session stays requested, its history says until when) instead of
// failing, TeamViewer's own throttling (429 + Retry-After) holds every call of the tenant
// back until then, and the fake's call log — TeamViewer's side — never sees more creates
// in any 60 seconds than the setting allows. One run, so it takes about two minutes: a
// 41st call in one minute has to wait for the next.
import { describe, expect, it } from "vitest";
import type { CallRecord } from "../../local/teamviewer/control.js";
import type { SessionResource } from "../../shared/contracts/sessions.js";
import { api, eventually } from "../support/api.js";
import { fake, grantOf, newTenant, onboard } from "./connectorSupport.js";
import { allAwaitingEndUser, createDevices, getSession, listSessions, managedDevice, requestSession } from "./sessionsSupport.js";

const waitEntry = "waitingForTeamViewerQuota";

/** The most calls starting in any half-open window [t, t + ms). */
function busiestWindow(calls: readonly CallRecord[], ms: number): number {
  const at = calls.map((c) => Date.parse(c.at)).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (j < at.length && at[j] < at[i] + ms) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

describe("the tenant's TeamViewer quota", () => {
  it("40 requests at once with 20 calls a minute, TeamViewer throttling the first 5 s: all reach awaitingEndUser, none fails, no minute sees more than 20 creates", async () => {
    // Prepare: a tenant with 20 TeamViewer calls a minute, onboarded, 40 devices.
    const count = 40;
    const perMinute = 20;
    const tenant = await newTenant({ teamViewerCallsPerMinute: perMinute });
    await fake().clearCalls();
    await onboard(tenant);
    const grant = await grantOf(tenant.tenantId);
    const devices = Array.from({ length: count }, (_, i) => managedDevice({ deviceName: `QUOTA-${String(i).padStart(2, "0")}` }));
    await createDevices(tenant.tenantId, tenant.admin, devices);
    // TeamViewer answers every call 429 rate_limit_reached with Retry-After for 5 s.
    await fake().throttle({ ms: 5_000, status: 429 });

    // Act: 40 requests at once; then watch one wait, and all end.
    const responses = await Promise.all(devices.map((d) => requestSession(tenant.helpdesk, d.id, { description: "quota test" })));
    const waiting = await eventually(
      async () => (await listSessions(tenant.admin, "&status=requested")).find((s) => s.waitingForTeamViewerQuotaUntil !== null),
      60_000,
      "a request waiting for TeamViewer quota",
    );
    const done = await allAwaitingEndUser(tenant.admin, count, 400_000);

    // Assess: every request accepted and created once, none failed.
    expect(responses.map((r) => r.status)).toEqual(Array(count).fill(202));
    expect(done).toHaveLength(count);
    const details = await Promise.all(done.map(async (s) => (await getSession(tenant.admin, s.id)).body as SessionResource));
    // Waiting showed on the session: still requested, with the expected time and its history entry.
    expect(waiting.status).toBe("requested");
    expect(Date.parse(waiting.waitingForTeamViewerQuotaUntil!)).toBeGreaterThan(Date.parse(waiting.requestedAt));
    expect(waiting.history.filter((h) => h.detail?.startsWith(waitEntry))).toHaveLength(1);
    // Half of them at least had to wait for the next minute; each wait is one history entry, and creation clears it.
    const waited = details.filter((s) => s.history.some((h) => h.detail?.startsWith(waitEntry)));
    expect(waited.length).toBeGreaterThanOrEqual(count - perMinute);
    for (const s of details) {
      expect(s.history.filter((h) => h.detail?.startsWith(waitEntry)).length).toBeLessThanOrEqual(1);
      expect(s.waitingForTeamViewerQuotaUntil).toBeNull();
      expect(s.failure).toBeNull();
    }

    // TeamViewer's side: one session per request, and never more than 20 creates (or calls) in any 60 s.
    // The test's own probe (grantOf) is not the service's call.
    const calls = (await fake().calls()).filter((c) => c.grantId === grant && !c.query?.includes("probe="));
    const creates = calls.filter((c) => c.method === "POST" && c.path.toLowerCase() === "/api/v1/sessions");
    const tvSessions = (await fake().sessions()).filter((s) => s.custom_api !== undefined && done.some((d) => d.id === s.custom_api));
    expect(new Set(tvSessions.map((s) => s.custom_api)).size).toBe(count);
    expect(creates.filter((c) => !c.fault && c.status < 300)).toHaveLength(count);
    expect(busiestWindow(creates, 60_000)).toBeLessThanOrEqual(perMinute);
    expect(busiestWindow(calls, 60_000)).toBeLessThanOrEqual(perMinute);

    // The 429 emptied the bucket: after the first throttled answer only calls already on their
    // way were throttled, and the next call waited for the Retry-After.
    const throttled = creates.filter((c) => c.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    const firstThrottled = Date.parse(throttled[0].at);
    expect(throttled.every((c) => Date.parse(c.at) - firstThrottled < 2_000)).toBe(true);
    const firstAfter = calls
      .map((c) => Date.parse(c.at))
      .filter((t) => t > firstThrottled + 2_000)
      .sort((a, b) => a - b)[0];
    expect(firstAfter - firstThrottled).toBeGreaterThanOrEqual(4_000);
    // A throttled create created nothing, so its next attempt creates without looking for the
    // session first: no quota spent on lookups (they once pushed the last creates a window later).
    const lookups = calls.filter((c) => c.method === "GET" && c.path.toLowerCase() === "/api/v1/sessions");
    expect(lookups).toHaveLength(0);
    const longest = Math.max(...details.map((s) => Date.parse(s.history.find((h) => h.status === "awaitingEndUser")!.at) - Date.parse(s.requestedAt)));
    console.log(
      `${count} sessions at ${perMinute} calls/min: ${waited.length} waited for quota, longest request→awaitingEndUser ${(longest / 1000).toFixed(1)} s; ` +
        `${creates.length} creates at TeamViewer (${throttled.length} throttled), ${calls.length} calls in all, busiest minute ${busiestWindow(creates, 60_000)}`,
    );
  }, 480_000);

  it("POST /api/connector/verify answers 429 rateLimited with Retry-After when the quota has no room, and records nothing", async () => {
    // Prepare: one call a minute, spent by the onboarding's GET /account.
    const tenant = await newTenant({ teamViewerCallsPerMinute: 1 });
    await onboard(tenant);
    const before = (await api<{ lastConnectionDateTime: string | null }>("/connector", { token: tenant.admin })).body;

    // Act
    const res = await api<{ code: string; status: number; detail: string }>("/connector/verify", { method: "POST", token: tenant.admin });

    // Assess
    expect(res.status, res.text).toBe(429);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body.code).toBe("rateLimited");
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 61).toBe(true);
    const after = (await api<{ lastConnectionDateTime: string | null }>("/connector", { token: tenant.admin })).body;
    expect(after.lastConnectionDateTime).toBe(before.lastConnectionDateTime);
  });
});
