// Every response the integration tests received from the API, checked against the OpenAPI
// document the app serves: the status is documented for the operation, the content type is
// the documented one, and the body validates against the documented schema (JSON Schema
// 2020-12, as OpenAPI 3.1 uses it, by Ajv). The vitest sequencer (vitest.config.ts) runs
// this file last, after the others recorded their responses (test/support/recordResponses.ts).
// Under `npm test` the long integration files run beside this project in another vitest
// process (test/run.ts): this file then waits until that process has ended.
// Run alone, or with only some files, it checks what was recorded and fails the coverage
// test, naming the operations nothing exercised.
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Ajv2020 } from "ajv/dist/2020.js";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { RecordedResponse } from "../support/recordResponses.js";

interface Operation {
  readonly operationId: string;
  readonly responses: Record<string, { content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }>;
}
interface OpenApi {
  readonly paths: Record<string, Record<string, Operation>>;
}

// The document is read without going through the recorder's log (this is not a test's response).
async function loadDocument(): Promise<OpenApi> {
  const res = await fetch(`${inject("stack").apiUrl}/openapi.json`);
  return (await res.json()) as OpenApi;
}

function pointer(...parts: string[]): string {
  return parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
}

interface Checked {
  readonly operationId?: string;
  readonly problem?: string;
}

function matcher(doc: OpenApi): (method: string, path: string) => { template: string; operation: Operation } | undefined {
  const templates = Object.keys(doc.paths)
    .map((template) => ({
      template,
      params: (template.match(/\{/g) ?? []).length,
      regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+")}$`),
    }))
    .sort((a, b) => a.params - b.params);
  return (method, path) => {
    for (const t of templates) {
      if (!t.regex.test(path)) continue;
      const operation = doc.paths[t.template][method.toLowerCase()];
      return operation ? { template: t.template, operation } : undefined;
    }
    return undefined;
  };
}

/** test/run.ts names a file it writes when the other vitest process has ended (its responses are all in the log). */
const otherRunEnded = process.env.RAC_LONG_RUN_ENDED;
const otherRunWaitMs = 30 * 60_000;

describe("API responses against the OpenAPI document", () => {
  beforeAll(async () => {
    if (!otherRunEnded) return;
    const until = Date.now() + otherRunWaitMs;
    while (!existsSync(otherRunEnded)) {
      if (Date.now() > until) throw new Error(`the long integration run did not end within ${otherRunWaitMs / 60_000} minutes`);
      await sleep(500);
    }
  }, otherRunWaitMs + 60_000);

  let records: RecordedResponse[] = [];
  let results: Checked[] = [];
  let doc: OpenApi;

  it("every recorded response matches its operation's documented status, content type and schema", async () => {
    // Prepare
    doc = await loadDocument();
    const file = inject("responseLog");
    records = existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => JSON.parse(l) as RecordedResponse)
      : [];
    const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
    ajv.addSchema({ ...doc, $id: "openapi" });
    const find = matcher(doc);
    const validators = new Map<string, ReturnType<typeof ajv.compile>>();

    // Act
    results = records.map((r): Checked => {
      const found = find(r.method, r.path);
      if (!found) return {}; // no such operation (405s, unknown routes): nothing to check against
      const { template, operation } = found;
      const id = operation.operationId;
      const response = operation.responses[String(r.status)] ?? operation.responses.default;
      if (!response) return { operationId: id, problem: `${r.method} ${r.path} (${id}): status ${r.status} is not documented` };
      if (r.status === 429 && response.headers?.["Retry-After"] && !r.headers["retry-after"]) {
        return { operationId: id, problem: `${r.method} ${r.path}: 429 without Retry-After` };
      }
      if (!response.content) return { operationId: id };
      const media = response.content[r.contentType];
      if (!media)
        return {
          operationId: id,
          problem: `${r.method} ${r.path} (${id}) ${r.status}: content type "${r.contentType}", documented ${Object.keys(response.content).join(", ")}`,
        };
      // Too big to have been kept: its status and content type are checked, not its schema.
      if (r.bodyOmitted) return { operationId: id };
      const key = `${template} ${r.method} ${r.status} ${r.contentType}`;
      let validate = validators.get(key);
      if (!validate) {
        const status = operation.responses[String(r.status)] ? String(r.status) : "default";
        validate = ajv.compile({
          $ref: `openapi#/${pointer("paths", template, r.method.toLowerCase(), "responses", status, "content", r.contentType, "schema")}`,
        });
        validators.set(key, validate);
      }
      let body: unknown;
      try {
        body = JSON.parse(r.text);
      } catch {
        return { operationId: id, problem: `${r.method} ${r.path} (${id}) ${r.status}: body is not JSON` };
      }
      if (!validate(body)) {
        return { operationId: id, problem: `${r.method} ${r.path} (${id}) ${r.status}: ${ajv.errorsText(validate.errors)} in ${r.text.slice(0, 200)}` };
      }
      return { operationId: id };
    });
    const problems = [...new Set(results.flatMap((c) => (c.problem ? [c.problem] : [])))];
    const checked = results.filter((c) => c.operationId && !c.problem).length;
    process.stdout.write(`OpenAPI response check: ${records.length} responses recorded, ${checked} validated, ${problems.length} distinct mismatch(es)\n`);

    // Assess
    expect(records.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it("has checked every operation of the document at least once", () => {
    // Prepare
    const all = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));

    // Act
    const seen = new Set(results.flatMap((c) => (c.operationId ? [c.operationId] : [])));
    const missing = all.filter((id) => !seen.has(id));
    process.stdout.write(
      `OpenAPI response check: ${seen.size} of ${all.length} operations exercised${missing.length ? `; not exercised: ${missing.join(", ")}` : ""}\n`,
    );

    // Assess
    expect(missing).toEqual([]);
  });
});
