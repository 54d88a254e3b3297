// The approval rule where the creation worker meets a request, in memory: a request that
// needed no approval when it was made, and whose device needs one by the time the worker
// would take it to TeamViewer (the device moved into a tag that needs approval, or the tenant
// added its tag to approvalRequiredScopeTags), does not go on without a second person.
import { beforeEach, describe, expect, it } from "vitest";
import { followDeviceScope } from "../../shared/domain/session.js";
import { SessionWorkerWorld, tenantId } from "../support/sessionWorkerHarness.js";

let world: SessionWorkerWorld;
beforeEach(() => {
  world = new SessionWorkerWorld();
});

describe("a request that needed no approval, when the worker reaches it", () => {
  it("fails when the tenant has since added one of its device's tags to approvalRequiredScopeTags, never reaching TeamViewer", async () => {
    // Prepare: requested for a device tagged "0"; ten minutes later (waiting for the quota) the tenant makes "0" need approval
    const s = await world.request({}, 60);
    world.clock.advance(10 * 60_000);
    world.approvalScopeTags = ["0"];

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    expect(world.session(s.id)).toMatchObject({ status: "failed", failure: { code: "deviceNotEligible", message: expect.stringMatching(/approval/) } });
    expect(world.teamViewer.sessions).toEqual([]);
    expect(world.push.pushed).toEqual([]);
  });

  it("fails when its device has since moved into a tag that needs approval, never reaching TeamViewer", async () => {
    // Prepare: the tenant's rule names "finance"; the request's device had only "0", then the inventory moved it to "finance"
    world.approvalScopeTags = ["finance"];
    const s = await world.request({}, 60);
    const moved = world.clock.advance(60_000);
    const following = followDeviceScope(world.session(s.id), { roleScopeTagIds: ["finance"], updatedAt: moved.toISOString() }, moved)!;
    await world.store.update((await world.store.get(tenantId, s.id))!, following, []);

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    expect(world.session(s.id)).toMatchObject({ status: "failed", failure: { code: "deviceNotEligible" } });
    expect(world.teamViewer.sessions).toEqual([]);
    expect(world.push.pushed).toEqual([]);
  });

  it("goes on when it was approved: the approval is the second person", async () => {
    // Prepare: a request that needed approval and got it
    world.approvalScopeTags = ["0"];
    const s = await world.request({ approval: { required: true, decision: null } });

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    expect(world.session(s.id).status).toBe("awaitingEndUser");
    expect(world.teamViewer.sessions).toHaveLength(1);
  });
});
