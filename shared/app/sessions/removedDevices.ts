// A device removed from management (retired, wiped, sold) loses its remote assistance: its
// one open session is closed, whatever state it is in, and closed at TeamViewer through
// session.close like any other close. Called by the devices area once a removal is stored.
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import { systemActor } from "../../domain/caller.js";
import { isOpen } from "../../domain/sessionState.js";
import { applyEvent } from "../../domain/session.js";
import { systemCloseEntries } from "./sessionMessages.js";
import type { SessionWriter } from "./sessionWriter.js";

export class RemovedDeviceSessions {
  readonly #writer: SessionWriter;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(deps: { writer: SessionWriter; audit: AuditLog; clock: Clock }) {
    this.#writer = deps.writer;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
  }

  /**
   * Closes the device's open session, if it has one. The device's lock names it (a device can have
   * only one open session); a session that ended meanwhile is left
   * alone, so a redelivered removal closes nothing twice.
   */
  async closeOpen(tenantId: string, deviceId: string, ctx: { readonly eventId: string; readonly correlationId?: string; readonly log: Logger }): Promise<void> {
    const open = await this.#writer.store.openOfDevice(tenantId, deviceId);
    if (!open) return;
    const sessionId = open.session.id;
    const now = this.#clock.now();
    const changed = await this.#writer.change(
      tenantId,
      sessionId,
      (s) => {
        if (!isOpen(s.status) || s.deviceId !== deviceId) return undefined;
        // As an admin's close: TeamViewer is told through session.close if a session may exist there.
        return {
          next: {
            ...applyEvent(s, "close", now, "Closed because the device was removed from management."),
            closedBy: systemActor,
            closeReason: "deviceRemoved",
          },
          outbox: systemCloseEntries(s, "deviceRemoved", { now, correlationId: ctx.correlationId }),
        };
      },
      ctx.log,
      open,
    );
    if (!changed || isOpen(changed.after.session.status) === isOpen(changed.before.status)) return;
    ctx.log.info("closed the open session of a device removed from management", { sessionId, deviceId });
    await this.#audit.record({
      tenantId,
      actor: systemActor,
      activity: "session.closed",
      target: { type: "session", id: sessionId },
      result: "success",
      detail: `closed because its device was removed from management (event ${ctx.eventId}; was ${changed.before.status})`,
      correlationId: ctx.correlationId,
    });
  }
}
