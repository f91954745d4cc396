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

/** Loads entries from a backup file in batches; returns the count. */
export async function restoreKv(kv: Deno.Kv, file: string): Promise<number> {
  const text = await Deno.readTextFile(file);
  let op = kv.atomic();
  let inOp = 0;
  let bytes = 0;
  let n = 0;
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    let parsed: { key: Encoded; value: Encoded };
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1} is not a JSON line`);
    }
    op.set(decode(parsed.key) as Deno.KvKey, decode(parsed.value));
    inOp++;
    bytes += line.length;
    n++;
    if (inOp >= 500 || bytes > 400_000) {
      await op.commit();
      op = kv.atomic();
      inOp = 0;
      bytes = 0;
    }
  }
  await op.commit();
  return n;
}
