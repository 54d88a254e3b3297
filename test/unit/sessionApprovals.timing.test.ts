// Approving and denying against the clock, in memory: a decision is made within the approval
// timeout or not at all, however long the reads before its write take.
import { beforeEach, describe, expect, it } from "vitest";
import { Access } from "../../shared/app/access.js";
import type { SettingsStore } from "../../shared/app/admin/ports.js";
import { SessionApprovals } from "../../shared/app/sessions/sessionApprovals.js";
import { SessionExpiry } from "../../shared/app/sessions/expiry.js";
import { sessionMessageIds } from "../../shared/app/sessions/sessionMessages.js";
import type { UserCaller } from "../../shared/domain/caller.js";
import type { Session } from "../../shared/domain/session.js";
import { defaultTenantSettings } from "../../shared/domain/tenantSettings.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

const unused = (): never => {
  throw new Error("not used by approvals");
};
const approver: UserCaller = { type: "user", tenantId, userId: "ap-1", displayName: "Finance Approver", roles: ["RemoteAssistance.Approve"], groups: [] };

let world: SessionWorkerWorld;
/** How long the settings read takes (the clock moves on while it runs). */
let settingsReadMs: number;
let approvals: SessionApprovals;
beforeEach(() => {
  world = new SessionWorkerWorld();
  settingsReadMs = 0;
  const settings: SettingsStore = {
    get: async () => {
      world.clock.advance(settingsReadMs);
      return defaultTenantSettings;
    },
    update: unused,
  };
  approvals = new SessionApprovals({
    writer: world.writer,
    access: new Access({ list: async () => [], get: unused, put: unused, delete: unused }, { get: async () => undefined }),
    settings,
    expiry: new SessionExpiry({ writer: world.writer, audit: world.audit, clock: world.clock }),
    audit: world.audit,
    clock: world.clock,
  });
});

const pendingApproval: Partial<Session> = { status: "pendingApproval", approval: { required: true, decision: null } };

describe("an approval that reaches its write after the approval timeout ran out", () => {
  it("is refused and sends nothing to TeamViewer, though the request was still waiting when it was read", async () => {
    // Prepare: a request one second before its deadline; the settings read takes two.
    const s = await world.request(pendingApproval);
    world.clock.set(new Date(Date.parse(s.expiresAt) - 1_000));
    settingsReadMs = 2_000;

    // Act
    const answer = await approvals.decide(approver, s.id, "approve", undefined, { log: world.log }).then(
      () => "approved",
      (e: { code: string }) => e.code,
    );

    // Assess
    expect(answer).toBe("conflict");
    expect(world.session(s.id).status).not.toBe("requested");
    expect(world.session(s.id).approval?.decision).toBeNull();
    expect(world.bus.sent.filter((m) => m.id === sessionMessageIds.create(s.id))).toEqual([]);
  });
});
