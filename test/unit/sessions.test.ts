// The pure parts of the sessions area: row keys, message ids, the claim rule, retry
// delays, what a session shows to admins and to TeamViewer, and the report arithmetic.
import { decodeTime, ulid } from "ulid";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { openRowKey, sessionRowKey } from "../../shared/adapters/tables/tableSessionStore.js";
import { buildReport, median } from "../../shared/app/sessions/sessionAdministration.js";
import { buildSession } from "../../shared/app/sessions/newSession.js";
import { nameBasedUuid, sessionMessageIds } from "../../shared/app/sessions/sessionMessages.js";
import { createRetryPolicy, decideClaim, retryDelayMs } from "../../shared/app/sessions/retryPolicy.js";
import { teamViewerRequest } from "../../shared/app/sessions/teamViewerSessions.js";
import { toSessionResource } from "../../shared/app/sessions/sessionView.js";
import { sessionReportQuery } from "../../shared/contracts/sessions.js";
import { applyEvent, initialWorkerState, type Session } from "../../shared/domain/session.js";
import type { Device } from "../../shared/domain/device.js";
import { evaluateEligibility } from "../../shared/domain/eligibility.js";

const device = (over: Partial<Device> = {}): Device => ({
  tenantId: "t1",
  id: "d1",
  deviceName: "DIEGO-LAPTOP",
  operatingSystem: "Windows",
  osVersion: "10.0.26100",
  managedDeviceOwnerType: "personal",
  deviceEnrollmentType: "windowsAzureADJoin",
  userId: "u1",
  userPrincipalName: "diego@contoso.example",
  userDisplayName: "Diego Siciliani",
  emailAddress: "diego@contoso.example",
  roleScopeTagIds: ["0"],
  removed: false,
  updatedAt: "2026-11-20T08:00:00.000Z",
  ...over,
});

const requestedAt = new Date("2026-11-23T10:00:00.000Z");

const session = (over: { device?: Partial<Device>; at?: Date; id?: string } = {}): Session => {
  const d = device(over.device);
  const at = over.at ?? requestedAt;
  return buildSession({
    tenantId: "t1",
    id: over.id ?? ulid(at.getTime()),
    deviceId: d.id,
    device: d,
    eligibility: evaluateEligibility(d, { allowPossiblyUnsupportedWindowsEditions: false }),
    requestedBy: { id: "a1", displayName: "Adele Vance", type: "user" },
    description: "Outlook keeps crashing",
    now: at,
    timeoutMinutes: 60,
  });
};

describe("session row keys", () => {
  it("are computed from the id alone, and sort newest first", () => {
    // Prepare
    const older = ulid(Date.parse("2026-01-01T00:00:00Z"));
    const newer = ulid(Date.parse("2026-06-01T00:00:00Z"));
    // Act
    const keys = [sessionRowKey(older), sessionRowKey(newer)].sort();
    // Assess
    expect(keys).toEqual([sessionRowKey(newer), sessionRowKey(older)]);
    expect(sessionRowKey(older)).toBe(sessionRowKey(older));
    expect(sessionRowKey(newer).endsWith(`|${newer}`)).toBe(true);
  });

  it("index open sessions by deadline, accepted ones last, and closed ones not at all", () => {
    // Prepare
    const s = session();
    // Act + Assess
    expect(openRowKey(s)).toBe(`open|${String(Date.parse(s.expiresAt)).padStart(13, "0")}|${s.id}`);
    expect(openRowKey({ ...s, status: "accepted" })).toBe(`open|9999999999999|${s.id}`);
    expect(openRowKey({ ...s, status: "closed" })).toBeUndefined();
    expect(openRowKey({ ...s, status: "failed" })).toBeUndefined();
  });
});

describe("message ids", () => {
  it("are valid UUIDs, stable for the same command, different for a new attempt", () => {
    // Prepare
    const id = ulid();
    // Act
    const ids = [
      sessionMessageIds.create(id),
      sessionMessageIds.create(id, 1),
      sessionMessageIds.create(id, 2),
      sessionMessageIds.close(id),
      sessionMessageIds.notification(id, 0),
      sessionMessageIds.notification(id, 1),
    ];
    // Assess
    for (const m of ids) expect(z.uuid().safeParse(m).success, m).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(sessionMessageIds.create(id)).toBe(sessionMessageIds.create(id));
    expect(nameBasedUuid("x")).not.toBe(nameBasedUuid("y"));
  });
});

describe("the claim rule", () => {
  const now = new Date("2026-11-23T10:00:00Z");
  const held = { claimId: "c1", claimedUntil: "2026-11-23T10:01:00.000Z", claimMessageId: "m1", claimDelivery: 1 };

  it.each([
    ["nobody holds it", { ...held, claimId: null, claimedUntil: null }, "m2", 1, "take"],
    ["the lease ran out", { ...held, claimedUntil: "2026-11-23T09:59:59.000Z" }, "m2", 1, "take"],
    ["a redelivery of the holding message (the holder is gone)", held, "m1", 2, "take"],
    ["the same delivery again", held, "m1", 1, "busy"],
    ["another message while the lease lasts", held, "m2", 5, "busy"],
  ] as const)("%s → %s", (_label, worker, messageId, delivery, expected) => {
    // Act
    const decision = decideClaim(worker, now, messageId, delivery);
    // Assess
    expect(decision.kind).toBe(expected);
    if (decision.kind === "busy") expect(decision.until.toISOString()).toBe(held.claimedUntil);
  });
});

describe("retry delays", () => {
  it("honour Retry-After, with a little jitter", () => {
    expect(retryDelayMs(0, 5_000, () => 0)).toBe(5_000);
    expect(retryDelayMs(3, 5_000, () => 0.999)).toBeLessThan(5_000 + createRetryPolicy.retryAfterJitterMs);
  });

  it("back off exponentially with equal jitter, capped", () => {
    // Act
    const low = [0, 1, 2, 3].map((r) => retryDelayMs(r, undefined, () => 0));
    const high = [0, 1, 2, 3].map((r) => retryDelayMs(r, undefined, () => 1));
    // Assess
    expect(low).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(high).toEqual([2_000, 4_000, 8_000, 16_000]);
    expect(retryDelayMs(50, undefined, () => 1)).toBe(createRetryPolicy.maxDelayMs);
  });
});

describe("a new session", () => {
  it("starts requested, with a history entry, an expiry and a pending notification for the primary user", () => {
    // Act
    const s = session();
    // Assess
    expect(s.status).toBe("requested");
    expect(s.history).toEqual([{ status: "requested", at: requestedAt.toISOString(), detail: "Requested by Adele Vance." }]);
    expect(s.expiresAt).toBe("2026-11-23T11:00:00.000Z");
    expect(s.endUser).toEqual({ id: "u1", displayName: "Diego Siciliani", email: "diego@contoso.example" });
    expect(s.endUserNotification).toEqual({ channel: "companyPortal", status: "pending", dispatches: 0 });
    expect(decodeTime(s.id)).toBe(requestedAt.getTime());
  });

  it("for a userless device cannot notify anyone and says so", () => {
    // Act
    const s = session({ device: { deviceEnrollmentType: "windowsBulkUserless", userId: null, userDisplayName: null, emailAddress: null } });
    // Assess
    expect(s.endUser).toBeNull();
    expect(s.endUserNotification.status).toBe("notSupported");
    expect(s.warnings.join(" ")).toMatch(/no primary user/);
  });
});

describe("what admins see", () => {
  const created = (s: Session): Session => ({
    ...applyEvent(s, "teamViewerSessionCreated", new Date(requestedAt.getTime() + 2_000)),
    teamViewer: { code: "s12-345-678", supporterLink: "https://tv/s/supporter", validUntil: s.expiresAt, groupId: "g1", closedAt: null },
    endUserLink: "https://tv/s/enduser",
    worker: { ...initialWorkerState, createAttempts: 1 },
  });

  it("keeps the end-user link from admins when the user is notified in the Company Portal", () => {
    // Act
    const view = toSessionResource(created(session()));
    // Assess
    expect(view.endUserLink).toBeUndefined();
    expect(view.teamViewer).toEqual({ code: "s12-345-678", supporterLink: "https://tv/s/supporter", validUntil: "2026-11-23T11:00:00.000Z" });
    expect(view.status).toBe("awaitingEndUser");
    expect(Object.keys(view)).not.toContain("worker");
  });

  it("gives the end-user link when the user cannot be notified", () => {
    // Act
    const view = toSessionResource(created(session({ device: { userId: null } })));
    // Assess
    expect(view.endUserLink).toBe("https://tv/s/enduser");
    expect(view.endUserNotification.status).toBe("notSupported");
  });
});

describe("what TeamViewer is told", () => {
  it("carries the session id, the tenant's group, the device, the requester and the end customer within TeamViewer's limits", () => {
    // Prepare
    const s = session({ device: { userDisplayName: "D".repeat(150) } });
    // Act
    const r = teamViewerRequest(s);
    // Assess
    expect(r.customApi).toBe(s.id);
    expect(r.groupName).toBe("Remote assistance t1");
    expect(r.description).toContain("DIEGO-LAPTOP");
    expect(r.description).toContain("Adele Vance");
    expect(r.description).toContain("Outlook keeps crashing");
    expect(r.endCustomer?.name).toHaveLength(100);
    expect(r.endCustomer?.email).toBe("diego@contoso.example");
    expect(r.validUntil.toISOString()).toBe(s.expiresAt);
  });

  it("cuts the end customer's name before an emoji its 100-character limit falls in, not inside it", () => {
    // Prepare: the name's 100th and 101st UTF-16 units are one emoji.
    const s = session({ device: { userDisplayName: `${"D".repeat(99)}\u{1F600} Siciliani` } });
    // Act
    const r = teamViewerRequest(s);
    // Assess: no unpaired surrogate is sent to TeamViewer
    expect(r.endCustomer?.name).toBe("D".repeat(99));
  });

  it("leaves out an email TeamViewer would refuse", () => {
    const r = teamViewerRequest(session({ device: { emailAddress: "not an email" } }));
    expect(r.endCustomer).toEqual({ name: "Diego Siciliani" });
  });
});

describe("the sessions report", () => {
  it("counts by status, platform and requester, with the median time to accept", () => {
    // Prepare
    const base = session();
    const accepted = (seconds: number, id: string): Session => ({
      ...base,
      id,
      status: "accepted",
      endUserResponse: { response: "accepted", at: new Date(requestedAt.getTime() + seconds * 1000).toISOString() },
    });
    const sessions: Session[] = [
      accepted(30, "a"),
      accepted(90, "b"),
      accepted(60, "c"),
      { ...base, id: "d", status: "declined" },
      {
        ...base,
        id: "e",
        status: "failed",
        device: { ...base.device, platform: "iOS" },
        requestedBy: { id: "auto", displayName: "Help desk bot", type: "automation" },
      },
    ];
    // Act
    const r = buildReport(sessions, new Date("2026-11-01T00:00:00Z"), new Date("2026-12-01T00:00:00Z"));
    // Assess
    expect(r.total).toBe(5);
    expect(r.byStatus).toMatchObject({ accepted: 3, declined: 1, failed: 1, requested: 0 });
    expect(r.byPlatform).toEqual({ windows: 4, iOS: 1 });
    expect(r.byRequester).toEqual([
      { id: "a1", displayName: "Adele Vance", type: "user", count: 4 },
      { id: "auto", displayName: "Help desk bot", type: "automation", count: 1 },
    ]);
    expect(r.accepted).toBe(3);
    expect(r.medianTimeToAcceptSeconds).toBe(60);
  });

  it("has no median without acceptances, and averages the middle two of an even count", () => {
    expect(median([])).toBeNull();
    expect(median([10, 40, 20, 30])).toBe(25);
  });
});

describe("the session report's range", () => {
  const parse = (q: Record<string, string>) => sessionReportQuery.safeParse(q);
  const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

  it("refuses a from after to, whether to is given or is now by default", () => {
    expect(parse({ from: iso(-1000), to: iso(-2000) }).success).toBe(false);
    const future = parse({ from: iso(3_600_000) });
    expect(future.success).toBe(false);
    expect(future.error?.issues[0]).toMatchObject({ path: ["from"], message: "from must be before to (default now)" });
  });

  it("takes a from in the past alone, and a pair in order", () => {
    expect(parse({ from: iso(-3_600_000) }).success).toBe(true);
    expect(parse({ from: iso(-7_200_000), to: iso(-3_600_000) }).success).toBe(true);
    expect(parse({}).success).toBe(true);
  });
});
