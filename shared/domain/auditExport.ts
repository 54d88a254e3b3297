// The rules of the audit export, pure: which receiver URLs are acceptable, how a push is
// signed, how retries back off and when they give up, and the opaque delta token.
import { createHash, createHmac } from "node:crypto";
import { DomainError, errorCodes } from "./errors.js";

/** Push subscriptions a tenant may have at once. */
export const maxSubscriptionsPerTenant = 5;
/** Events one delta call returns at most (call again while `value` is full). */
export const maxDeltaEvents = 1000;

const invalid = (path: string, message: string, detail: string): DomainError =>
  new DomainError(errorCodes.validationFailed, detail, { errors: [{ path, message }] });

const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * IPv4 networks a push may not reach: this host, private networks, link-local (cloud
 * metadata), and ranges that never route on the internet. One list for both checks: the
 * URL given at creation and the address a delivery connects to (publicAddress.ts), so a
 * subscription the service would never deliver to is refused when it is made.
 */
export const nonPublicIPv4Networks: readonly (readonly [network: string, prefix: number])[] = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];

/** The 32-bit value of a dotted IPv4 literal, or undefined for anything else. */
function ipv4Value(address: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  const octets = m?.slice(1).map(Number);
  if (!octets || octets.some((o) => o > 255)) return undefined;
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

/** True for an IPv4 literal in one of `nonPublicIPv4Networks`; false for a public one and for anything that is no IPv4 literal. */
export function isNonPublicIPv4(address: string): boolean {
  const value = ipv4Value(address);
  if (value === undefined) return false;
  return nonPublicIPv4Networks.some(([network, prefix]) => {
    const size = 2 ** (32 - prefix);
    return Math.floor(value / size) === Math.floor(ipv4Value(network)! / size);
  });
}

/**
 * Checks a push receiver URL and returns it normalized. `https` only, to a public name:
 * no credentials in the URL, no fragment, no `localhost` and no private, loopback or
 * link-local address literal (a tenant admin must not point the service at its own
 * network). With `allowInsecureLoopback` (the local stack) also `http://127.0.0.1`,
 * `http://localhost` and `http://[::1]`, and only those over http.
 */
export function receiverUrl(raw: string, options: { readonly allowInsecureLoopback: boolean }): string {
  const path = "body.url";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(path, "not an absolute URL", "The receiver URL is not valid.");
  }
  if (url.username !== "" || url.password !== "") throw invalid(path, "must not carry a user name or password", "The receiver URL must not carry credentials.");
  if (url.hash !== "" || raw.includes("#")) throw invalid(path, "must not have a fragment", "The receiver URL must not have a fragment.");
  const loopback = loopbackHosts.has(url.hostname.toLowerCase());
  if (url.protocol === "http:") {
    if (options.allowInsecureLoopback && loopback) return url.toString();
    throw invalid(path, "must use https", "The receiver URL must use https.");
  }
  if (url.protocol !== "https:") throw invalid(path, "must use https", "The receiver URL must use https.");
  // A name may end with the DNS root's dot (`localhost.`): it names the same host.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (options.allowInsecureLoopback && loopback) return url.toString();
  if (host === "localhost" || host.endsWith(".localhost") || host.startsWith("[") || isNonPublicIPv4(host) || !host.includes(".")) {
    throw invalid(path, "must name a public host", "The receiver URL must name a public host, not a local or private address.");
  }
  return url.toString();
}

/** What may be shown or logged of a receiver URL: its origin (the path or query may carry a token). */
export const receiverOrigin = (url: string): string => new URL(url).origin;

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`, the X-Signature header value. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** The delay before retry number `attempt + 1`: doubling from `firstRetryMs`, at most an hour, never past the give-up time. */
export function retryAt(now: Date, attempt: number, firstFailedAt: Date, policy: DeliveryPolicy): Date {
  const delay = Math.min(policy.firstRetryMs * 2 ** Math.min(attempt, 20), 3_600_000);
  return new Date(Math.min(now.getTime() + delay, firstFailedAt.getTime() + policy.giveUpMs));
}

export interface DeliveryPolicy {
  /** Delay before the first retry. */
  readonly firstRetryMs: number;
  /** How long an event may keep failing before it is dead-lettered. */
  readonly giveUpMs: number;
}

/**
 * A retry's failures so far, as far as they count for the receiver with `secretVersion`.
 * They were another receiver's when the retry names another secret version (a PUT replaced
 * the receiver since): the new receiver's attempts and first failure start afresh, so it
 * too is given up only at the give-up age after its own first failure.
 */
export function failuresFor(
  data: { readonly attempt: number; readonly firstFailedAt?: string; readonly secretVersion?: string },
  secretVersion: string,
): { readonly attempt: number; readonly firstFailedAt?: Date } {
  if (data.secretVersion !== undefined && data.secretVersion !== secretVersion) return { attempt: 0 };
  return { attempt: data.attempt, ...(data.firstFailedAt === undefined ? {} : { firstFailedAt: new Date(data.firstFailedAt) }) };
}

/** How a give-up begins on the subscription's lastError (the check for one written already reads this prefix). */
export const gaveUpText = (eventId: string, attempts: number, since: string): string => `Gave up on event ${eventId} after ${attempts} attempts since ${since}`;

export const hasGivenUp = (now: Date, firstFailedAt: Date, policy: DeliveryPolicy): boolean => now.getTime() - firstFailedAt.getTime() >= policy.giveUpMs;

/**
 * POSTs of one tenant an instance makes at once. The queue's concurrent calls (host.json's
 * maxConcurrentCalls, 16) serve every tenant, and a receiver may hold each request until
 * the 10 s timeout: unbounded, one tenant's burst to a slow receiver (or to five) would take
 * every call and hold up the other tenants' deliveries behind it for minutes.
 */
export const maxDeliveriesInFlightPerTenant = 4;

/**
 * When a delivery held back (its tenant had `maxDeliveriesInFlightPerTenant` under way)
 * for the `deferrals`-th time comes again: 5 s, doubling, at most a minute apart, so a
 * large backlog waits without going round the queue every few seconds.
 */
export const heldBackUntil = (now: Date, deferrals: number): Date =>
  new Date(now.getTime() + Math.min(5_000 * 2 ** Math.min(Math.max(deferrals - 1, 0), 10), 60_000));

/**
 * A message id derived from what the message means, so a re-sent delivery (a fan-out that
 * ran twice, a retry sent again after a crash) is the same Service Bus message and
 * duplicate detection drops it. A UUID (version 8, name-based) as the envelope wants. A
 * delivery held back is sent again with its count of deferrals, so its copy has an id of
 * its own (with the original's, duplicate detection would drop it: lost).
 */
export function deliveryMessageId(parts: {
  tenantId: string;
  subscriptionId: string;
  generation: string;
  sequence: number;
  attempt: number;
  deferrals?: number;
  secretVersion?: string;
}): string {
  const held = parts.deferrals ? `|held ${parts.deferrals}` : "";
  // A retry names the receiver (secret version) it counts for: a new receiver's attempts
  // start afresh, and its retry must not take the id of the old one's with the same number.
  const receiver = parts.secretVersion ? `|for ${parts.secretVersion}` : "";
  const h = createHash("sha256")
    .update(`audit.deliver|${parts.tenantId}|${parts.subscriptionId}|${parts.generation}|${parts.sequence}|${parts.attempt}${held}${receiver}`)
    .digest("hex");
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The delta token: opaque to callers (base64url JSON), bound to the tenant, naming the last sequence number returned. */
export function encodeDeltaToken(tenantId: string, sequence: number): string {
  return Buffer.from(JSON.stringify({ v: 1, t: tenantId, s: sequence })).toString("base64url");
}

export function decodeDeltaToken(token: string | undefined, tenantId: string): number {
  if (token === undefined) return 0;
  const rejected = (): DomainError => invalid("query.deltaToken", "not a delta token this API issued for your tenant", "The delta token is not valid.");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw rejected();
  }
  if (!parsed || typeof parsed !== "object") throw rejected();
  const { v, t, s } = parsed as { v?: unknown; t?: unknown; s?: unknown };
  if (v !== 1 || t !== tenantId || typeof s !== "number" || !Number.isSafeInteger(s) || s < 0) throw rejected();
  return s;
}
