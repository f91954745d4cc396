import type { AppDeps } from "../../domain/platform/services.ts";
import { asAppError } from "../../domain/platform/errors.ts";
import { lobbyErrorReply } from "../../domain/lobby/envelope.ts";
import type { SocketEndpoint } from "../endpoint.ts";
import { isUpgrade, upgradeSocket } from "../ws.ts";
import { type LobbyConnection, LobbyHub } from "./hub.ts";
import { serveLobbyTcp } from "./tcp.ts";

/**
 * The lobby's socket API (seed 003) as one endpoint: WebSocket
 * `/api/socket`, and raw TCP when `--lobby-tcp-port` is set. The hub
 * behind both delivers chat lines from every instance.
 */

const SOCKET_PATH = "/api/socket";
// Frames are buffered whole by the runtime before any size check, so
// unauthenticated upgrades are rate-limited per address.
const UPGRADES_PER_MINUTE = 60;

/** Starts the lobby hub (and TCP listener) and answers `/api/socket`. */
export function lobbyEndpoint(deps: AppDeps): SocketEndpoint {
  const { config, log, limiter } = deps;
  const hub = new LobbyHub(deps, { idleMs: config.lobbyIdleSeconds * 1000 });
  const tcp = config.lobbyTcpPort === undefined
    ? null
    : listenTcp(hub, config.host, config.lobbyTcpPort);
  if (tcp) log.info("lobby TCP listening", { port: tcp.port });
  hub.start();

  function handle(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | null {
    if (new URL(req.url).pathname !== SOCKET_PATH) return null;
    if (!isUpgrade(req)) {
      return Response.json(
        lobbyErrorReply("connect with a WebSocket (Upgrade: websocket)"),
        { status: 400 },
      );
    }
    const address = info.remoteAddr.hostname;
    try {
      limiter.take(
        `lobby-socket:${address}`,
        UPGRADES_PER_MINUTE,
        60_000,
        "connections",
      );
    } catch (err) {
      const e = asAppError(err, log);
      return Response.json(lobbyErrorReply(e.message), { status: e.status });
    }
    let conn: LobbyConnection | null = null;
    return upgradeSocket(
      req,
      {
        onOpen(peer) {
          conn = hub.attach({
            send: (frame) => peer.send(frame),
            close: (reason) => peer.close(1000, reason),
          }, address);
        },
        onText(_peer, text) {
          if (conn) hub.enqueue(conn, text);
        },
        onClose() {
          if (conn) void hub.detach(conn);
        },
      },
      { idleTimeoutSec: 30, maxFrameBytes: 64 * 1024 },
      (err) =>
        log.error("lobby socket handler failed", {
          error: err instanceof Error
            ? (err.stack ?? err.message)
            : String(err),
        }),
    );
  }

  return {
    handle,
    async close() {
      await tcp?.close();
      await hub.close();
    },
  };
}

function listenTcp(hub: LobbyHub, hostname: string, port: number) {
  try {
    return serveLobbyTcp(hub, { hostname, port });
  } catch (err) {
    throw new Error(
      `--lobby-tcp-port ${port}: cannot listen on ${hostname}:${port}: ${
        err instanceof Error ? err.message : err
      }`,
      { cause: err },
    );
  }
}
