// Shared by the TeamViewer client contract tests: the check that a failure is the named
// TeamViewerError and that nothing in it, however deep, carries a secret of the test's.
import { inspect } from "node:util";
import { expect } from "vitest";
import { TeamViewerError, type TeamViewerErrorCode } from "../../shared/app/teamViewerError.js";

export function teamViewerErrorExpectation(secrets: ReadonlySet<string>): (promise: Promise<unknown>, code: TeamViewerErrorCode) => Promise<TeamViewerError> {
  return async (promise, code) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TeamViewerError);
    const e = error as TeamViewerError;
    expect(e.code).toBe(code);
    const everything = inspect(e, { depth: 10, showHidden: true });
    for (const secret of secrets) expect(everything).not.toContain(secret);
    return e;
  };
}
