import { ID_PATTERN } from "../../domain/store/ids.ts";
import { z } from "zod";
import { AppError, asAppError } from "../../domain/platform/errors.ts";
import type { AppDeps } from "../../domain/platform/services.ts";
import { resolveSession } from "../../domain/platform/sessions.ts";
import { BUDGETS, takeBudget } from "../../domain/diaryu/budgets.ts";
import {
  diaryBody,
  diaryErrorBody,
  retryAfterOf,
} from "../../domain/diaryu/envelope.ts";
import {
  type Pair,
  pairOfKey,
  requireMemberPair,
} from "../../domain/diaryu/matching.ts";
import {
  appendLine,
  headOf,
  type Line,
  linesAfter,
  MAX_LINE,
  roomWatchKeys,
} from "../../domain/diaryu/pair_chat.ts";
import type { SocketEndpoint } from "../endpoint.ts";
import {
  handshakeProblem,
  isUpgrade,
  type Peer,
  upgradeSocket,
} from "../ws.ts";

/**
 * The DiaryU pair room: WebSocket `/matching/chat/<pair_id>/?token=`, open
 * to the pair's two members while the pair lasts.
 *
 * A client sends `{"message": "..."}` (or `content`; an `openId`, when
 * sent, must be the token's) and `{"type": "ping"}` (answered `pong`).
 * Each line is stored (domain/diaryu/pair_chat.ts) before anyone sees it;
 * then both members' sockets — the sender's too, as its acknowledgement —
 * get `{type: "message", status: "success", data: {seq, pair_id, openId,
 * content, publish_date}, message}` (`message` repeats the text for
 * clients written the Django Channels way). Lines sent over HTTP
 * (`send_message_via_http/`) or on another instance arrive the same way:
 * every instance watches the pair's head key and sends each socket the
 * lines after its position. A socket starts at the newest line, or after
 * `?after=<seq>` (the last seq the client read from history), so nothing
 * between the history fetch and the socket is lost. When the pair ends
 * (`depair_action/`) the room sends `{type: "ended"}` and closes with 4001.
 * Refusals before the upgrade are HTTP replies in the DiaryU envelope;
 * errors after it are `{type: "error", status: "error", data}` frames.
 */

const ROOM_PATH = /^\/matching\/chat\/([^/]*)\/?$/;

/** Close code when the pair ends while the socket is open. */
const CLOSE_PAIR_ENDED = 4001;

/** Options of the room endpoint (tests shorten the keepalive). */
export interface RoomOptions {
  idleTimeoutSec?: number;
  /** Bytes queued for a socket that does not read before it is closed. */
  maxBufferedBytes?: number;
  /** Sockets one user may hold on one instance, across rooms. */
  maxSocketsPerUser?: number;
}

// A line is at most MAX_LINE characters; a frame carrying one, JSON-escaped
// at worst six bytes a character, stays under this.
const MAX_FRAME_BYTES = 6 * MAX_LINE + 1024;
// Lines read per page while catching sockets up.
const PAGE = 100;

const clientFrame = z.object({
  message: z.string().optional(),
  content: z.string().optional(),
  openId: z.string().optional(),
});

interface Conn {
  peer: Peer;
  openId: string;
  /** The seq of the last line sent to this socket. */
  cursor: number;
}

interface Room {
  pairId: string;
  conns: Set<Conn>;
  pumping: boolean;
  dirty: boolean;
  stop: () => Promise<void>;
}

/** A line as the room sends it. */
function lineFrame(pairId: string, line: Line): Record<string, unknown> {
  return {
    type: "message",
    ...diaryBody({
      seq: line.seq,
      pair_id: pairId,
      openId: line.openId,
      content: line.content,
      publish_date: line.publish_date,
    }),
    message: line.content,
  };
}

function errorFrame(err: AppError): Record<string, unknown> {
  return { type: "error", ...diaryErrorBody(err) };
}

/** The bearer token of a socket request: header, else `?token=`. */
function tokenOf(req: Request, url: URL): string | null {
  const header = req.headers.get("authorization");
  if (header) return header.replace(/^Bearer\s+/i, "").trim();
  return url.searchParams.get("token");
}

/** The pair room endpoint of one instance. */
export function diaryuRoomEndpoint(
  deps: AppDeps,
  {
    idleTimeoutSec = 30,
    maxBufferedBytes = 256 * 1024,
    maxSocketsPerUser = 8,
  }: RoomOptions = {},
): SocketEndpoint {
  const { kv, log, limiter } = deps;
  const rooms = new Map<string, Room>();
  const socketsOf = new Map<string, number>();
  const running = new Set<Promise<unknown>>();
  let closed = false;
  deps.metrics.gauge("babble_diaryu_room_sockets", () => {
    let n = 0;
    for (const room of rooms.values()) n += room.conns.size;
    return n;
  });

  function track(work: Promise<unknown>): void {
    const p = work.catch((err) =>
      log.warn("diaryu room failed", { error: String(err) })
    ).finally(() => running.delete(p));
    running.add(p);
  }

  /** Sends every socket of `room` the lines after its cursor. */
  async function pump(room: Room): Promise<void> {
    if (room.pumping) {
      room.dirty = true;
      return;
    }
    room.pumping = true;
    try {
      for (;;) {
        room.dirty = false;
        if (room.conns.size === 0) return;
        const from = Math.min(...[...room.conns].map((c) => c.cursor));
        const lines = await linesAfter(kv, room.pairId, from, { limit: PAGE });
        for (const line of lines) {
          for (const conn of room.conns) {
            if (conn.cursor >= line.seq) continue;
            conn.cursor = line.seq;
            conn.peer.send(lineFrame(room.pairId, line));
          }
        }
        if (lines.length < PAGE && !room.dirty) return;
      }
    } finally {
      room.pumping = false;
    }
  }

  /** Tells the room's sockets the pair ended and closes them. */
  function endRoom(room: Room): void {
    for (const conn of room.conns) {
      conn.peer.send({ type: "ended", ...diaryBody({ pair_id: room.pairId }) });
      conn.peer.close(CLOSE_PAIR_ENDED, "the pair has ended");
    }
  }

  /** Opens the room of `pairId` on this instance: one watch of its two keys. */
  function openRoom(pairId: string): Room {
    const reader = kv.watch(roomWatchKeys(pairId)).getReader();
    const room: Room = {
      pairId,
      conns: new Set(),
      pumping: false,
      dirty: false,
      stop: async () => {
        await reader.cancel().catch(() => {});
        await watching;
      },
    };
    const watching = (async () => {
      for (;;) {
        const next = await reader.read().catch(() => ({ done: true as const }));
        if (next.done) return;
        const pair = next.value[1].value as Pair | null;
        if (!pair || pair.endedAt !== null) endRoom(room);
        else track(pump(room));
      }
    })().catch((err) =>
      log.warn("diaryu room watch failed", { pairId, error: String(err) })
    );
    rooms.set(pairId, room);
    return room;
  }

  function attach(pairId: string, conn: Conn): void {
    const room = rooms.get(pairId) ?? openRoom(pairId);
    room.conns.add(conn);
    track(pump(room));
  }

  function detach(pairId: string, conn: Conn): void {
    const count = (socketsOf.get(conn.openId) ?? 1) - 1;
    if (count > 0) socketsOf.set(conn.openId, count);
    else socketsOf.delete(conn.openId);
    const room = rooms.get(pairId);
    if (!room?.conns.delete(conn) || room.conns.size > 0) return;
    rooms.delete(pairId);
    track(room.stop());
  }

  async function onLine(pairId: string, conn: Conn, text: string) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new AppError(400, 'send JSON frames like {"message": "hello"}');
    }
    if ((raw as { type?: unknown } | null)?.type === "ping") {
      conn.peer.send({ type: "pong" });
      return;
    }
    const frame = clientFrame.safeParse(raw);
    const content = frame.success
      ? frame.data.message ?? frame.data.content
      : undefined;
    if (content === undefined || content.trim().length === 0) {
      throw new AppError(
        400,
        'a frame needs "message": the text of the line (1-' + MAX_LINE +
          " characters)",
      );
    }
    const openId = frame.data?.openId;
    if (openId !== undefined && openId !== conn.openId) {
      throw new AppError(
        403,
        `"openId" ${JSON.stringify(openId)} is not the signed-in user`,
      );
    }
    takeBudget(limiter, BUDGETS.lines, conn.openId);
    await appendLine(kv, pairId, { openId: conn.openId, content });
    // The watch would deliver it too; pumping now spares local sockets a
    // turn through KV. The cursor keeps a line from going out twice.
    const room = rooms.get(pairId);
    if (room) await pump(room);
  }

  /** Authenticates a room request and upgrades it. */
  async function openSocket(
    req: Request,
    url: URL,
    pairId: string,
  ): Promise<Response> {
    if (!isUpgrade(req)) {
      throw new AppError(
        400,
        "this is the pair room WebSocket: send an Upgrade request",
      );
    }
    const problem = handshakeProblem(req);
    if (problem) throw new AppError(400, problem);
    if (closed) throw new AppError(503, "server is shutting down");
    if (!ID_PATTERN.test(pairId)) {
      throw new AppError(
        400,
        `"${pairId.slice(0, 40)}" is not a pair_id (24 hex characters)`,
      );
    }
    const token = tokenOf(req, url);
    if (!token) {
      throw new AppError(401, "pass ?token= (the token of your sign-in)");
    }
    const me = await resolveSession(kv, token, ["diaryu"]);
    if (!me) {
      throw new AppError(401, "token is unknown or expired: sign in again");
    }
    const pair = await requireMemberPair(kv, me.id, pairId);
    const current = (await kv.get<string>(pairOfKey(me.id))).value;
    if (pair.endedAt !== null || current !== pairId) {
      throw new AppError(
        409,
        `pair "${pairId}" has ended: write a diary to be matched again`,
      );
    }
    if ((socketsOf.get(me.id) ?? 0) >= maxSocketsPerUser) {
      throw new AppError(
        429,
        `at most ${maxSocketsPerUser} room sockets per user: close one first`,
      );
    }
    const head = await headOf(kv, pairId);
    const after = url.searchParams.get("after");
    const cursor = after !== null && /^\d{1,15}$/.test(after)
      ? Math.min(Number(after), head)
      : head;
    socketsOf.set(me.id, (socketsOf.get(me.id) ?? 0) + 1);
    let conn: Conn | null = null;
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      if (conn) detach(pairId, conn);
      else {
        const n = (socketsOf.get(me.id) ?? 1) - 1;
        if (n > 0) socketsOf.set(me.id, n);
        else socketsOf.delete(me.id);
      }
    };
    try {
      const response = upgradeSocket(
        req,
        {
          onOpen(peer) {
            if (closed) {
              peer.close(1001, "server is shutting down");
              return;
            }
            conn = { peer, openId: me.id, cursor };
            attach(pairId, conn);
          },
          onText(peer, text) {
            if (!conn) return;
            return onLine(pairId, conn, text).catch((err) => {
              peer.send(errorFrame(asAppError(err, log)));
            });
          },
          onClose: release,
        },
        {
          idleTimeoutSec,
          maxBufferedBytes,
          maxFrameBytes: MAX_FRAME_BYTES,
          rejectBody: (msg) => diaryErrorBody(new AppError(400, msg)),
        },
        (err) => log.warn("diaryu room socket failed", { error: String(err) }),
      );
      // A handshake the runtime refused never opens, so never closes either.
      if (response.status !== 101) release();
      return response;
    } catch (err) {
      release();
      throw err;
    }
  }

  const handle: SocketEndpoint["handle"] = (req, _info, path) => {
    const match = ROOM_PATH.exec(path ?? new URL(req.url).pathname);
    if (!match) return null;
    return openSocket(req, new URL(req.url), match[1]).catch((err) => {
      const e = asAppError(err, log);
      const retryAfter = retryAfterOf(e);
      return Response.json(diaryErrorBody(e), {
        status: e.status,
        headers: retryAfter === null
          ? {}
          : { "retry-after": String(retryAfter) },
      });
    });
  };

  async function close(): Promise<void> {
    closed = true;
    for (const room of rooms.values()) {
      for (const conn of room.conns) {
        conn.peer.close(1001, "server is shutting down");
      }
    }
    const stopping = [...rooms.values()].map((room) => room.stop());
    rooms.clear();
    await Promise.all(stopping);
    while (running.size) await Promise.all([...running]);
  }

  return { handle, close };
}
