import { AppError } from "./errors.ts";

/**
 * A fixed-window rate limiter kept in this instance's memory (per instance;
 * a shared limit across instances would cost a KV write per attempt).
 * Bounded: windows are swept once they end, and at most `maxKeys` are kept.
 */
export class RateLimiter {
  #windows = new Map<string, { count: number; resetAt: number }>();
  #maxKeys: number;

  constructor({ maxKeys = 100_000 }: { maxKeys?: number } = {}) {
    this.#maxKeys = maxKeys;
  }

  /** Counts one attempt for `key`; throws 429 past `limit` per `windowMs`. */
  take(key: string, limit: number, windowMs: number, what = "requests"): void {
    const now = Date.now();
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      if (this.#windows.size >= this.#maxKeys) this.#sweep(now);
      window = { count: 0, resetAt: now + windowMs };
      this.#windows.set(key, window);
    }
    window.count++;
    if (window.count > limit) {
      const seconds = Math.ceil((window.resetAt - now) / 1000);
      throw new AppError(
        429,
        `too many ${what}: try again in ${seconds} s`,
      );
    }
  }

  #sweep(now: number): void {
    for (const [key, w] of this.#windows) {
      if (w.resetAt <= now) this.#windows.delete(key);
    }
    if (this.#windows.size >= this.#maxKeys) this.#windows.clear();
  }
}
