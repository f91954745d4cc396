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
      const seconds = Math.max(1, Math.ceil((window.resetAt - now) / 1000));
      throw new AppError(429, `too many ${what}: try again in ${seconds} s`, {
        data: { retry_after: seconds },
      });
    }
  }

  #sweep(now: number): void {
    for (const [key, w] of this.#windows) {
      if (w.resetAt <= now) this.#windows.delete(key);
    }
    if (this.#windows.size >= this.#maxKeys) this.#windows.clear();
  }
}

/**
 * The seconds a client should wait before retrying, carried by a 429 or
 * 503 AppError as `data.retry_after`; every contract's renderer turns it
 * into a `Retry-After` header. Null when the error carries none.
 */
export function retryAfterOf(err: unknown): number | null {
  if (!(err instanceof AppError)) return null;
  const data = err.data as { retry_after?: unknown } | undefined;
  const seconds = data?.retry_after;
  return typeof seconds === "number" && Number.isFinite(seconds)
    ? Math.max(1, Math.ceil(seconds))
    : null;
}

/** A 503 "busy, retry in `seconds`" that renders with `Retry-After`. */
export function busy(message: string, seconds: number): AppError {
  return new AppError(503, message, { data: { retry_after: seconds } });
}
