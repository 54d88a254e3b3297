// The client address a request came from, as the platform saw it, for per-address limits.
// In Azure the App Service front end appends the address it accepted the connection from
// (`ip:port`, `[ipv6]:port`) to `X-Forwarded-For`; the local host does the same. Entries
// before the last are whatever the client or a proxy wrote, so only the last one counts.
import { isIPv4, isIPv6 } from "node:net";

/** The key for requests whose address cannot be read: they share one (small) budget rather than none. */
export const unknownAddress = "unknown";

/** The client's address: IPv4 as is, IPv6 as its /64 network (one subscriber holds a whole /64). */
export function clientAddress(headers: Headers): string {
  const forwarded = headers.get("x-forwarded-for");
  if (!forwarded) return unknownAddress;
  const last = forwarded.slice(forwarded.lastIndexOf(",") + 1).trim();
  return normalize(stripPort(last)) ?? unknownAddress;
}

function stripPort(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed) return bracketed[1];
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(entry);
  return v4WithPort ? v4WithPort[1] : entry;
}

function normalize(address: string): string | undefined {
  if (isIPv4(address)) return address;
  // A zone id (fe80::1%eth0) names the interface, not the client.
  const bare = address.replace(/%[^%]*$/, "");
  if (!isIPv6(bare)) return undefined;
  const groups = expandIPv6(bare.toLowerCase());
  // IPv4-mapped (::ffff:a.b.c.d) is that IPv4 client.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a trailing dotted IPv4 expanded). */
function expandIPv6(address: string): number[] {
  let text = address;
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...middle, ...right].map((g) => parseInt(g, 16));
}
