// Which IP addresses a tenant-chosen URL may reach. A push receiver is named by a tenant
// admin; the service must not become their way into the service's own network: this host,
// a private network, link-local (cloud metadata at 169.254.169.254), or addresses that
// never route on the internet. The URL check (shared/domain/auditExport.ts receiverUrl)
// refuses such address literals; this list refuses a public-looking *name* that resolves
// to one, checked on the address the connection then uses (so a name that resolves
// differently a second later, DNS rebinding, gains nothing).
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { isNonPublicIPv4, nonPublicIPv4Networks } from "../../domain/auditExport.js";

const nonPublic = new BlockList();
// The IPv4 networks are the URL check's own, so creation and delivery refuse the same
// addresses; in the block list they also catch IPv4-mapped IPv6 addresses (::ffff:10.0.0.1).
for (const [network, prefix] of nonPublicIPv4Networks) nonPublic.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96], // NAT64: may translate to any IPv4, private ones included
  ["64:ff9b:1::", 48], // NAT64 for local use: the same, within one network
  ["100::", 64],
  ["2001::", 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
  ["2001:db8::", 32],
  ["3fff::", 20], // documentation
  ["5f00::", 16], // segment routing identifiers
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated, still a private network where used)
  ["ff00::", 8], // multicast
] as const)
  nonPublic.addSubnet(network, prefix, "ipv6");

/** True when `address` (an IPv4 or IPv6 literal) routes on the public internet. IPv4-mapped IPv6 counts as its IPv4. */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/%[^%]*$/, "");
  if (isIPv4(bare)) return !isNonPublicIPv4(bare);
  return !nonPublic.check(bare, isIPv6(bare) ? "ipv6" : "ipv4");
}

/** Resolves a host name to every address it has. */
export type AddressResolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export const systemResolver: AddressResolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (e, addresses) => (e ? reject(e) : resolve(addresses))));

/** The error a connection gets when its host resolves to an address that is not public. */
export class NonPublicAddressError extends Error {
  readonly code = "ENONPUBLIC";
  constructor(hostname: string) {
    super(`${hostname} resolves to an address that is not public`);
    this.name = "NonPublicAddressError";
  }
}

type LookupCallback = (error: Error | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for `http.request` / `https.request` that refuses a host any of whose addresses
 * is not public (unless `allowNonPublic`, the local stack), and hands the connection exactly
 * the addresses it checked.
 */
export function guardedLookup(resolve: AddressResolver, allowNonPublic: boolean) {
  return (hostname: string, options: { family?: number | string; all?: boolean }, callback: LookupCallback): void => {
    resolve(hostname).then(
      (found) => {
        const family = options.family === 4 || options.family === "IPv4" ? 4 : options.family === 6 || options.family === "IPv6" ? 6 : 0;
        const addresses = found.filter((a) => family === 0 || a.family === family);
        if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), []);
        if (!allowNonPublic && addresses.some((a) => !isPublicAddress(a.address))) return callback(new NonPublicAddressError(hostname), []);
        if (options.all) return callback(null, addresses);
        callback(null, addresses[0].address, addresses[0].family);
      },
      (e: unknown) => callback(e instanceof Error ? e : new Error(String(e)), []),
    );
  };
}
