// Continuation tokens are checked before any of their values reaches a Table query
// (shared/adapters/tables/tables.ts, decodeContinuation).
import { describe, expect, it } from "vitest";
import { decodeContinuation, encodeContinuation } from "../../shared/adapters/tables/tables.js";

const anyRowKey = (v: Record<string, unknown>): v is { rk: string } => typeof v.rk === "string";
const forged = (value: Record<string, unknown>): string => Buffer.from(JSON.stringify({ v: 1, ...value })).toString("base64url");

describe("decodeContinuation", () => {
  it("reads back what encodeContinuation wrote", () => {
    expect(decodeContinuation(encodeContinuation({ rk: "s|9998|01KXYZ" }), anyRowKey)).toEqual({ v: 1, rk: "s|9998|01KXYZ" });
  });

  it.each([
    ["a lone surrogate", "s|\ud800"],
    ["a control character", "s|\u0001"],
    ["a non-ASCII letter", "s|é"],
    ["a key longer than any this API writes", `s|${"x".repeat(2_000)}`],
  ])("refuses a forged token whose key holds %s, as a validation error", (_, rk) => {
    // Before, a lone surrogate went on to the query and failed there (URIError: a 500).
    expect(() => decodeContinuation(forged({ rk }), anyRowKey)).toThrow(expect.objectContaining({ code: "validationFailed" }));
  });
});
