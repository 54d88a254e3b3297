// Audit export, push: subscriptions (PUT/GET/DELETE /api/auditSubscriptions/{id}) and the
// delivery of every new audit event to each of them. Design: the delivery queue is fed from
// the audit stream, not by the recorder. Each subscription keeps a cursor (the last sequence
// number handed to the queue). The fan-out reads the stream after the cursor, sends one
// `audit.deliver` message per event and subscription (its id derived from subscription, event
// and attempt, so a fan-out that runs twice sends duplicates Service Bus drops), then moves
// the cursor (etag-guarded). It runs right after an event of a tenant with subscriptions is
// recorded, and a timer sweeps every minute: a crash between recording and sending loses
// nothing. At least once.
// Each delivery is a signed POST; a failure sends the same delivery again, scheduled after a
// doubling delay (from AUDIT_EXPORT_RETRY_SECONDS, at most an hour), carrying its attempt
// count, first failure time and the secret version it failed for, so the give-up rule does
// not depend on the broker (a receiver a PUT has put in place starts afresh). The last retry
// is scheduled at AUDIT_EXPORT_GIVE_UP_HOURS (24) after the first failure; when it fails
// too, lastError says the event was given up and the message is thrown back until the queue
// dead-letters it (the host cannot dead-letter explicitly), with no further POST; the
// dead-letter function (deadLettered) logs it and makes sure lastError says so.
// A tenant has at most a few POSTs under way per instance; past them a delivery is sent again for later, which is no
// failed attempt (heldDeliveries.ts). Deliveries and dead letters record no audit events (a failing receiver must not feed its own backlog).
import { randomUUID } from "node:crypto";
import { actorOf, type UserCaller } from "../../domain/caller.js";
import {
  deliveryMessageId,
  failuresFor,
  gaveUpText,
  hasGivenUp,
  maxDeliveriesInFlightPerTenant,
  maxSubscriptionsPerTenant,
  receiverOrigin,
  receiverUrl,
  retryAt,
  signature,
  type DeliveryPolicy,
} from "../../domain/auditExport.js";
import { conflict, DomainError, notFound } from "../../domain/errors.js";
import { requireAdministrator } from "../../domain/permissions.js";
import type { Access } from "../access.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging.js";
import type { MessageBus } from "../messageBus.js";
import type { AuditDeliverData } from "../../contracts/messages.js";
import { makeEnvelope } from "../../contracts/messages.js";
import { queueNames } from "../../queueDefinitions.js";
import { requireAuditReader } from "./auditDelta.js";
import type { AuditLog, AuditStream } from "./auditLog.js";
import type { AuditReceiverClient, AuditSubscriptionStore, ReceiverOutcome, StoredSubscription } from "./auditSubscriptionPorts.js";
import { givenUpWhileHeld, holdBack, nextAttempt, TenantDeliverySlots } from "./heldDeliveries.js";
import { view, type AuditSubscriptionView } from "./auditSubscriptionView.js";
import { SubscriptionSecretVault, type SubscriptionSecrets } from "./subscriptionSecrets.js";

export { subscriptionSecretName, unversionedSecretName, type SubscriptionSecrets } from "./subscriptionSecrets.js";
export type { AuditSubscriptionView } from "./auditSubscriptionView.js";

/** Thrown to hand a given-up delivery to the dead-letter queue (a plain error: the consumer lets Service Bus redeliver it). */
export class AuditDeliveryGaveUp extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = "AuditDeliveryGaveUp";
  }
}

const fanOutBatch = 100;
/** Batches of a subscription one fan-out hands on (5,000 events); a recording tenant's next event goes on from there. */
const fanOutRounds = 50;
/**
 * Batches of a subscription one sweep hands on (1,000 events). The sweep visits the tenants
 * one after the other: after an outage every tenant has a backlog, and a quiet tenant gets
 * its events from the sweep alone, so one tenant's backlog must not take the whole run.
 */
const sweepRounds = 10;
type GiveUpContext = { readonly now: Date; readonly eventId: string; readonly log: Logger; readonly receiver?: string };
export interface AuditPushDeps {
  readonly access: Access;
  readonly store: AuditSubscriptionStore;
  readonly stream: AuditStream;
  /** Set after construction: the audit log records through this service's fan-out. */
  readonly audit: () => AuditLog;
  readonly secrets: SubscriptionSecrets;
  readonly bus: MessageBus;
  readonly receiver: AuditReceiverClient;
  readonly clock: Clock;
  readonly policy: DeliveryPolicy;
  readonly allowInsecureLoopback: boolean;
  readonly log: Logger;
}

export class AuditPush {
  readonly #d: AuditPushDeps;
  readonly #secrets: SubscriptionSecretVault;
  readonly #slots = new TenantDeliverySlots(maxDeliveriesInFlightPerTenant);
  constructor(deps: AuditPushDeps) {
    this.#d = deps;
    this.#secrets = new SubscriptionSecretVault(deps.secrets, deps.log);
  }

  /** Subscription secrets this instance holds in memory (for tests and metrics). */
  get cachedSecrets(): number {
    return this.#secrets.cached;
  }

  // --- subscriptions (HTTP) ---

  async list(caller: UserCaller): Promise<AuditSubscriptionView[]> {
    const permissions = await requireAuditReader(this.#d.access, caller);
    return (await this.#d.store.list(caller.tenantId)).map((s) => view(s, permissions.administrator));
  }

  async get(caller: UserCaller, id: string): Promise<AuditSubscriptionView> {
    const permissions = await requireAuditReader(this.#d.access, caller);
    const s = await this.#d.store.get(caller.tenantId, id);
    if (!s) throw notFound("The audit subscription");
    return view(s, permissions.administrator);
  }

  async put(
    caller: UserCaller,
    id: string,
    body: { url: string; secret: string },
    correlationId: string,
  ): Promise<{ subscription: AuditSubscriptionView; created: boolean }> {
    requireAdministrator(await this.#d.access.permissionsOf(caller));
    const url = receiverUrl(body.url, { allowInsecureLoopback: this.#d.allowInsecureLoopback });
    const tenantId = caller.tenantId;
    const secretVersion = randomUUID();
    // Key Vault names are case-insensitive: ids differing only in case would share one secret.
    const twin = (await this.#d.store.list(tenantId)).find((s) => s.id !== id && s.id.toLowerCase() === id.toLowerCase());
    if (twin) throw conflict(`The audit subscription '${twin.id}' exists; ids that differ only in case are one subscription.`);
    // The secret first: a delivery never finds a subscription without it.
    await this.#secrets.store(tenantId, id, secretVersion, body.secret);
    let outcome: { created: true } | { replaced: StoredSubscription };
    try {
      outcome = await this.#write(caller, id, url, secretVersion);
    } catch (e) {
      // Refused (the limit, a lost race): no row has this version. After any other failure
      // the row may have been written: the secret stays.
      if (e instanceof DomainError) await this.#secrets.removeUnused(tenantId, id, secretVersion);
      throw e;
    }
    const created = "created" in outcome;
    if ("replaced" in outcome) await this.#secrets.removeUnused(tenantId, id, outcome.replaced.secretVersion);
    await this.#d.audit().record({
      tenantId,
      actor: actorOf(caller),
      activity: created ? "auditSubscription.create" : "auditSubscription.update",
      target: { type: "auditSubscription", id },
      result: "success",
      detail: `receiver ${receiverOrigin(url)}`,
      correlationId,
    });
    const stored = await this.#d.store.get(tenantId, id);
    if (!stored) throw notFound("The audit subscription");
    return { subscription: view(stored, true), created }; // put is for administrators only
  }

  /** Creates the subscription or replaces the one there (whose secret version it answers). */
  async #write(caller: UserCaller, id: string, url: string, secretVersion: string): Promise<{ created: true } | { replaced: StoredSubscription }> {
    const tenantId = caller.tenantId;
    for (let attempt = 1; ; attempt++) {
      const current = await this.#d.store.get(tenantId, id);
      if (current) {
        if (await this.#d.store.replace(tenantId, current, { url, secretVersion })) return { replaced: current };
      } else {
        const r = await this.#d.store.create(
          tenantId,
          { id, url, generation: randomUUID(), secretVersion, createdAt: this.#d.clock.now().toISOString(), createdBy: actorOf(caller) },
          maxSubscriptionsPerTenant,
        );
        if (r === "limit") throw conflict(`A tenant may have at most ${maxSubscriptionsPerTenant} audit subscriptions.`);
        if (r === "created") return { created: true };
      }
      if (attempt >= 5) throw conflict("The audit subscription is being changed by another request; try again.");
    }
  }

  async delete(caller: UserCaller, id: string, correlationId: string): Promise<void> {
    requireAdministrator(await this.#d.access.permissionsOf(caller));
    const deleted = await this.#d.store.delete(caller.tenantId, id);
    if (!deleted) throw notFound("The audit subscription");
    await this.#secrets.removeDeleted(caller.tenantId, id, deleted.secretVersion);
    await this.#d.audit().record({
      tenantId: caller.tenantId,
      actor: actorOf(caller),
      activity: "auditSubscription.delete",
      target: { type: "auditSubscription", id },
      result: "success",
      correlationId,
    });
  }

  // --- fan-out (after recording, and the timer) ---

  /**
   * Hands the events after each subscription's cursor to the queue, up to `rounds` batches of
   * each subscription (the rest the next time). Safe to run concurrently and repeatedly.
   */
  async fanOut(tenantId: string, rounds = fanOutRounds): Promise<number> {
    let sent = 0;
    for (const initial of await this.#d.store.list(tenantId)) {
      let sub: StoredSubscription | undefined = initial;
      for (let round = 0; sub && round < rounds; round++) {
        const events = await this.#d.stream.readAfter(tenantId, sub.cursor, fanOutBatch);
        if (events.length === 0) break;
        const s: StoredSubscription = sub;
        await Promise.all(
          events.map((e) => this.#send(tenantId, { subscriptionId: s.id, generation: s.generation, sequence: e.sequence, attempt: 0 }, undefined)),
        );
        sent += events.length;
        const last = events[events.length - 1].sequence;
        const etag = await this.#d.store.advanceCursor(tenantId, s, last);
        if (etag) sub = { ...s, cursor: last, etag };
        else {
          // Someone else moved it (another fan-out, a PUT): read it again and go on from there.
          const fresh = await this.#d.store.get(tenantId, s.id);
          sub = fresh && fresh.generation === s.generation ? fresh : undefined;
        }
        if (etag && events.length < fanOutBatch) break;
      }
    }
    return sent;
  }

  /** After an event is recorded: fan out now. A failure is logged; the sweep finds the event later. */
  async afterRecorded(tenantId: string): Promise<void> {
    try {
      await this.fanOut(tenantId);
    } catch (e) {
      this.#d.log.warn("audit fan-out failed; the sweep will hand the events on", { tenantId, error: e instanceof Error ? e.message : String(e) });
    }
  }

  async sweep(log: Logger): Promise<void> {
    let failed = 0;
    for (const tenantId of await this.#d.store.tenants()) {
      try {
        const sent = await this.fanOut(tenantId, sweepRounds);
        if (sent > 0) log.info("audit sweep handed events to the queue", { tenantId, sent });
      } catch (e) {
        failed++;
        log.warn("audit sweep failed for a tenant", { tenantId, error: e instanceof Error ? e.message : String(e) });
      }
    }
    if (failed > 0) throw new Error(`the audit sweep failed for ${failed} tenant(s)`);
  }

  // --- delivery (the audit-export queue) ---

  async deliver(input: { tenantId: string; data: AuditDeliverData; deliveryCount: number; log: Logger }): Promise<void> {
    const { tenantId, data, log } = input;
    const { policy, clock } = this.#d;
    const sub = await this.#d.store.get(tenantId, data.subscriptionId);
    if (!sub || sub.generation !== data.generation) {
      log.info("audit delivery dropped: the subscription no longer exists", { subscriptionId: data.subscriptionId });
      return;
    }
    // The failures so far, unless they were those of a receiver a PUT has replaced since.
    const { attempt, firstFailedAt } = failuresFor(data, sub.secretVersion);
    const now = clock.now();
    const event = await this.#d.stream.get(tenantId, data.sequence);
    if (!event) {
      log.warn("audit delivery dropped: no event with that sequence number", { sequence: data.sequence });
      return;
    }
    const gaveUp = gaveUpText(event.id, attempt + 1, (firstFailedAt ?? now).toISOString());
    // The host counts deliveries from 1. The first delivery of the retry that `retryAt`
    // schedules at the give-up age is the last attempt, and it is made. A delivery of it
    // again comes after that attempt failed (lastError says it gave up) or did not finish:
    // no further POST, on towards the dead-letter queue, lastError saying so if it does not yet,
    // unless a delivery made since the give-up age succeeded: the receiver works again, and an
    // old give-up written now would show as its current error (the dead-letter reader logs it).
    if (firstFailedAt && input.deliveryCount > 1 && hasGivenUp(now, firstFailedAt, policy)) {
      const recovered = sub.lastDeliveredAt !== null && Date.parse(sub.lastDeliveredAt) >= firstFailedAt.getTime() + policy.giveUpMs;
      if (!recovered && !sub.lastError?.message.startsWith(`${gaveUp}:`)) {
        await this.#d.store.recordOutcome(tenantId, sub, {
          error: { message: `${gaveUp}: the delivery goes to the dead-letter queue`, at: now.toISOString() },
        });
      }
      throw new AuditDeliveryGaveUp(gaveUp);
    }
    // A tenant's slow receiver must not take every call: past its slots, held back (givenUpWhileHeld).
    const release = givenUpWhileHeld(data, input.deliveryCount, now, policy) ? undefined : this.#slots.take(tenantId);
    if (!release) {
      const held = holdBack(data, event.id, now, policy);
      if ("gaveUp" in held) return this.#giveUp(tenantId, sub, held.gaveUp, { now, eventId: event.id, log });
      log.info("audit delivery held back: its tenant has as many under way as it may", { subscriptionId: sub.id, retryAt: held.at.toISOString() });
      return this.#send(tenantId, held.again, held.at);
    }
    const body = JSON.stringify(event);
    const { to, outcome } = await this.#post(tenantId, sub, body, event.id, attempt + 1).finally(release);
    if (outcome.ok) {
      await this.#d.store.recordOutcome(tenantId, to, { deliveredAt: now.toISOString() });
      return;
    }
    // Posted to a receiver a PUT put in place meanwhile (see #target): its failures start now.
    const failed = to === sub ? { attempt, firstFailedAt } : failuresFor(data, to.secretVersion);
    const first = failed.firstFailedAt ?? now;
    const origin = receiverOrigin(to.url);
    const givenUp = `${gaveUpText(event.id, failed.attempt + 1, first.toISOString())}: ${outcome.reason}`;
    if (hasGivenUp(now, first, policy)) return this.#giveUp(tenantId, to, givenUp, { now, eventId: event.id, log, receiver: origin });
    await this.#d.store.recordOutcome(tenantId, to, { error: { message: outcome.reason, at: now.toISOString() } });
    const next = retryAt(now, failed.attempt, first, policy);
    log.info("audit delivery failed; retry scheduled", {
      subscriptionId: to.id,
      receiver: origin,
      attempt: failed.attempt + 1,
      retryAt: next.toISOString(),
      reason: outcome.reason,
    });
    await this.#send(tenantId, nextAttempt(data, { attempt: failed.attempt + 1, firstFailedAt: first.toISOString(), secretVersion: to.secretVersion }), next);
  }

  /** Says on the subscription that the event was given up, and hands the message on to the dead-letter queue. */
  async #giveUp(tenantId: string, sub: StoredSubscription, message: string, at: GiveUpContext): Promise<never> {
    await this.#d.store.recordOutcome(tenantId, sub, { error: { message, at: at.now.toISOString() } });
    const fields = { subscriptionId: sub.id, ...(at.receiver === undefined ? {} : { receiver: at.receiver }), eventId: at.eventId };
    at.log.warn("audit delivery given up; the message goes to the dead-letter queue", fields);
    throw new AuditDeliveryGaveUp(message);
  }

  /** The POST of one attempt, to the subscription as it is (see #target). */
  async #post(
    tenantId: string,
    sub: StoredSubscription,
    body: string,
    eventId: string,
    attempt: number,
  ): Promise<{ to: StoredSubscription; outcome: ReceiverOutcome }> {
    const { to, secret } = await this.#target(tenantId, sub);
    const outcome =
      secret === undefined
        ? { ok: false as const, reason: "the subscription's secret is missing from Key Vault" }
        : await this.#d.receiver.post(to.url, body, {
            "content-type": "application/json",
            "x-signature": signature(secret, body),
            "x-event-id": eventId,
            "x-delivery-attempt": String(attempt),
          });
    return { to, outcome };
  }

  /**
   * The subscription to post to, and its secret. A PUT since `sub` was read has removed the
   * secret of the version read (each PUT stores its own): then the delivery goes to the
   * subscription as it is now, as deliveries queued before a PUT do.
   */
  async #target(tenantId: string, sub: StoredSubscription): Promise<{ to: StoredSubscription; secret: string | undefined }> {
    const secret = await this.#secrets.forDelivery(tenantId, sub);
    if (secret !== undefined) return { to: sub, secret };
    const current = await this.#d.store.get(tenantId, sub.id);
    if (!current || current.generation !== sub.generation || current.secretVersion === sub.secretVersion) return { to: sub, secret };
    return { to: current, secret: await this.#secrets.forDelivery(tenantId, current) };
  }

  // --- dead letters (the audit-export dead-letter queue) ---

  /**
   * A delivery Service Bus gave up on (the give-up above, or one that kept failing for another
   * reason, or expired). It is logged as a warning, the record of the event not delivered,
   * and the subscription's lastError made to say it gave up if it does not yet. Left alone:
   * a subscription deleted (or deleted and created again) since, one whose receiver a PUT
   * replaced since the failures (they were the old receiver's), and one to which a delivery
   * after the give-up succeeded (the receiver works again; an old give-up must not show as
   * its current error). Handled twice, it writes the same once.
   * No audit event: every event is pushed to the tenant's subscriptions, this failing one
   * too, so an event per dead letter would be dead-lettered in its turn a day later, and so
   * on without end while the receiver is down. The event itself is in the audit log.
   */
  async deadLettered(input: { tenantId: string; data: AuditDeliverData; reason: string | undefined; log: Logger }): Promise<void> {
    const { tenantId, data, log } = input;
    const reason = input.reason ?? "no reason given";
    const sub = await this.#d.store.get(tenantId, data.subscriptionId);
    const event = await this.#d.stream.get(tenantId, data.sequence);
    const eventName = event ? `event ${event.id}` : `the event numbered ${data.sequence}`;
    const attempts = data.firstFailedAt ? ` after ${data.attempt + 1} attempts since ${data.firstFailedAt}` : "";
    log.warn("audit delivery given up and dead-lettered: the event was not delivered", {
      subscriptionId: data.subscriptionId,
      eventId: event?.id,
      sequence: data.sequence,
      attempts: data.attempt + 1,
      firstFailedAt: data.firstFailedAt,
      reason,
    });
    if (!sub || sub.generation !== data.generation) return log.info("its subscription was deleted since: nothing to record on it");
    if (data.secretVersion !== undefined && data.secretVersion !== sub.secretVersion) {
      return log.info("its subscription has a new receiver since (PUT): the failures were the old one's, nothing to record on it");
    }
    const now = this.#d.clock.now();
    const givenUpAt = data.firstFailedAt ? Date.parse(data.firstFailedAt) + this.#d.policy.giveUpMs : now.getTime();
    if (sub.lastDeliveredAt !== null && Date.parse(sub.lastDeliveredAt) >= givenUpAt) return;
    if (sub.lastError?.message.startsWith(`Gave up on ${eventName} `)) return;
    await this.#d.store.recordOutcome(tenantId, sub, {
      error: { message: `Gave up on ${eventName}${attempts}: the delivery was dead-lettered (${reason})`, at: now.toISOString() },
    });
  }

  async #send(tenantId: string, data: AuditDeliverData, notBefore: Date | undefined): Promise<void> {
    const id = deliveryMessageId({ tenantId, ...data });
    const envelope = makeEnvelope("audit.deliver", tenantId, data, { id, now: this.#d.clock.now() });
    await this.#d.bus.send({ queue: queueNames.auditExport, id, type: envelope.type, body: envelope, ...(notBefore ? { notBefore } : {}) });
  }
}
