import type { AppError } from "../domain/platform/errors.ts";
import { retryAfterOf } from "../domain/platform/rate_limit.ts";

/**
 * A realtime transport as `main.ts` mounts it: a plain handler that answers
 * the requests it owns (WebSocket upgrades on its paths) before the HTTP
 * app sees them, and what must stop with the server.
 */
export interface SocketEndpoint {
  /**
   * A response for a request on this endpoint's paths, else null. `path`
   * is the request's pathname (the server parses the URL once for every
   * endpoint).
   */
  handle(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    path?: string,
  ): Promise<Response> | Response | null;
  /** Closes this endpoint's sockets (1001) and stops its watches. */
  close(): Promise<void> | void;
}

/**
 * A refused upgrade as JSON in the endpoint's contract shape (`body`), with
 * the error's status and, for a 429 or 503, its Retry-After.
 */
export function refusal(body: unknown, err: AppError): Response {
  const retryAfter = retryAfterOf(err);
  return Response.json(body, {
    status: err.status,
    headers: retryAfter === null ? {} : { "retry-after": String(retryAfter) },
  });
}
