// Work the host must let finish before it shuts down: HTTP invocations, queue invocations with their
// settlement, timer runs.
export class InFlight {
  #pending = new Set<Promise<unknown>>();

  get size(): number {
    return this.#pending.size;
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.#pending.add(work);
    const forget = (): void => {
      this.#pending.delete(work);
    };
    work.then(forget, forget);
    return work;
  }

  /** Resolves true once nothing is pending (including work added meanwhile), false after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#pending.size > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), remaining);
      });
      const settled = Promise.allSettled([...this.#pending]);
      const result = await Promise.race([settled, timedOut]);
      clearTimeout(timer);
      if (result === "timeout") return this.#pending.size === 0;
    }
    return true;
  }
}
