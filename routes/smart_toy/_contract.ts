import { z } from "zod";

/**
 * The smart-toy contract's schemas, shared by its route modules: a request
 * body is the route's fields (validated strictly) plus an optional
 * `token`, and fields the route does not know are ignored, as seed clients
 * send extras; a success reply is the `{code: 0, msg, data}` envelope.
 */

/** A request body schema of the route's fields. */
export function toyRequest<T extends z.ZodRawShape>(shape: T) {
  return z.object({ ...shape, token: z.string().optional() });
}

/** A success reply schema carrying `data`. */
export function toyReply<T extends z.ZodType>(data: T) {
  return z.object({ code: z.literal(0), msg: z.string(), data });
}
