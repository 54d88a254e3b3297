// Merges the JSON reports of test/run.ts's two vitest processes into one, as a single
// vitest run would have written it (.ci/run counts its tests and its failed suites).

export interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numTotalTests: number;
  testResults: { name: string; status: string; message?: string; assertionResults: unknown[] }[];
}

export interface FinishedRun {
  readonly name: string;
  /** The vitest process's exit code. */
  readonly code: number;
  /** Its JSON report; undefined when it wrote none. */
  readonly report: VitestReport | undefined;
}

/**
 * One report for all runs. A run that wrote no report, or failed without a failed test in
 * it (a globalSetup that threw, no test files found), adds a failed suite without tests, so
 * that it is counted as a failure and named.
 */
export function mergeReports(runs: readonly FinishedRun[]): VitestReport {
  const merged: VitestReport = { numPassedTests: 0, numFailedTests: 0, numTotalTests: 0, testResults: [] };
  const failedSuite = (name: string) => ({ name, status: "failed", assertionResults: [] });
  for (const r of runs) {
    if (!r.report) {
      merged.testResults.push(failedSuite(`${r.name}: vitest wrote no results (exit ${r.code})`));
      continue;
    }
    if (r.code !== 0 && r.report.numFailedTests === 0 && !r.report.testResults.some((f) => f.status === "failed")) {
      merged.testResults.push(failedSuite(`${r.name}: vitest exited with code ${r.code} without a failed test (see its output)`));
    }
    merged.numPassedTests += r.report.numPassedTests;
    merged.numFailedTests += r.report.numFailedTests;
    merged.numTotalTests += r.report.numTotalTests;
    merged.testResults.push(...r.report.testResults);
  }
  return merged;
}
