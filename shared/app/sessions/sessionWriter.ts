// The one way the sessions area writes a session: the state change and the messages it
// implies go into one Table transaction (session row + outbox rows), then the messages
// are sent and their outbox rows deleted. A send that fails is left to the outbox timer.
// Read-decide-write loops on etag conflicts live here too, so no use case writes blindly.
import type { MessageBus } from "../messageBus.js";
import { systemClock, type Clock } from "../clock.js";
import { messageTypes } from "../../contracts/messages.js";
import type { Logger } from "../logging.js";
import { Contended } from "../contention.js";
import type { Session } from "../../domain/session.js";
import type { CreateSessionResult, OutboxEntry, SessionStore, StoredSession } from "./ports.js";

export interface Decision {
  readonly next: Session;
  readonly outbox?: readonly OutboxEntry[];
}

export interface Changed {
  readonly before: Session;
  readonly after: StoredSession;
}

const maxAttempts = 8;

/**
 * Messages whose handler's first write deletes their outbox row (`consumed`): sending them
 * after a write leaves the row, saving a delete per message. Should the handler not get
 * to it, the outbox timer re-sends the row after a minute (a duplicate Service Bus drops
 * or the handler's idempotency absorbs) and deletes it.
 */
const deletedByHandler: ReadonlySet<string> = new Set([messageTypes.sessionCreate, messageTypes.notificationSend]);

export class SessionWriter {
  readonly #store: SessionStore;
  readonly #bus: MessageBus;
  readonly #clock: Clock;

  constructor(deps: { store: SessionStore; bus: MessageBus; clock?: Clock }) {
    this.#store = deps.store;
    this.#bus = deps.bus;
    this.#clock = deps.clock ?? systemClock;
  }

  get store(): SessionStore {
    return this.#store;
  }

  async create(session: Session, outbox: readonly OutboxEntry[], log: Logger, dedupeKey?: string): Promise<CreateSessionResult> {
    const result = await this.#store.create(session, outbox, dedupeKey === undefined ? {} : { dedupeKey });
    if (result.created) await this.dispatch(session.tenantId, outbox, log, { afterWrite: true });
    return result;
  }

  /**
   * Writes `next` over `current` if nobody wrote since; undefined when someone did.
   * `consumed`: the message being handled, whose outbox row goes with this write.
   */
  async commit(current: StoredSession, next: Session, outbox: readonly OutboxEntry[], log: Logger, consumed?: string): Promise<StoredSession | undefined> {
    const written = await this.#store.update(current, next, outbox, consumed);
    if (!written) return undefined;
    await this.dispatch(next.tenantId, outbox, log, { afterWrite: true });
    return written;
  }

  /**
   * Reads the session, lets `decide` choose the next state (undefined = leave it), writes
   * it etag-guarded, and on a lost race reads and decides again. `decide` may throw a
   * DomainError (e.g. an impossible transition), which propagates unchanged.
   */
  async change(
    tenantId: string,
    sessionId: string,
    decide: (current: Session) => Decision | undefined,
    log: Logger,
    /** A copy the caller read just now: tried first, saving a read when nobody wrote since. */
    known?: StoredSession,
    /** The message being handled: its outbox row is deleted with the write. */
    consumed?: string,
  ): Promise<Changed | undefined> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const current = attempt === 0 && known ? known : await this.#store.get(tenantId, sessionId);
      if (!current) return undefined;
      const decision = decide(current.session);
      if (!decision) return { before: current.session, after: current };
      const written = await this.commit(current, decision.next, decision.outbox ?? [], log, consumed);
      if (written) return { before: current.session, after: written };
    }
    throw new Contended(`session ${sessionId}`, maxAttempts);
  }

  /** Sends a message that has no outbox entry (nothing was written with it); throws when the send fails. */
  async send(entry: OutboxEntry): Promise<void> {
    await this.#bus.send({
      queue: entry.queue,
      id: entry.id,
      type: entry.type,
      ...(entry.correlationId === undefined ? {} : { correlationId: entry.correlationId }),
      body: entry.body,
      // A time already past means "now": the outbox timer re-sends late.
      ...(entry.notBefore !== undefined && Date.parse(entry.notBefore) > this.#clock.now().getTime() ? { notBefore: new Date(entry.notBefore) } : {}),
    });
  }

  /**
   * Sends outbox entries and deletes them; a failed send stays for the outbox timer.
   * `afterWrite`: sent right after the write that created them, so the rows of messages
   * whose handler deletes them (`deletedByHandler`) are left to it.
   */
  async dispatch(tenantId: string, entries: readonly OutboxEntry[], log: Logger, options: { readonly afterWrite?: boolean } = {}): Promise<number> {
    let sent = 0;
    for (const entry of entries) {
      try {
        await this.send(entry);
      } catch (e) {
        log.warn(`could not send ${entry.type}; the outbox timer will send it`, { messageId: entry.id, error: e instanceof Error ? e.message : String(e) });
        continue;
      }
      sent++;
      if (options.afterWrite && deletedByHandler.has(entry.type)) continue;
      await this.#store.deleteOutbox(tenantId, entry.id).catch((e: unknown) => {
        // Harmless: the timer re-sends it under the same id and duplicate detection drops it.
        log.warn("could not delete a sent outbox entry", { messageId: entry.id, error: e instanceof Error ? e.message : String(e) });
      });
    }
    return sent;
  }
}
