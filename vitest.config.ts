import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

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
