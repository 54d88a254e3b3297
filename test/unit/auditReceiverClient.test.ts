// The push receiver client connects only to public addresses: a receiver whose name
// resolves to this host, a private network or link-local is refused when the connection is
// made, and the receiver gets nothing. Host names are resolved by a stand-in resolver (this
// machine has no DNS to point a public-looking name at 127.0.0.1); the connection itself
// is real, to an HTTP server on loopback.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HttpAuditReceiverClient } from "../../shared/adapters/http/auditReceiverClient.js";
import { isPublicAddress, type AddressResolver } from "../../shared/adapters/http/publicAddress.js";

let server: Server;
let port: number;
let received: { headers: IncomingMessage["headers"]; body: string }[];
let answer: (res: import("node:http").ServerResponse) => void;

beforeEach(async () => {
  received = [];
  answer = (res) => res.writeHead(204).end();
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Names the test gives addresses; any other name does not resolve. */
const resolver =
  (names: Record<string, string[]>): AddressResolver =>
  async (hostname) => {
    const addresses = names[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };

const event = JSON.stringify({ sequence: 1, activity: "session.requested" });
const headers = { "content-type": "application/json", "x-signature": "sha256=abc" };

describe("the push receiver client", () => {
  it("refuses a public-looking name that resolves to this host, and sends nothing", async () => {
    // Prepare
    const client = new HttpAuditReceiverClient({ allowNonPublic: false, resolve: resolver({ "siem.contoso.example": ["127.0.0.1"] }) });

    // Act
    const outcome = await client.post(`http://siem.contoso.example:${port}/ingest`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: false, reason: expect.stringMatching(/local or private address/) });
    expect(received).toHaveLength(0);
  });

  it("refuses a name when any of its addresses is not public (a rebinding name lists both)", async () => {
    // Prepare
    const client = new HttpAuditReceiverClient({
      allowNonPublic: false,
      resolve: resolver({ "rebind.contoso.example": ["127.0.0.1", "20.42.73.10"] }),
    });

    // Act
    const outcome = await client.post(`http://rebind.contoso.example:${port}/`, event, headers);

    // Assess
    expect(outcome.ok).toBe(false);
    expect(received).toHaveLength(0);
  });

  it("refuses an address literal of this host", async () => {
    // Prepare
    const client = new HttpAuditReceiverClient({ allowNonPublic: false, resolve: resolver({}) });

    // Act
    const outcome = await client.post(`http://127.0.0.1:${port}/`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: false, reason: expect.stringMatching(/local or private address/) });
    expect(received).toHaveLength(0);
  });

  it("on the local stack (non-public allowed) delivers the body and headers as given", async () => {
    // Prepare
    const client = new HttpAuditReceiverClient({ allowNonPublic: true, resolve: resolver({ "receiver.local.example": ["127.0.0.1"] }) });

    // Act
    const outcome = await client.post(`http://receiver.local.example:${port}/ingest?token=t`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: true });
    expect(received).toEqual([{ headers: expect.objectContaining({ "x-signature": "sha256=abc", "content-type": "application/json" }), body: event }]);
  });

  it("does not follow a redirect, and names only the status", async () => {
    // Prepare
    answer = (res) => res.writeHead(302, { location: "http://169.254.169.254/metadata" }).end();
    const client = new HttpAuditReceiverClient({ allowNonPublic: true });

    // Act
    const outcome = await client.post(`http://127.0.0.1:${port}/secret-path?token=t`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: false, reason: "the receiver answered 302" });
    expect(received).toHaveLength(1);
  });

  it("gives up on a receiver that does not answer in time", async () => {
    // Prepare
    answer = () => undefined;
    const client = new HttpAuditReceiverClient({ allowNonPublic: true, timeoutMs: 200 });

    // Act
    const outcome = await client.post(`http://127.0.0.1:${port}/`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: false, reason: "no answer within 0.2 s" });
  });

  it.each([400, 401, 404, 410, 429, 500, 502, 503])("counts an answer %i as a failure naming only the status", async (status) => {
    // Prepare
    answer = (res) => res.writeHead(status, { "content-type": "text/plain" }).end("token=should-not-show");
    const client = new HttpAuditReceiverClient({ allowNonPublic: true });

    // Act
    const outcome = await client.post(`http://127.0.0.1:${port}/secret-path?token=t`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: false, reason: `the receiver answered ${status}` });
  });

  it("counts a connection closed before any answer as a failure", async () => {
    // Prepare
    answer = (res) => res.socket?.destroy();
    const client = new HttpAuditReceiverClient({ allowNonPublic: true });

    // Act
    const outcome = await client.post(`http://127.0.0.1:${port}/`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: false, reason: "could not reach the receiver (ECONNRESET)" });
  });

  it("takes a 2xx whose body is huge, or never ends, as delivered without waiting for the body", async () => {
    // Prepare: 200 with 64 MiB announced, 1 MiB written, the rest never sent.
    answer = (res) => {
      res.writeHead(200, { "content-length": String(64 * 1024 * 1024) });
      res.write(Buffer.alloc(1024 * 1024, 0x61));
    };
    const client = new HttpAuditReceiverClient({ allowNonPublic: true, timeoutMs: 60_000 });

    // Act
    const outcome = await client.post(`http://127.0.0.1:${port}/`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: true });
  });

  it("sends the body byte for byte as signed, non-ASCII text included", async () => {
    // Prepare
    const body = JSON.stringify({ detail: "Zoë’s laptop 🖥️ \u0000" });
    const client = new HttpAuditReceiverClient({ allowNonPublic: true });

    // Act
    const outcome = await client.post(`http://127.0.0.1:${port}/`, body, headers);

    // Assess
    expect(outcome).toEqual({ ok: true });
    expect(received[0].body).toBe(body);
    expect(received[0].headers["content-length"]).toBe(String(Buffer.byteLength(body)));
  });

  it("names the network error when nobody listens, without the URL", async () => {
    // Prepare
    const client = new HttpAuditReceiverClient({ allowNonPublic: true });
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = createServer();

    // Act
    const outcome = await client.post(`http://127.0.0.1:${port}/secret-path`, event, headers);

    // Assess
    expect(outcome).toEqual({ ok: false, reason: "could not reach the receiver (ECONNREFUSED)" });
  });
});

describe("isPublicAddress", () => {
  it.each([
    ["127.0.0.1", false],
    ["10.1.2.3", false],
    ["172.20.0.5", false],
    ["192.168.1.1", false],
    ["169.254.169.254", false],
    ["100.64.0.1", false],
    ["0.0.0.0", false],
    ["224.0.0.1", false],
    ["::1", false],
    ["::", false],
    ["fd12:3456::1", false],
    ["fe80::1%eth0", false],
    ["::ffff:10.0.0.1", false],
    ["::ffff:169.254.169.254", false],
    ["64:ff9b::a00:1", false],
    ["fec0::1", false],
    ["64:ff9b:1::a00:1", false],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", false],
    ["3fff::1", false],
    ["5f00::1", false],
    ["198.18.0.1", false],
    ["20.42.73.10", true],
    ["8.8.8.8", true],
    ["2606:4700:4700::1111", true],
    ["::ffff:20.42.73.10", true],
  ])("%s → %s", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});
