// A list the API pages with continuation tokens (devices, sessions, audit log): shows
// progress while a page loads, the empty message, the table and a pager, or the problem.
import { problemBox, type List } from "./api.js";
import { h, mount, pager, progress } from "./dom.js";

export interface PagedList<T> {
  /** What is loading, for the progress line ("Loading devices"). */
  readonly loading: string;
  /** Shown when a page has no items. */
  readonly empty: string;
  /** One page from the API; `continuationToken` undefined for the first. */
  readonly fetch: (continuationToken: string | undefined) => Promise<List<T>>;
  /** The page's items as a table. */
  readonly render: (items: T[]) => HTMLElement;
}

/** Empty pages followed before one with items is shown. */
const maxEmptyHops = 10;

/**
 * The page at `token`, or, when it is empty and has a token, the first page after it with
 * items (following at most `maxEmptyHops` tokens). The API bounds the work of one page, so a
 * page of a sparse filter may come back empty with a token: that is not the end.
 * `passed` hears each token followed.
 */
export async function pageWithItems<T>(
  fetch: (continuationToken: string | undefined) => Promise<List<T>>,
  token: string | undefined,
  passed: (token: string) => void = () => {},
): Promise<List<T>> {
  let page = await fetch(token);
  for (let hop = 0; page.value.length === 0 && page.continuationToken && hop < maxEmptyHops; hop++) {
    passed(page.continuationToken);
    page = await fetch(page.continuationToken);
  }
  return page;
}

/** Loads the first page into `results`; Previous/Next reload it. */
export async function pagedList<T>(results: HTMLElement, list: PagedList<T>): Promise<void> {
  // Continuation tokens of the pages before the current one, for "Previous page".
  const tokens: (string | undefined)[] = [undefined];
  let pageIndex = 0;
  const go = (i: number): void => {
    pageIndex = i;
    void load();
  };
  const load = async (): Promise<void> => {
    mount(results, progress(list.loading));
    try {
      const page = await pageWithItems(list.fetch, tokens[pageIndex], (token) => (tokens[pageIndex] = token));
      if (page.continuationToken) tokens[pageIndex + 1] = page.continuationToken;
      if (page.value.length === 0 && !page.continuationToken) {
        // A full page carries a token even when nothing follows: past it, keep the way back.
        if (pageIndex === 0) mount(results, h("p", { class: "empty" }, list.empty));
        else mount(results, h("p", { class: "empty" }, "No more items."), pager(pageIndex, false, go));
        return;
      }
      if (page.value.length === 0) {
        // Every page followed was empty but the list goes on: not "none", and not an empty table.
        mount(
          results,
          h(
            "p",
            { class: "empty", id: "search-further" },
            "None found so far: the service searches a part of the records at a time and more remain. Next page searches further.",
          ),
          pager(pageIndex, true, go),
        );
        return;
      }
      mount(results, list.render(page.value), pager(pageIndex, Boolean(page.continuationToken), go));
    } catch (e) {
      mount(results, problemBox(e));
    }
  };
  await load();
}
