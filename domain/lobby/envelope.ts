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

/** A registration field the seed's rules refuse (its `register_-2`/`register_0`). */
export function registrationRefused(
  field: "username" | "avatar",
  message: string,
): Record<string, unknown> {
  return {
    type: field === "username" ? "register_-2" : "register_0",
    success: false,
    message,
  };
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
