import { createHash } from "node:crypto";
import { cached, touch } from "../store/cache.ts";
import { deleteKeys } from "../store/kv.ts";
import { randomHex } from "../store/ids.ts";

/**
 * Session tokens, one mechanism for every system: the smart-toy app and
 * toys, the lobby, DiaryU and web logins.
 *
 * | key                                  | value                              |
 * | ------------------------------------ | ---------------------------------- |
 * | ["sessions", sha256(token)]          | Session (expireIn + expiresAt)     |
 * | ["sessions_by_principal", id, hash]  | true (to revoke every session)     |
 *
 * A token is 256-bit random hex, shown once; only its SHA-256 is stored.
 * `expireIn` deletes lazily, so `expiresAt` is checked on every read.
 */

/** Who a session belongs to; `kind` names the system and its role. */
export interface Principal {
  kind: "user" | "toy" | "lobby" | "diaryu";
  id: string;
}

/** A stored session. `slideMs` set: valid that long after its last use. */
export interface Session {
  principal: Principal;
  createdAt: number;
  expiresAt: number;
  slideMs?: number;
}

/** What a token looks like: 64 lowercase hex characters. */
const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

// A sliding session is rewritten at most once a minute (or a tenth of its
// lifetime): each use still counts, without a KV write per request.
const SLIDE_GRANULARITY_MS = 60_000;
// Sessions are cached per process; every change bumps the "sessions" epoch,
// so other instances drop stale entries at once.
const CACHE_TTL_MS = 30_000;

/** SHA-256 of a string as lowercase hex (synchronous: node:crypto). */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Hashes of recently presented tokens, in this process's memory only. */
const recentHashes = new Map<string, string>();
const RECENT_HASHES_MAX = 10_000;

/**
 * `sha256Hex(token)`, remembered for tokens presented lately: a client
 * sends its token with every request, and hashing it anew cost about 3 µs
 * of a friend_list request's 55 (the hash is a pure function of the
 * token; what it finds is still checked against KV and the cache rules).
 */
function tokenHash(token: string): string {
  let hash = recentHashes.get(token);
  if (hash === undefined) {
    hash = sha256Hex(token);
    if (recentHashes.size >= RECENT_HASHES_MAX) recentHashes.clear();
    recentHashes.set(token, hash);
  }
  return hash;
}

/**
 * The token of an `Authorization` header: `Bearer <token>` or, as the
 * lobby's seed clients send it, the bare token; null when absent or empty.
 */
export function bearerToken(header: string | null | undefined): string | null {
  const value = header?.trim();
  if (!value) return null;
  return /^Bearer\s+(\S+)$/i.exec(value)?.[1] ?? value;
}

/** Options of `createSession`. */
export interface SessionOptions {
  /** Lifetime; with `sliding`, the time since the last use. */
  ttlMs: number;
  /** Refresh the expiry on use (the lobby's one-hour sliding token). */
  sliding?: boolean;
  now?: number;
}

/**
 * Creates a session for `principal` and returns its token (shown once).
 * One atomic write of the session and its per-principal index.
 */
export async function createSession(
  kv: Deno.Kv,
  principal: Principal,
  { ttlMs, sliding = false, now = Date.now() }: SessionOptions,
): Promise<string> {
  const token = randomHex(32);
  const hash = sha256Hex(token);
  const session: Session = {
    principal,
    createdAt: now,
    expiresAt: now + ttlMs,
    ...(sliding ? { slideMs: ttlMs } : {}),
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

/**
 * The principal of a live token of one of `kinds`, or null (malformed,
 * unknown, expired, revoked, or another system's token). A sliding session
 * is refreshed, checked against the entry read so concurrent refreshes
 * cannot resurrect a revoked session.
 */
export async function resolveSession(
  kv: Deno.Kv,
  token: string,
  kinds: readonly Principal["kind"][],
  { now = Date.now() }: { now?: number } = {},
): Promise<Principal | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const hash = tokenHash(token);
  const session = await cached(
    kv,
    "sessions",
    hash,
    async () => (await kv.get<Session>(["sessions", hash])).value,
    { ttlMs: CACHE_TTL_MS },
  );
  if (!session || session.expiresAt <= now) return null;
  if (!kinds.includes(session.principal.kind)) return null;
  if (
    session.slideMs &&
    session.expiresAt - now <
      session.slideMs - Math.min(SLIDE_GRANULARITY_MS, session.slideMs / 10)
  ) {
    await slide(kv, hash, session.slideMs, now);
  }
  return session.principal;
}

async function slide(
  kv: Deno.Kv,
  hash: string,
  slideMs: number,
  now: number,
): Promise<void> {
  const entry = await kv.get<Session>(["sessions", hash]);
  if (!entry.value || entry.value.expiresAt <= now) return;
  const refreshed = { ...entry.value, expiresAt: now + slideMs };
  await kv.atomic().check(entry)
    .set(["sessions", hash], refreshed, { expireIn: slideMs })
    .set(["sessions_by_principal", refreshed.principal.id, hash], true, {
      expireIn: slideMs,
    })
    .commit();
  await touch(kv, "sessions");
}

/**
 * Revokes one token; idempotent. `also` adds mutations to the same atomic
 * (a system's own "credentials changed" signal). Returns the session that
 * was revoked, or null.
 */
export async function revokeSession(
  kv: Deno.Kv,
  token: string,
  { also }: { also?: (op: Deno.AtomicOperation, session: Session) => void } =
    {},
): Promise<Session | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const hash = sha256Hex(token);
  const session = (await kv.get<Session>(["sessions", hash])).value;
  const op = kv.atomic().delete(["sessions", hash]);
  if (session) {
    op.delete(["sessions_by_principal", session.principal.id, hash]);
    also?.(op, session);
  }
  await op.commit();
  await touch(kv, "sessions");
  return session;
}

/** Revokes every session of one principal id (a toy that was unbound, say). */
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
}
