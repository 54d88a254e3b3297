// The one audit writer every use case uses, and the query behind GET /api/auditEvents.
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
