// Tiny DOM helpers: elements are built from text nodes only (never innerHTML), so nothing
// the API returns can inject markup.

export type Child = Node | string | number | null | undefined | false | readonly Child[];
type AttrValue = string | number | boolean | null | undefined;
type Handler = (event: Event) => void;
export type Attrs = Record<string, AttrValue | Handler>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child as readonly Child[]) append(parent, c);
    return;
  }
  parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
}

function applyAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === "function") {
      el.addEventListener(key.replace(/^on/, "").toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(key, String(value));
    }
  }
}

/** An HTML element: `h("button", { type: "button", onclick }, "Save")`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

const svgNs = "http://www.w3.org/2000/svg";

/** An SVG element, for the report charts. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(svgNs, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces the children of `el`. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A progress line for anything that waits; screen readers hear it politely. */
export function progress(label: string): HTMLElement {
  return h("p", { class: "progress", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), ` ${label}…`);
}

/** Runs `work` with the button disabled and marked busy, restoring it afterwards. */
export async function whileBusy<T>(button: HTMLButtonElement, busyLabel: string, work: () => Promise<T>): Promise<T> {
  const label = button.textContent ?? "";
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = `${busyLabel}…`;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A `<time>` element in the reader's locale, with the ISO value kept for machines. */
export function time(iso: string | null | undefined): Node {
  if (!iso) return document.createTextNode("—");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return document.createTextNode(iso);
  return h("time", { datetime: iso }, dateTime.format(d));
}

/** A description list from label/value pairs; pairs with value `undefined` are left out. */
export function details(rows: readonly (readonly [string, Child] | false | null | undefined)[], attrs?: Attrs): HTMLDListElement {
  const dl = h("dl", { class: "details", ...attrs });
  for (const row of rows) {
    if (!row) continue;
    const [label, value] = row;
    dl.append(h("dt", null, label), h("dd", null, value === null || value === undefined || value === "" ? "—" : value));
  }
  return dl;
}

/** Seconds as "1 h 2 min", "3 min 5 s" or "42 s". */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Previous / Next buttons for lists paged with continuation tokens; `go` loads a page. */
export function pager(pageIndex: number, hasNext: boolean, go: (pageIndex: number) => void): HTMLElement {
  const prev = h("button", { type: "button", id: "previous-page", disabled: pageIndex === 0 }, "Previous page");
  const next = h("button", { type: "button", id: "next-page", disabled: !hasNext }, "Next page");
  prev.addEventListener("click", () => go(Math.max(0, pageIndex - 1)));
  next.addEventListener("click", () => go(pageIndex + 1));
  return h("nav", { class: "pager", "aria-label": "Pages" }, prev, h("span", { id: "page-number" }, `Page ${pageIndex + 1}`), next);
}
