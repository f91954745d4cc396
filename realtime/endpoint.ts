/**
 * A realtime transport as `main.ts` mounts it: a plain handler that answers
 * the requests it owns (WebSocket upgrades on its paths) before the HTTP
 * app sees them, and what must stop with the server.
 */
export interface SocketEndpoint {
  /** A response for a request on this endpoint's paths, else null. */
  handle(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> | Response | null;
  /** Closes this endpoint's sockets (1001) and stops its watches. */
  close(): Promise<void> | void;
}
