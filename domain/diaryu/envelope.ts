import type { AppError } from "../platform/errors.ts";

/**
 * The DiaryU contract's envelope (seed 001), rendered here and nowhere
 * else: `{"status": "success", "data": ...}` on success and
 * `{"status": "error", "data": {"errcode", "errmsg"}}` on failure — the
 * shape the seed gives WeChat's sign-in errors, used for every failure so a
 * client reads one error shape. The HTTP routes' `onError` and the pair
 * room socket both render through it.
 */

/** A success reply; `data` is left out where the seed replies `{status}` alone. */
export function diaryBody(data?: unknown): Record<string, unknown> {
  return data === undefined
    ? { status: "success" }
    : { status: "success", data };
}

/**
 * A failure: `errcode` is the business code where there is one (WeChat's
 * 40029, say), else the HTTP status, as a string like the seed's; `errmsg`
 * says what went wrong and what to do. Fields of `err.data` are added.
 */
export function diaryErrorBody(err: AppError): Record<string, unknown> {
  const extra = err.data && typeof err.data === "object" ? err.data : {};
  return {
    status: "error",
    data: {
      errcode: String(err.code ?? err.status),
      errmsg: err.message,
      ...extra,
    },
  };
}

// A client told to slow down (429) or come back (503) without a known
// wait retries after this long: long enough to let a burst drain, short
// enough that a person does not notice.
const DEFAULT_RETRY_AFTER_SEC = 5;

/**
 * Seconds for a `Retry-After` header: `data.retry_after` when the error
 * carries one, a short default for other 429/503s, else null.
 */
export function retryAfterOf(err: AppError): number | null {
  const given = (err.data as { retry_after?: unknown } | undefined)
    ?.retry_after;
  if (typeof given === "number" && given > 0) return Math.ceil(given);
  return err.status === 429 || err.status === 503
    ? DEFAULT_RETRY_AFTER_SEC
    : null;
}
