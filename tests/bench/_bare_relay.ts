/**
 * The baseline for the relay benchmark: a bare in-memory WebSocket relay
 * on `Deno.upgradeWebSocket`, with no authentication, no KV and no
 * reachability checks. `/ws/<id>` registers a socket; a JSON text frame
 * `{to_user, ...}` is parsed, stamped with `from_user` and sent to the
 * socket registered as `to_user`. Prints `READY <url>`; SIGUSR1 and
 * SIGTERM as `_bench_process.ts`.
 *
 * Usage: deno run -A --v8-flags=--expose-gc _bare_relay.ts
 */

import { reportMemoryOnSignal } from "./_bench_process.ts";

const sockets = new Map<string, WebSocket>();

const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  function relay(req) {
    const id = new URL(req.url).pathname.split("/")[2] ?? "";
    if (req.headers.get("upgrade") !== "websocket" || !id) {
      return new Response("open /ws/<id> as a WebSocket", { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => sockets.set(id, socket);
    socket.onclose = () => {
      if (sockets.get(id) === socket) sockets.delete(id);
    };
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      const to = sockets.get(frame.to_user);
      if (to?.readyState !== WebSocket.OPEN) return;
      frame.from_user = id;
      to.send(JSON.stringify(frame));
    };
    return response;
  },
);
reportMemoryOnSignal(() => server.shutdown());
console.log(`READY http://127.0.0.1:${server.addr.port}`);
