import type { AppError } from "../platform/errors.ts";

/**
 * The lobby contract's replies (seed 003, API3.1.3.md), rendered here and
 * nowhere else, for HTTP, WebSocket and TCP alike. The seed's shapes are
 * `{type, status, message}` (registration: `{type, success|error, message}`)
 * with its own `type`/`status` strings; our errors keep those shapes.
 */

/** A reply to anything that is not a well-formed message. */
export function lobbyErrorReply(message: string): Record<string, unknown> {
  return { type: "error", status: "error", message };
}

/** The seed's reply to a frame that does not parse. */
export const INVALID_JSON = lobbyErrorReply("Invalid JSON");

/** Registration succeeded. */
export const REGISTERED = {
  type: "register_1",
  error: false,
  message: "User registered successfully",
} as const;

/** A username that is taken (HTTP 403, as the seed's code answers). */
export const USERNAME_TAKEN = {
  type: "register_0",
  success: false,
  message: "Username already exists",
} as const;

/** The lobby's transports: the seed's HTTP API and its socket API (WebSocket, TCP). */
export type LobbyTransport = "http" | "socket";

/**
 * A registration field the seed's rules refuse: `register_-2` for the
 * username, the avatar as `register_0` over HTTP and `register_-3` over a
 * socket (the seed's two APIs differ).
 */
export function registrationRefused(
  field: "username" | "avatar",
  message: string,
  transport: LobbyTransport,
): Record<string, unknown> {
  const type = field === "username"
    ? "register_-2"
    : transport === "http"
    ? "register_0"
    : "register_-3";
  return { type, success: false, message };
}

/** What a login came to. */
export type LoginOutcome =
  | { ok: true; token: string; username: string; avatar: string }
  | { ok: false; reason: "invalid_credentials" | "already_logged_in" };

/** A login's reply, with the HTTP status the seed gives it. */
export function loginReply(
  outcome: LoginOutcome,
  transport: LobbyTransport,
): { body: Record<string, unknown>; status: 200 | 401 | 409 } {
  if (outcome.ok) {
    const { token, username, avatar } = outcome;
    return transport === "http"
      ? {
        body: { type: "login_1", status: "success", token, avatar },
        status: 200,
      }
      : {
        body: {
          type: "login",
          status: "success",
          message: "Login successful",
          token,
          username,
          avatar,
        },
        status: 200,
      };
  }
  if (outcome.reason === "invalid_credentials") {
    return {
      body: transport === "http"
        ? { type: "login_0", status: "error", message: "Invalid credentials" }
        : { type: "login", status: "error_0", message: "Invalid credentials" },
      status: 401,
    };
  }
  return {
    body: {
      type: "login",
      status: transport === "http" ? "error_0" : "error_-1",
      message: "Account already logged in",
    },
    status: 409,
  };
}

/** A chat line or heartbeat that was taken. */
export function accepted(type: "chat" | "heartbeat"): Record<string, unknown> {
  return { type, status: "success" };
}

/**
 * A failed request of one lobby `type` (register, login, chat, heartbeat)
 * over any transport; `http` picks the HTTP API's login type (`login_0`).
 */
export function lobbyFailure(
  type: string,
  err: AppError,
  { http = false }: { http?: boolean } = {},
): Record<string, unknown> {
  switch (type) {
    case "register":
      return { type: "register_-1", error: true, message: err.message };
    case "login":
      return http && err.status !== 429
        ? { type: "login_0", status: "error", message: err.message }
        : { type: "login", status: "error", message: err.message };
    case "chat":
    case "heartbeat":
      return { type, status: "error", message: err.message };
    default:
      return lobbyErrorReply(err.message);
  }
}

/** Why a socket message's token was refused. */
export type TokenRefusal = "missing" | "invalid" | "not_logged_in";

/**
 * The seed's reply to a refused token: `error_Mt`, `error_It`, `error_Nli`
 * for chat; a plain "error" for heartbeat.
 */
export function tokenRefused(
  type: "chat" | "heartbeat",
  why: TokenRefusal,
): Record<string, unknown> {
  const [status, message] = {
    missing: ["error_Mt", "Missing token"],
    invalid: ["error_It", "Invalid token"],
    not_logged_in: ["error_Nli", "Not logged in"],
  }[why];
  return { type, status: type === "chat" ? status : "error", message };
}
