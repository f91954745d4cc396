/**
 * Backup and restore of the whole store as JSON lines:
 * `{"key": [...], "value": <encoded>}` per entry. Bytes, 64-bit counters
 * and bigints are tagged so they round-trip exactly.
 */

type Encoded =
  | null
  | boolean
  | number
  | string
  | Encoded[]
  | { [k: string]: Encoded };

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return btoa(binary);
}

function encode(value: unknown): Encoded {
  if (value instanceof Uint8Array) return { $bytes: toBase64(value) };
  if (value instanceof Deno.KvU64) return { $u64: value.value.toString() };
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, encode(v)]),
    );
  }
  return value as Encoded;
}

function decode(value: Encoded): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if (typeof value.$bytes === "string") {
      return Uint8Array.from(atob(value.$bytes), (ch) => ch.charCodeAt(0));
    }
    if (typeof value.$u64 === "string") {
      return new Deno.KvU64(BigInt(value.$u64));
    }
    if (typeof value.$bigint === "string") return BigInt(value.$bigint);
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, decode(v)]),
    );
  }
  return value;
}

/** Writes every entry to `file`; returns the count. */
export async function dumpKv(kv: Deno.Kv, file: string): Promise<number> {
  using out = await Deno.open(file, {
    write: true,
    create: true,
    truncate: true,
  });
  const enc = new TextEncoder();
  let n = 0;
  for await (const entry of kv.list({ prefix: [] })) {
    const line = JSON.stringify({
      key: encode(entry.key),
      value: encode(entry.value),
    });
    await out.write(enc.encode(line + "\n"));
    n++;
  }
  return n;
}

/**
 * Loads entries from a backup file; returns the count. Every line is read
 * and checked before anything is written, so a damaged file changes
 * nothing; then entries are written in batches.
 */
export async function restoreKv(kv: Deno.Kv, file: string): Promise<number> {
  const text = await Deno.readTextFile(file);
  const entries: { key: Deno.KvKey; value: unknown; size: number }[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    entries.push({ ...parseLine(line, `${file}:${i + 1}`), size: line.length });
  }
  let op = kv.atomic();
  let inOp = 0;
  let bytes = 0;
  const flush = async () => {
    if (!(await op.commit()).ok) throw new Error(`${file}: a batch failed`);
    op = kv.atomic();
    inOp = 0;
    bytes = 0;
  };
  for (const entry of entries) {
    op.set(entry.key, entry.value);
    inOp++;
    bytes += entry.size;
    if (inOp >= 500 || bytes > 400_000) await flush();
  }
  await flush();
  return entries.length;
}

const KEY_PART_TYPES = new Set(["string", "number", "bigint", "boolean"]);

/** One backup line as a key and value; an Error naming `where` otherwise. */
function parseLine(
  line: string,
  where: string,
): { key: Deno.KvKey; value: unknown } {
  let parsed: { key?: Encoded; value?: Encoded };
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`${where} is not a JSON line`);
  }
  if (!parsed || typeof parsed !== "object" || !("value" in parsed)) {
    throw new Error(`${where} has no "key" and "value"`);
  }
  const key = decode(parsed.key ?? null);
  if (
    !Array.isArray(key) || key.length === 0 ||
    !key.every((part) =>
      KEY_PART_TYPES.has(typeof part) || part instanceof Uint8Array
    )
  ) {
    throw new Error(`${where}: "key" must be a non-empty array of key parts`);
  }
  return { key: key as Deno.KvKey, value: decode(parsed.value as Encoded) };
}
