import type { Context } from "hono";
import { AppError } from "../domain/platform/errors.ts";
import {
  authenticateLobbyUser,
  AVATAR_RULE_MESSAGE,
  avatarUrl,
  chatSchema,
  issueLobbyToken,
  loginSchema,
  parseChat,
  parseLogin,
  parseRegistration,
  registerLobbyUser,
  registrationSchema,
  takeChatLine,
  takeLoginAttempt,
  takeRegistration,
  TOKEN_TTL_MS,
  useLobbyToken,
  USERNAME_RULE_MESSAGE,
} from "../domain/lobby/lobby.ts";
import {
  errorReply,
  type LobbyConnection,
  LobbyHub,
} from "../realtime/lobby/hub.ts";
import { serveLobbyTcp } from "../realtime/lobby/tcp.ts";
import { isUpgrade, upgradeSocket } from "../realtime/ws.ts";
import { api, clientAddress, readBody, tokenOf } from "./_http.ts";
import {
  type AppDeps,
  type AppEnv,
  asAppError,
  type Feature,
  subApp,
} from "./app.ts";

/**
 * The ChatServer lobby (seed 003, API3.1.3.md): `/api/register`,
 * `/api/login`, `/api/chat`, `/avatar/<username>/<filename>`, the socket API
 * over WebSocket `/api/socket`, and over raw TCP when `lobbyTcpPort` is set.
 * Replies keep the seed's `type`/`status` strings, messages and statuses;
 * errors it leaves open come back in the same shapes with an honest status.
 */

/** Options of `lobbyFeature`. */
export interface LobbyOptions {
  /** Token lifetime after last use (default 1 h, the seed's). */
  tokenTtlMs?: number;
}

const DEFAULT_AVATAR_PATH =
  `${import.meta.dirname}/../static/avatar/default_avatar.png`;

const TAG = "lobby";
api({
  method: "POST",
  path: "/api/register",
  tag: TAG,
  summary: "Register a lobby user (seed 003)",
  auth: "none",
  body: registrationSchema,
});
api({
  method: "POST",
  path: "/api/login",
  tag: TAG,
  summary: "Log in; 409 while the user holds a live socket",
  auth: "none",
  body: loginSchema,
});
api({
  method: "POST",
  path: "/api/chat",
  tag: TAG,
  summary: "Broadcast a chat line (Authorization: <token>)",
  auth: "user",
  body: chatSchema,
});
api({
  method: "GET",
  path: "/avatar/:username/:filename",
  tag: TAG,
  summary: "A user's avatar (the default avatar when there is none)",
  auth: "none",
});
api({
  method: "GET",
  path: "/api/socket",
  tag: TAG,
  summary:
    "WebSocket of the lobby socket API (register, login, chat, heartbeat)",
  auth: "none",
});

/** The lobby: HTTP routes, WebSocket, optional TCP; `close` stops all of it. */
export function lobbyFeature(
  deps: AppDeps,
  { tokenTtlMs = TOKEN_TTL_MS }: LobbyOptions = {},
): Feature {
  const { kv, config, log, limiter } = deps;
  const hub = new LobbyHub(deps, {
    idleMs: config.lobbyIdleSeconds * 1000,
    tokenTtlMs,
  });
  const tcp = config.lobbyTcpPort === undefined
    ? null
    : listenTcp(hub, config.host, config.lobbyTcpPort);
  if (tcp) log.info("lobby TCP listening", { port: tcp.port });
  hub.start();
  let defaultAvatar: Promise<Uint8Array> | null = null;

  const app = subApp();
  app.onError(function renderLobbyError(err, c) {
    const e = asAppError(err, log);
    return c.json(errorBody(c.req.path, e), e.status);
  });

  app.post("/api/register", async function register(c) {
    const parsed = parseRegistration(await readBody(c));
    if (!parsed.ok) {
      if (parsed.field === "username") {
        return c.json({
          type: "register_-2",
          success: false,
          message: USERNAME_RULE_MESSAGE,
        }, 400);
      }
      if (parsed.field === "avatar") {
        return c.json(
          { type: "register_0", success: false, message: AVATAR_RULE_MESSAGE },
          400,
        );
      }
      throw new AppError(400, parsed.message);
    }
    takeRegistration(limiter, clientAddress(c));
    try {
      await registerLobbyUser(kv, parsed.value);
    } catch (err) {
      if (err instanceof AppError && err.status === 409) {
        return c.json({
          type: "register_0",
          success: false,
          message: "Username already exists",
        }, 409);
      }
      throw err;
    }
    return c.json({
      type: "register_1",
      error: false,
      message: "User registered successfully",
    });
  });

  app.post("/api/login", async function login(c) {
    const parsed = parseLogin(await readBody(c));
    if (!parsed.ok) throw new AppError(400, parsed.message);
    const { username } = parsed.value;
    takeLoginAttempt(limiter, { address: clientAddress(c), username });
    const user = await authenticateLobbyUser(kv, parsed.value);
    if (!user) {
      return c.json(
        { type: "login_0", status: "error", message: "Invalid credentials" },
        401,
      );
    }
    if (await hub.isOnline(user.username)) {
      return c.json({
        type: "login",
        status: "error_0",
        message: "Account already logged in",
      }, 409);
    }
    const token = await issueLobbyToken(kv, user.username, {
      ttlMs: tokenTtlMs,
    });
    return c.json({
      type: "login_1",
      status: "success",
      token,
      avatar: avatarUrl(user),
    });
  });

  app.post("/api/chat", async function chat(c) {
    const body = await readBody(c);
    const token = tokenOf(c, body);
    if (!token) throw new AppError(401, "Missing token");
    const username = await useLobbyToken(kv, token);
    if (!username) throw new AppError(401, "Invalid token");
    const parsed = parseChat(body);
    if (!parsed.ok) throw new AppError(400, parsed.message);
    takeChatLine(limiter, username);
    await hub.postChat(username, parsed.value.message);
    return c.json({ type: "chat", status: "success" });
  });

  // Users cannot upload avatars (the seed has no upload route), so every
  // avatar URL serves the built-in default; the path never reaches a file.
  app.get("/avatar/:username/:filename", async function avatar(c) {
    defaultAvatar ??= Deno.readFile(DEFAULT_AVATAR_PATH);
    const bytes = await defaultAvatar;
    return c.body(bytes.slice().buffer, 200, {
      "content-type": "image/png",
      "cache-control": "public, max-age=3600",
      "x-content-type-options": "nosniff",
    });
  });

  app.get("/api/socket", function socket(c) {
    if (!isUpgrade(c.req.raw)) {
      return c.json(
        errorReply("connect with a WebSocket (Upgrade: websocket)"),
        400,
      );
    }
    // Frames are buffered whole by the runtime before any size check, so
    // unauthenticated upgrades are rate-limited per address.
    limiter.take(`lobby-socket:${clientAddress(c)}`, 60, 60_000, "connections");
    return upgradeLobbySocket(c, hub);
  });

  return {
    app,
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
    );
  }
}

function upgradeLobbySocket(c: Context<AppEnv>, hub: LobbyHub): Response {
  const { log } = c.get("deps");
  const address = clientAddress(c);
  let conn: LobbyConnection | null = null;
  return upgradeSocket(
    c.req.raw,
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
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      }),
  );
}

/** An error in the shape of the route's seed contract. */
function errorBody(path: string, err: AppError): Record<string, unknown> {
  switch (path) {
    case "/api/register":
      return { type: "register_-1", error: true, message: err.message };
    case "/api/login":
      return err.status === 429
        ? { type: "login", status: "error", message: err.message }
        : { type: "login_0", status: "error", message: err.message };
    case "/api/chat":
      return { type: "chat", status: "error", message: err.message };
    default:
      return errorReply(err.message);
  }
}
