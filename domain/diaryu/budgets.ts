import { AppError } from "../platform/errors.ts";
import type { RateLimiter } from "../platform/rate_limit.ts";

/**
 * What one client may ask of DiaryU per window, in one table. Sign-ins are
 * counted per client address (each costs a call against the app's WeChat
 * quota); the rest per user. Counted in each instance's memory
 * (domain/platform/rate_limit.ts).
 */

/** A budget: `limit` attempts per `windowMs`. */
export interface Budget {
  name: string;
  limit: number;
  windowMs: number;
  /** What is counted, for the refusal's message. */
  what: string;
}

/** Every DiaryU budget. */
export const BUDGETS = {
  signIn: { name: "sign-in", limit: 30, windowMs: 60_000, what: "sign-ins" },
  demoSignIn: {
    name: "demo",
    limit: 20,
    windowMs: 60_000,
    what: "try-out sign-ins",
  },
  diaries: { name: "diaries", limit: 30, windowMs: 60_000, what: "diaries" },
  // Typing by hand, two people send a few lines a second at most.
  lines: { name: "lines", limit: 50, windowMs: 10_000, what: "chat lines" },
  uploads: { name: "uploads", limit: 20, windowMs: 60_000, what: "uploads" },
} satisfies Record<string, Budget>;

/**
 * Counts one attempt of `who` against `budget`; past it, a 429 whose
 * `retry_after` is the window (the renderer turns it into Retry-After).
 */
export function takeBudget(
  limiter: RateLimiter,
  budget: Budget,
  who: string,
): void {
  try {
    limiter.take(
      `diaryu:${budget.name}:${who}`,
      budget.limit,
      budget.windowMs,
      budget.what,
    );
  } catch (err) {
    if (err instanceof AppError && err.status === 429) {
      throw new AppError(429, err.message, {
        data: { retry_after: Math.ceil(budget.windowMs / 1000) },
      });
    }
    throw err;
  }
}
