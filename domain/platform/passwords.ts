import { toHex } from "../store/ids.ts";
import { scrypt, timingSafeEqual } from "node:crypto";

/**
 * Password hashing with scrypt (memory-hard), a per-password 16-byte salt.
 * Stored form: `scrypt$N$r$p$<salt hex>$<hash hex>`, so parameters can be
 * raised later without breaking old hashes.
 */

const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function derive(
  password: string,
  salt: Uint8Array,
  n: number,
  r: number,
  p: number,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_LENGTH,
      { N: n, r, p, maxmem: 128 * n * r * 2 },
      (err, key) => err ? reject(err) : resolve(new Uint8Array(key)),
    );
  });
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}

/** Hashes a password with a fresh random salt; never returns the password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${toHex(salt)}$${toHex(key)}`;
}

/** True when `password` matches `stored`; constant-time comparison. */
export async function verifyPassword(
  password: string,
  stored: string,
): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  const expected = fromHex(parts[5]);
  const key = await derive(password, fromHex(parts[4]), n, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a random password, for spending the same time on unknown users. */
export const DUMMY_HASH =
  "scrypt$16384$8$1$00000000000000000000000000000000$0000000000000000000000000000000000000000000000000000000000000000";
