import { describe, expect, it } from "vitest";
import { mergeReports, type VitestReport } from "../support/mergeReports.js";

const report = (passed: number, failed: number, files: { name: string; status: string; tests: number }[]): VitestReport => ({
  numPassedTests: passed,
  numFailedTests: failed,
  numTotalTests: passed + failed,
  testResults: files.map((f) => ({ name: f.name, status: f.status, assertionResults: Array(f.tests).fill({}) })),
});
const failedSuites = (r: VitestReport) => r.testResults.filter((s) => s.status === "failed" && s.assertionResults.length === 0);

describe("mergeReports (npm test's two vitest runs as one report)", () => {
  it("adds up the tests and keeps every file of both runs", () => {
    // Act
    const merged = mergeReports([
      { name: "main", code: 1, report: report(10, 1, [{ name: "a.test.ts", status: "failed", tests: 11 }]) },
      { name: "long", code: 0, report: report(3, 0, [{ name: "b.test.ts", status: "passed", tests: 3 }]) },
    ]);

    // Assess
    expect(merged).toMatchObject({ numPassedTests: 13, numFailedTests: 1, numTotalTests: 14 });
    expect(merged.testResults.map((f) => f.name)).toEqual(["a.test.ts", "b.test.ts"]);
    expect(failedSuites(merged)).toEqual([]);
  });

  it("counts a run that failed without a failed test (its stack did not start) as a failed suite", () => {
    // Act: the main run exited 1 with an empty report, the long run passed.
    const merged = mergeReports([
      { name: "main", code: 1, report: report(0, 0, []) },
      { name: "long", code: 0, report: report(11, 0, [{ name: "quota.test.ts", status: "passed", tests: 11 }]) },
    ]);

    // Assess
    expect(merged.numFailedTests).toBe(0);
    expect(failedSuites(merged).map((s) => s.name)).toEqual(["main: vitest exited with code 1 without a failed test (see its output)"]);
  });

  it("counts a run that wrote no report as a failed suite, and a passing run as nothing more", () => {
    // Act
    const merged = mergeReports([
      { name: "main", code: 0, report: report(5, 0, [{ name: "a.test.ts", status: "passed", tests: 5 }]) },
      { name: "long", code: 137, report: undefined },
    ]);

    // Assess
    expect(merged.numPassedTests).toBe(5);
    expect(failedSuites(merged).map((s) => s.name)).toEqual(["long: vitest wrote no results (exit 137)"]);
  });
});
