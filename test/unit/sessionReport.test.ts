// GET /api/reports/sessions reads every session in its range (up to 400 days): a tenant with
// a year of sessions must not have them all held in memory at once. The report keeps only
// what it counts. Seen here without measuring memory: a store that hands out ONE object,
// rewritten for each row it reads, still gets the right counts; a report that kept the
// sessions to count them at the end would count the last row over and over.
import { describe, expect, it } from "vitest";
import { Access } from "../../shared/app/access.js";
import { SessionAdministration } from "../../shared/app/sessions/sessionAdministration.js";
import { SessionExpiry } from "../../shared/app/sessions/expiry.js";
import { SessionWriter } from "../../shared/app/sessions/sessionWriter.js";
import type { SessionStore } from "../../shared/app/sessions/ports.js";
import type { UserCaller } from "../../shared/domain/caller.js";
import type { Session } from "../../shared/domain/session.js";
import { ManualClock, MemoryAuditLog, MemoryMessageBus } from "../support/memoryPorts.js";
import { requestedSession, tenantId } from "../support/sessionWorkerHarness.js";

const admin: UserCaller = { type: "user", tenantId, userId: "admin-1", displayName: "Admin", roles: ["Intune.Administrator"], groups: [] };

describe("the sessions report", () => {
  it("counts each session as it is read, keeping none of them", async () => {
    // Prepare: 3 closed and 2 declined sessions, read through one reused object
    const clock = new ManualClock();
    const statuses: Session["status"][] = ["closed", "declined", "closed", "declined", "closed"];
    const store = {
      async *requestedBetween(): AsyncIterable<Session> {
        const row = { ...requestedSession(clock.now()) } as { -readonly [K in keyof Session]: Session[K] };
        for (const [i, status] of statuses.entries()) {
          Object.assign(row, { status, requestedBy: { id: `admin-${i % 2}`, displayName: `Admin ${i % 2}`, type: "user" } });
          yield row;
        }
      },
    } as unknown as SessionStore;
    const writer = new SessionWriter({ store, bus: new MemoryMessageBus(), clock });
    const audit = new MemoryAuditLog(clock);
    const noUsers = { get: async () => undefined };
    const noAssignments = { list: async () => [], get: async () => undefined, put: async () => ({ created: true }), delete: async () => false };
    const administration = new SessionAdministration({
      writer,
      access: new Access(noAssignments, noUsers),
      devices: { get: async () => undefined },
      expiry: new SessionExpiry({ writer, audit, clock }),
      audit,
      clock,
      resendMinIntervalSeconds: 60,
    });

    // Act
    const report = await administration.report(admin, {});

    // Assess
    expect(report.total).toBe(5);
    expect(report.byStatus).toMatchObject({ closed: 3, declined: 2 });
    expect(report.byRequester.map((r) => [r.id, r.count])).toEqual([
      ["admin-0", 3],
      ["admin-1", 2],
    ]);
  });

  it("runs at most two reports of a tenant at once on an instance: a third answers 429 and reads nothing, another tenant's is not held back", async () => {
    // Prepare: a store whose reads wait until released, counting the reads begun.
    const clock = new ManualClock();
    let begun = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const store = {
      async *requestedBetween(): AsyncIterable<Session> {
        begun++;
        await released;
        yield requestedSession(clock.now());
      },
    } as unknown as SessionStore;
    const writer = new SessionWriter({ store, bus: new MemoryMessageBus(), clock });
    const audit = new MemoryAuditLog(clock);
    const noAssignments = { list: async () => [], get: async () => undefined, put: async () => ({ created: true }), delete: async () => false };
    const administration = new SessionAdministration({
      writer,
      access: new Access(noAssignments, { get: async () => undefined }),
      devices: { get: async () => undefined },
      expiry: new SessionExpiry({ writer, audit, clock }),
      audit,
      clock,
      resendMinIntervalSeconds: 60,
    });
    const otherTenantAdmin: UserCaller = { ...admin, tenantId: "another-tenant" };

    // Act
    const running = [administration.report(admin, {}), administration.report(admin, {})];
    const third = administration.report(admin, {}).catch((e: unknown) => e);
    const other = administration.report(otherTenantAdmin, {});
    release();
    const [refused, ...done] = await Promise.all([third, ...running, other]);
    const begunBefore = begun;
    const after = await administration.report(admin, {});

    // Assess
    expect(refused).toMatchObject({ code: "rateLimited" });
    expect(begunBefore).toBe(3);
    expect(done.map((r) => (r as { total: number }).total)).toEqual([1, 1, 1]);
    expect(after.total).toBe(1);
  });
});
