// Just enough of the browser's DOM for unit tests of the portal's modules (portal/src/dom.ts
// builds everything with createElement, text nodes, attributes and listeners): installed on
// globalThis for one test file and removed after it, so no other unit file sees a document.
import type { PageContext } from "../../portal/src/context.js";

class FakeNode {
  parentNode: FakeNode | null = null;
  childNodes: FakeNode[] = [];

  appendChild<T extends FakeNode>(child: T): T {
    child.remove();
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }

  append(...nodes: (FakeNode | string)[]): void {
    for (const n of nodes) this.appendChild(typeof n === "string" ? new FakeText(n) : n);
  }

  replaceChildren(...nodes: (FakeNode | string)[]): void {
    for (const c of [...this.childNodes]) c.remove();
    this.append(...nodes);
  }

  remove(): void {
    if (!this.parentNode) return;
    this.parentNode.childNodes = this.parentNode.childNodes.filter((c) => c !== this);
    this.parentNode = null;
  }

  contains(other: FakeNode | null): boolean {
    for (let n = other; n; n = n.parentNode) if (n === this) return true;
    return false;
  }

  get textContent(): string {
    return this.childNodes.map((c) => c.textContent).join("");
  }

  set textContent(value: string) {
    this.replaceChildren(new FakeText(value));
  }
}

class FakeText extends FakeNode {
  data: string;
  constructor(data: string) {
    super();
    this.data = data;
  }
  override get textContent(): string {
    return this.data;
  }
  override set textContent(value: string) {
    this.data = value;
  }
}

class FakeElement extends FakeNode {
  readonly tagName: string;
  readonly attributes = new Map<string, string>();
  /** `data-*` values set through `el.dataset` (kept apart from attributes, as the portal only writes them). */
  readonly dataset: Record<string, string> = {};
  readonly #listeners = new Map<string, ((event: { type: string; target: FakeElement; preventDefault(): void }) => void)[]>();

  constructor(tagName: string) {
    super();
    this.tagName = tagName.toUpperCase();
  }

  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value));
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  hasAttribute(name: string): boolean {
    return this.attributes.has(name);
  }
  removeAttribute(name: string): void {
    this.attributes.delete(name);
  }
  get id(): string {
    return this.getAttribute("id") ?? "";
  }
  get disabled(): boolean {
    return this.hasAttribute("disabled");
  }
  set disabled(value: boolean) {
    if (value) this.setAttribute("disabled", "");
    else this.removeAttribute("disabled");
  }
  /** A form control's value (starts as its value attribute, as in a browser). */
  get value(): string {
    return this.getAttribute("value") ?? "";
  }
  set value(value: string) {
    this.setAttribute("value", value);
  }
  get hidden(): boolean {
    return this.hasAttribute("hidden");
  }
  set hidden(value: boolean) {
    if (value) this.setAttribute("hidden", "");
    else this.removeAttribute("hidden");
  }

  addEventListener(type: string, listener: (event: { type: string; target: FakeElement; preventDefault(): void }) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  /** Clicks like a person: nothing happens on a disabled control. */
  click(): void {
    if (this.disabled) return;
    for (const l of this.#listeners.get("click") ?? []) l({ type: "click", target: this, preventDefault: () => undefined });
  }

  /** Fires an event other than a click at this element's listeners (a form's `submit`, a field's `input`). */
  dispatch(type: string): void {
    for (const l of this.#listeners.get(type) ?? []) l({ type, target: this, preventDefault: () => undefined });
  }

  /** Every element below this one, depth first. */
  descendants(): FakeElement[] {
    return this.childNodes.flatMap((c) => (c instanceof FakeElement ? [c, ...c.descendants()] : []));
  }
}

/** Installs `document` and `Node` on globalThis; the answer removes them again. */
export function installFakeDom(): () => void {
  const g = globalThis as Record<string, unknown>;
  const before = { document: g.document, Node: g.Node };
  g.Node = FakeNode;
  g.document = {
    createElement: (tag: string) => new FakeElement(tag),
    createElementNS: (_ns: string, tag: string) => new FakeElement(tag),
    createTextNode: (text: string) => new FakeText(text),
    activeElement: null,
  };
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete g[k];
      else g[k] = v;
    }
  };
}

/** The element with this id under `root` (as the portal's ids are), or undefined. */
export function byId(root: Element | HTMLElement, id: string): FakeElement | undefined {
  return (root as unknown as FakeElement).descendants().find((e) => e.id === id);
}

/** The text a reader sees under `root`. */
export function textOf(root: Element | HTMLElement): string {
  return (root as unknown as FakeNode).textContent;
}

/** A fresh element to mount a portal module into. */
export function container(): HTMLElement {
  return new FakeElement("div") as unknown as HTMLElement;
}

/** A page's context for a portal page under test: `app` (its api, user, perms) and a fresh root. */
export function pageContext(app: Partial<PageContext["app"]> | Record<string, unknown>): PageContext {
  return {
    app: app as unknown as PageContext["app"],
    params: {},
    query: new URLSearchParams(),
    root: container(),
    onLeave: () => undefined,
    left: () => false,
    navigate: () => undefined,
    replaceQuery: () => undefined,
  };
}
