/** HTTP statuses the contracts use for failures. */
export type ErrorStatus =
  | 400
  | 401
  | 403
  | 404
  | 409
  | 413
  | 415
  | 416
  | 426
  | 429
  | 500
  | 502
  | 503
  | 504;

/**
 * The one typed error of Babble: domain code throws it, and each contract
 * renders it in its own envelope in exactly one place.
 *
 * `code` is a business code (seed 002 uses 1 and 2) shown instead of the
 * status where a contract has one.
 */
export class AppError extends Error {
  readonly status: ErrorStatus;
  readonly code?: number;
  readonly data?: unknown;

  constructor(
    status: ErrorStatus,
    message: string,
    options: { code?: number; data?: unknown; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.status = status;
    this.code = options.code;
    this.data = options.data;
  }
}

/**
 * Maps anything thrown to an AppError: AppErrors pass through; anything
 * else is logged with its stack and becomes a 500 that keeps it as `cause`.
 */
export function asAppError(
  err: unknown,
  log?: { error(msg: string, fields?: Record<string, unknown>): void },
): AppError {
  if (err instanceof AppError) return err;
  log?.error("unhandled error", {
    error: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
  return new AppError(500, "internal error; it has been logged", {
    cause: err,
  });
}

/** Shorthand for a 404 naming what was not found. */
export function notFound(message: string): AppError {
  return new AppError(404, message);
}
