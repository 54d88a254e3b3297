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

/** Loads the first page into `results`; Previous/Next reload it. */
export async function pagedList<T>(results: HTMLElement, list: PagedList<T>): Promise<void> {
  // Continuation tokens of the pages before the current one, for "Previous page".
  const tokens: (string | undefined)[] = [undefined];
  let pageIndex = 0;
  const load = async (): Promise<void> => {
    mount(results, progress(list.loading));
    try {
      const page = await list.fetch(tokens[pageIndex]);
      if (page.continuationToken) tokens[pageIndex + 1] = page.continuationToken;
      if (page.value.length === 0) {
        mount(results, h("p", { class: "empty" }, list.empty));
        return;
      }
      mount(
        results,
        list.render(page.value),
        pager(pageIndex, Boolean(page.continuationToken), (i) => {
          pageIndex = i;
          void load();
        }),
      );
    } catch (e) {
      mount(results, problemBox(e));
    }
  };
  await load();
}
