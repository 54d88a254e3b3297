// The session worker's promise, exactly one TeamViewer session per request, tested at its
// ports (in-memory tables, Service Bus and TeamViewer; a manual clock): through claim
// takeovers, a crash between TeamViewer's answer and the save, a request that ended while
// TeamViewer was creating its session, and retries that run into the request's expiry.
import { beforeEach, describe, expect, it } from "vitest";
import { applyEvent, sessionFailureCodes } from "../../shared/domain/session.js";
import { systemActor } from "../../shared/domain/caller.js";
import { messageTypes } from "../../shared/contracts/messages.js";
import { faultPointNames, SimulatedCrash } from "../../shared/app/sessions/ports.js";
import { sessionCloseEntry, sessionMessageIds } from "../../shared/app/sessions/sessionMessages.js";
import { TeamViewerError } from "../../shared/app/teamViewerError.js";
import { dataOf, requestedSession, SessionWorkerWorld, teamViewerTimeoutMs, tenantId } from "../support/sessionWorkerHarness.js";
import { createMessage } from "../../shared/app/sessions/newSession.js";
import { reauthorizationRequired } from "../../shared/app/connector/connectorErrors.js";

const claimLeaseMs = teamViewerTimeoutMs * 4 + 10_000;

let world: SessionWorkerWorld;
beforeEach(() => {
  world = new SessionWorkerWorld();
});

describe("session.create", () => {
  it("creates one TeamViewer session that carries the session id in custom_api, and releases the claim", async () => {
    // Prepare
    const s = await world.request();

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    const after = world.session(s.id);
    expect(after.status).toBe("awaitingEndUser");
    expect(world.teamViewer.sessions).toHaveLength(1);
    expect(world.teamViewer.sessions[0]).toMatchObject({ customApi: s.id, open: true });
    expect(after.teamViewer?.code).toBe(world.teamViewer.sessions[0].code);
    expect(after.worker).toMatchObject({ claimId: null, claimedUntil: null, createAttempts: 1 });
    expect(world.teamViewer.callsOf("findOpenSessionByCustomApi")).toBe(0); // a first attempt has nothing to look for
    // The first notification went out from here: inbox entry, push, recorded by the save; no notification.send.
    expect(after.endUserNotification).toMatchObject({ status: "sent", sentAt: world.clock.now().toISOString() });
    expect(await world.inbox.list(tenantId, "u1")).toEqual([expect.objectContaining({ sessionId: s.id, deviceName: s.device.deviceName })]);
    expect(world.push.pushed).toEqual([expect.objectContaining({ tenantId, userId: "u1", sessionId: s.id })]);
    expect(world.messages(s.id, messageTypes.notificationSend)).toHaveLength(0);
    expect(world.audit.events.filter((e) => e.target.id === s.id).map((e) => e.activity)).toEqual([
      "session.teamViewerSessionCreated",
      "session.notificationSent",
    ]);
  });

  it("fails a request that waited for approval when its device was removed meanwhile, never calling TeamViewer", async () => {
    // Prepare: approved, but the inventory removed the device while it waited
    const s = await world.request({ approval: { required: true, decision: null } });
    world.removedDevices.add(s.deviceId);

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    const after = world.session(s.id);
    expect(after.status).toBe("failed");
    expect(after.failure?.code).toBe("deviceNotEligible");
    expect(world.teamViewer.calls).toEqual([]);
    expect(world.push.pushed).toEqual([]);
  });

  it("fails a request that waited for approval when its device got another primary user meanwhile, never calling TeamViewer", async () => {
    // Prepare: approved, but the inventory gave the device to someone else while it waited
    const s = await world.request({ approval: { required: true, decision: null } });
    world.reassignedDevices.set(s.deviceId, "someone-else");

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess: the user it was requested for no longer has the device, and the new one was not asked
    const after = world.session(s.id);
    expect(after.status).toBe("failed");
    expect(after.failure).toEqual({ code: "deviceNotEligible", message: expect.stringMatching(/another primary user/) });
    expect(world.teamViewer.calls).toEqual([]);
    expect(world.push.pushed).toEqual([]);
  });

  it("fails a request that waited minutes (for the quota, or a retry) when its device got another primary user meanwhile", async () => {
    // Prepare: no approval, but the request waited ten minutes before this delivery; the device changed hands meanwhile
    const s = await world.request({}, 60);
    world.clock.advance(10 * 60_000);
    world.reassignedDevices.set(s.deviceId, "someone-else");

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    expect(world.session(s.id)).toMatchObject({ status: "failed", failure: { code: "deviceNotEligible" } });
    expect(world.teamViewer.calls).toEqual([]);
    expect(world.push.pushed).toEqual([]);
  });

  it("does not read the device again for a request made seconds ago without approval", async () => {
    // Prepare: the inventory says the device changed hands, but the request was checked against it a moment ago
    const s = await world.request();
    world.reassignedDevices.set(s.deviceId, "someone-else");

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess: created as requested (the read is spared on the common path)
    expect(world.session(s.id).status).toBe("awaitingEndUser");
  });

  it("creates a request that waited for approval when its device still has the same primary user", async () => {
    // Prepare: approved; the inventory still gives the device to the user it was requested for
    const s = await world.request({ approval: { required: true, decision: null } });
    world.reassignedDevices.set(s.deviceId, s.endUser!.id);

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    expect(world.session(s.id).status).toBe("awaitingEndUser");
    expect(world.teamViewer.calls).toHaveLength(1);
  });

  it("deletes the session.create's outbox row with the write that fails a request whose device was removed while it waited", async () => {
    // Prepare: approved (approve writes session.create to the outbox, kept for the handler to delete), device removed meanwhile
    const pending = requestedSession(world.clock.now(), { approval: { required: true, decision: null } });
    await world.store.create(pending, [createMessage(pending, world.clock.now().toISOString(), undefined)]);
    world.removedDevices.add(pending.deviceId);

    // Act
    await world.worker().create(world.createContext(pending.id));

    // Assess: failed, and nothing left for the outbox timer to re-send a minute later
    expect(world.session(pending.id).status).toBe("failed");
    expect(world.store.outbox(tenantId).filter((o) => o.id === sessionMessageIds.create(pending.id))).toEqual([]);
  });

  it("leaves a first push that failed to the notification worker: pending, with notification.send, the inbox entry in", async () => {
    // Prepare
    const s = await world.request();
    world.push.failNext(new Error("Notification Hubs unreachable"));

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    const after = world.session(s.id);
    expect(after.status).toBe("awaitingEndUser");
    expect(after.endUserNotification.status).toBe("pending");
    expect(world.messages(s.id, messageTypes.notificationSend)).toHaveLength(1);
    expect(await world.inbox.list(tenantId, "u1")).toHaveLength(1);
    expect(world.audit.events.filter((e) => e.target.id === s.id).map((e) => e.activity)).toEqual(["session.teamViewerSessionCreated"]);
  });

  it("writes the inbox entry with the save that makes the session awaitingEndUser, not before", async () => {
    // Prepare
    const s = await world.requestReserved();
    let entriesWhenSaving = -1;
    world.store.beforeNextUpdate(async () => void (entriesWhenSaving = (await world.inbox.list(tenantId, "u1")).length));

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    expect(entriesWhenSaving).toBe(0);
    expect(await world.inbox.list(tenantId, "u1")).toEqual([expect.objectContaining({ sessionId: s.id })]);
  });

  it("pushes nothing when TeamViewer refuses, and the failed session leaves the inbox", async () => {
    // Prepare
    const s = await world.request();
    world.teamViewer.failNext("createSession", new TeamViewerError("badRequest", "POST /api/v1/sessions: 400", { status: 400 }));

    // Act
    await world.worker().create(world.createContext(s.id));

    // Assess
    expect(world.session(s.id).status).toBe("failed");
    expect(world.push.pushed).toHaveLength(0);
    expect(await world.inbox.list(tenantId, "u1")).toHaveLength(0);
  });

  describe("the claim a request reserved for its first session.create", () => {
    it("is used by that message's first delivery without a write of its own: the first write is the save, and it deletes the outbox row", async () => {
      // Prepare
      const s = await world.requestReserved();
      const firstWrites: string[] = [];
      world.store.beforeNextUpdate(async (_, next) => void firstWrites.push(next.status));

      // Act
      await world.worker().create(world.createContext(s.id));

      // Assess
      const after = world.session(s.id);
      expect(firstWrites).toEqual(["awaitingEndUser"]);
      expect(after.status).toBe("awaitingEndUser");
      expect(after.worker).toMatchObject({ claimId: null, claimedUntil: null, createAttempts: 1 });
      expect(world.teamViewer.callsOf("findOpenSessionByCustomApi")).toBe(0);
      expect(world.teamViewer.callsOf("createSession")).toBe(1);
      expect(world.store.outbox(tenantId).filter((o) => o.id === sessionMessageIds.create(s.id))).toEqual([]);
    });

    it("is taken over at once by the redelivery after a crash, which looks TeamViewer up and creates no second session", async () => {
      // Prepare
      const s = await world.requestReserved();
      world.faults.crashOnce(faultPointNames.afterTeamViewerCreate, s.id);
      await expect(world.worker().create(world.createContext(s.id))).rejects.toBeInstanceOf(SimulatedCrash);

      // Act
      await world.worker().create(world.createContext(s.id, { deliveryCount: 2 }));

      // Assess
      expect(world.teamViewer.callsOf("createSession")).toBe(1);
      expect(world.teamViewer.callsOf("findOpenSessionByCustomApi")).toBe(1);
      expect(world.session(s.id)).toMatchObject({ status: "awaitingEndUser", teamViewer: { code: world.teamViewer.sessions[0].code } });
    });

    it("is claimed as usual, looking up first, when too little of it is left for a TeamViewer call", async () => {
      // Prepare: the message waited in the queue until the reservation had 12 s left (a create may take 5 s, the save after it too).
      const s = await world.requestReserved();
      world.clock.advance(claimLeaseMs - 12_000);
      const firstWrites: string[] = [];
      world.store.beforeNextUpdate(async (_, next) => void firstWrites.push(`${next.status} ${next.worker.claimDelivery}`));

      // Act
      await world.worker().create(world.createContext(s.id));

      // Assess: a claim of its own (delivery 1), then the lookup, then the create.
      expect(firstWrites).toEqual(["requested 1"]);
      expect(world.teamViewer.calls.map((c) => c.operation)).toEqual(["findOpenSessionByCustomApi", "createSession"]);
      expect(world.session(s.id).status).toBe("awaitingEndUser");
    });

    it("keeps another message (a duplicate under another id) waiting while it is fresh", async () => {
      // Prepare
      const s = await world.requestReserved();

      // Act
      await world.worker().create(world.createContext(s.id, { messageId: sessionMessageIds.create(s.id, 1, "retry") }));

      // Assess
      expect(world.teamViewer.calls).toHaveLength(0);
      expect(world.session(s.id).status).toBe("requested");
      expect(world.messages(s.id, messageTypes.sessionCreate).map((m) => m.id)).toContain(sessionMessageIds.create(s.id, 1, `busy|${s.worker.claimId}`));
    });
  });

  describe("a claim left by a worker that stopped", () => {
    async function claimAndStop(): Promise<string> {
      const s = await world.request();
      // Key Vault is out: the attempt ends after the claim, before TeamViewer, and the message is redelivered later.
      world.tokens.failNext(new Error("Key Vault unreachable"));
      await expect(world.worker().create(world.createContext(s.id))).rejects.toThrow("Key Vault unreachable");
      return s.id;
    }

    it("keeps a duplicate message waiting while the claim is fresh: nothing is sent to TeamViewer, it looks again after the lease", async () => {
      // Prepare
      const id = await claimAndStop();
      const held = world.session(id).worker;
      const duplicate = { messageId: sessionMessageIds.create(id, 1, "retry"), deliveryCount: 1 };

      // Act
      await world.worker().create(world.createContext(id, duplicate));

      // Assess
      expect(world.teamViewer.calls).toHaveLength(0);
      expect(world.session(id).worker).toEqual(held);
      // One message per claim, however many duplicates meet it (its id is tied to the claim).
      const [again] = world.messages(id, messageTypes.sessionCreate);
      expect(again?.id).toBe(sessionMessageIds.create(id, 1, `busy|${held.claimId}`));
    });

    it("lets a second worker take over once the lease ran out; it looks for the session by custom_api before creating one", async () => {
      // Prepare
      const id = await claimAndStop();
      world.clock.advance(claimLeaseMs + 1);
      const other = { messageId: sessionMessageIds.create(id, 1, "retry"), deliveryCount: 1 };

      // Act
      await world.worker().create(world.createContext(id, other));

      // Assess
      const after = world.session(id);
      expect(after.status).toBe("awaitingEndUser");
      expect(after.worker).toMatchObject({ claimId: null, createAttempts: 2 });
      expect(world.teamViewer.callsOf("findOpenSessionByCustomApi")).toBe(1);
      expect(world.teamViewer.callsOf("createSession")).toBe(1);
    });

    it("lets the same message's redelivery take over at once: its earlier delivery is over", async () => {
      // Prepare
      const id = await claimAndStop();

      // Act
      await world.worker().create(world.createContext(id, { deliveryCount: 2 }));

      // Assess
      expect(world.session(id).status).toBe("awaitingEndUser");
      expect(world.teamViewer.sessions).toHaveLength(1);
    });
  });

  it("finds the session an attempt created before it crashed (by custom_api) and creates no second one", async () => {
    // Prepare
    const s = await world.request();
    world.faults.crashOnce(faultPointNames.afterTeamViewerCreate, s.id);
    await expect(world.worker().create(world.createContext(s.id))).rejects.toBeInstanceOf(SimulatedCrash);
    expect(world.session(s.id).status).toBe("requested"); // TeamViewer has the session; the table does not know

    // Act: Service Bus redelivers to another process
    await world.worker().create(world.createContext(s.id, { deliveryCount: 2 }));

    // Assess
    const after = world.session(s.id);
    expect(world.teamViewer.callsOf("createSession")).toBe(1);
    expect(world.teamViewer.sessions).toHaveLength(1);
    expect(after.status).toBe("awaitingEndUser");
    expect(after.teamViewer?.code).toBe(world.teamViewer.sessions[0].code);
    expect(after.history.at(-1)?.detail).toMatch(/found/);
    expect(world.audit.events.find((e) => e.activity === "session.teamViewerSessionCreated")).toMatchObject({
      activity: "session.teamViewerSessionCreated",
      detail: expect.stringMatching(/custom_api/),
    });
  });

  it("finds the session an attempt created in another TeamViewer group than the process knew, and creates no second one", async () => {
    // Prepare: the process learned the tenant's group from a first request; then the group
    // changed at TeamViewer (deleted and made again, or the connector now signs in to another
    // account), and the next request's create timed out after TeamViewer had made the session.
    const worker = world.worker();
    const first = await world.request();
    await worker.create(world.createContext(first.id));
    const s = await world.request({ deviceId: "d-other" });
    world.teamViewer.onCreated = async (created) => {
      world.teamViewer.onCreated = undefined;
      Object.assign(created, { groupId: "g-made-again" });
      throw new TeamViewerError("timeout", "POST /sessions: TeamViewer did not answer within 5000 ms.");
    };
    await worker.create(world.createContext(s.id));
    const [retry] = world.messages(s.id, messageTypes.sessionCreate);

    // Act: the re-scheduled create, in the same process
    await worker.create(world.createContext(s.id, { messageId: retry!.id }));

    // Assess
    expect(world.teamViewer.sessions.filter((t) => t.customApi === s.id)).toHaveLength(1);
    expect(world.session(s.id)).toMatchObject({ status: "awaitingEndUser", teamViewer: { groupId: "g-made-again" } });
  });

  it("closes at TeamViewer a session created while the request was closed (the orphan is recorded and closed, not left open)", async () => {
    // Prepare: an admin closes the request while TeamViewer is creating its session
    const s = await world.request();
    world.teamViewer.onCreated = async () => {
      const now = world.clock.now();
      await world.writer.change(
        tenantId,
        s.id,
        (cur) => {
          const next = { ...applyEvent(cur, "close", now, "Closed by an admin."), closedBy: systemActor, closeReason: "admin" as const };
          return { next, outbox: [sessionCloseEntry(next, { reason: "admin" }, { now, correlationId: undefined })] };
        },
        world.log,
      );
    };

    // Act
    await world.worker().create(world.createContext(s.id));
    const tv = world.teamViewer.sessions[0];
    const closes = world.messages(s.id, messageTypes.sessionClose);
    for (const m of closes) await world.worker().close(world.closeContext(s.id, dataOf(m).reason!, { messageId: m.id }));

    // Assess
    expect(closes.map((m) => m.id)).toContain(sessionMessageIds.close(s.id, `orphan|${tv.code}`));
    const after = world.session(s.id);
    expect(after.status).toBe("closed");
    expect(after.teamViewer).toMatchObject({ code: tv.code, closedAt: world.clock.now().toISOString() });
    expect(tv.open).toBe(false);
    expect(world.teamViewer.callsOf("closeSession")).toBe(1);
  });

  describe("a transient TeamViewer failure", () => {
    const unavailable = (): TeamViewerError => new TeamViewerError("serverError", "POST /api/v1/sessions: 503", { status: 503 });

    it("re-schedules the creation with backoff under a new message id", async () => {
      // Prepare
      const s = await world.request();
      world.teamViewer.failNext("createSession", unavailable());

      // Act
      await world.worker().create(world.createContext(s.id));

      // Assess
      const after = world.session(s.id);
      expect(after.status).toBe("requested");
      expect(after.worker).toMatchObject({ retries: 1, claimId: null, lastError: expect.stringMatching(/503/) });
      const [retry] = world.messages(s.id, messageTypes.sessionCreate);
      expect(retry?.id).toBe(sessionMessageIds.create(s.id, 1, "retry"));
      // Its outbox row (kept for the handler to delete) says when: half the first 2 s step.
      const row = world.store.outbox(tenantId).find((o) => o.id === retry?.id);
      expect(row?.notBefore).toBe(new Date(world.clock.now().getTime() + 1_000).toISOString());
    });

    it("expires the request instead of retrying when the retry arrives after the expiry, and has TeamViewer looked at for a session", async () => {
      // Prepare
      const s = await world.request({}, 5);
      world.teamViewer.failNext("createSession", unavailable());
      await world.worker().create(world.createContext(s.id));
      const [retry] = world.messages(s.id, messageTypes.sessionCreate);
      world.clock.set(s.expiresAt);

      // Act
      await world.worker().create(world.createContext(s.id, { messageId: retry!.id }));

      // Assess
      const after = world.session(s.id);
      expect(after.status).toBe("expired");
      expect(after.closeReason).toBe("expired");
      expect(world.teamViewer.callsOf("createSession")).toBe(1); // only the failed attempt
      const closes = world.messages(s.id, messageTypes.sessionClose);
      expect(closes.map((m) => dataOf(m).reason)).toEqual(["expired"]);
      expect(world.audit.activities(tenantId)).toContain("session.expired");
    });

    it("believes a Retry-After of at most an hour: one past any date re-schedules an hour on instead of breaking the re-schedule", async () => {
      // Prepare: a 503 whose Retry-After (99999999999999999999 s) is past any date; a request of a day
      const s = await world.request({}, 24 * 60);
      world.teamViewer.failNext(
        "createSession",
        new TeamViewerError("serverError", "POST /sessions: TeamViewer answered 503.", { status: 503, retryAfterMs: 1e23 }),
      );

      // Act
      await world.worker().create(world.createContext(s.id));

      // Assess: an hour is well within the day, so it is re-scheduled for then.
      const [retry] = world.messages(s.id, messageTypes.sessionCreate);
      expect(retry?.notBefore?.getTime()).toBe(world.clock.now().getTime() + 60 * 60_000);
      expect(world.session(s.id)).toMatchObject({ status: "requested", worker: expect.objectContaining({ retries: 1 }) });
    });

    it("fails the request when the next try would come after its expiry", async () => {
      // Prepare: the request expires in 0.5 s; the first backoff is at least 1 s
      const s = await world.request({ expiresAt: new Date(world.clock.now().getTime() + 500).toISOString() });
      world.teamViewer.failNext("createSession", unavailable());

      // Act
      await world.worker().create(world.createContext(s.id));

      // Assess
      const after = world.session(s.id);
      expect(after.status).toBe("failed");
      expect(after.failure?.code).toBe(sessionFailureCodes.teamViewerUnavailable);
      expect(after.failure?.message).toMatch(/before the request would have expired/);
      expect(world.messages(s.id, messageTypes.sessionCreate)).toHaveLength(0);
      expect(world.messages(s.id, messageTypes.sessionClose).map((m) => dataOf(m).reason)).toEqual(["failed"]);
    });
  });
});

describe("session.close", () => {
  it("closes the TeamViewer session of an ended request once, however often the command arrives", async () => {
    // Prepare
    const s = await world.request();
    await world.worker().create(world.createContext(s.id));
    await world.writer.change(tenantId, s.id, (cur) => ({ next: applyEvent(cur, "close", world.clock.now()) }), world.log);

    // Act
    await world.worker().close(world.closeContext(s.id, "admin"));
    await world.worker().close(world.closeContext(s.id, "admin", { deliveryCount: 2 }));

    // Assess
    expect(world.teamViewer.sessions[0].open).toBe(false);
    expect(world.teamViewer.callsOf("closeSession")).toBe(1);
    expect(world.session(s.id).teamViewer?.closedAt).not.toBeNull();
  });

  it("audits the close of a session that was still open when the command came (an operator's), with or without TeamViewer", async () => {
    // Prepare: one request awaiting its user, one still waiting for its TeamViewer session
    const awaiting = await world.request();
    await world.worker().create(world.createContext(awaiting.id));
    const requested = await world.request({ deviceId: "d-other" });

    // Act
    await world.worker().close(world.closeContext(awaiting.id, "admin"));
    await world.worker().close(world.closeContext(requested.id, "admin"));

    // Assess: each status change is in the audit log, as every other close is.
    for (const s of [awaiting, requested]) {
      expect(world.session(s.id)).toMatchObject({ status: "closed", closeReason: "admin" });
      const closed = world.audit.events.filter((e) => e.target.id === s.id && e.activity === "session.closed");
      expect(closed).toEqual([expect.objectContaining({ result: "success", actor: expect.objectContaining({ type: "system" }) })]);
    }
  });

  it("says the connector must be authorized again, not that it is not onboarded, when TeamViewer refused its token", async () => {
    // Prepare: a session awaiting its user; then TeamViewer stops accepting the connector's token
    const s = await world.request();
    await world.worker().create(world.createContext(s.id));
    await world.writer.change(tenantId, s.id, (cur) => ({ next: applyEvent(cur, "close", world.clock.now()) }), world.log);
    world.tokens.failNext(reauthorizationRequired());

    // Act
    await world.worker().close(world.closeContext(s.id, "admin"));

    // Assess
    const detail = world.session(s.id).history.at(-1)?.detail ?? "";
    expect(detail).toMatch(/must be authorized again/);
    expect(detail).not.toMatch(/not onboarded/);
  });

  it("looks up by custom_api when an attempt was made but no code was saved, and closes what it finds", async () => {
    // Prepare: the attempt crashed after TeamViewer created the session; then the request was closed
    const s = await world.request();
    world.faults.crashOnce(faultPointNames.afterTeamViewerCreate);
    await expect(world.worker().create(world.createContext(s.id))).rejects.toBeInstanceOf(SimulatedCrash);
    await world.writer.change(tenantId, s.id, (cur) => ({ next: applyEvent(cur, "close", world.clock.now()) }), world.log);

    // Act
    await world.worker().close(world.closeContext(s.id, "admin"));

    // Assess
    expect(world.teamViewer.callsOf("findOpenSessionByCustomApi")).toBe(1);
    expect(world.teamViewer.sessions[0].open).toBe(false);
    expect(world.session(s.id).teamViewer).toMatchObject({ code: world.teamViewer.sessions[0].code });
  });
});
