// Ports of the TeamViewer quota: the per-tenant limiter every instance shares.

export type QuotaDecision = { readonly granted: true } | { readonly granted: false; readonly retryAt: Date };

/**
 * A tenant's TeamViewer call limiter, shared by every instance (one Table row per tenant,
 * etag-guarded). Never lets more than `callsPerMinute` calls through in any minute.
 */
export interface QuotaLimiter {
  /** Records a call now if it fits; otherwise answers when the next one will. */
  tryAcquire(tenantId: string, callsPerMinute: number): Promise<QuotaDecision>;
  /** TeamViewer throttled the tenant: no call before `until`. */
  blockUntil(tenantId: string, until: Date): Promise<void>;
}
