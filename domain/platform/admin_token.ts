import { timingSafeEqual } from "node:crypto";
import { randomHex } from "../store/ids.ts";
import { sha256Hex } from "./sessions.ts";

/**
 * The operator's admin token when none is configured: made on first start,
 * shown once as a setup link, replaced by `babble admin reset-token`. Only
 * its SHA-256 is stored, so a backup or a leaked store does not hold it.
 *
 * | key             | value                               |
 * | --------------- | ----------------------------------- |
 * | ["admin_token"] | StoredAdminToken (hash, created_at) |
 */

/** What the store keeps of the admin token. */
interface StoredAdminToken {
  /** SHA-256 of the token, lowercase hex. */
  hash: string;
  created_at: number;
}

const KEY = ["admin_token"] as const;

/** A new admin token: 256-bit random, 64 hex characters. */
function newAdminToken(): string {
  return randomHex(32);
}

function stored(token: string): StoredAdminToken {
  return { hash: sha256Hex(token), created_at: Date.now() / 1000 };
}

/**
 * Creates the admin token if the store has none and returns it (the only
 * time it is seen); returns null when one exists. Atomic: of instances
 * starting together on one store, exactly one creates it.
 */
export async function ensureAdminToken(kv: Deno.Kv): Promise<string | null> {
  const token = newAdminToken();
  const res = await kv.atomic()
    .check({ key: KEY, versionstamp: null })
    .set(KEY, stored(token))
    .commit();
  return res.ok ? token : null;
}

/** Replaces the admin token with a new one and returns it; the old one stops working at once. */
export async function resetAdminToken(kv: Deno.Kv): Promise<string> {
  const token = newAdminToken();
  await kv.set(KEY, stored(token));
  return token;
}

/**
 * Whether `token` is the admin token: the configured one when there is
 * one (the stored token is then ignored), else the stored one. Compares
 * SHA-256 digests in constant time, so timing says nothing about the token.
 */
export async function isAdminToken(
  kv: Deno.Kv,
  token: string,
  { configured }: { configured?: string } = {},
): Promise<boolean> {
  const expected = configured !== undefined
    ? sha256Hex(configured)
    : (await kv.get<StoredAdminToken>(KEY)).value?.hash;
  const given = new TextEncoder().encode(sha256Hex(token));
  const wanted = new TextEncoder().encode(expected ?? "");
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * The link that opens the admin page on the server's own machine with
 * `token`: in the URL fragment, which browsers never send to a server, so
 * it stays out of every access log.
 */
export function adminSetupLink(
  port: number,
  token: string,
  { https = false }: { https?: boolean } = {},
): string {
  return `${https ? "https" : "http"}://localhost:${port}/admin#token=${token}`;
}
