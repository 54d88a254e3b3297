// The one audit writer every use case uses, the query behind GET /api/auditEvents, and
// the tenant's audit stream (every event numbered in the order it was recorded) behind
// the export: GET /api/auditEvents/delta and the push subscriptions.
import type { Actor } from "../../domain/caller.js";

export interface AuditEventInput {
  readonly tenantId: string;
  readonly actor: Actor;
  readonly activity: string;
  readonly target: { readonly type: string; readonly id: string };
  readonly result: "success" | "failure";
  readonly detail?: string;
  readonly correlationId?: string;
}

export interface AuditEvent extends Omit<AuditEventInput, "tenantId"> {
  readonly id: string;
  readonly at: string;
}

/** An event of the stream with its place in it (1, 2, 3, … per tenant, without gaps). */
export interface SequencedAuditEvent {
  readonly sequence: number;
  readonly event: AuditEvent;
}

/** What recording told about the tenant's stream, for the export's fan-out. */
export interface RecordedAuditEvent {
  readonly tenantId: string;
  readonly sequence: number;
  /** How many push subscriptions the tenant had when the event was recorded. */
  readonly subscriptions: number;
}

export interface AuditQuery {
  readonly tenantId: string;
  readonly from: Date;
  readonly to: Date;
  readonly activity?: string;
  readonly top: number;
  readonly continuationToken?: string;
}

export interface AuditLog {
  record(event: AuditEventInput): Promise<void>;
  query(q: AuditQuery): Promise<{ value: AuditEvent[]; continuationToken?: string }>;
}

export interface AuditStream {
  /** Events after `afterSequence`, oldest first, at most `max`. */
  readAfter(tenantId: string, afterSequence: number, max: number): Promise<SequencedAuditEvent[]>;
  get(tenantId: string, sequence: number): Promise<AuditEvent | undefined>;
  /** The sequence number of the tenant's newest event (0 = none yet). */
  last(tenantId: string): Promise<number>;
}
