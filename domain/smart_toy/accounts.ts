import { AppError } from "../platform/errors.ts";
import { newId, randomHex, sha256Hex } from "../store/ids.ts";
import { deleteKeys } from "../store/kv.ts";
import { cached, touch } from "../store/cache.ts";
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
 * | ["sessions", sha256(token)]           | Session (expireIn + expiresAt) |
 * | ["sessions_by_principal", id, hash]   | true (for revoking all)     |
 *
 * Tokens are 256-bit random hex; only their SHA-256 is stored.
 */

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

/** Who a session belongs to. */
export interface Principal {
  kind: "user" | "toy";
  id: string;
}

/** A stored session. */
export interface Session {
  principal: Principal;
  createdAt: number;
  expiresAt: number;
}

/** How long a session lives unless logged out. */
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

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

/** Creates a session for `principal` and returns its token (shown once). */
export async function createSession(
  kv: Deno.Kv,
  principal: Principal,
  { ttlMs = SESSION_TTL_MS }: { ttlMs?: number } = {},
): Promise<string> {
  const token = randomHex(32);
  const hash = await sha256Hex(token);
  const now = Date.now();
  const session: Session = {
    principal,
    createdAt: now,
    expiresAt: now + ttlMs,
  };
  const res = await kv.atomic()
    .set(["sessions", hash], session, { expireIn: ttlMs })
    .set(["sessions_by_principal", principal.id, hash], true, {
      expireIn: ttlMs,
    })
    .commit();
  if (!res.ok) throw new Error("failed to store session");
  return token;
}

/** The principal of a live token, or null (unknown, expired or revoked). */
export async function resolveSession(
  kv: Deno.Kv,
  token: string,
): Promise<Principal | null> {
  if (!/^[0-9a-f]{64}$/.test(token)) return null;
  const hash = await sha256Hex(token);
  const session = await cached(
    kv,
    "sessions",
    hash,
    async () => (await kv.get<Session>(["sessions", hash])).value,
    { ttlMs: 30_000 },
  );
  if (!session || session.expiresAt <= Date.now()) return null;
  return session.principal;
}

/** Revokes one token; idempotent. */
export async function revokeSession(kv: Deno.Kv, token: string): Promise<void> {
  const hash = await sha256Hex(token);
  const session = (await kv.get<Session>(["sessions", hash])).value;
  const op = kv.atomic().delete(["sessions", hash]);
  if (session) {
    op.delete(["sessions_by_principal", session.principal.id, hash]);
    // Ring the principal's delivery key: its open sockets re-check their
    // credentials and close if this was their token.
    ringDelivery(op, session.principal.id);
  }
  await op.commit();
  await touch(kv, "sessions");
}

/** Revokes every session of a principal (a toy that was unbound, say). */
export async function revokeAllSessions(
  kv: Deno.Kv,
  principalId: string,
): Promise<void> {
  const keys: Deno.KvKey[] = [];
  for await (
    const entry of kv.list({ prefix: ["sessions_by_principal", principalId] })
  ) {
    keys.push(entry.key, ["sessions", entry.key[2] as string]);
  }
  await deleteKeys(kv, keys);
  await touch(kv, "sessions");
  await ringDelivery(kv.atomic(), principalId).commit();
}
