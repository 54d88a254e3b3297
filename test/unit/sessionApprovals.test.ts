// Approving and denying at its ports, in memory: what an approver learns about a session
// by trying to decide it. Approve is tenant-wide over the requests that need approval;
// any other session the approver may not read answers exactly like one that does not exist.
import { beforeEach, describe, expect, it } from "vitest";
import { ulid } from "ulid";
import { Access } from "../../shared/app/access.js";
import type { SettingsStore } from "../../shared/app/admin/ports.js";
import { SessionApprovals, type ApprovalDecisionKind } from "../../shared/app/sessions/sessionApprovals.js";
import { SessionExpiry } from "../../shared/app/sessions/expiry.js";
import type { UserCaller } from "../../shared/domain/caller.js";
import type { Session } from "../../shared/domain/session.js";
import { defaultTenantSettings, maxApprovalTimeoutMinutes } from "../../shared/domain/tenantSettings.js";
import { SessionAdministration } from "../../shared/app/sessions/sessionAdministration.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const unused = (): never => {
  throw new Error("not used by approvals");
};
const approverOnly: UserCaller = { type: "user", tenantId, userId: "ap-1", displayName: "Finance Approver", roles: ["RemoteAssistance.Approve"], groups: [] };
const approverWhoReads: UserCaller = { ...approverOnly, userId: "ap-2", roles: ["RemoteAssistance.Approve", "RemoteAssistance.Request"] };

let world: SessionWorkerWorld;
let approvals: SessionApprovals;
beforeEach(() => {
  world = new SessionWorkerWorld();
  const settings: SettingsStore = { get: async () => defaultTenantSettings, update: unused };
  approvals = new SessionApprovals({
    writer: world.writer,
    access: new Access({ list: async () => [], get: unused, put: unused, delete: unused }, { get: async () => undefined }),
    settings,
    expiry: new SessionExpiry({ writer: world.writer, audit: world.audit, clock: world.clock }),
    audit: world.audit,
    clock: world.clock,
  });
});

/** The problem a decision answers (as the HTTP layer maps it: code and detail). */
async function attempt(caller: UserCaller, sessionId: string, kind: ApprovalDecisionKind): Promise<{ code: string; detail: string }> {
  return approvals.decide(caller, sessionId, kind, undefined, { log: world.log }).then(
    () => ({ code: "ok", detail: "" }),
    (e: { code: string; detail: string }) => ({ code: e.code, detail: e.detail }),
  );
}

const awaitingEndUser: Partial<Session> = { status: "awaitingEndUser" };
const pendingApproval: Partial<Session> = { status: "pendingApproval", approval: { required: true, decision: null } };

describe("deciding a session the approver may not read", () => {
  it("that needed no approval answers like a missing one, for its own requester too, and changes nothing", async () => {
    // Prepare
    const s = await world.request(awaitingEndUser);
    const ownRequest = await world.request({ ...awaitingEndUser, requestedBy: { id: approverOnly.userId, displayName: "Finance Approver", type: "user" } });
    const missing = await attempt(approverOnly, ulid(), "deny");

    // Act
    const denied = await attempt(approverOnly, s.id, "deny");
    const approved = await attempt(approverOnly, s.id, "approve");
    const own = await attempt(approverOnly, ownRequest.id, "deny");

    // Assess
    expect(missing).toEqual({ code: "notFound", detail: expect.any(String) });
    expect(denied).toEqual(missing);
    expect(approved).toEqual(missing);
    expect(own).toEqual(missing);
    expect(world.session(s.id).status).toBe("awaitingEndUser");
    expect(world.audit.events).toEqual([]);
  });

  it("waiting for approval is theirs to decide", async () => {
    // Prepare
    const s = await world.request(pendingApproval);

    // Act
    const denied = await attempt(approverOnly, s.id, "deny");

    // Assess
    expect(denied.code).toBe("ok");
    expect(world.session(s.id)).toMatchObject({ status: "denied", approval: { decision: { decision: "denied", by: { id: approverOnly.userId } } } });
  });

  it("that needed approval and was decided is a conflict that does not name its status", async () => {
    // Prepare
    const s = await world.request(pendingApproval);
    await attempt(approverOnly, s.id, "approve");

    // Act
    const again = await attempt(approverOnly, s.id, "approve");

    // Assess
    expect(again.code).toBe("conflict");
    expect(again.detail).not.toContain(world.session(s.id).status);
  });
});

describe("deciding a session the approver may read", () => {
  it("that is not waiting for approval is a conflict naming its status", async () => {
    // Prepare
    const s = await world.request(awaitingEndUser);

    // Act
    const denied = await attempt(approverWhoReads, s.id, "deny");

    // Assess
    expect(denied).toEqual({ code: "conflict", detail: "Only a request waiting for approval can be denied; this one is awaitingEndUser." });
  });
});

describe("a decision's comment where the history and the audit log cut it", () => {
  it("is cut before a character, never inside one: no half of an emoji is stored", async () => {
    // Prepare: the comment's 199th and 200th UTF-16 units are one emoji, where a 200-character cut falls.
    const s = await world.request(pendingApproval);
    const comment = `${"a".repeat(198)}\u{1F600}${"b".repeat(250)}`;
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

    // Act
    await approvals.decide(approverOnly, s.id, "deny", comment, { log: world.log });

    // Assess
    const stored = world.session(s.id);
    const texts = [...stored.history.map((h) => h.detail ?? ""), ...world.audit.events.map((e) => e.detail ?? "")];
    expect(texts.filter((t) => loneSurrogate.test(t))).toEqual([]);
    expect(texts.some((t) => t.includes(`${"a".repeat(198)}…`))).toBe(true);
  });
});

describe("the approval queue (GET /api/sessions?status=pendingApproval)", () => {
  it("lists the requests that can still be waiting and ends there, whatever older history is behind them", async () => {
    // Prepare: a request left pendingApproval past any approval timeout (the timer was down), then a fresh one.
    const administration = new SessionAdministration({
      writer: world.writer,
      access: new Access({ list: async () => [], get: unused, put: unused, delete: unused }, { get: async () => undefined }),
      devices: { get: async () => undefined },
      expiry: new SessionExpiry({ writer: world.writer, audit: world.audit, clock: world.clock }),
      audit: world.audit,
      clock: world.clock,
      resendMinIntervalSeconds: 60,
    });
    const stale = await world.request(pendingApproval);
    world.clock.advance((maxApprovalTimeoutMinutes + 61) * 60_000);
    const fresh = await world.request(pendingApproval);

    // Act
    const queue = await administration.list(approverOnly, { status: "pendingApproval", top: 100 });

    // Assess
    expect(queue.value.map((s) => s.id)).toEqual([fresh.id]);
    expect(queue.continuationToken).toBeUndefined();
    expect(stale.status).toBe("pendingApproval");
  });
});
