// Property test: thousands of malformed bodies, queries and path values thrown at every
// endpoint answer 4xx (never 5xx), and nothing in storage changes.
import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { TableClient } from "@azure/data-tables";
import fc from "fast-check";
import { ulid } from "ulid";
import type { TokenClaims } from "../../local/identity/server.js";
import { problemSchema } from "../../shared/contracts/common.js";
import { beforeAll, describe, expect, it } from "vitest";
import { allDefinitions } from "../../functions/all.js";
import { endpointDescriptions, type EndpointDescription } from "../../functions/http/endpoint.js";
import { tableNames } from "../../shared/adapters/tables/tables.js";
import { stack, tokenFor } from "../support/api.js";
import { samplePath, sampleRequest } from "../support/samples.js";

allDefinitions();
const endpoints = endpointDescriptions();
const tenantId = randomUUID();
let token = "";

/** Every entity of the fuzz tenant (all its partitions), as pk|rk|etag lines. */
async function snapshot(): Promise<string[]> {
  const out: string[] = [];
  for (const name of Object.values(tableNames)) {
    const table = TableClient.fromConnectionString(stack().tablesConnectionString, name, { allowInsecureConnection: true });
    const filter = `PartitionKey ge '${tenantId}' and PartitionKey lt '${tenantId}~'`;
    try {
      for await (const e of table.listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })) {
        out.push(`${name}|${e.partitionKey}|${e.rowKey}|${e.etag}`);
      }
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
  }
  return out.sort();
}

async function send(method: string, path: string, init: { body?: string; contentType?: string } = {}): Promise<number> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (init.body !== undefined) headers["content-type"] = init.contentType ?? "application/json";
  const res = await fetch(`${stack().apiUrl}${path}`, { method, headers, body: init.body, redirect: "manual" });
  await res.arrayBuffer();
  return res.status;
}

const isJson = (t: string): boolean => {
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
};

const runs = Number(process.env.FUZZ_RUNS ?? 120);
const nastyString = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.constantFrom("", " ", "..", "%00", "%2F", "'", "' or 1 eq 1 or '", "\u0000", "a".repeat(5000), "../../etc/passwd", "{}", "null", "-1", "1e309"),
);

beforeAll(async () => {
  token = await tokenFor({
    tid: tenantId,
    oid: randomUUID(),
    name: "Fuzz admin",
    roles: ["Intune.Administrator", "RemoteAssistance.Update", "RemoteAssistance.Request"],
  });
});

describe.each(endpoints.map((d) => [`${d.method} /api/${d.route}`, d] as const))("%s", (_label, d: EndpointDescription) => {
  it("answers 4xx to malformed input and changes nothing", async () => {
    const before = await snapshot();
    const statuses = new Map<number, number>();
    const seen = (s: number): void => void statuses.set(s, (statuses.get(s) ?? 0) + 1);

    // Path values.
    const params = [...d.route.matchAll(/\{(\w+)[^}]*\}/g)].map((m) => m[1]);
    if (params.length > 0) {
      await fc.assert(
        fc.asyncProperty(nastyString, async (value) => {
          // A well-formed id is not malformed. "", "." and ".." never reach the server as a
          // path value: URL dot-segment rules send /devices/. to the list endpoint, as in Azure.
          fc.pre(!["", ".", ".."].includes(value) && !/^[A-Za-z0-9-]{1,64}$/.test(value));
          const path = samplePath(d, Object.fromEntries(params.map((p) => [p, value])));
          const status = await send(d.method, path, d.body ? { body: "{}" } : {});
          seen(status);
          return status >= 400 && status < 500;
        }),
        { numRuns: runs },
      );
    }

    // Queries: unknown names, wrong types, repeats.
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom("top", "continuationToken", "from", "to", "search", "platform", "eligible", "status", "deviceId", "activity", "zzz", "$filter"),
          nastyString,
          { minKeys: 1, maxKeys: 4 },
        ),
        async (query) => {
          const base = sampleRequest(d);
          const qs = new URLSearchParams(query);
          if ("zzz" in query === false && "$filter" in query === false) qs.append(Object.keys(query)[0], "repeated");
          const status = await send(d.method, `${base.path}?${qs.toString()}`, base.body === undefined ? {} : { body: JSON.stringify(base.body) });
          seen(status);
          return status < 500 && (d.authenticated ? status >= 400 : true);
        },
      ),
      { numRuns: runs },
    );

    // Bodies: any JSON the schema rejects, non-JSON text, wrong content types, and bodies on body-less endpoints.
    if (d.method !== "GET") {
      const schema = d.body;
      const invalidJson = fc
        .jsonValue({ maxDepth: 4 })
        .filter((v) => (schema ? !schema.safeParse(v).success : !(v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0)));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            invalidJson.map((v) => ({ body: JSON.stringify(v), contentType: "application/json" })),
            fc
              .string({ maxLength: 200 })
              .filter((t) => t.trim() !== "" && !isJson(t))
              .map((t) => ({ body: t, contentType: "application/json" })),
            invalidJson.map((v) => ({ body: JSON.stringify(v), contentType: "text/plain" })),
            fc.constant({ body: JSON.stringify({ x: "y".repeat(70_000) }), contentType: "application/json" }),
          ),
          async (b) => {
            const status = await send(d.method, sampleRequest(d).path, b);
            seen(status);
            return d.authenticated || d.route.startsWith("connector/oauth") ? status >= 400 && status < 500 : status < 500;
          },
        ),
        { numRuns: runs },
      );
    }

    const after = await snapshot();
    expect(after).toEqual(before);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// Ten thousand generated requests across every operation of the OpenAPI document: hostile
// ids (ULIDs that overflow, wrong alphabets, over-long, traversal, unicode), queries,
// bodies, headers and tokens (none, garbage, expired, another tenant, each role, app-only),
// sent 16 at a time. No answer is 5xx, no body carries a stack trace, every error with a
// body is problem+json with the documented fields, and the stack serves normally after.

interface Operation {
  readonly operationId: string;
  readonly method: string;
  readonly path: string;
  readonly pathParams: readonly string[];
  readonly queryParams: readonly string[];
  readonly hasBody: boolean;
}

interface FuzzRequest {
  readonly operationId: string;
  readonly method: string;
  readonly path: string;
  readonly token: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Blob;
}

const manyRuns = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const concurrency = 16;
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const hostileId = fc.oneof(
  // ULID-shaped ids that cannot exist: a time over 48 bits (first character 8–Z), letters outside Crockford's alphabet, lower and mixed case.
  fc
    .tuple(fc.constantFrom(..."89ABCDEFGHJKMNPQRSTVWXYZ"), fc.string({ unit: fc.constantFrom(...crockford), minLength: 25, maxLength: 25 }))
    .map(([a, b]) => a + b),
  fc.string({ unit: fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"), minLength: 26, maxLength: 26 }),
  fc.string({ unit: fc.constantFrom(...crockford), minLength: 26, maxLength: 26 }).map((s) => s.toLowerCase()),
  fc.string({ unit: fc.constantFrom(...crockford), minLength: 20, maxLength: 32 }),
  fc.constant(null).map(() => randomUUID()),
  fc.constant(null).map(() => randomUUID().toUpperCase()),
  fc.string({ unit: fc.constantFrom(..."abcdef0123456789-"), minLength: 65, maxLength: 400 }),
  fc.constantFrom(
    "",
    " ",
    ".",
    "..",
    "%2e%2e",
    "..%2f..%2fetc",
    "../../etc/passwd",
    "a/b",
    "%00",
    "\u0000",
    "null",
    "-1",
    "0",
    "1e309",
    "' or 1 eq 1 or '",
    "$filter",
    "~",
    "|",
    "s|9|x",
  ),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }),
  fc.string({ minLength: 1, maxLength: 80 }),
);

const hostileValue = fc.oneof(
  hostileId,
  fc.constantFrom(
    "true",
    "false",
    "1",
    "0",
    "-5",
    "201",
    "9999999999999999999",
    "2026-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
    "windows",
    "closed",
    "AAAA",
    "a".repeat(3000),
  ),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);

/** Header values fetch can send: Latin-1 without control characters. */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff })).map((c) => String.fromCharCode(c)), maxLength });

const contentTypes = fc.constantFrom(
  "application/json",
  "APPLICATION/JSON",
  "application/json; charset=utf-16",
  "application/merge-patch+json",
  "application/problem+json",
  "application/jsonx",
  "text/plain",
  "text/json",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/octet-stream",
  ";;;",
  "application/json, text/plain",
);

let tokensByKind = new Map<string, string>();
let operations: Operation[] = [];

function requestArbitrary(ops: readonly Operation[], tokenKinds: readonly string[]): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...ops).chain((op) =>
    fc
      .record({
        ids: fc.array(fc.oneof({ weight: 4, arbitrary: hostileId }, { weight: 1, arbitrary: fc.constant(null).map(() => ulid()) }), {
          minLength: op.pathParams.length,
          maxLength: op.pathParams.length,
        }),
        rawPath: fc.boolean(),
        // Half without a query, so that hostile ids and bodies reach the use cases.
        query: fc.oneof(
          fc.constant({}),
          fc.dictionary(
            fc.oneof(fc.constantFrom(...op.queryParams, "top", "continuationToken", "zzz", "$filter"), fc.string({ maxLength: 10 })),
            hostileValue,
            {
              minKeys: 1,
              maxKeys: 4,
            },
          ),
        ),
        repeat: fc.boolean(),
        token: fc.constantFrom(...tokenKinds),
        idempotencyKey: fc.option(
          fc.oneof(
            headerText(300),
            fc.constant("k".repeat(5000)),
            fc.constant(null).map(() => randomUUID()),
          ),
          { nil: undefined },
        ),
        correlationId: fc.option(
          fc.oneof(
            headerText(200),
            fc.constant(null).map(() => randomUUID()),
          ),
          { nil: undefined },
        ),
        contentType: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: contentTypes }),
        body: fc.option(
          fc.oneof(
            {
              weight: 4,
              arbitrary: fc.constant(null).map(() => {
                const d = endpointDescriptions().find((e) => e.name === op.operationId);
                return d?.body ? JSON.stringify(sampleRequest(d).body) : "{}";
              }),
            },
            fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
            fc.string({ maxLength: 300 }),
            fc.uint8Array({ maxLength: 200 }).map((b) => new Blob([new Uint8Array(b)])),
            fc.constant(JSON.stringify({ description: "x".repeat(80_000) })),
            fc.constant('{"description":"a","description":"b"}'),
            fc.constant('{"__proto__":{"admin":true},"description":"p"}'),
          ),
          { nil: undefined, freq: 3 },
        ),
      })
      .map((g): FuzzRequest => {
        let path = op.path;
        op.pathParams.forEach((name, i) => {
          const id = g.ids[i] ?? "";
          path = path.replace(`{${name}}`, g.rawPath ? id.replace(/[?#\s%]/g, "") : encodeURIComponent(id));
        });
        const qs = new URLSearchParams(g.query);
        const first = Object.keys(g.query)[0];
        if (g.repeat && first !== undefined) qs.append(first, "again");
        const headers: Record<string, string> = {};
        if (g.idempotencyKey !== undefined) headers["idempotency-key"] = g.idempotencyKey;
        if (g.correlationId !== undefined) headers["x-correlation-id"] = g.correlationId;
        if (g.contentType !== undefined) headers["content-type"] = g.contentType;
        const sendsBody = op.method !== "GET" && g.body !== undefined;
        return {
          operationId: op.operationId,
          method: op.method,
          path: `${path}${qs.size > 0 ? `?${qs.toString()}` : ""}`,
          token: g.token,
          headers,
          body: sendsBody ? g.body : undefined,
        };
      }),
  );
}

interface Outcome {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

async function sendFuzz(r: FuzzRequest): Promise<Outcome> {
  const headers: Record<string, string> = { ...r.headers };
  const token = tokensByKind.get(r.token);
  if (token !== undefined) headers.authorization = token;
  // The base URL ends in /api; the operation paths start with /api.
  const url = `${stack().apiUrl.replace(/\/api$/, "")}${r.path}`;
  try {
    const res = await fetch(url, { method: r.method, headers, body: r.body, redirect: "manual", signal: AbortSignal.timeout(15_000) });
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
  } catch (e) {
    // No answer at all (status 0): judged below.
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { status: 0, contentType: "", text: `${String(e)} (${cause?.code ?? cause?.message ?? "no cause"})` };
  }
}

/** The host may close the connection on a body over its limit before reading it all, as Azure's front end does. */
const mayBeCutOff = (r: FuzzRequest): boolean => typeof r.body === "string" && r.body.length > 64 * 1024;

/** What is wrong with an answer, or undefined when it is acceptable. */
function judge(o: Outcome, r: FuzzRequest): string | undefined {
  if (o.status === 0) return mayBeCutOff(r) ? undefined : `no answer: ${o.text}`;
  if (o.status >= 500) return `status ${o.status}`;
  if (/\n\s+at \S/.test(o.text) || /\b[A-Za-z]*Error: /.test(o.text)) return "a stack trace or error text in the body";
  if (o.status < 400) return undefined;
  // The host itself answers some requests (no route, URI or headers too long, body too large) with an empty body, as in Azure.
  if (o.text === "") return [400, 404, 413, 414, 431].includes(o.status) ? undefined : `empty ${o.status}`;
  if (!o.contentType.startsWith("application/problem+json")) return `error with content-type ${o.contentType}`;
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(o.text) as Record<string, unknown>;
  } catch {
    return "error body is not JSON";
  }
  const parsed = problemSchema.safeParse(p);
  if (!parsed.success) return "error body lacks the documented fields";
  if (parsed.data.status !== o.status) return `problem status ${parsed.data.status} on a ${o.status}`;
  return undefined;
}

/** Requests whose Content-Length lies, or is malformed, written on a raw socket (fetch will not send them). */
async function rawRequest(text: string | Buffer): Promise<number | undefined> {
  const url = new URL(stack().apiUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = "";
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      resolve(m ? Number(m[1]) : undefined);
    };
    const timer = setTimeout(done, 5_000);
    socket.on("data", (d: Buffer) => {
      received += d.toString("latin1");
      if (received.includes("\r\n")) done();
    });
    socket.on("error", done);
    socket.on("close", done);
    socket.end(text);
  });
}

describe("ten thousand generated requests across the OpenAPI document", () => {
  beforeAll(async () => {
    const tid = randomUUID();
    const scopedGroup = randomUUID();
    const mint = (claims: Partial<TokenClaims>): Promise<string> => tokenFor({ tid, oid: randomUUID(), name: "Fuzz", ...claims }).then((t) => `Bearer ${t}`);
    tokensByKind = new Map([
      ["garbage", "Bearer not.a.jwt"],
      ["basic", "Basic dXNlcjpwYXNz"],
      ["hugeBearer", `Bearer ${"A".repeat(9000)}`],
      ["administrator", await mint({ roles: ["Intune.Administrator"] })],
      ["update", await mint({ roles: ["RemoteAssistance.Update"] })],
      ["request", await mint({ roles: ["RemoteAssistance.Request"] })],
      ["viewReports", await mint({ roles: ["RemoteAssistance.ViewReports"] })],
      ["approve", await mint({ roles: ["RemoteAssistance.Approve"] })],
      ["endUser", await mint({})],
      ["scoped", await mint({ groups: [scopedGroup] })],
      ["overage", await mint({ hasgroups: true })],
      ["app", await mint({ roles: ["RemoteAssistance.Automation"], idtyp: "app", azp: randomUUID() })],
      ["expired", await mint({ roles: ["Intune.Administrator"], expiresAt: Math.floor(Date.now() / 1000) - 3600 })],
      ["otherTenant", await tokenFor({ tid: randomUUID(), oid: randomUUID(), roles: ["Intune.Administrator"] }).then((t) => `Bearer ${t}`)],
      ["wrongAudience", await mint({ roles: ["Intune.Administrator"], audience: "api://someone-else" })],
    ]);
    const admin = tokensByKind.get("administrator")!;
    const put = await fetch(`${stack().apiUrl}/roleAssignments/${randomUUID()}`, {
      method: "PUT",
      headers: { authorization: admin, "content-type": "application/json" },
      body: JSON.stringify({ principalId: scopedGroup, principalType: "group", permission: "RemoteAssistance.Request", scopeTags: ["berlin"] }),
    });
    expect(put.status).toBe(201);

    const doc = (await (await fetch(`${stack().apiUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string; parameters?: { name: string; in: string }[]; requestBody?: unknown }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        pathParams: (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name),
        queryParams: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
        hasBody: op.requestBody !== undefined,
      })),
    );
  });

  it("answers none with 5xx or a stack trace, every error as problem+json, and serves afterwards", async () => {
    // Prepare
    expect(operations.length).toBe(endpointDescriptions().length);
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    console.log(`fuzz: seed ${seed} (FUZZ_SEED=${seed} repeats this run)`);
    const requests = fc.sample(requestArbitrary(operations, [...tokensByKind.keys(), "none"]), { numRuns: manyRuns, seed });
    const lies = [
      (len: number, body: string) => `Content-Length: ${len + 50}\r\n\r\n${body}`,
      (_len: number, body: string) => `Content-Length: 2\r\n\r\n${body}`,
      (_len: number, body: string) => `Content-Length: abc\r\n\r\n${body}`,
      (_len: number, body: string) => `Content-Length: -1\r\n\r\n${body}`,
      (len: number, body: string) => `Content-Length: ${len}\r\nContent-Length: ${len + 1}\r\n\r\n${body}`,
      (len: number, body: string) => `Content-Length: ${len}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
      (_len: number, _body: string) => `Content-Length: 99999999999\r\n\r\n{}`,
    ];
    const failures: string[] = [];
    const resets: string[] = [];
    const byStatus = new Map<number, number>();
    const byOperation = new Map<string, number>();
    let next = 0;

    // Act
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const r = requests[next++];
        let outcome = await sendFuzz(r);
        if (outcome.status === 0 && !outcome.text.includes("TimeoutError") && !mayBeCutOff(r)) {
          // A connection reset without an answer (seen rarely on the local host's kept-alive
          // sockets): counted and reported, then the same request is judged on a new try.
          resets.push(`${r.method} ${r.path.slice(0, 120)}: ${outcome.text}`);
          outcome = await sendFuzz(r);
        }
        byStatus.set(outcome.status, (byStatus.get(outcome.status) ?? 0) + 1);
        byOperation.set(r.operationId, (byOperation.get(r.operationId) ?? 0) + 1);
        const wrong = judge(outcome, r);
        if (wrong && failures.length < 20) failures.push(`${wrong}: ${r.method} ${r.path.slice(0, 200)} as ${r.token} → ${outcome.text.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const admin = tokensByKind.get("administrator")!;
    const body = JSON.stringify({ description: "lying length" });
    const rawStatuses = await Promise.all(
      operations
        .filter((o) => o.method !== "GET")
        .flatMap((o) =>
          lies.map((lie) =>
            rawRequest(
              `${o.method} ${o.path.replace(/\{\w+\}/g, () => ulid())} HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${admin}\r\nContent-Type: application/json\r\nConnection: close\r\n${lie(Buffer.byteLength(body), body)}`,
            ),
          ),
        ),
    );
    const after = await fetch(`${stack().apiUrl}/roleAssignments`, { headers: { authorization: admin } });

    // Assess
    const fiveHundreds = [...byStatus].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0) + rawStatuses.filter((s) => s !== undefined && s >= 500).length;
    console.log(
      `fuzz: ${requests.length + rawStatuses.length} requests, ${fiveHundreds} 5xx (seed ${seed}; statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}; raw lying-length answers ${JSON.stringify(rawStatuses)}; ${resets.length} connection resets retried)`,
    );
    if (resets.length > 0) console.log(`fuzz: connection resets: ${resets.join(" | ")}`);
    expect(resets.length).toBeLessThan(5);
    expect(failures).toEqual([]);
    expect(fiveHundreds).toBe(0);
    expect(requests.length).toBeGreaterThanOrEqual(Math.min(manyRuns, 10_000));
    for (const o of operations) expect(byOperation.get(o.operationId) ?? 0, o.operationId).toBeGreaterThan(0);
    expect(after.status).toBe(200);
    expect(((await after.json()) as { value: unknown[] }).value.length).toBeGreaterThan(0);
  });
});
