// Expiry of unanswered requests. The timer expires them within a minute; anything that
// reads a session in the meantime (the admin, the end user) applies the same rule first,
// so nobody can accept a request that is already past its time.
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import { systemActor } from "../../domain/caller.js";
import { applyEvent, type Session } from "../../domain/session.js";
import type { StoredSession } from "./ports.js";
import { systemCloseEntries } from "./sessionMessages.js";
import type { SessionWriter } from "./sessionWriter.js";

/** True when the request went unanswered past its deadline. */
export const isDue = (s: Session, now: Date): boolean =>
  (s.status === "pendingApproval" || s.status === "requested" || s.status === "awaitingEndUser") && Date.parse(s.expiresAt) <= now.getTime();

export class SessionExpiry {
  readonly #writer: SessionWriter;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(deps: { writer: SessionWriter; audit: AuditLog; clock: Clock }) {
    this.#writer = deps.writer;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
  }

  /** The session after expiring it if it is due (and closing it at TeamViewer through session.close). */
  async expireIfDue(stored: StoredSession, log: Logger, correlationId?: string): Promise<Session> {
    const now = this.#clock.now();
    if (!isDue(stored.session, now)) return stored.session;
    const changed = await this.#writer.change(
      stored.session.tenantId,
      stored.session.id,
      (s) => {
        if (!isDue(s, now)) return undefined;
        const next: Session = {
          ...applyEvent(
            s,
            "expire",
            now,
            s.status === "pendingApproval" ? "Nobody approved or denied the request in time." : "The end user did not answer in time.",
          ),
          closedBy: systemActor,
          closeReason: "expired",
        };
        return { next, outbox: systemCloseEntries(s, "expired", { now, correlationId }) };
      },
      log,
      stored,
    );
    if (!changed) return stored.session;
    if (changed.before.status !== changed.after.session.status) {
      await this.#audit.record({
        tenantId: changed.after.session.tenantId,
        actor: systemActor,
        activity: "session.expired",
        target: { type: "session", id: changed.after.session.id },
        result: "success",
        detail:
          changed.before.status === "pendingApproval"
            ? `not approved within the approval timeout (expired at ${changed.after.session.expiresAt})`
            : `not accepted within the timeout (expired at ${changed.after.session.expiresAt})`,
        correlationId,
      });
    }
    return changed.after.session;
  }
}
