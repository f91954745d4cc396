import { AppError } from "../platform/errors.ts";
import { newId } from "../store/ids.ts";
import {
  createSession,
  type Principal,
  resolveSession,
  revokeAllSessions,
  revokeSession,
} from "../platform/sessions.ts";
import { ringDelivery } from "./messages.ts";
import {
  DUMMY_HASH,
  hashPassword,
  verifyPassword,
} from "../platform/passwords.ts";

/**
 * App users and sessions.
 *
 * | key                                   | value                       |
 * | ------------------------------------- | --------------------------- |
 * | ["users", id]                         | User                        |
 * | ["users_by_name", username]           | id                          |
 *
 * Sessions of users and toys are `domain/platform/sessions.ts` tokens.
 */

const APP_KINDS: Principal["kind"][] = ["user", "toy"];

/** A stored app user; `password_hash` never leaves this module's callers. */
export interface User {
  _id: string;
  username: string;
  nickname: string;
  gender: string;
  avatar: string;
  password_hash: string;
  created_at: number;
}

/** The user as clients see it: no password hash. */
export type PublicUser = Omit<User, "password_hash">;

/** How long a session lives unless logged out. */
const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** Strips the password hash. */
export function publicUser(user: User): PublicUser {
  const { password_hash: _, ...rest } = user;
  return rest;
}

/** Input of `registerUser`. */
export interface NewUser {
  username: string;
  password: string;
  nickname?: string;
  gender?: string;
  avatar?: string;
}

/**
 * Creates a user; atomic with a uniqueness check on the username, so of
 * concurrent registrations of one name exactly one succeeds (409 for the rest).
 */
export async function registerUser(kv: Deno.Kv, input: NewUser): Promise<User> {
  const byName = ["users_by_name", input.username];
  if ((await kv.get(byName)).versionstamp !== null) {
    throw new AppError(409, `username "${input.username}" is already taken`);
  }
  const user: User = {
    _id: newId(),
    username: input.username,
    nickname: input.nickname ?? input.username,
    gender: input.gender ?? "",
    avatar: input.avatar ?? "baba.jpg",
    password_hash: await hashPassword(input.password),
    created_at: Date.now() / 1000,
  };
  const res = await kv.atomic()
    .check({ key: byName, versionstamp: null })
    .set(["users", user._id], user)
    .set(byName, user._id)
    .commit();
  if (!res.ok) {
    throw new AppError(409, `username "${input.username}" is already taken`);
  }
  return user;
}

/** Reads a user by id, or null. */
export async function getUser(kv: Deno.Kv, id: string): Promise<User | null> {
  return (await kv.get<User>(["users", id])).value;
}

/** Reads a user by id; 404 when there is none. */
export async function requireUser(kv: Deno.Kv, id: string): Promise<User> {
  const user = await getUser(kv, id);
  if (!user) throw new AppError(404, `no user with _id "${id}"`);
  return user;
}

/**
 * Checks a username and password; 401 with one message for either being
 * wrong, spending the same KDF time for unknown users.
 */
export async function authenticateUser(
  kv: Deno.Kv,
  username: string,
  password: string,
): Promise<User> {
  const id = (await kv.get<string>(["users_by_name", username])).value;
  const user = id ? await getUser(kv, id) : null;
  const ok = await verifyPassword(password, user?.password_hash ?? DUMMY_HASH);
  if (!user || !ok) throw new AppError(401, "wrong username or password");
  return user;
}

/** Signs `principal` in to the smart-toy API; returns the token (shown once). */
export function createAppSession(
  kv: Deno.Kv,
  principal: Principal,
  { ttlMs = SESSION_TTL_MS }: { ttlMs?: number } = {},
): Promise<string> {
  return createSession(kv, principal, { ttlMs });
}

/** The app user or toy of a live smart-toy token, or null. */
export function resolveAppSession(
  kv: Deno.Kv,
  token: string,
): Promise<Principal | null> {
  return resolveSession(kv, token, APP_KINDS);
}

/**
 * Logs one token out; idempotent. The principal's delivery key rings in the
 * same commit, so its open sockets re-check their credentials and close.
 */
export async function logout(kv: Deno.Kv, token: string): Promise<void> {
  await revokeSession(kv, token, {
    also: (op, session) => ringDelivery(op, session.principal.id),
  });
}

/** Logs every session of a principal out (a toy that was unbound, say). */
export async function logoutEverywhere(
  kv: Deno.Kv,
  principalId: string,
): Promise<void> {
  await revokeAllSessions(kv, principalId);
  await ringDelivery(kv.atomic(), principalId).commit();
}
