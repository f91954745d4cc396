import { bearerToken } from "../../domain/platform/sessions.ts";
import { z } from "zod";
import { AppError, asAppError } from "../../domain/platform/errors.ts";
import { resolveAppSession } from "../../domain/smart_toy/accounts.ts";
import type { Principal } from "../../domain/platform/sessions.ts";
import { mayReach } from "../../domain/smart_toy/access.ts";
import { ID_PATTERN, newId } from "../../domain/store/ids.ts";
import {
  advanceDelivered,
  deliveredCursor,
  inboxPositionOf,
  replayFloor,
  storeHead,
} from "../../domain/smart_toy/messages.ts";
import { openToy } from "../../domain/smart_toy/toys.ts";
import type { AppDeps } from "../../domain/platform/services.ts";
import { toyErrorBody } from "../../domain/smart_toy/envelope.ts";
import { refusal, type SocketEndpoint } from "../endpoint.ts";
import type { Connection, Hub } from "./hub.ts";
import { ReachCache } from "./reach.ts";
import { isUpgrade, type Peer, upgradeSocket } from "../ws.ts";

/**
 * The smart-toy sockets: `/app/<user_id>` (session token) and
 * `/toy/<toy_id>` (the toy's token from /open_toy, or its device key).
 *
 * Client frames are JSON with `to_user`; the server checks the sender may
 * reach `to_user` (friends, or a parent and its own toy), sets `from_user`
 * itself and relays the frame as an ephemeral signal. `{type: "ping"}` gets
 * `{type: "pong"}`; `{type: "ack", seq}` moves the delivered cursor.
 * Durable events (`type: "chat"`) come from the hub.
 */

const SOCKET_PATH = /^\/(app|toy)\/([^/]*)$/;

/**
 * What the server reads of a relayed frame. The rest of the frame is the
 * client's, passed on as it came (zod's strip mode checks these two fields
 * without copying every other one: a third of a loose object's cost).
 */
const frameSchema = z.object({
  to_user: z.string().regex(ID_PATTERN, "must be a 24-character hex id"),
  type: z.string().max(32).optional(),
});

/** Options of the socket endpoints (tests shorten the keepalive). */
export interface ToySocketOptions {
  idleTimeoutSec?: number;
  maxBufferedBytes?: number;
}

/** The counter of relayed frames. */
const RELAYED = "babble_frames_relayed_total";

/** Fields of durable chat events that a relayed frame may not carry. */
const SERVER_FIELDS = ["seq", "chat_id", "create_time"] as const;

/** Frames per second a principal may relay through KV (to other instances). */
const KV_FRAMES_PER_SECOND = 200;

/** What a socket request presents: a device key (toys) or a session token. */
function credentialsOf(
  req: Request,
): { deviceKey: string | null; token: string | null } {
  const url = new URL(req.url);
  return {
    deviceKey: url.searchParams.get("device_key")?.toLowerCase() ?? null,
    token: bearerToken(req.headers.get("authorization")) ??
      url.searchParams.get("token"),
  };
}

/** True while `deviceKey` opens toy `toyId` (the device is bound to it). */
async function deviceOpens(
  deps: AppDeps,
  deviceKey: string,
  toyId: string,
): Promise<boolean> {
  const opened = await openToy(deps.kv, deviceKey);
  return opened.code === 0 && opened.toy._id === toyId;
}

/**
 * How a socket re-checks its credentials when its delivery key moves (a
 * logout or unbind bumps it): the session token still resolves, or the
 * device key still opens this toy.
 */
function sessionCheck(
  deps: AppDeps,
  req: Request,
  me: Principal,
): () => Promise<boolean> {
  const { deviceKey, token } = credentialsOf(req);
  if (me.kind === "toy" && deviceKey) {
    return () => deviceOpens(deps, deviceKey, me.id);
  }
  return async () =>
    (await resolveAppSession(deps.kv, token ?? ""))?.id === me.id;
}

/** Milliseconds a "may reach" answer is cached per socket (a few seconds). */
const REACH_CACHE_MS = 5_000;
/**
 * "May reach" store reads per second per principal, refreshes included: a
 * toy talking to 100 friends at once needs 20.
 */
const REACH_CHECKS_PER_SECOND = 100;

async function authenticate(
  deps: AppDeps,
  req: Request,
  kind: "app" | "toy",
  id: string,
): Promise<Principal> {
  const { deviceKey, token } = credentialsOf(req);
  if (kind === "toy" && deviceKey) {
    if (!(await deviceOpens(deps, deviceKey, id))) {
      throw new AppError(403, "device key does not belong to this toy");
    }
    return { kind: "toy", id };
  }
  if (!token) {
    throw new AppError(401, "pass ?token= (or ?device_key= for a toy)");
  }
  const principal = await resolveAppSession(deps.kv, token);
  if (!principal) {
    throw new AppError(401, "token is unknown, expired or logged out");
  }
  const expected = kind === "app" ? "user" : "toy";
  if (principal.kind !== expected || principal.id !== id) {
    throw new AppError(403, `this token is not for ${kind} ${id}`);
  }
  return principal;
}

/**
 * Where a new socket's replay starts: ?after=<seq>, ?last_id=<id>, else the
 * delivered cursor. Never past the store head, so a client holding a
 * position from a store that was since restored still gets new messages;
 * never before the replay window, so a first connection is not handed
 * years of history.
 */
async function startCursor(
  kv: Deno.Kv,
  principalId: string,
  url: URL,
): Promise<number> {
  const [head, floor] = await Promise.all([storeHead(kv), replayFloor(kv)]);
  const within = (n: number) => Math.max(floor, Math.min(n, head));
  const after = url.searchParams.get("after");
  if (after !== null && /^\d{1,15}$/.test(after)) return within(Number(after));
  const lastId = url.searchParams.get("last_id");
  if (lastId && ID_PATTERN.test(lastId)) {
    const pos = await inboxPositionOf(kv, principalId, lastId);
    if (pos !== null) return within(pos);
  }
  return within(await deliveredCursor(kv, principalId));
}

/** The /app and /toy socket endpoints. */
export function toySocketsEndpoint(
  deps: AppDeps,
  hub: Hub,
  { idleTimeoutSec = 30, maxBufferedBytes = 1024 * 1024 }: ToySocketOptions =
    {},
): SocketEndpoint {
  const onError = (err: unknown) =>
    deps.log.warn("socket handler failed", { error: String(err) });

  /**
   * One client frame. A relay to a recipient this socket may reach (cached)
   * and that has a socket here completes without a turn of the event loop:
   * the relay is the hot path.
   */
  function handleFrame(
    conn: Connection,
    me: Principal,
    reach: ReachCache,
    text: string,
  ): Promise<void> | undefined {
    const peer = conn.peer;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      peer.send({ type: "error", msg: "frame is not JSON" });
      return;
    }
    if (raw && typeof raw === "object" && !Array.isArray(raw)) {
      const t = (raw as { type?: unknown }).type;
      if (t === "ping") {
        peer.send({ type: "pong" });
        return;
      }
      if (t === "ack") {
        // Only what this socket was actually sent can be acknowledged: a
        // larger seq would make later reconnects skip messages.
        const seq = Math.min(
          Number((raw as { seq?: unknown }).seq),
          conn.cursor,
        );
        if (Number.isSafeInteger(seq) && seq > 0) {
          return advanceDelivered(deps.kv, me.id, seq);
        }
        return;
      }
    }
    const parsed = frameSchema.safeParse(raw);
    if (!parsed.success) {
      peer.send({
        type: "error",
        msg: `frame needs "to_user" (a 24-character hex id): ${
          parsed.error.issues[0]?.message
        }`,
      });
      return;
    }
    const to = parsed.data.to_user;
    // The frame JSON.parse just made, checked above: it is this handler's
    // own to fill in and pass on.
    const frame = raw as Record<string, unknown>;
    // A fresh cached answer is checked without a turn of the event loop.
    const may = reach.check(to);
    if (may === true) return relay(peer, me, to, frame);
    if (may === null) {
      peer.send({
        type: "error",
        msg: "too many new recipients at once: wait for an answer, then send",
        to_user: to,
      });
      return;
    }
    return may.then((ok) => {
      if (ok) return relay(peer, me, to, frame);
      peer.send({ type: "error", msg: `you may not reach ${to}`, to_user: to });
    }, (err) => {
      const e = asAppError(err, deps.log);
      peer.send({ type: "error", msg: e.message, to_user: to });
    });
  }

  function relay(
    peer: Peer,
    me: Principal,
    to: string,
    frame: Record<string, unknown>,
  ): Promise<void> | undefined {
    // Relays are ephemeral: they may not pass for durable chat events, so
    // the server's own fields are dropped and a chat notice is typed
    // "notice". `frame` is filled in, not copied; the server's fields are
    // deleted only when a client sent them (a field set to undefined would
    // cost every frame JSON.stringify's fast path: 2.4x the time).
    const type = frame.type;
    frame.type = "music" in frame && type !== "notice"
      ? "music"
      : typeof type === "string" && type !== "chat" && type !== "music"
      ? type
      : "notice";
    for (const field of SERVER_FIELDS) {
      if (field in frame) delete frame[field];
    }
    frame.id = newId();
    frame.from_user = me.id;
    if (hub.signalLocal(to, frame)) {
      deps.metrics.incSeries(RELAYED);
      return;
    }
    // A frame for a socket on another instance (or none) costs a KV
    // write: those are rate-limited per sender. Local relays are bounded
    // by the recipient's send queue instead.
    try {
      deps.limiter.take(
        `frames:${me.id}`,
        KV_FRAMES_PER_SECOND,
        1000,
        "frames",
      );
    } catch (err) {
      peer.send({
        type: "error",
        msg: err instanceof Error ? err.message : "slow down",
      });
      return;
    }
    // Through KV: counted once the signal is committed, as before.
    return hub.signalThroughKv(to, frame).then(() =>
      deps.metrics.incSeries(RELAYED)
    );
  }

  /** Authenticates and upgrades one socket request for `kind` `id`. */
  async function openSocket(
    kind: "app" | "toy",
    id: string,
    req: Request,
  ): Promise<Response> {
    if (!isUpgrade(req)) {
      throw new AppError(
        400,
        "this is a WebSocket endpoint: send an Upgrade request",
      );
    }
    if (!ID_PATTERN.test(id)) {
      throw new AppError(400, `"${id.slice(0, 40)}" is not an id`);
    }
    const me = await authenticate(deps, req, kind, id);
    const cursor = await startCursor(deps.kv, me.id, new URL(req.url));
    let reach: ReachCache | undefined;
    let conn: Connection | null = null;
    const stillValid = sessionCheck(deps, req, me);
    return upgradeSocket(
      req,
      {
        onOpen(peer) {
          conn = {
            principalId: me.id,
            peer,
            cursor,
            since: Date.now(),
            stillValid,
          };
          hub.attach(conn);
        },
        onText: (_peer, text) =>
          conn
            ? handleFrame(
              conn,
              me,
              reach ??= new ReachCache((to) => {
                // Each check is a store read: bounded per principal.
                deps.limiter.take(
                  `reach:${me.id}`,
                  REACH_CHECKS_PER_SECOND,
                  1000,
                  "recipient checks",
                );
                return mayReach(deps.kv, me, to);
              }, { ttlMs: REACH_CACHE_MS }),
              text,
            )
            : undefined,
        onClose() {
          if (conn) hub.detach(conn);
        },
      },
      { idleTimeoutSec, maxBufferedBytes },
      onError,
    );
  }

  /**
   * Requests on /app/<id> and /toy/<id> are answered here, before the HTTP
   * middleware (no CORS, no body): a socket lives long, and nothing of a
   * request context should stay with it.
   */
  const handle: SocketEndpoint["handle"] = (req, _info, path) => {
    const match = SOCKET_PATH.exec(path ?? new URL(req.url).pathname);
    if (!match) return null;
    return openSocket(match[1] as "app" | "toy", match[2], req).catch((err) => {
      const e = asAppError(err, deps.log);
      return refusal(toyErrorBody(e), e);
    });
  };

  return { handle, close: () => hub.close() };
}
