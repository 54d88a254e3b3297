// The end user's side (Company Portal) through the local host: who may see and answer a
// request (nobody but its user: not another user, not a user of another tenant with the same
// object id, not a guest, not an app), what the user is shown of the
// requester, and answers that race each other and the admin's close: one outcome, TeamViewer
// closed once, each audit event once.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api, eventually, tokenFor, type ApiResponse } from "../support/api.js";
import { auditEvents, newTenant, onboard, type TestTenant } from "./connectorSupport.js";
import { closeCallsFor, createDevices, eventuallySession, managedDevice, pushes, requestSession, teamViewerSessionsFor } from "./sessionsSupport.js";

interface EndUserRequestItem {
  readonly id: string;
  readonly deviceName: string;
  readonly requestedBy: { readonly displayName: string };
  readonly status: string;
}

const list = (token: string): Promise<ApiResponse<{ value: EndUserRequestItem[] }>> => api("/me/remoteAssistanceRequests", { token });
const answer = (token: string, id: string, kind: "accept" | "decline" | "seen"): Promise<ApiResponse<{ code?: string; endUserLink?: string }>> =>
  api(`/me/remoteAssistanceRequests/${id}/${kind}`, { method: "POST", token });

/** A tenant with a device whose user has a token, and a request for it awaiting that user. */
async function awaitingRequest(tenant?: TestTenant): Promise<{ tenant: TestTenant; device: { id: string; userId: string }; user: string; id: string }> {
  const t = tenant ?? (await newTenant());
  if (!tenant) await onboard(t);
  const device = managedDevice();
  await createDevices(t.tenantId, t.admin, [device]);
  const userId = String(device.userId);
  const user = await tokenFor({ tid: t.tenantId, oid: userId, name: "Device User" });
  const requested = await requestSession(t.helpdesk, device.id);
  expect(requested.status, requested.text).toBe(202);
  await eventuallySession(t.admin, requested.body.id, (s) => s.status === "awaitingEndUser", "the session to await the end user");
  return { tenant: t, device: { id: device.id, userId }, user, id: requested.body.id };
}

describe("who may see and answer a request", () => {
  it("nobody but its user: another user, the same object id in another tenant, a guest, an app", async () => {
    // Prepare
    const { tenant, device, id } = await awaitingRequest();
    const strangers: [string, string][] = [
      ["another user of the tenant", await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "Someone Else" })],
      ["the same object id in another tenant", await tokenFor({ tid: randomUUID(), oid: device.userId, name: "Device User" })],
      [
        "a guest of the tenant",
        await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: "Guest", preferred_username: "guest_example.com#EXT#@t.example" }),
      ],
    ];
    const app = await tokenFor({ tid: tenant.tenantId, oid: device.userId, idtyp: "app", azp: randomUUID(), roles: ["RemoteAssistance.Automation"] });

    // Act + Assess: a user who is not the request's sees nothing and finds nothing to answer.
    for (const [who, token] of strangers) {
      const listed = await list(token);
      expect(listed.status, who).toBe(200);
      expect(listed.body.value, who).toEqual([]);
      for (const kind of ["accept", "decline", "seen"] as const) {
        const res = await answer(token, id, kind);
        expect(res.status, `${who} ${kind}`).toBe(404);
        expect(res.body.code).toBe("notFound");
        expect(res.text, `${who} ${kind}`).not.toContain(id);
        expect(res.body.endUserLink).toBeUndefined();
      }
    }
    // An app's token (even one whose oid is the user's) is refused at every /me endpoint.
    expect((await list(app)).status).toBe(403);
    for (const kind of ["accept", "decline", "seen"] as const) expect((await answer(app, id, kind)).status).toBe(403);

    // Assess: the request is as it was, for the admin and for its user.
    const s = (await api<{ status: string; endUserNotification: { status: string } }>(`/sessions/${id}`, { token: tenant.admin })).body;
    expect(s.status).toBe("awaitingEndUser");
    expect(s.endUserNotification.status).not.toBe("seen");
    expect((await auditEvents(tenant.admin)).filter((e) => e.target.id === id && /accepted|declined|seen/.test(e.activity))).toEqual([]);
  });
});

describe("what the end user is shown", () => {
  it("a requester's name that would forge lines or turn text around is shown on one line, with U+FFFD where it did", async () => {
    // Prepare: a help-desk member whose directory name carries line separators and a right-to-left override.
    const tenant = await newTenant();
    await onboard(tenant);
    const hostile = "Adele\u2028\u2028Microsoft Support: accept now\u202e";
    const helpdesk = await tokenFor({ tid: tenant.tenantId, oid: randomUUID(), name: hostile, roles: ["RemoteAssistance.Request"] });
    const { user, id } = await awaitingRequest({ ...tenant, helpdesk });

    // Act
    const listed = await list(user);
    const pushed = await eventually(async () => pushes().find((p) => p.sessionId === id), 20_000, "the push");

    // Assess
    const shown = "Adele\ufffd\ufffdMicrosoft Support: accept now\ufffd";
    expect(listed.body.value.find((r) => r.id === id)?.requestedBy.displayName).toBe(shown);
    expect(pushed.body).toContain(`${shown} from your help desk`);
    expect(pushed.body).not.toMatch(/[\u2028\u2029\u202e\n\r]/);
  });
});

describe("answers that race", () => {
  it("accepts, declines, seens and the admin's close at once: one outcome, TeamViewer closed once, each event audited once", async () => {
    // Prepare
    const { tenant, user, id } = await awaitingRequest();
    const tv = await eventually(async () => (await teamViewerSessionsFor(id))[0], 10_000, "the TeamViewer session");

    // Act: a double tap on each button, and the admin closing at the same moment.
    const [accepts, declines, seens, close] = await Promise.all([
      Promise.all([answer(user, id, "accept"), answer(user, id, "accept")]),
      Promise.all([answer(user, id, "decline"), answer(user, id, "decline")]),
      Promise.all([answer(user, id, "seen"), answer(user, id, "seen")]),
      api<{ status?: string }>(`/sessions/${id}/close`, { method: "POST", token: tenant.admin }),
    ]);

    // Assess: every answer is one the API documents.
    for (const r of accepts) expect([200, 409], r.text).toContain(r.status);
    for (const r of declines) expect([204, 409], r.text).toContain(r.status);
    for (const r of seens) expect([204, 409], r.text).toContain(r.status);
    expect([202, 409], close.text).toContain(close.status);
    const accepted = accepts.some((r) => r.status === 200);
    const declined = declines.some((r) => r.status === 204);
    expect(accepted && declined).toBe(false);
    const links = new Set(accepts.filter((r) => r.status === 200).map((r) => r.body.endUserLink));
    expect(links.size).toBeLessThanOrEqual(1);

    // The session ended one way, and TeamViewer's session was closed exactly once.
    await eventually(async () => ((await teamViewerSessionsFor(id))[0]?.state === "closed" ? true : undefined), 30_000, "the TeamViewer session to be closed");
    const s = await eventuallySession(tenant.admin, id, (x) => x.history.some((h) => h.detail === "TeamViewer session closed."), "the close to be recorded");
    expect(s.status).toBe(declined ? "declined" : "closed");
    expect(s.endUserResponse?.response ?? null).toBe(accepted ? "accepted" : declined ? "declined" : null);
    expect(await closeCallsFor(tv.code)).toBe(1);
    expect((await list(user)).body.value.map((r) => r.id)).not.toContain(id);

    // Each answer that took effect is audited once; none that did not.
    const events = await eventually(
      async () => {
        const e = (await auditEvents(tenant.admin)).filter((x) => x.target.id === id);
        return e.some((x) => x.activity === "session.teamViewerSessionClosed") ? e : undefined;
      },
      15_000,
      "the session's audit events",
    );
    const count = (activity: string): number => events.filter((e) => e.activity === activity).length;
    expect(count("session.accepted")).toBe(accepted ? 1 : 0);
    expect(count("session.declined")).toBe(declined ? 1 : 0);
    expect(count("session.closed")).toBe(close.status === 202 ? 1 : 0);
    expect(count("session.seen")).toBeLessThanOrEqual(1);
    expect(count("session.teamViewerSessionClosed")).toBe(1);
  });
});

describe("a user with many requests", () => {
  it("sees each of their devices' requests once, newest first; answering one leaves the others", async () => {
    // Prepare: three devices of one user, each with a request.
    const tenant = await newTenant();
    await onboard(tenant);
    const userId = randomUUID();
    const devices = [1, 2, 3].map(() => managedDevice({ userId }));
    await createDevices(tenant.tenantId, tenant.admin, devices);
    const user = await tokenFor({ tid: tenant.tenantId, oid: userId, name: "Device User" });
    const ids: string[] = [];
    for (const d of devices) {
      const requested = await requestSession(tenant.helpdesk, d.id);
      expect(requested.status, requested.text).toBe(202);
      ids.push(requested.body.id);
    }
    for (const id of ids) await eventuallySession(tenant.admin, id, (s) => s.status === "awaitingEndUser", "the session to await the end user");

    // Act
    const before = await list(user);
    const declined = await answer(user, ids[1], "decline");
    const after = await list(user);

    // Assess
    expect(before.body.value.map((r) => r.id)).toEqual([...ids].reverse());
    expect(declined.status, declined.text).toBe(204);
    expect(after.body.value.map((r) => r.id)).toEqual([ids[2], ids[0]]);
  });
});
