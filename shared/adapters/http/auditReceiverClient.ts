// Posts a signed audit event to a subscriber's receiver. Redirects are not followed (a
// receiver must not bounce the service elsewhere), and the connection goes only to public
// addresses: a receiver's name that resolves to this host, a private network or link-local
// is refused at connect time (publicAddress.ts), so a tenant cannot aim the service at the
// network it runs in. The reason of a failure names the status or the network error, never
// the URL's path or query, nor the body.
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { AuditReceiverClient, ReceiverOutcome } from "../../app/audit/auditSubscriptionPorts.js";
import { guardedLookup, isPublicAddress, NonPublicAddressError, systemResolver, type AddressResolver } from "./publicAddress.js";

export interface AuditReceiverClientOptions {
  readonly timeoutMs?: number;
  /** The local stack only: let receivers on this host (or a private network) be reached. */
  readonly allowNonPublic: boolean;
  /** How host names resolve; the system's DNS unless a test says otherwise. */
  readonly resolve?: AddressResolver;
}

const nonPublicReason = "the receiver's host resolves to a local or private address, which the service does not connect to";

export class HttpAuditReceiverClient implements AuditReceiverClient {
  readonly #timeoutMs: number;
  readonly #allowNonPublic: boolean;
  readonly #lookup: NonNullable<RequestOptions["lookup"]>;

  constructor(options: AuditReceiverClientOptions) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#allowNonPublic = options.allowNonPublic;
    this.#lookup = guardedLookup(options.resolve ?? systemResolver, options.allowNonPublic) as unknown as NonNullable<RequestOptions["lookup"]>;
  }

  post(url: string, body: string, headers: Record<string, string>): Promise<ReceiverOutcome> {
    const target = new URL(url);
    // An address literal is connected to without a lookup: it is checked here instead.
    const literal = target.hostname.replace(/^\[(.*)\]$/, "$1");
    if (isIP(literal) !== 0 && !this.#allowNonPublic && !isPublicAddress(literal)) return Promise.resolve({ ok: false, reason: nonPublicReason });
    const send: (url: URL, options: RequestOptions, answer: (res: IncomingMessage) => void) => ClientRequest =
      target.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const request = send(
        target,
        {
          method: "POST",
          headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
          lookup: this.#lookup,
          signal: AbortSignal.timeout(this.#timeoutMs),
        },
        (res) => {
          // Only the status counts; the answer's body is read and dropped.
          res.resume();
          res.on("error", () => undefined);
          const status = res.statusCode ?? 0;
          resolve(status >= 200 && status < 300 ? { ok: true } : { ok: false, reason: `the receiver answered ${status}` });
        },
      );
      request.on("error", (e: Error & { code?: unknown }) => {
        if (e instanceof NonPublicAddressError) return resolve({ ok: false, reason: nonPublicReason });
        if (e.name === "AbortError" || e.name === "TimeoutError") return resolve({ ok: false, reason: `no answer within ${this.#timeoutMs / 1000} s` });
        resolve({ ok: false, reason: `could not reach the receiver${typeof e.code === "string" ? ` (${e.code})` : ""}` });
      });
      request.end(body);
    });
  }
}
