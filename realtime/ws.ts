/**
 * WebSocket plumbing shared by every socket endpoint: upgrade with a
 * keepalive, JSON frames with a size limit, and a bounded send queue — a
 * peer that stops reading is closed, never buffered without end.
 */

/** Options of `upgradeSocket`. */
export interface SocketOptions {
  /** Seconds between keepalive pings; no pong in time closes the socket. */
  idleTimeoutSec?: number;
  /** Largest accepted client frame, in bytes. */
  maxFrameBytes?: number;
  /** Bytes queued for a slow reader before the socket is closed. */
  maxBufferedBytes?: number;
  /**
   * The JSON body of the 400 for a malformed handshake, in the endpoint's
   * contract; the smart-toy `{code, msg, data}` by default.
   */
  rejectBody?: (message: string) => unknown;
}

/** Close code for a peer whose send queue overflowed. */
export const CLOSE_SLOW_CONSUMER = 4008;
/** Close code for a frame above the size limit (RFC 6455 "message too big"). */
export const CLOSE_TOO_BIG = 1009;

/** One connected socket with bounded, JSON sending. */
export class Peer {
  readonly socket: WebSocket;
  readonly #maxBuffered: number;

  constructor(socket: WebSocket, maxBufferedBytes: number) {
    this.socket = socket;
    this.#maxBuffered = maxBufferedBytes;
  }

  /** True while frames can be sent. */
  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Sends one JSON frame. Returns false (and closes the socket) when the
   * peer's queue is past its bound, or when the socket is not open.
   */
  send(frame: unknown): boolean {
    if (!this.open) return false;
    if (this.socket.bufferedAmount > this.#maxBuffered) {
      this.close(CLOSE_SLOW_CONSUMER, "send queue full: client is not reading");
      return false;
    }
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the socket once; safe to call on a closed socket. */
  close(code = 1000, reason = ""): void {
    if (
      this.socket.readyState === WebSocket.CLOSING ||
      this.socket.readyState === WebSocket.CLOSED
    ) return;
    try {
      this.socket.close(code, reason.slice(0, 120));
    } catch {
      // already closing
    }
  }
}

/** Callbacks of an upgraded socket. */
export interface SocketHandlers {
  onOpen?(peer: Peer): void | Promise<void>;
  /** A text frame within the size limit. */
  onText?(peer: Peer, text: string): void | Promise<void>;
  onClose?(peer: Peer): void;
}

/**
 * Upgrades `req` (must be a WebSocket handshake) and wires the handlers.
 * Frames above `maxFrameBytes` close the socket with 1009; binary frames
 * get an error frame. Handler exceptions are caught and logged by `onError`.
 */
export function upgradeSocket(
  req: Request,
  handlers: SocketHandlers,
  {
    idleTimeoutSec = 30,
    maxFrameBytes = 64 * 1024,
    maxBufferedBytes = 1024 * 1024,
    rejectBody = (msg) => ({ code: 400, msg, data: {} }),
  }: SocketOptions = {},
  onError: (err: unknown) => void = () => {},
): Response {
  const problem = handshakeProblem(req);
  if (problem) return rejectHandshake(rejectBody(problem));
  let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
  try {
    upgraded = Deno.upgradeWebSocket(req, { idleTimeout: idleTimeoutSec });
  } catch (err) {
    // The runtime refuses what handshakeProblem did not foresee; the client
    // sent it, so it is a 400, never a 500.
    const why = err instanceof Error ? err.message : String(err);
    return rejectHandshake(
      rejectBody(`not a valid WebSocket handshake: ${why}`),
    );
  }
  const { socket, response } = upgraded;
  const peer = new Peer(socket, maxBufferedBytes);
  const guard = (fn: () => void | Promise<void>) => {
    try {
      const result = fn();
      if (result instanceof Promise) result.catch(onError);
    } catch (err) {
      onError(err);
    }
  };
  socket.onopen = () => guard(() => handlers.onOpen?.(peer));
  const onText = handlers.onText;
  // Every frame passes here: no closure per frame.
  socket.onmessage = (event) => {
    const data = event.data;
    if (typeof data !== "string") {
      peer.send({ type: "error", msg: "send JSON text frames" });
      return;
    }
    if (data.length > maxFrameBytes) {
      peer.close(CLOSE_TOO_BIG, `frame larger than ${maxFrameBytes} bytes`);
      return;
    }
    if (!onText) return;
    try {
      const result = onText(peer, data);
      if (result) result.catch(onError);
    } catch (err) {
      onError(err);
    }
  };
  socket.onclose = () => guard(() => handlers.onClose?.(peer));
  return response;
}

/**
 * What is wrong with a WebSocket handshake (RFC 6455 §4.2.1), or null: a GET
 * with `Upgrade: websocket`, `Connection: Upgrade`, a `Sec-WebSocket-Key` and
 * `Sec-WebSocket-Version: 13`.
 */
export function handshakeProblem(req: Request): string | null {
  if (req.method !== "GET") {
    return `a WebSocket handshake is a GET, got ${req.method}`;
  }
  if (!isUpgrade(req)) return "send Upgrade: websocket";
  const connection = (req.headers.get("connection") ?? "").toLowerCase();
  if (!connection.split(",").some((t) => t.trim() === "upgrade")) {
    return "send Connection: Upgrade";
  }
  if (!req.headers.get("sec-websocket-key")) return "send a Sec-WebSocket-Key";
  const version = req.headers.get("sec-websocket-version");
  if (version !== "13") {
    return `Sec-WebSocket-Version must be 13, got "${
      (version ?? "").slice(0, 20)
    }"`;
  }
  return null;
}

function rejectHandshake(body: unknown): Response {
  return Response.json(body, {
    status: 400,
    headers: { "sec-websocket-version": "13", "cache-control": "no-store" },
  });
}

/** True when `req` asks to upgrade to a WebSocket. */
export function isUpgrade(req: Request): boolean {
  return req.headers.get("upgrade")?.toLowerCase() === "websocket";
}
