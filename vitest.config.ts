import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The integration files that take longest: four wait on the clock (the quota's minute window,
 * the session and approval timeouts, the audit push's retries until it gives up), and the
 * load and browser tests. The project `integration-long` runs them on a stack of their own, so
 * that `npm test` (test/run.ts) runs them beside the other integration files instead of after
 * them (each run takes about seven minutes on two cores); `npx vitest run` runs both projects
 * one after the other.
 */
export const longFiles = [
  "test/integration/quota.test.ts",
  "test/integration/approval.test.ts",
  "test/integration/sessions.lifecycle.test.ts",
  "test/integration/auditExport.push.test.ts",
  "test/integration/sessions.load.test.ts",
  "test/integration/e2e.test.ts",
];

/**
 * Every API response the integration tests receive is appended to one file
 * (test/support/recordResponses.ts), for both integration projects, and checked last
 * against the OpenAPI document (test/integration/zz.openapiResponses.test.ts). The first
 * integration globalSetup of a run empties it; test/run.ts names and empties it itself for
 * the two vitest processes it starts.
 */
process.env.RAC_RESPONSE_LOG ??= fileURLToPath(new URL(".vitest-responses.jsonl", import.meta.url));

/** Runs the OpenAPI response check after every other integration file (it reads what they recorded). */
class ResponseCheckLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (f: TestSpecification): boolean => f.moduleId.endsWith("zz.openapiResponses.test.ts");
    return [...sorted.filter((f) => !last(f)), ...sorted.filter(last)];
  }
}

export default defineConfig({
  test: {
    reporters: ["default", "json"],
    outputFile: { json: ".vitest-results.json" },
    // Set at the root: vitest reads the sequencer from the root config only.
    sequence: { sequencer: ResponseCheckLast },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // One module graph for all unit files (they share no state: every test builds its
          // own ports, and the runtime seam is installed and removed per test): the Azure
          // SDKs load once instead of once per file, 29 s → about 10 s on two cores.
          isolate: false,
          pool: "threads",
        },
      },
      {
        test: {
          name: "contract",
          include: ["test/contract/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          exclude: longFiles,
          globalSetup: ["test/integration/globalSetup.ts"],
          setupFiles: ["test/support/recordResponses.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "integration-long",
          include: longFiles,
          globalSetup: ["test/integration/globalSetup.ts"],
          setupFiles: ["test/support/recordResponses.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
