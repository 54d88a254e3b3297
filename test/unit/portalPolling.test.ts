// The portal's polling pages (the session panel, the Company Portal list) wait as long as a
// 429 says before their next request: nextPollMs in portal/src/api.ts.
import { describe, expect, it } from "vitest";
import { ApiProblem, nextPollMs } from "../../portal/src/api.js";

const tooMany = (retryAfterSeconds?: unknown): ApiProblem =>
  new ApiProblem({
    title: "Too many requests",
    status: 429,
    code: "rateLimited",
    detail: "Try again in 30 s.",
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  } as never);

describe("the next poll after an answer", () => {
  it("waits what a 429 asks for, never less than the usual interval", () => {
    expect(nextPollMs(tooMany(30), 1500)).toBe(30_000);
    expect(nextPollMs(tooMany(1), 1500)).toBe(1500);
  });

  it("keeps the usual interval for other problems and for a 429 that names no time", () => {
    expect(nextPollMs(new ApiProblem({ title: "Not found", status: 404 }), 1500)).toBe(1500);
    expect(nextPollMs(new Error("offline"), 1500)).toBe(1500);
    expect(nextPollMs(tooMany(), 1500)).toBe(1500);
    expect(nextPollMs(tooMany("soon"), 1500)).toBe(1500);
  });

  it("waits at most an hour, whatever a 429 says", () => {
    expect(nextPollMs(tooMany(86_400), 1500)).toBe(3_600_000);
  });
});
