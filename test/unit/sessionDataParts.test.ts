// How TableSessionStore splits a session's JSON over Table properties (sessionDataProperties).
import { describe, expect, it } from "vitest";
import { maxSessionDataParts, sessionDataPartLength, sessionDataProperties } from "../../shared/adapters/tables/sessionDataParts.js";

const joined = (props: Record<string, string>): string =>
  Object.keys(props)
    .sort((a, b) => Number(a.slice(4) || 0) - Number(b.slice(4) || 0))
    .map((k) => props[k])
    .join("");

describe("sessionDataProperties", () => {
  it("keeps a session that fits in `data` alone", () => {
    expect(sessionDataProperties("{}")).toEqual({ data: "{}" });
    expect(sessionDataProperties("x".repeat(sessionDataPartLength))).toEqual({ data: "x".repeat(sessionDataPartLength) });
  });

  it("splits a longer one into parts of at most the part length, in order", () => {
    // Act
    const json = Array.from({ length: 2 * sessionDataPartLength + 5 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    const props = sessionDataProperties(json);

    // Assess
    expect(Object.keys(props)).toEqual(["data", "data1", "data2"]);
    expect(props.data).toHaveLength(sessionDataPartLength);
    expect(props.data2).toHaveLength(5);
    expect(joined(props)).toBe(json);
  });

  it("never splits a surrogate pair across two parts", () => {
    // Prepare: an emoji (two UTF-16 code units) straddling the first boundary.
    const json = `${"x".repeat(sessionDataPartLength - 1)}😀${"y".repeat(10)}`;

    // Act
    const props = sessionDataProperties(json);

    // Assess: each part is well-formed UTF-16 on its own, and together they are the JSON.
    expect(props.data).toHaveLength(sessionDataPartLength - 1);
    expect(props.data1.startsWith("😀")).toBe(true);
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    expect(Object.values(props).some((p) => loneSurrogate.test(p))).toBe(false);
    expect(joined(props)).toBe(json);
  });

  it("refuses JSON beyond the parts an entity has room for", () => {
    expect(() => sessionDataProperties("x".repeat(maxSessionDataParts * sessionDataPartLength + 1))).toThrow(/exceeds 8 Table properties/);
  });
});
