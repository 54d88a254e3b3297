// The end user's side (Company Portal): their open requests, accept (which hands them the
// TeamViewer link that starts QuickSupport) and decline (which closes the TeamViewer
// session). Only the device's primary user sees or answers a request; for anyone else it
// does not exist (404), whatever their roles. That is the user the request was made for,
// while the device is still theirs: once the inventory gives the device to someone else (or
// removes it), the former user no longer sees or answers it.
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { AuditLog } from "../audit/auditLog.js";
import { actorOf, type UserCaller } from "../../domain/caller.js";
import { conflict, notFound } from "../../domain/errors.js";
import { applyEvent, noteHistory } from "../../domain/session.js";
import type { EndUserRequest } from "../../contracts/sessions.js";
import { listedForEndUser, type DeviceDirectory, type InboxStore, type StoredSession } from "./ports.js";
import type { SessionExpiry } from "./expiry.js";
import { sessionCloseEntry } from "./sessionMessages.js";
import { toEndUserRequest } from "./sessionView.js";
import type { SessionWriter } from "./sessionWriter.js";

const noLink = "TeamViewer gave this request no link to join it: it cannot be accepted, only declined.";

export interface EndUserContext {
  readonly correlationId?: string;
  readonly log: Logger;
}

export class EndUserRequests {
  readonly #d: { writer: SessionWriter; inbox: InboxStore; devices: DeviceDirectory; expiry: SessionExpiry; audit: AuditLog; clock: Clock };

  constructor(deps: { writer: SessionWriter; inbox: InboxStore; devices: DeviceDirectory; expiry: SessionExpiry; audit: AuditLog; clock: Clock }) {
    this.#d = deps;
  }

  /** The caller's open requests, newest first. */
  async list(caller: UserCaller, ctx: EndUserContext): Promise<EndUserRequest[]> {
    const entries = await this.#d.inbox.list(caller.tenantId, caller.userId);
    const items = await Promise.all(
      entries.map(async (entry) => {
        const stored = await this.#d.writer.store.get(caller.tenantId, entry.sessionId);
        const session =
          stored && stored.session.endUser?.id === caller.userId ? await this.#d.expiry.expireIfDue(stored, ctx.log, ctx.correlationId) : undefined;
        if (session && listedForEndUser(session)) return (await this.#deviceIsTheirs(caller, session.deviceId)) ? toEndUserRequest(session) : undefined;
        // The request is over (or was never theirs): the entry is stale.
        await this.#d.inbox.remove(caller.tenantId, caller.userId, entry.sessionId).catch((e: unknown) => {
          // The stale entry is filtered out here either way; the next read tries to remove it again.
          ctx.log.warn("could not remove a stale inbox entry", { sessionId: entry.sessionId, error: e instanceof Error ? e.message : String(e) });
        });
        return undefined;
      }),
    );
    return items.filter((i): i is EndUserRequest => i !== undefined);
  }

  async accept(caller: UserCaller, sessionId: string, ctx: EndUserContext): Promise<{ endUserLink: string }> {
    const stored = await this.#own(caller, sessionId, ctx);
    const now = this.#d.clock.now();
    const changed = await this.#d.writer.change(
      caller.tenantId,
      sessionId,
      (s) => {
        // Answering twice (a double tap, a retry) is fine; changing one's mind is not.
        if (s.status === "accepted") return undefined;
        const accepted = applyEvent(s, "endUserAccepted", now, `Accepted by ${caller.displayName}.`);
        // Checked before anything is written: accepting a request without a link would hand
        // the user nothing, and a 409 must leave the request as it was (still declinable).
        if (!s.endUserLink) throw conflict(noLink);
        return { next: { ...accepted, endUserResponse: { response: "accepted", at: now.toISOString() } } };
      },
      ctx.log,
      stored,
    );
    const session = changed?.after.session ?? stored.session;
    if (!session.endUserLink) throw conflict(noLink);
    if (changed && changed.before.status !== "accepted") {
      await this.#d.audit.record({
        tenantId: caller.tenantId,
        actor: actorOf(caller),
        activity: "session.accepted",
        target: { type: "session", id: sessionId },
        result: "success",
        detail: `the end user accepted remote assistance on ${session.device.deviceName}`,
        correlationId: ctx.correlationId,
      });
    }
    return { endUserLink: session.endUserLink };
  }

  async decline(caller: UserCaller, sessionId: string, ctx: EndUserContext): Promise<void> {
    const stored = await this.#own(caller, sessionId, ctx);
    const now = this.#d.clock.now();
    const actor = actorOf(caller);
    const changed = await this.#d.writer.change(
      caller.tenantId,
      sessionId,
      (s) => {
        if (s.status === "declined") return undefined;
        return {
          next: {
            ...applyEvent(s, "endUserDeclined", now, `Declined by ${caller.displayName}.`),
            endUserResponse: { response: "declined", at: now.toISOString() },
            closedBy: actor,
            closeReason: "declined",
          },
          outbox: [sessionCloseEntry(s, { reason: "declined", closedBy: actor }, { now, correlationId: ctx.correlationId })],
        };
      },
      ctx.log,
      stored,
    );
    if (changed && changed.before.status !== "declined") {
      await this.#d.audit.record({
        tenantId: caller.tenantId,
        actor,
        activity: "session.declined",
        target: { type: "session", id: sessionId },
        result: "success",
        detail: `the end user declined remote assistance on ${changed.after.session.device.deviceName}`,
        correlationId: ctx.correlationId,
      });
    }
  }

  /**
   * The Company Portal showed the request: the notification is `seen` (once; again after a
   * resend), so an admin can tell "not delivered" from "ignored". Idempotent.
   */
  async seen(caller: UserCaller, sessionId: string, ctx: EndUserContext): Promise<void> {
    const stored = await this.#own(caller, sessionId, ctx);
    const now = this.#d.clock.now();
    const changed = await this.#d.writer.change(
      caller.tenantId,
      sessionId,
      (s) => {
        if (s.status !== "awaitingEndUser" && s.status !== "accepted") throw conflict(`This request is ${s.status}; there is nothing to see any more.`);
        if (s.endUserNotification.status === "seen" || s.status === "accepted") return undefined;
        return {
          next: noteHistory(
            { ...s, endUserNotification: { ...s.endUserNotification, status: "seen", seenAt: now.toISOString() } },
            now,
            `Seen by ${caller.displayName} in the Company Portal.`,
          ),
        };
      },
      ctx.log,
      stored,
    );
    if (changed && changed.before.endUserNotification.status !== "seen" && changed.after.session.endUserNotification.status === "seen") {
      await this.#d.audit.record({
        tenantId: caller.tenantId,
        actor: actorOf(caller),
        activity: "session.seen",
        target: { type: "session", id: sessionId },
        result: "success",
        detail: `the end user saw the request for ${changed.after.session.device.deviceName} in the Company Portal`,
        correlationId: ctx.correlationId,
      });
    }
  }

  /** The session if the caller is its end user (after applying a due expiry); 404 otherwise. */
  async #own(caller: UserCaller, sessionId: string, ctx: EndUserContext): Promise<StoredSession> {
    const stored = await this.#d.writer.store.get(caller.tenantId, sessionId);
    // Nothing at TeamViewer (waiting for approval or creation, or ended before it got there:
    // denied, expired or closed while waiting): the end user was never asked, so for them the
    // request does not exist, and its status is not told by a 409.
    if (!stored || stored.session.endUser?.id !== caller.userId || stored.session.teamViewer === null) {
      throw notFound("The remote assistance request");
    }
    if (!(await this.#deviceIsTheirs(caller, stored.session.deviceId))) throw notFound("The remote assistance request");
    await this.#d.expiry.expireIfDue(stored, ctx.log, ctx.correlationId);
    return stored;
  }

  /**
   * Whether the caller is still the device's primary user. A device the inventory gave to
   * someone else or removed is no longer theirs; one it does not know (any more) leaves the
   * request's own user as the answer.
   */
  async #deviceIsTheirs(caller: UserCaller, deviceId: string): Promise<boolean> {
    const device = await this.#d.devices.get(caller.tenantId, deviceId);
    return device === undefined || (!device.removed && device.userId === caller.userId);
  }
}
