// An audit push subscription as the API shows it (never its secret, nor its cursor).
import { receiverOrigin } from "../../domain/auditExport.js";
import type { StoredSubscription } from "./auditSubscriptionPorts.js";

export interface AuditSubscriptionView {
  readonly id: string;
  readonly url: string;
  readonly createdAt: string;
  readonly createdBy: { readonly id: string; readonly displayName: string };
  readonly lastDeliveredAt: string | null;
  readonly lastError: { readonly message: string; readonly at: string } | null;
}

/**
 * A subscription as a reader sees it. The URL's path and query may carry a token (some
 * receivers take one there), so only administrators, who set it, see it whole; other readers
 * of the audit log (View Reports) see its origin, as audit events and logs do.
 */
export const view = (s: StoredSubscription, administrator: boolean): AuditSubscriptionView => ({
  id: s.id,
  url: administrator ? s.url : receiverOrigin(s.url),
  createdAt: s.createdAt,
  createdBy: { id: s.createdBy.id, displayName: s.createdBy.displayName },
  lastDeliveredAt: s.lastDeliveredAt,
  lastError: s.lastError,
});
