// The audit export's pure rules: receiver URLs, the push signature, retry timing and the
// give-up rule, deterministic delivery ids, and the tenant-bound delta token.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isPublicAddress } from "../../shared/adapters/http/publicAddress.js";
import { decodeDeltaToken, deliveryMessageId, encodeDeltaToken, hasGivenUp, receiverUrl, retryAt, signature } from "../../shared/domain/auditExport.js";
import { DomainError } from "../../shared/domain/errors.js";

const strict = { allowInsecureLoopback: false };
const local = { allowInsecureLoopback: true };

describe("receiverUrl", () => {
  it.each(["https://siem.example.com/hook", "https://siem.example.com:8443/a/b?x=1"])("accepts %s", (url) => {
    expect(receiverUrl(url, strict)).toBe(new URL(url).toString());
  });

  it.each([
    ["http to a public host", "http://siem.example.com/hook", local],
    ["http to loopback without the local switch", "http://127.0.0.1:9000/hook", strict],
    ["credentials", "https://u:p@siem.example.com/", strict],
    ["a fragment", "https://siem.example.com/#f", strict],
    ["another scheme", "ftp://siem.example.com/", strict],
    ["javascript", "javascript:alert(1)", strict],
    ["localhost over https", "https://localhost/hook", strict],
    ["localhost with the root's trailing dot", "https://localhost./hook", strict],
    ["a .localhost name with the root's trailing dot", "https://siem.localhost./hook", strict],
    ["a private IPv4", "https://192.168.1.10/hook", strict],
    ["link-local metadata", "https://169.254.169.254/", strict],
    ["an IPv6 literal", "https://[fd00::1]/", strict],
    ["a single-label host", "https://intranet/hook", strict],
    ["a single-label host with the root's trailing dot", "https://intranet./hook", strict],
    ["not a URL", "siem.example.com/hook", strict],
  ])("rejects %s", (_what, url, options) => {
    expect(() => receiverUrl(url, options)).toThrow(DomainError);
  });

  it("accepts http loopback only with the local switch", () => {
    expect(receiverUrl("http://127.0.0.1:9000/hook", local)).toBe("http://127.0.0.1:9000/hook");
    expect(receiverUrl("http://localhost:9000/hook", local)).toBe("http://localhost:9000/hook");
  });
});

describe("receiverUrl and delivery agree on IPv4 address literals", () => {
  // Delivery refuses to connect to these (publicAddress.ts); a subscription to one was
  // accepted, then failed every delivery for 24 hours.
  it.each([
    ["192.0.0.8", "IETF protocol assignments"],
    ["192.0.2.10", "documentation (TEST-NET-1)"],
    ["198.18.0.1", "benchmarking"],
    ["198.51.100.7", "documentation (TEST-NET-2)"],
    ["203.0.113.9", "documentation (TEST-NET-3)"],
    ["255.255.255.255", "broadcast"],
  ])("refuses %s (%s) at creation, as delivery does", (address) => {
    // Act
    const atCreation = (): string => receiverUrl(`https://${address}/hook`, strict);

    // Assess
    expect(isPublicAddress(address)).toBe(false);
    expect(atCreation).toThrow(DomainError);
  });

  it("accepts at creation exactly the IPv4 literals delivery connects to", () => {
    // Prepare: the first and last address of every /8, and each side of every refused range's edges.
    const addresses = new Set<string>();
    for (let a = 0; a < 256; a++)
      for (const rest of ["0.0.0", "255.255.255", "18.0.1", "51.100.7", "64.0.1", "254.1.1", "0.2.10", "0.113.9"]) addresses.add(`${a}.${rest}`);

    // Act
    const disagreements = [...addresses].filter((address) => {
      const accepted = ((): boolean => {
        try {
          receiverUrl(`https://${address}/hook`, strict);
          return true;
        } catch {
          return false;
        }
      })();
      return accepted !== isPublicAddress(address);
    });

    // Assess
    expect(disagreements).toEqual([]);
  });
});

describe("signature", () => {
  it("is sha256= and the hex HMAC of the exact body", () => {
    // Prepare
    const body = '{"id":"1","activity":"settings.update"}';

    // Act
    const signed = signature("a-long-enough-secret", body);

    // Assess
    expect(signed).toBe(`sha256=${createHmac("sha256", "a-long-enough-secret").update(body).digest("hex")}`);
  });
});

describe("retry timing", () => {
  const policy = { firstRetryMs: 30_000, giveUpMs: 24 * 3_600_000 };
  const first = new Date("2026-01-01T00:00:00Z");

  it("doubles from the first delay, at most an hour, never past the give-up time", () => {
    expect(retryAt(first, 0, first, policy).getTime() - first.getTime()).toBe(30_000);
    expect(retryAt(first, 3, first, policy).getTime() - first.getTime()).toBe(240_000);
    expect(retryAt(first, 30, first, policy).getTime() - first.getTime()).toBe(3_600_000);
    const late = new Date(first.getTime() + 24 * 3_600_000 - 1000);
    expect(retryAt(late, 30, first, policy).getTime()).toBe(first.getTime() + policy.giveUpMs);
  });

  it("gives up exactly at the give-up age", () => {
    expect(hasGivenUp(new Date(first.getTime() + policy.giveUpMs - 1), first, policy)).toBe(false);
    expect(hasGivenUp(new Date(first.getTime() + policy.giveUpMs), first, policy)).toBe(true);
  });
});

describe("deliveryMessageId", () => {
  it("is a stable UUID per subscription, generation, event and attempt", () => {
    const parts = { tenantId: "t", subscriptionId: "s", generation: "g", sequence: 7, attempt: 0 };
    const id = deliveryMessageId(parts);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deliveryMessageId(parts)).toBe(id);
    expect(deliveryMessageId({ ...parts, attempt: 1 })).not.toBe(id);
    expect(deliveryMessageId({ ...parts, sequence: 8 })).not.toBe(id);
  });
});

describe("delta token", () => {
  it("round-trips for its tenant and is refused by another", () => {
    const token = encodeDeltaToken("tenant-a", 42);
    expect(decodeDeltaToken(token, "tenant-a")).toBe(42);
    expect(() => decodeDeltaToken(token, "tenant-b")).toThrow(DomainError);
    expect(decodeDeltaToken(undefined, "tenant-a")).toBe(0);
  });

  it.each([
    "",
    "bm90LWpzb24",
    Buffer.from('{"v":1,"t":"tenant-a","s":1.5}').toString("base64url"),
    Buffer.from('{"v":2,"t":"tenant-a","s":1}').toString("base64url"),
  ])("refuses %j", (token) => {
    expect(() => decodeDeltaToken(token, "tenant-a")).toThrow(DomainError);
  });
});
