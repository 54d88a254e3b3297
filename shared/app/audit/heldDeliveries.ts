// Fairness of the audit push across tenants, on one instance. A tenant may have at most
// `maxDeliveriesInFlightPerTenant` POSTs under way at once; a delivery past that is not
// attempted now but sent again, scheduled a few seconds later, and its message completed.
// Being held back is no failed attempt: the copy keeps its attempt count, first failure and
// secret version, records nothing on the subscription, and only counts its deferrals (which
// give the copy a message id of its own and stretch the wait). It cannot go round for ever:
// an attempt held back for the give-up age (AUDIT_EXPORT_GIVE_UP_HOURS) is given up, as one
// failing for that long is. The count is this instance's: with N instances a tenant can
// have N times as many under way, each instance's calls still mostly free for the others.
import { gaveUpText, hasGivenUp, heldBackUntil, type DeliveryPolicy } from "../../domain/auditExport.js";
import type { AuditDeliverData } from "../../contracts/messages.js";

/** The POSTs each tenant has under way on this instance (a tenant with none has no entry). */
export class TenantDeliverySlots {
  readonly #limit: number;
  readonly #taken = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Takes one of the tenant's slots and returns what gives it back (once), or undefined when all are taken. */
  take(tenantId: string): (() => void) | undefined {
    const taken = this.#taken.get(tenantId) ?? 0;
    if (taken >= this.#limit) return undefined;
    this.#taken.set(tenantId, taken + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.#taken.get(tenantId) ?? 1) - 1;
      if (left > 0) this.#taken.set(tenantId, left);
      else this.#taken.delete(tenantId);
    };
  }
}

export type HeldBack = { readonly again: AuditDeliverData; readonly at: Date } | { readonly gaveUp: string };

/**
 * What becomes of a delivery of event `eventId` its tenant has no slot for: sent again later,
 * or, held back since the give-up age, given up (the subscription's lastError, in the words
 * of a failed delivery's give-up; its attempts are the failed ones, none made now).
 */
export function holdBack(data: AuditDeliverData, eventId: string, now: Date, policy: DeliveryPolicy): HeldBack {
  const heldSince = data.heldSince ?? now.toISOString();
  if (hasGivenUp(now, new Date(heldSince), policy)) {
    const since = data.firstFailedAt ?? heldSince;
    return {
      gaveUp: `${gaveUpText(eventId, data.attempt, since)}: held back since ${heldSince}, the tenant having as many deliveries under way as it may`,
    };
  }
  const deferrals = (data.deferrals ?? 0) + 1;
  return { again: { ...data, deferrals, heldSince }, at: heldBackUntil(now, deferrals) };
}

/**
 * Whether this is a copy given up for being held back (above) that the queue delivers again
 * (the host counts deliveries from 1): it goes on towards the dead-letter queue as it was given
 * up, not attempted because a slot is free now, as a failed delivery given up gets no further POST.
 */
export function givenUpWhileHeld(data: AuditDeliverData, deliveryCount: number, now: Date, policy: DeliveryPolicy): boolean {
  return deliveryCount > 1 && data.heldSince !== undefined && hasGivenUp(now, new Date(data.heldSince), policy);
}

/** The delivery's data for its next attempt: the holding of this one is over. */
export function nextAttempt(data: AuditDeliverData, change: Pick<AuditDeliverData, "attempt" | "firstFailedAt" | "secretVersion">): AuditDeliverData {
  const { subscriptionId, generation, sequence } = data;
  return { subscriptionId, generation, sequence, ...change };
}
