import type { AppDeps } from "../../domain/platform/services.ts";
import { asAppError } from "../../domain/platform/errors.ts";
import {
  clientAddressOf,
  trustedProxiesOf,
} from "../../domain/platform/client_address.ts";
import { lobbyErrorReply } from "../../domain/lobby/envelope.ts";
import { refusal, type SocketEndpoint } from "../endpoint.ts";
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
// A socket is unauthenticated until its first login frame, and each holds a
// hub connection, so open sockets are capped per instance (all addresses
// together) and per address; past either cap the upgrade is a 503 with
// Retry-After. 5,000 idle lobby sockets hold well under 200 MB.
/** Open lobby sockets one instance holds at most. */
export const MAX_LOBBY_SOCKETS = 5_000;
/** Open lobby sockets one client address holds at most. */
export const MAX_LOBBY_SOCKETS_PER_ADDRESS = 50;
const FULL_RETRY_AFTER_SECONDS = 5;

/** Starts the lobby hub (and TCP listener) and answers `/api/socket`. */
export function lobbyEndpoint(deps: AppDeps): SocketEndpoint {
  const { config, log, limiter } = deps;
  const hub = new LobbyHub(deps, { idleMs: config.lobbyIdleSeconds * 1000 });
  const tcp = config.lobbyTcpPort === undefined
    ? null
    : listenTcp(hub, config.host, config.lobbyTcpPort);
  if (tcp) log.info("lobby TCP listening", { port: tcp.port });
  hub.start();
  let open = 0;
  const perAddress = new Map<string, number>();

  function handle(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    path = new URL(req.url).pathname,
  ): Response | null {
    if (path !== SOCKET_PATH) return null;
    if (!isUpgrade(req)) {
      return Response.json(
        lobbyErrorReply("connect with a WebSocket (Upgrade: websocket)"),
        { status: 400 },
      );
    }
    const address = clientAddressOf(
      info.remoteAddr.hostname,
      req.headers,
      trustedProxiesOf(config),
    );
    try {
      limiter.take(
        `lobby-socket:${address}`,
        UPGRADES_PER_MINUTE,
        60_000,
        "connections",
      );
    } catch (err) {
      const e = asAppError(err, log);
      return refusal(lobbyErrorReply(e.message), e);
    }
    const mine = perAddress.get(address) ?? 0;
    if (open >= MAX_LOBBY_SOCKETS || mine >= MAX_LOBBY_SOCKETS_PER_ADDRESS) {
      const whose = open >= MAX_LOBBY_SOCKETS ? "this server" : "your address";
      return Response.json(
        lobbyErrorReply(
          `too many lobby connections on ${whose}: try again in ${FULL_RETRY_AFTER_SECONDS} s`,
        ),
        {
          status: 503,
          headers: { "retry-after": String(FULL_RETRY_AFTER_SECONDS) },
        },
      );
    }
    // Counted from the handshake until the socket closes.
    let counted = true;
    open++;
    perAddress.set(address, mine + 1);
    const uncount = () => {
      if (!counted) return;
      counted = false;
      open--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    };
    let conn: LobbyConnection | null = null;
    const res = upgradeSocket(
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
          uncount();
          if (conn) void hub.detach(conn);
        },
      },
      {
        idleTimeoutSec: 30,
        maxFrameBytes: 64 * 1024,
        rejectBody: lobbyErrorReply,
      },
      (err) =>
        log.error("lobby socket handler failed", {
          error: err instanceof Error
            ? (err.stack ?? err.message)
            : String(err),
        }),
    );
    if (res.status !== 101) uncount();
    return res;
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
