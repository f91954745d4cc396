/**
 * Ids: 24 lowercase hex characters, time-prefixed like a MongoDB ObjectId,
 * so clients of the seed contract see the shape they know.
 *
 * Layout: 12 hex of milliseconds since the epoch, 4 hex of a per-process
 * counter, 8 hex of randomness. Ids made later by this process always sort
 * after earlier ones, so message ids list in time order.
 */

let lastMs = 0;
let counter = 0;
let msHex = "";
// Random words drawn in blocks: one getRandomValues call per 1024 ids.
const pool = new Uint32Array(1024);
let poolAt = pool.length;

function randomWord(): number {
  if (poolAt === pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  return pool[poolAt++];
}

/** Returns a new 24-hex id that sorts after every id this process made before. */
export function newId(now: number = Date.now()): string {
  if (now <= lastMs) {
    counter++;
    if (counter > 0xffff) {
      lastMs++;
      counter = 0;
      msHex = hex(lastMs, 12);
    }
  } else {
    lastMs = now;
    counter = 0;
    msHex = hex(now, 12);
  }
  // The time part is formatted once per millisecond: ids are made on hot
  // paths (every relayed frame gets one).
  return msHex + hex(counter, 4) + hex(randomWord(), 8);
}

/** `n` as `width` lowercase hex digits. */
function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** The shape of an id made by `newId`: 24 lowercase hex characters. */
export const ID_PATTERN = /^[0-9a-f]{24}$/;

/** True when `value` has the shape of an id made by `newId`. */
export function isId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value);
}

/** Milliseconds since the epoch encoded in an id. */
export function idTime(id: string): number {
  return parseInt(id.slice(0, 12), 16);
}

/** Lowercase hex of `bytes` (2 characters a byte). */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Returns `bytes` random bytes as lowercase hex (2 × bytes characters). */
export function randomHex(bytes: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
}
