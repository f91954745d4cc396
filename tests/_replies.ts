/**
 * A queue of JSON objects a test client received, with a `next()` that
 * waits for one (skipping the server's keepalive pings unless asked).
 */
export class ReplyQueue {
  #items: Record<string, unknown>[] = [];
  #waiter: (() => void) | null = null;
  #ended = false;

  /** Adds a received object and wakes a waiting `next()`. */
  push(item: Record<string, unknown>): void {
    this.#items.push(item);
    this.#waiter?.();
  }

  /** Marks the connection closed; a waiting `next()` fails once drained. */
  end(): void {
    this.#ended = true;
    this.#waiter?.();
  }

  /** True once `end()` was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The next object, or an error when the connection closed or time ran out. */
  async next(
    { pings = false, timeoutMs = 5000, what = "reply" } = {},
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#items.length) {
        const item = this.#items.shift()!;
        if (pings || item.type !== "ping") return item;
      }
      if (this.#ended) throw new Error(`connection closed before the ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} in time`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiter = null;
    }
  }
}
