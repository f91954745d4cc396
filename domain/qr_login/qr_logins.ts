import { createAppSession } from "../smart_toy/accounts.ts";
import { AppError } from "../platform/errors.ts";
import { randomHex } from "../store/ids.ts";

/**
 * QR-code login (seed 004): a web page holds a one-time key, the signed-in
 * app scans it, then confirms or cancels; the page is signed in as the
 * confirming user.
 *
 * | key                 | value                                      |
 * | ------------------- | ------------------------------------------ |
 * | ["qr_logins", key]  | QrLogin (expireIn + expiresAt, read-checked) |
 *
 * `key` is 128-bit random hex (32 characters). States move one way:
 *
 * ```
 * pending ──scan(user)──▶ scanned(user) ──confirm(same user)──▶ confirmed
 *    │                        │
 *    └──────cancel────────────┴──cancel(same user)──▶ cancelled
 * ```
 *
 * Every change is one versionstamp-checked atomic, so of racing calls one
 * wins and the rest re-read and get the answer for the new state. A
 * confirmed or cancelled record counts as used: scanning or confirming it
 * again is 404, like an unknown or expired key.
 *
 * The web session token never touches KV in clear, not even briefly: the
 * record holds only the confirming user's id. The instance that holds the
 * page's socket watches the record, deletes the confirmed record (checked,
 * so it is redeemed once) and only then mints the session with
 * `createAppSession`, which stores just the token's hash. When the page's
 * socket closes, its instance deletes the record, so a key is usable only
 * while its page is listening; should that instance die, `expiresAt` still
 * ends the key on time and no session is ever minted for it.
 */

/** Where a QR login stands. */
export type QrLoginState = "pending" | "scanned" | "confirmed" | "cancelled";

/** A stored QR login. */
export interface QrLogin {
  state: QrLoginState;
  /** The app user who scanned (and may confirm); null while pending. */
  userId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** How long a key lives unless its page says otherwise. */
export const QR_LOGIN_TTL_MS = 120_000;

const KEY_PATTERN = /^[0-9a-f]{32}$/;
/** Attempts at a change that keeps losing versionstamp races. */
const MAX_ATTEMPTS = 5;

/** The KV key of a QR login. */
export function qrLoginKey(key: string): Deno.KvKey {
  return ["qr_logins", key];
}

/** True when `value` has the shape of a QR login key: 32 lowercase hex. */
export function isQrLoginKey(value: unknown): value is string {
  return typeof value === "string" && KEY_PATTERN.test(value);
}

/**
 * Creates a pending QR login with a fresh 128-bit key, stored with both
 * `expireIn` and `expiresAt`. Atomic: a (practically impossible) key
 * collision is refused, never overwritten.
 */
export async function createQrLogin(
  kv: Deno.Kv,
  { ttlMs = QR_LOGIN_TTL_MS, now = Date.now() }: {
    ttlMs?: number;
    now?: number;
  } = {},
): Promise<{ key: string; login: QrLogin }> {
  const key = randomHex(16);
  const login: QrLogin = {
    state: "pending",
    userId: null,
    createdAt: now,
    expiresAt: now + ttlMs,
  };
  const res = await kv.atomic()
    .check({ key: qrLoginKey(key), versionstamp: null })
    .set(qrLoginKey(key), login, { expireIn: ttlMs })
    .commit();
  if (!res.ok) throw new Error("failed to create QR login: key collision");
  return { key, login };
}

/**
 * The QR login an entry holds, or null when there is none or it has
 * expired (`expireIn` deletes lazily, so `expiresAt` decides).
 */
export function liveQrLogin(
  entry: Deno.KvEntryMaybe<QrLogin>,
  now = Date.now(),
): QrLogin | null {
  const login = entry.value;
  if (!login || login.expiresAt <= now) return null;
  return login;
}

/** Reads a live QR login, or null (unknown, expired or deleted). */
export async function getQrLogin(
  kv: Deno.Kv,
  key: string,
): Promise<QrLogin | null> {
  if (!isQrLoginKey(key)) return null;
  return liveQrLogin(await kv.get<QrLogin>(qrLoginKey(key)));
}

/** Who is changing a QR login, and which key. */
export interface QrLoginAction {
  key: string;
  userId: string;
}

/**
 * Marks a pending key scanned by `userId`. Idempotent for that user;
 * 404 for an unknown, expired or used key; 409 when another user scanned it.
 */
export function scanQrLogin(
  kv: Deno.Kv,
  { key, userId }: QrLoginAction,
): Promise<QrLogin> {
  return changeQrLogin(kv, key, function scan(login) {
    if (login.state === "pending") {
      return { ...login, state: "scanned", userId };
    }
    if (login.state === "scanned") {
      if (login.userId === userId) return login;
      throw scannedByAnother(key);
    }
    throw unknownKey(key);
  });
}

/**
 * Confirms a key scanned by `userId`: the page's instance then signs the
 * page in as that user. 409 before a scan or when another user scanned;
 * 404 for an unknown, expired or used key.
 */
export function confirmQrLogin(
  kv: Deno.Kv,
  { key, userId }: QrLoginAction,
): Promise<QrLogin> {
  return changeQrLogin(kv, key, function confirm(login) {
    if (login.state === "pending") {
      throw new AppError(
        409,
        `QR login key "${key}" has not been scanned: scan it before confirming`,
      );
    }
    if (login.state === "scanned") {
      if (login.userId !== userId) throw scannedByAnother(key);
      return { ...login, state: "confirmed" };
    }
    throw unknownKey(key);
  });
}

/**
 * Cancels a pending key, or one `userId` scanned; the page is told and the
 * key dies. 409 when another user scanned it; 404 for an unknown, expired
 * or used key.
 */
export function cancelQrLogin(
  kv: Deno.Kv,
  { key, userId }: QrLoginAction,
): Promise<QrLogin> {
  return changeQrLogin(kv, key, function cancel(login) {
    if (login.state === "pending") {
      return { ...login, state: "cancelled", userId };
    }
    if (login.state === "scanned") {
      if (login.userId !== userId) throw scannedByAnother(key);
      return { ...login, state: "cancelled" };
    }
    throw unknownKey(key);
  });
}

/**
 * Redeems a confirmed login seen at `entry`: deletes the record (checked
 * against the entry's versionstamp, so it is redeemed at most once) and
 * then mints a new web session for the confirming user. Returns the token,
 * or null when the entry is not a live confirmed login or someone else
 * changed it first. For the instance holding the page's socket only.
 */
export async function redeemQrLogin(
  kv: Deno.Kv,
  entry: Deno.KvEntryMaybe<QrLogin>,
): Promise<string | null> {
  const login = liveQrLogin(entry);
  if (login?.state !== "confirmed" || !login.userId) return null;
  const res = await kv.atomic().check(entry).delete(entry.key).commit();
  if (!res.ok) return null;
  return await createAppSession(kv, { kind: "user", id: login.userId });
}

/**
 * Deletes a QR login whatever its state (its page went away or it
 * expired); idempotent. A confirm that lands afterwards is 404, and no
 * session is minted for a deleted record.
 */
export async function discardQrLogin(kv: Deno.Kv, key: string): Promise<void> {
  await kv.delete(qrLoginKey(key));
}

/**
 * Applies `decide` to the live login at `key` in a versionstamp-checked
 * atomic, re-reading and deciding again after a lost race. `decide`
 * returns the login unchanged for a no-op, or throws to refuse.
 */
async function changeQrLogin(
  kv: Deno.Kv,
  key: string,
  decide: (login: QrLogin) => QrLogin,
): Promise<QrLogin> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const entry = await kv.get<QrLogin>(qrLoginKey(key));
    const now = Date.now();
    const login = liveQrLogin(entry, now);
    if (!login) throw unknownKey(key);
    const next = decide(login);
    if (next === login) return login;
    const res = await kv.atomic()
      .check(entry)
      .set(entry.key, next, { expireIn: login.expiresAt - now })
      .commit();
    if (res.ok) return next;
  }
  throw new AppError(
    409,
    `QR login key "${key}" is changing concurrently: try again`,
  );
}

function unknownKey(key: string): AppError {
  return new AppError(
    404,
    `QR login key "${key}" is unknown, expired or already used: reload the page for a new code`,
  );
}

function scannedByAnother(key: string): AppError {
  return new AppError(
    409,
    `QR login key "${key}" was scanned by another account: only that account may confirm or cancel it`,
  );
}
