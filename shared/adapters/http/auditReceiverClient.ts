// Posts a signed audit event to a subscriber's receiver. Redirects are not followed (a
// receiver must not bounce the service elsewhere); the reason of a failure names the
// status or the network error, never the URL's path or query, nor the body.
import type { AuditReceiverClient, ReceiverOutcome } from "../../app/audit/auditSubscriptionPorts.js";

export class FetchAuditReceiverClient implements AuditReceiverClient {
  readonly #timeoutMs: number;
  constructor(timeoutMs = 10_000) {
    this.#timeoutMs = timeoutMs;
  }

  async post(url: string, body: string, headers: Record<string, string>): Promise<ReceiverOutcome> {
    try {
      const res = await fetch(url, { method: "POST", body, headers, redirect: "manual", signal: AbortSignal.timeout(this.#timeoutMs) });
      // Only the status counts; releasing the unread body cannot fail the delivery, so its error is dropped.
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { ok: true };
      return { ok: false, reason: `the receiver answered ${res.status}` };
    } catch (e) {
      if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError"))
        return { ok: false, reason: `no answer within ${this.#timeoutMs / 1000} s` };
      const cause = e instanceof Error && e.cause && typeof e.cause === "object" ? (e.cause as { code?: unknown }).code : undefined;
      return { ok: false, reason: `could not reach the receiver${typeof cause === "string" ? ` (${cause})` : ""}` };
    }
  }
}
