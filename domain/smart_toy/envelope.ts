import type { AppError } from "../platform/errors.ts";

/**
 * The smart-toy contract's envelope (seeds 000 and 002), rendered here and
 * nowhere else: `{code, msg, data}`. `code` 0 is success; a business
 * outcome the seed numbers (scan_qr 1/2, open_toy 1/2, bind_toy 2) carries
 * its own code; any other failure carries its HTTP status.
 */

/** A smart-toy reply body. `flat` copies `data`'s fields to the top level too (open_toy). */
export function toyBody(
  code: number,
  msg: string,
  data: unknown = {},
  { flat = false }: { flat?: boolean } = {},
): Record<string, unknown> {
  return flat && data && typeof data === "object"
    ? { code, msg, ...data, data }
    : { code, msg, data };
}

/** A failure in the smart-toy envelope. */
export function toyErrorBody(err: AppError): Record<string, unknown> {
  return toyBody(err.code ?? err.status, err.message, err.data ?? {});
}
