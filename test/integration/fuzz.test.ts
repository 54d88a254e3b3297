// Property test: thousands of malformed bodies, queries and path values thrown at every
// endpoint answer 4xx (never 5xx), and nothing in storage changes.
import { randomUUID } from "node:crypto";
import { TableClient } from "@azure/data-tables";
import fc from "fast-check";
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
        fc.dictionary(fc.constantFrom("top", "continuationToken", "from", "to", "search", "platform", "eligible", "status", "deviceId", "activity", "zzz", "$filter"), nastyString, { minKeys: 1, maxKeys: 4 }),
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
      const invalidJson = fc.jsonValue({ maxDepth: 4 }).filter((v) => (schema ? !schema.safeParse(v).success : !(v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0)));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            invalidJson.map((v) => ({ body: JSON.stringify(v), contentType: "application/json" })),
            fc.string({ maxLength: 200 }).filter((t) => t.trim() !== "" && !isJson(t)).map((t) => ({ body: t, contentType: "application/json" })),
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
