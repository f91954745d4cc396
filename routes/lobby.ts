import { z } from "zod";
import { AppError, asAppError } from "../domain/platform/errors.ts";
import {
  authenticateLobbyUser,
  AVATAR_RULE_MESSAGE,
  avatarUrl,
  chatSchema,
  issueLobbyToken,
  livePresence,
  loginSchema,
  parseChat,
  parseLogin,
  parseRegistration,
  postLobbyChat,
  registerLobbyUser,
  registrationSchema,
  takeChatLine,
  takeLoginAttempt,
  takeRegistration,
  useLobbyToken,
  USERNAME_RULE_MESSAGE,
} from "../domain/lobby/lobby.ts";
import {
  accepted,
  lobbyFailure,
  type LoginOutcome,
  loginReply,
  REGISTERED,
  registrationRefused,
  USERNAME_TAKEN,
} from "../domain/lobby/envelope.ts";
import type { AppDeps } from "../domain/platform/services.ts";
import { api, bindRoute, clientAddress, readBody, tokenOf } from "./_http.ts";
import { type Feature, subApp } from "./app.ts";

/**
 * The ChatServer lobby's HTTP API (seed 003, API3.1.3.md): `/api/register`,
 * `/api/login`, `/api/chat`, `/avatar/<username>/<filename>`. Replies keep
 * the seed's `type`/`status` strings, messages and statuses (rendered by
 * domain/lobby/envelope.ts); the socket API is realtime/lobby/endpoint.ts.
 */

const DEFAULT_AVATAR_PATH =
  `${import.meta.dirname}/../static/avatar/default_avatar.png`;

const TAG = "lobby";
const lobbyReply = z.looseObject({
  type: z.string(),
  status: z.string().optional(),
  message: z.string().optional(),
});
const routes = {
  register: api({
    method: "POST",
    path: "/api/register",
    tag: TAG,
    summary: "Register a lobby user (seed 003); a taken username is 403",
    auth: "none",
    body: registrationSchema,
    reply: lobbyReply,
  }),
  login: api({
    method: "POST",
    path: "/api/login",
    tag: TAG,
    summary: "Log in; 409 while the user holds a live socket",
    auth: "none",
    body: loginSchema,
    reply: lobbyReply,
  }),
  chat: api({
    method: "POST",
    path: "/api/chat",
    tag: TAG,
    summary: "Broadcast a chat line (Authorization: <token>)",
    auth: "user",
    body: chatSchema,
    reply: lobbyReply,
  }),
  avatar: api({
    method: "GET",
    path: "/avatar/:username/:filename",
    tag: TAG,
    summary: "A user's avatar (the default avatar when there is none)",
    auth: "none",
  }),
};

/** The lobby's HTTP routes. */
export function lobbyFeature(deps: AppDeps): Feature {
  const { kv, log, limiter } = deps;
  let defaultAvatar: Promise<Uint8Array> | null = null;

  const app = subApp();
  app.onError(function renderLobbyError(err, c) {
    const e = asAppError(err, log);
    const type = c.req.path.replace(/^\/api\//, "");
    return c.json(lobbyFailure(type, e, { http: true }), e.status);
  });

  bindRoute(app, routes.register, async function register(c) {
    const parsed = parseRegistration(await readBody(c));
    if (!parsed.ok) {
      if (parsed.field === "username" || parsed.field === "avatar") {
        const message = parsed.field === "username"
          ? USERNAME_RULE_MESSAGE
          : AVATAR_RULE_MESSAGE;
        return c.json(registrationRefused(parsed.field, message, "http"), 400);
      }
      throw new AppError(400, parsed.message);
    }
    takeRegistration(limiter, clientAddress(c));
    try {
      await registerLobbyUser(kv, parsed.value);
    } catch (err) {
      if (err instanceof AppError && err.status === 409) {
        return c.json(USERNAME_TAKEN, 403);
      }
      throw err;
    }
    return c.json(REGISTERED);
  });

  bindRoute(app, routes.login, async function login(c) {
    const parsed = parseLogin(await readBody(c));
    if (!parsed.ok) throw new AppError(400, parsed.message);
    const { username } = parsed.value;
    takeLoginAttempt(limiter, { address: clientAddress(c), username });
    const user = await authenticateLobbyUser(kv, parsed.value);
    const outcome: LoginOutcome = !user
      ? { ok: false, reason: "invalid_credentials" }
      : await livePresence(kv, user.username)
      ? { ok: false, reason: "already_logged_in" }
      : {
        ok: true,
        token: await issueLobbyToken(kv, user.username),
        username: user.username,
        avatar: avatarUrl(user),
      };
    const { body, status } = loginReply(outcome, "http");
    return c.json(body, status);
  });

  bindRoute(app, routes.chat, async function chat(c) {
    const body = await readBody(c);
    const token = tokenOf(c, body);
    if (!token) throw new AppError(401, "Missing token");
    const username = await useLobbyToken(kv, token);
    if (!username) throw new AppError(401, "Invalid token");
    const parsed = parseChat(body);
    if (!parsed.ok) throw new AppError(400, parsed.message);
    takeChatLine(limiter, username);
    await postLobbyChat(kv, username, parsed.value.message);
    return c.json(accepted("chat"));
  });

  // Users cannot upload avatars (the seed has no upload route), so every
  // avatar URL serves the built-in default; the path never reaches a file.
  bindRoute(app, routes.avatar, async function avatar(c) {
    defaultAvatar ??= Deno.readFile(DEFAULT_AVATAR_PATH);
    const bytes = await defaultAvatar;
    return c.body(bytes.slice().buffer, 200, {
      "content-type": "image/png",
      "cache-control": "public, max-age=3600",
      "x-content-type-options": "nosniff",
    });
  });

  return { app };
}
