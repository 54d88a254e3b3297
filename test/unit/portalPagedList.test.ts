// The portal's paged lists (portal/src/pagedList.ts) over continuation tokens: what a
// reader sees and can click as pages come and go.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { List } from "../../portal/src/api.js";
import { h } from "../../portal/src/dom.js";
import { pagedList } from "../../portal/src/pagedList.js";
import { byId, container, installFakeDom, textOf } from "../support/fakeDom.js";

let removeDom: () => void;
beforeAll(() => {
  removeDom = installFakeDom();
});
afterAll(() => removeDom());

const listOf = (pages: Record<string, List<string>>) => ({
  loading: "Loading",
  empty: "Nothing here.",
  fetch: vi.fn(async (token: string | undefined) => pages[token ?? "first"]),
  render: (items: string[]) =>
    h(
      "ul",
      null,
      items.map((i) => h("li", null, i)),
    ),
});

describe("portal paged list", () => {
  it("leaves a way back when the page after a full one is empty (the API gives a token with every full page)", async () => {
    // Arrange: the first page is full, so it carries a token; the next holds nothing more.
    const results = container();
    const list = listOf({ first: { value: ["a", "b"], continuationToken: "t1" }, t1: { value: [] } });
    await pagedList(results, list);

    // Act
    byId(results, "next-page")!.click();
    await vi.waitFor(() => expect(textOf(results)).toContain("No more items."));

    // Assess: Previous is there and brings the first page back.
    const previous = byId(results, "previous-page");
    expect(previous?.disabled).toBe(false);
    previous!.click();
    await vi.waitFor(() => expect(textOf(results)).toContain("ab"));
    expect(list.fetch).toHaveBeenLastCalledWith(undefined);
  });

  it("follows empty pages with tokens to the first page with items", async () => {
    // Arrange
    const results = container();
    const list = listOf({ first: { value: [], continuationToken: "t1" }, t1: { value: [], continuationToken: "t2" }, t2: { value: ["c"] } });

    // Act
    await pagedList(results, list);

    // Assess
    expect(textOf(results)).toContain("c");
    expect(textOf(results)).not.toContain("Nothing here.");
    expect(byId(results, "next-page")?.disabled).toBe(true);
  });

  it("says the list is empty when the first page is empty without a token", async () => {
    // Arrange
    const results = container();

    // Act
    await pagedList(results, listOf({ first: { value: [] } }));

    // Assess
    expect(textOf(results)).toContain("Nothing here.");
    expect(byId(results, "previous-page")).toBeUndefined();
  });

  it("says the search goes on, not an empty list, when every page it followed was empty and a token remains", async () => {
    // Arrange: a sparse filter in a large tenant: each page reads its share of storage, finds nothing, and names the next.
    const results = container();
    let n = 0;
    const list = {
      ...listOf({}),
      fetch: vi.fn(async () => (++n < 100 ? { value: [], continuationToken: `t${n}` } : { value: ["found"] })),
    };

    // Act
    await pagedList(results, list);

    // Assess: a bounded number of requests; the reader is told the search is not over and can go on with it.
    expect(list.fetch.mock.calls.length).toBeLessThanOrEqual(20);
    expect(textOf(results)).not.toContain("Nothing here.");
    expect(byId(results, "search-further")).toBeDefined();
    expect(textOf(results)).toMatch(/none found so far/i);
    const next = byId(results, "next-page")!;
    expect(next.disabled).toBe(false);
    next.click();
    await vi.waitFor(() => expect(list.fetch.mock.calls.length).toBeGreaterThan(11));
  });
});
