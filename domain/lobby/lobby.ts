import { z } from "zod";
import { AppError } from "../platform/errors.ts";
import { createSession, resolveSession } from "../platform/sessions.ts";
import {
  DUMMY_HASH,
  hashPassword,
  verifyPassword,
} from "../platform/passwords.ts";
import type { RateLimiter } from "../platform/rate_limit.ts";

/**
 * The ChatServer lobby (seed 003): its users, tokens, presence and the
 * event log that carries chat lines to every instance.
 *
 * | key                                | value                                      |
 * | ---------------------------------- | ------------------------------------------ |
 * | ["lobby_users", username]          | LobbyUser                                  |
 * | ["lobby_presence", username]       | Presence (expireIn + expiresAt)            |
 * | ["lobby_events", seq]              | LobbyEvent (expireIn EVENT_TTL_MS)         |
 * | ["lobby_head"]                     | number: seq of the newest event            |
 *
 * Lobby users are their own collection, apart from the smart-toy app's
 * users. Tokens are sliding sessions (`domain/platform/sessions.ts`) of kind
 * "lobby".
 * Presence says which connection (on which instance) holds a user: one
 * active connection per user, across instances. Event seqs are dense and
 * assigned under a check on the head, so every instance reads them in
 * commit order: "everything after my cursor" never skips an event.
 */

/** A stored lobby user; `password_hash` never leaves the server. */
export interface LobbyUser {
  username: string;
  password_hash: string;
  /** The avatar file name given at registration. */
  avatar: string;
  created_at: number;
}

/** The connection that holds a user, and until when unless refreshed. */
export interface Presence {
  instance: string;
  connection: string;
  since: number;
  expiresAt: number;
}

/** A chat line as every instance reads it from the log. */
export interface LobbyEvent {
  seq: number;
  type: "chat";
  user: string;
  message: string;
  avatar: string;
  at: number;
}

/** Avatar file name of users who give none. */
export const DEFAULT_AVATAR = "default_avatar.png";
/** Tokens live this long after their last use (seed: 1 h, refreshed on use). */
export const TOKEN_TTL_MS = 3600 * 1000;
/** Chat lines stay readable this long: enough for a lagging instance. */
const EVENT_TTL_MS = 60 * 1000;
/** Longest chat line, in characters. */
const MAX_MESSAGE_CHARS = 4096;
/** Longest password accepted (scrypt work is bounded by it). */
const MAX_PASSWORD_CHARS = 256;

/** The seed's message for a bad username over HTTP. */
export const USERNAME_RULE_MESSAGE =
  "Invalid username. Must be 2-20 characters, start with a letter or symbol, and contain only letters, numbers, or symbols: _!@#$%^&+-~?";
/** The seed's message for a bad avatar file name. */
export const AVATAR_RULE_MESSAGE =
  "Invalid avatar format. Only .png or .jpg allowed";

const USERNAME_PATTERN =
  /^[A-Za-z_!@#$%^&+\-~?][A-Za-z0-9_!@#$%^&+\-~?]{1,19}$/;
// The seed only asks for the extension; we also keep the name a plain,
// short file name, since it is put into avatar URLs.
const AVATAR_PATTERN = /^[^/\\\p{Cc}]{0,96}\.(png|jpg)$/u;

const USERS = "lobby_users";
const PRESENCE = "lobby_presence";
const EVENTS = "lobby_events";
/** The key every instance watches for new events. */
export const LOBBY_HEAD_KEY: Deno.KvKey = ["lobby_head"];

/** True for a username of 2–20 letters, digits or `_!@#$%^&+-~?`, not starting with a digit. */
export function isValidUsername(name: unknown): name is string {
  return typeof name === "string" && USERNAME_PATTERN.test(name);
}

/** True for an avatar file name ending in `.png` or `.jpg` (no path). */
export function isValidAvatar(name: unknown): name is string {
  return typeof name === "string" && AVATAR_PATTERN.test(name);
}

/** The URL a user's avatar is served at (components URL-encoded). */
export function avatarUrl(
  user: Pick<LobbyUser, "username" | "avatar">,
): string {
  return `/avatar/${encodeURIComponent(user.username)}/${
    encodeURIComponent(user.avatar)
  }`;
}

function stringField(name: string, max: number, min = 0) {
  return z.string({
    error: (issue) =>
      issue.input === undefined || issue.input === null
        ? `"${name}" is required`
        : `"${name}" must be a string`,
  }).min(min, `"${name}" must not be empty`).max(
    max,
    `"${name}" must be at most ${max} characters`,
  );
}

/** Validates a lobby registration body (also documents it in /openapi.json). */
export const registrationSchema = z.object({
  username: z.string().regex(USERNAME_PATTERN),
  password: stringField("password", MAX_PASSWORD_CHARS, 1),
  avatar: z.preprocess(
    (value) => value === "" || value === null ? undefined : value,
    z.string().regex(AVATAR_PATTERN).optional(),
  ),
}, { error: "the message must be a JSON object" });

/** Validates a lobby login body (also documents it in /openapi.json). */
export const loginSchema = z.object({
  username: stringField("username", 64),
  password: stringField("password", MAX_PASSWORD_CHARS),
}, { error: "the message must be a JSON object" });

/** Validates a lobby chat body (also documents it in /openapi.json). */
export const chatSchema = z.object({
  message: stringField("message", MAX_MESSAGE_CHARS),
}, { error: "the message must be a JSON object" });

/** A valid registration. */
export interface Registration {
  username: string;
  password: string;
  avatar: string;
}

/** The outcome of parsing input: the value, or the first bad field and why. */
export type Parsed<T> =
  | { ok: true; value: T }
  | { ok: false; field: string; message: string };

function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  order: string[],
): Parsed<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues;
  const rank = (path: PropertyKey[]) => {
    const at = order.indexOf(String(path[0]));
    return at < 0 ? order.length : at;
  };
  const first = [...issues].sort((a, b) => rank(a.path) - rank(b.path))[0];
  return {
    ok: false,
    field: first.path.length ? String(first.path[0]) : "body",
    message: first.message,
  };
}

/**
 * Validates a registration. On failure `field` is the first bad one in the
 * seed's order of checks: "username", then "avatar", then "password".
 */
export function parseRegistration(value: unknown): Parsed<Registration> {
  const parsed = parseWith(registrationSchema, value, [
    "username",
    "avatar",
    "password",
  ]);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    value: { ...parsed.value, avatar: parsed.value.avatar ?? DEFAULT_AVATAR },
  };
}

/** Validates login credentials (their shape; not whether they are right). */
export function parseLogin(
  value: unknown,
): Parsed<{ username: string; password: string }> {
  return parseWith(loginSchema, value, ["username", "password"]);
}

/** Validates a chat line: `message`, a string of at most 4096 characters. */
export function parseChat(value: unknown): Parsed<{ message: string }> {
  return parseWith(chatSchema, value, ["message"]);
}

/** Counts a login attempt per client address and per username; 429 past either limit. */
export function takeLoginAttempt(
  limiter: RateLimiter,
  { address, username }: { address: string; username: string },
): void {
  limiter.take(`lobby_login_addr:${address}`, 30, 60_000, "login attempts");
  limiter.take(`lobby_login_user:${username}`, 10, 60_000, "login attempts");
}

/** Counts a registration per client address; 429 past the limit. */
export function takeRegistration(limiter: RateLimiter, address: string): void {
  limiter.take(`lobby_register:${address}`, 30, 60_000, "registrations");
}

/** Counts a chat line per user; 429 past the limit. */
export function takeChatLine(limiter: RateLimiter, username: string): void {
  limiter.take(`lobby_chat:${username}`, 60, 10_000, "chat messages");
}

/**
 * Creates a lobby user with a scrypt password hash. Atomic with a
 * uniqueness check on the username: of concurrent registrations of one
 * name exactly one succeeds; the others get 409 "Username already exists".
 */
export async function registerLobbyUser(
  kv: Deno.Kv,
  input: Registration,
): Promise<LobbyUser> {
  if (!isValidUsername(input.username)) {
    throw new AppError(400, `username "${input.username}" breaks the rule`);
  }
  if (!isValidAvatar(input.avatar)) {
    throw new AppError(
      400,
      `avatar "${input.avatar}" must end in .png or .jpg`,
    );
  }
  const key = [USERS, input.username];
  if ((await kv.get(key)).versionstamp !== null) {
    throw new AppError(409, "Username already exists");
  }
  const user: LobbyUser = {
    username: input.username,
    password_hash: await hashPassword(input.password),
    avatar: input.avatar,
    created_at: Date.now() / 1000,
  };
  const res = await kv.atomic()
    .check({ key, versionstamp: null })
    .set(key, user)
    .commit();
  if (!res.ok) throw new AppError(409, "Username already exists");
  return user;
}

/** Reads a lobby user, or null. */
export async function getLobbyUser(
  kv: Deno.Kv,
  username: string,
): Promise<LobbyUser | null> {
  if (!isValidUsername(username)) return null;
  return (await kv.get<LobbyUser>([USERS, username])).value;
}

/**
 * The user when `password` is theirs, else null. Unknown users cost the
 * same KDF time, so timing does not tell which names exist.
 */
export async function authenticateLobbyUser(
  kv: Deno.Kv,
  { username, password }: { username: string; password: string },
): Promise<LobbyUser | null> {
  const user = await getLobbyUser(kv, username);
  const ok = await verifyPassword(password, user?.password_hash ?? DUMMY_HASH);
  return user && ok ? user : null;
}

/** Options of the token functions; `now` is injectable for tests. */
export interface TokenOptions {
  ttlMs?: number;
  now?: number;
}

/** Issues a lobby token for `username`, valid `ttlMs` after its last use (shown once). */
export function issueLobbyToken(
  kv: Deno.Kv,
  username: string,
  { ttlMs = TOKEN_TTL_MS, now = Date.now() }: TokenOptions = {},
): Promise<string> {
  return createSession(kv, { kind: "lobby", id: username }, {
    ttlMs,
    sliding: true,
    now,
  });
}

/**
 * The username of a live lobby token, or null (malformed, unknown, expired
 * or another system's token). Using a token refreshes it (sliding expiry).
 */
export async function useLobbyToken(
  kv: Deno.Kv,
  token: string,
  { now = Date.now() }: { now?: number } = {},
): Promise<string | null> {
  return (await resolveSession(kv, token, ["lobby"], { now }))?.id ?? null;
}

/** The presence holding `username` while it is live, else null (none, or stale). */
export async function livePresence(
  kv: Deno.Kv,
  username: string,
  { now = Date.now() }: { now?: number } = {},
): Promise<Presence | null> {
  const presence = (await kv.get<Presence>([PRESENCE, username])).value;
  return presence && presence.expiresAt > now ? presence : null;
}

/** Options of `claimPresence`. */
export interface ClaimOptions {
  instance: string;
  connection: string;
  /** How long the presence lives unless refreshed. */
  ttlMs: number;
  /**
   * Asked about a live holder: true when it is known to be dead (say, its
   * socket on this instance no longer takes writes) and may be replaced.
   */
  canReplace?: (holder: Presence) => boolean | Promise<boolean>;
}

/**
 * Makes `connection` the one active connection of `username`. Returns the
 * presence's versionstamp, or null while another live connection holds
 * it. Atomic: of concurrent claims exactly one wins.
 */
export async function claimPresence(
  kv: Deno.Kv,
  username: string,
  { instance, connection, ttlMs, canReplace = () => false }: ClaimOptions,
): Promise<string | null> {
  const key = [PRESENCE, username];
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await kv.get<Presence>(key);
    const now = Date.now();
    const holder = entry.value;
    if (
      holder && holder.expiresAt > now && holder.connection !== connection &&
      !(await canReplace(holder))
    ) {
      return null;
    }
    const presence: Presence = {
      instance,
      connection,
      since: now,
      expiresAt: now + ttlMs,
    };
    const res = await kv.atomic().check(entry)
      .set(key, presence, { expireIn: ttlMs })
      .commit();
    if (res.ok) return res.versionstamp;
  }
  return null;
}

/**
 * Extends a held presence by `ttlMs`. Returns the new versionstamp, or null
 * when the presence is no longer the one at `versionstamp` (another
 * connection took it over, or it was released).
 */
export async function refreshPresence(
  kv: Deno.Kv,
  username: string,
  { versionstamp, ttlMs }: { versionstamp: string; ttlMs: number },
): Promise<string | null> {
  const key = [PRESENCE, username];
  const entry = await kv.get<Presence>(key);
  if (!entry.value || entry.versionstamp !== versionstamp) return null;
  const presence: Presence = { ...entry.value, expiresAt: Date.now() + ttlMs };
  const res = await kv.atomic().check(entry)
    .set(key, presence, { expireIn: ttlMs })
    .commit();
  return res.ok ? res.versionstamp : null;
}

/** Deletes a presence if it is still the one at `versionstamp`; true when deleted. */
export async function releasePresence(
  kv: Deno.Kv,
  username: string,
  { versionstamp }: { versionstamp: string },
): Promise<boolean> {
  const key = [PRESENCE, username];
  const res = await kv.atomic().check({ key, versionstamp }).delete(key)
    .commit();
  return res.ok;
}

/** The seq of the newest event (0 for none). */
export async function lobbyHead(kv: Deno.Kv): Promise<number> {
  return (await kv.get<number>(LOBBY_HEAD_KEY)).value ?? 0;
}

/**
 * Appends a chat line to the event log and bumps the head that every
 * instance watches. The seq is the head + 1, committed under a check on
 * the head, so seqs are dense and in commit order; a lost race retries.
 * 503 when the log stays contended.
 */
export async function appendLobbyChat(
  kv: Deno.Kv,
  chat: { user: string; message: string; avatar: string },
  { ttlMs = EVENT_TTL_MS }: { ttlMs?: number } = {},
): Promise<LobbyEvent> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const head = await kv.get<number>(LOBBY_HEAD_KEY);
    const seq = (head.value ?? 0) + 1;
    const event: LobbyEvent = { seq, type: "chat", ...chat, at: Date.now() };
    const res = await kv.atomic()
      .check(head)
      .set([EVENTS, seq], event, { expireIn: ttlMs })
      .set(LOBBY_HEAD_KEY, seq)
      .commit();
    if (res.ok) return event;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.random() * attempt)
    );
  }
  throw new AppError(503, "the lobby is busy: try again");
}

/** Up to `limit` events with a seq above `after`, oldest first. */
export async function listLobbyEvents(
  kv: Deno.Kv,
  after: number,
  { limit = 500 }: { limit?: number } = {},
): Promise<LobbyEvent[]> {
  const events: LobbyEvent[] = [];
  const iter = kv.list<LobbyEvent>(
    { prefix: [EVENTS], start: [EVENTS, after + 1] },
    { limit },
  );
  for await (const entry of iter) events.push(entry.value);
  return events;
}

/**
 * Commits a chat line of `username` to the event log; every instance's
 * lobby hub fans it out. 401 when the user no longer exists.
 */
export async function postLobbyChat(
  kv: Deno.Kv,
  username: string,
  message: string,
): Promise<void> {
  const user = await getLobbyUser(kv, username);
  if (!user) throw new AppError(401, `user "${username}" no longer exists`);
  await appendLobbyChat(kv, {
    user: username,
    message,
    avatar: avatarUrl(user),
  });
}
