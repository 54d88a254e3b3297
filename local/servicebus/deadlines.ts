// Deadlines (lock expiry, TTL, scheduled enqueue) kept in one min-heap behind a single timer,
// so a queue of a million messages costs one pending setTimeout, not a million.

/** Binary min-heap; `before(a, b)` is true when `a` must come out first. */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.#before(items[l], items[best])) best = l;
        if (r < items.length && this.#before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }

  clear(): void {
    this.#items.length = 0;
  }
}

// setTimeout silently fires at once for delays above 2^31-1 ms, so long deadlines are re-armed in steps.
const maxTimerDelay = 2 ** 31 - 1;

/**
 * Calls `onDue(item)` once the clock reaches `at`. Entries are never removed: the handler
 * re-checks the item's current state, which makes a renewed lock or a settled message a no-op.
 */
export class DeadlineQueue<T> {
  readonly #heap = new MinHeap<{ at: number; item: T }>((a, b) => a.at < b.at);
  readonly #onDue: (item: T) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #armedAt = Infinity;
  #closed = false;

  constructor(onDue: (item: T) => void, now: () => number) {
    this.#onDue = onDue;
    this.#now = now;
  }

  add(at: number, item: T): void {
    if (this.#closed) return;
    this.#heap.push({ at, item });
    if (at < this.#armedAt) this.#arm();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#heap.clear();
  }

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#heap.peek();
    if (!next || this.#closed) {
      this.#armedAt = Infinity;
      return;
    }
    this.#armedAt = next.at;
    const delay = Math.min(maxTimerDelay, Math.max(0, next.at - this.#now()));
    this.#timer = setTimeout(() => this.#fire(), delay);
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#now();
    for (let next = this.#heap.peek(); next && next.at <= now && !this.#closed; next = this.#heap.peek()) {
      this.#heap.pop();
      this.#onDue(next.item);
    }
    this.#arm();
  }
}
