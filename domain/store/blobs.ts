import { AppError } from "../platform/errors.ts";
import { randomHex } from "./ids.ts";
import { cached, touch } from "./cache.ts";
import { deleteKeys } from "./kv.ts";

/**
 * The blob store: binary media (voice messages, content audio, covers,
 * images) in KV, chunked under the 64 KiB value limit.
 *
 * | key                    | value      |
 * | ---------------------- | ---------- |
 * | ["blob_meta", name]    | BlobMeta   |
 * | ["blobs", name, n]     | Uint8Array (chunk n) |
 *
 * Names are server-generated file names, validated by `isBlobName`; no
 * path is ever built from one. A blob `putBlob` stores is visible once its
 * meta exists: the meta is committed last (together with all chunks when
 * they fit one atomic op), so a reader never sees a half-written blob.
 *
 * A blob `openBlobWriter` grows is visible at once with `complete: false`:
 * each append commits its chunks and the new size in one atomic op, so a
 * reader sees a prefix of the final bytes, never a torn chunk. Its
 * response streams what is there and waits (a `kv.watch` on the meta,
 * which every instance sees) for the rest until the writer finishes.
 */

/** Bytes per chunk: under the 64 KiB value limit. */
export const CHUNK_SIZE = 60 * 1024;
/** Chunks written per atomic op: ~720 KiB, under the 800 KiB op limit. */
const CHUNKS_PER_OP = 12;
/**
 * A growing blob whose last append is older than this is served as it is:
 * a writer that crashed never finishes, and its readers must not wait for
 * it. Well above any one append's gap (provider calls time out sooner).
 */
export const ABANDONED_AFTER_MS = 2 * 60 * 1000;
/**
 * How long one response waits, in all, for a growing blob to grow; then it
 * ends with what it sent, so a stuck writer holds no reader for long.
 */
const GROWING_WAIT_MS = 60 * 1000;

/**
 * Chunks of complete blobs kept in memory, most recently used last, up to
 * `maxBytes` in all. A complete blob's chunks never change under its name
 * and `rev` (its `createdAt` for blobs stored before `rev`): a blob written
 * again under its name gets a new `rev`, so a cached chunk is never served
 * for other bytes. Chunks are found through the blob's meta
 * (`getBlobMeta`): a blob replaced or deleted is gone from this instance at
 * once and from the others when their meta cache clears (cache.ts); access
 * is checked by the routes, before any chunk is read.
 */
export class ChunkCache {
  readonly maxBytes: number;
  #chunks = new Map<string, Bytes>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Chunk `n` of `meta`'s blob when held (and marks it recently used). */
  get(meta: BlobMeta, n: number): Bytes | undefined {
    const key = chunkKey(meta, n);
    const chunk = this.#chunks.get(key);
    if (chunk) {
      this.#chunks.delete(key);
      this.#chunks.set(key, chunk);
    }
    return chunk;
  }

  /** Keeps chunk `n` of a complete blob, dropping the least used past the bound. */
  set(meta: BlobMeta, n: number, chunk: Bytes): void {
    if (meta.complete === false || chunk.length > this.maxBytes) return;
    const key = chunkKey(meta, n);
    const old = this.#chunks.get(key);
    if (old) this.#bytes -= old.length;
    this.#chunks.delete(key);
    this.#chunks.set(key, chunk);
    this.#bytes += chunk.length;
    for (const [k, v] of this.#chunks) {
      if (this.#bytes <= this.maxBytes) break;
      this.#chunks.delete(k);
      this.#bytes -= v.length;
    }
  }

  /** Forgets every chunk. */
  clear(): void {
    this.#chunks.clear();
    this.#bytes = 0;
  }
}

/** Bytes over a plain ArrayBuffer (what KV returns; a Response body). */
type Bytes = Uint8Array<ArrayBuffer>;

function chunkKey(meta: BlobMeta, n: number): string {
  return `${meta.name}\0${meta.rev ?? meta.createdAt}\0${n}`;
}

/**
 * The process's chunk cache: 32 MiB, about 540 chunks (a few dozen songs
 * and covers that many toys fetch again and again).
 */
export const chunkCache = new ChunkCache(32 * 1024 * 1024);

/**
 * Ranges up to this size from cached chunks are answered as one buffer (a
 * range within one chunk without a copy; across two, one copy of at most
 * this much per request); longer ranges stream, chunk by chunk.
 */
const WHOLE_BODY_MAX = 2 * CHUNK_SIZE;

/** What kind of media a blob is; each download route serves one kind. */
export type BlobKind = "music" | "cover" | "chat" | "image" | "avatar";

/** A blob's metadata. */
export interface BlobMeta {
  name: string;
  kind: BlobKind;
  contentType: string;
  size: number;
  chunks: number;
  createdAt: number;
  /**
   * Random, new with every write of the name: chunks cached under it are
   * never served for other bytes (absent on blobs stored before it).
   */
  rev?: string;
  /** The principal who may read a private blob; absent means public. */
  owner?: string;
  /** False while a writer still appends; absent once complete. */
  complete?: false;
  /** When the last append committed (growing blobs only). */
  updatedAt?: number;
}

/**
 * True when readers should treat `meta` as final: complete, or growing but
 * abandoned (no append for `ABANDONED_AFTER_MS`).
 */
function isFinal(meta: BlobMeta, now = Date.now()): boolean {
  return meta.complete !== false ||
    now - (meta.updatedAt ?? meta.createdAt) > ABANDONED_AFTER_MS;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,95}(\.[A-Za-z0-9]{1,8}){1,2}$/;

/** True for a safe blob name: letters, digits, _ and -, one or two extensions. */
export function isBlobName(name: string): boolean {
  return NAME.test(name);
}

/** Content types by file extension. */
export function contentTypeOf(name: string): string {
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  return ({
    mp3: "audio/mpeg",
    wav: "audio/wav",
    amr: "audio/amr",
    webm: "audio/webm",
    jpg: "image/jpeg",
    jpeg: "image/jpeg",
    png: "image/png",
    gif: "image/gif",
    webp: "image/webp",
  } as Record<string, string>)[ext] ?? "application/octet-stream";
}

/**
 * Stores `bytes` as blob `name` of `kind`. Idempotent for the same name:
 * an existing blob is replaced. Leaves nothing behind on failure.
 */
export async function putBlob(
  kv: Deno.Kv,
  name: string,
  bytes: Uint8Array,
  { kind, contentType = contentTypeOf(name), owner }: {
    kind: BlobKind;
    contentType?: string;
    owner?: string;
  },
): Promise<BlobMeta> {
  if (!isBlobName(name)) throw new AppError(400, `bad blob name "${name}"`);
  const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_SIZE));
  const meta: BlobMeta = {
    name,
    kind,
    contentType,
    size: bytes.length,
    chunks,
    createdAt: Date.now(),
    rev: randomHex(6),
    ...(owner ? { owner } : {}),
  };
  const old = await getBlobMeta(kv, name);
  try {
    for (let first = 0; first < chunks; first += CHUNKS_PER_OP) {
      const op = kv.atomic();
      const last = Math.min(chunks, first + CHUNKS_PER_OP);
      for (let n = first; n < last; n++) {
        op.set(
          ["blobs", name, n],
          bytes.subarray(n * CHUNK_SIZE, (n + 1) * CHUNK_SIZE),
        );
      }
      if (last === chunks) op.set(["blob_meta", name], meta);
      const res = await op.commit();
      if (!res.ok) throw new Error(`failed to store blob ${name}`);
    }
  } catch (err) {
    await deleteChunks(kv, name, chunks);
    throw err;
  }
  if (old) {
    // Every instance drops the replaced meta it may have cached.
    await touch(kv, "blobs");
    if (old.chunks > chunks) {
      await deleteKeys(
        kv,
        range(chunks, old.chunks).map((n) => ["blobs", name, n]),
      );
    }
  }
  return meta;
}

/** Appends to a growing blob; see `openBlobWriter`. */
export interface BlobWriter {
  /** The blob's name. */
  readonly name: string;
  /** Bytes appended so far. */
  readonly size: number;
  /**
   * Appends `bytes`: its chunks and the new size commit together (one
   * atomic op per ~720 KiB), so readers see whole appends in order. Throws
   * when the blob was deleted or replaced meanwhile. Calls must not overlap.
   */
  append(bytes: Uint8Array): Promise<void>;
  /** Marks the blob complete; readers' streams end after the last byte. */
  finish(): Promise<BlobMeta>;
  /** Deletes the blob and everything appended. Idempotent. */
  abort(): Promise<void>;
}

/**
 * Creates blob `name` empty and growing (`complete: false`, visible to
 * readers at once) and returns its writer. Throws 409 when `name` exists.
 *
 * @example
 * const w = await openBlobWriter(kv, "a1b2.mp3", { kind: "chat" });
 * await w.append(firstSentence); // a reader can start now
 * await w.append(secondSentence);
 * await w.finish();
 */
export async function openBlobWriter(
  kv: Deno.Kv,
  name: string,
  { kind, contentType = contentTypeOf(name), owner }: {
    kind: BlobKind;
    contentType?: string;
    owner?: string;
  },
): Promise<BlobWriter> {
  if (!isBlobName(name)) throw new AppError(400, `bad blob name "${name}"`);
  const metaKey = ["blob_meta", name];
  const now = Date.now();
  let meta: BlobMeta = {
    name,
    kind,
    contentType,
    size: 0,
    chunks: 0,
    createdAt: now,
    rev: randomHex(6),
    ...(owner ? { owner } : {}),
    complete: false,
    updatedAt: now,
  };
  const created = await kv.atomic()
    .check({ key: metaKey, versionstamp: null })
    .set(metaKey, meta)
    .commit();
  if (!created.ok) throw new AppError(409, `blob "${name}" already exists`);
  let versionstamp = created.versionstamp;
  // The bytes of the last, partly filled chunk: the next append extends it.
  let tail: Uint8Array = new Uint8Array(0);
  let state: "open" | "finished" | "aborted" = "open";

  const commitMeta = async (
    op: Deno.AtomicOperation,
    next: BlobMeta,
  ): Promise<void> => {
    const res = await op.check({ key: metaKey, versionstamp })
      .set(metaKey, next)
      .commit();
    if (!res.ok) {
      throw new Error(`blob ${name} was deleted or replaced while written`);
    }
    versionstamp = res.versionstamp;
    meta = next;
  };

  return {
    name,
    get size() {
      return meta.size;
    },
    async append(bytes) {
      if (state !== "open") throw new Error(`blob ${name} is ${state}`);
      if (bytes.length === 0) return;
      // Chunk n's new value: the old tail topped up, then whole new chunks.
      const writes: { n: number; value: Uint8Array; size: number }[] = [];
      let n = meta.size === 0 ? 0 : meta.chunks - 1;
      let at = 0;
      let size = meta.size - tail.length;
      let head = tail;
      while (at < bytes.length) {
        const take = Math.min(CHUNK_SIZE - head.length, bytes.length - at);
        const value = new Uint8Array(head.length + take);
        value.set(head);
        value.set(bytes.subarray(at, at + take), head.length);
        at += take;
        size += value.length;
        writes.push({ n, value, size });
        head = new Uint8Array(0);
        n++;
      }
      for (let first = 0; first < writes.length; first += CHUNKS_PER_OP) {
        const batch = writes.slice(first, first + CHUNKS_PER_OP);
        const op = kv.atomic();
        for (const w of batch) op.set(["blobs", name, w.n], w.value);
        const last = batch[batch.length - 1];
        await commitMeta(op, {
          ...meta,
          size: last.size,
          chunks: last.n + 1,
          updatedAt: Date.now(),
        });
        tail = last.value.length < CHUNK_SIZE ? last.value : new Uint8Array(0);
      }
    },
    async finish() {
      if (state !== "open") throw new Error(`blob ${name} is ${state}`);
      const { complete: _, updatedAt: __, ...done } = meta;
      await commitMeta(kv.atomic(), done);
      state = "finished";
      return meta;
    },
    async abort() {
      if (state === "aborted") return;
      state = "aborted";
      const current = await kv.get<BlobMeta>(metaKey);
      if (current.versionstamp !== versionstamp) return;
      await kv.atomic().check(current).delete(metaKey).commit();
      await deleteChunks(kv, name, meta.chunks);
    },
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

async function deleteChunks(kv: Deno.Kv, name: string, chunks: number) {
  await deleteKeys(kv, range(0, chunks).map((n) => ["blobs", name, n]));
}

/**
 * A blob's meta, or null. A complete blob's meta is cached in the process
 * (the "blobs" topic of cache.ts): replacing or deleting a complete blob
 * clears it on every instance. Growing blobs and misses are always read
 * from KV.
 */
export async function getBlobMeta(
  kv: Deno.Kv,
  name: string,
): Promise<BlobMeta | null> {
  if (!isBlobName(name)) return null;
  return await cached(
    kv,
    "blobs",
    name,
    async () => (await kv.get<BlobMeta>(["blob_meta", name])).value,
    { keep: (meta) => meta !== null && meta.complete !== false },
  );
}

/** Deletes a blob (meta first, so readers stop seeing it at once). */
export async function deleteBlob(kv: Deno.Kv, name: string): Promise<void> {
  const meta = await getBlobMeta(kv, name);
  if (!meta) return;
  await kv.delete(["blob_meta", name]);
  if (meta.complete !== false) await touch(kv, "blobs");
  await deleteChunks(kv, name, meta.chunks);
}

/** Reads a whole blob into memory (for small media only). */
export async function readBlob(
  kv: Deno.Kv,
  name: string,
): Promise<Uint8Array | null> {
  const meta = await getBlobMeta(kv, name);
  if (!meta) return null;
  const out = new Uint8Array(meta.size);
  for await (const chunk of streamRange(kv, meta, 0, meta.size - 1)) {
    out.set(chunk.bytes, chunk.offset);
  }
  return out;
}

async function* streamRange(
  kv: Deno.Kv,
  meta: BlobMeta,
  start: number,
  end: number,
): AsyncGenerator<{ offset: number; bytes: Uint8Array }> {
  const firstChunk = Math.floor(start / CHUNK_SIZE);
  const lastChunk = Math.floor(end / CHUNK_SIZE);
  for (let n = firstChunk; n <= lastChunk; n++) {
    let chunk = chunkCache.get(meta, n);
    if (!chunk) {
      chunk = (await kv.get<Bytes>(["blobs", meta.name, n])).value ??
        undefined;
      if (!chunk) throw new Error(`blob ${meta.name} is missing chunk ${n}`);
      chunkCache.set(meta, n, chunk);
    }
    const base = n * CHUNK_SIZE;
    const from = Math.max(start, base) - base;
    const to = Math.min(end + 1, base + chunk.length) - base;
    yield { offset: base + from - start, bytes: chunk.subarray(from, to) };
  }
}

/**
 * An HTTP response for a blob, honouring a `Range: bytes=` header (206 with
 * Content-Range, 416 for an unsatisfiable range). Chunks are read from KV
 * as the client consumes them. A growing blob (see `openBlobWriter`) is
 * sent whole as it grows: 200, no Content-Length, Range ignored, never
 * cached; the body ends when the writer finishes, the blob goes, or after
 * `maxWaitMs` of waiting.
 */
export function blobResponse(
  kv: Deno.Kv,
  meta: BlobMeta,
  rangeHeader: string | null | undefined,
  {
    method = "GET",
    cacheControl = "public, max-age=86400",
    maxWaitMs = GROWING_WAIT_MS,
  } = {},
): Response {
  if (!isFinal(meta)) return growingResponse(kv, meta, method, maxWaitMs);
  const headers = new Headers({
    "content-type": meta.contentType,
    "accept-ranges": "bytes",
    "cache-control": cacheControl,
    "etag": `"${meta.name}-${meta.createdAt}"`,
    "x-content-type-options": "nosniff",
  });
  let start = 0;
  let end = meta.size - 1;
  let status = 200;
  if (rangeHeader) {
    const range = parseRange(rangeHeader, meta.size);
    if (range === "unsatisfiable") {
      return rangeNotSatisfiable(meta, rangeHeader);
    }
    if (range) {
      [start, end] = range;
      status = 206;
      headers.set("content-range", `bytes ${start}-${end}/${meta.size}`);
    }
  }
  headers.set("content-length", String(meta.size === 0 ? 0 : end - start + 1));
  if (method === "HEAD" || meta.size === 0) {
    return new Response(null, { status, headers });
  }
  const cached = cachedRange(meta, start, end);
  if (cached) return new Response(cached, { status, headers });
  const chunks = streamRange(kv, meta, start, end);
  return new Response(
    bodyOf((async function* () {
      for await (const chunk of chunks) yield chunk.bytes;
    })()),
    { status, headers },
  );
}

/**
 * Bytes `start`..`end` (inclusive) of a complete blob as one buffer when
 * every chunk they span is cached and they are at most WHOLE_BODY_MAX
 * (no copy within one chunk); else undefined (stream them).
 */
function cachedRange(
  meta: BlobMeta,
  start: number,
  end: number,
): Bytes | undefined {
  if (meta.complete === false || end - start + 1 > WHOLE_BODY_MAX) return;
  const first = Math.floor(start / CHUNK_SIZE);
  const last = Math.floor(end / CHUNK_SIZE);
  const chunks: Bytes[] = [];
  for (let n = first; n <= last; n++) {
    const chunk = chunkCache.get(meta, n);
    if (!chunk) return;
    chunks.push(chunk);
  }
  const from = start - first * CHUNK_SIZE;
  if (chunks.length === 1) {
    return chunks[0].subarray(from, from + end - start + 1);
  }
  const out = new Uint8Array(end - start + 1);
  let at = 0;
  chunks.forEach((chunk, i) => {
    const part = chunk.subarray(
      i === 0 ? from : 0,
      Math.min(chunk.length, from + out.length - i * CHUNK_SIZE),
    );
    out.set(part, at);
    at += part.length;
  });
  return out;
}

/** A pull-driven body: one KV read per chunk the client takes. */
function bodyOf(chunks: AsyncGenerator<Uint8Array>): ReadableStream {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}

/** The response for a blob still being written. */
function growingResponse(
  kv: Deno.Kv,
  meta: BlobMeta,
  method: string,
  maxWaitMs: number,
): Response {
  const headers = new Headers({
    "content-type": meta.contentType,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  if (method === "HEAD") return new Response(null, { status: 200, headers });
  return new Response(bodyOf(streamGrowing(kv, meta, maxWaitMs)), {
    status: 200,
    headers,
  });
}

/**
 * Yields a growing blob's bytes in order from the start, waiting on a
 * `kv.watch` of its meta for appends; ends once the blob is final, gone,
 * or `maxWaitMs` of waiting passed in all.
 */
async function* streamGrowing(
  kv: Deno.Kv,
  first: BlobMeta,
  maxWaitMs: number,
): AsyncGenerator<Uint8Array> {
  const deadline = Date.now() + maxWaitMs;
  let meta: BlobMeta | null = first;
  let sent = 0;
  let changes:
    | ReadableStreamDefaultReader<[Deno.KvEntryMaybe<BlobMeta>]>
    | undefined;
  try {
    while (meta) {
      while (sent < meta.size) {
        const n = Math.floor(sent / CHUNK_SIZE);
        const chunk = (await kv.get<Uint8Array>(["blobs", meta.name, n]))
          .value;
        if (!chunk) return;
        const base = n * CHUNK_SIZE;
        const bytes = chunk.subarray(
          sent - base,
          Math.min(chunk.length, meta.size - base),
        );
        if (bytes.length === 0) return;
        sent += bytes.length;
        yield bytes;
      }
      if (isFinal(meta)) return;
      changes ??= kv.watch<[BlobMeta]>([["blob_meta", first.name]])
        .getReader();
      const next = await readUntil(changes, deadline);
      if (next === "timeout") return;
      meta = next;
    }
  } finally {
    await changes?.cancel().catch(() => {});
  }
}

/** The next meta a watch reports (null: deleted or watch ended), or "timeout". */
async function readUntil(
  changes: ReadableStreamDefaultReader<[Deno.KvEntryMaybe<BlobMeta>]>,
  deadline: number,
): Promise<BlobMeta | null | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(
      () => resolve("timeout"),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    const next = await Promise.race([changes.read(), timeout]);
    if (next === "timeout") return next;
    return next.done ? null : next.value[0].value;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The 416 for a range outside the blob: a JSON body in the `{code, msg,
 * data}` shape every media route's contract uses, the blob's size in
 * Content-Range (RFC 9110 §14.4), and never cached — the next request may
 * ask a satisfiable range of the same URL.
 */
function rangeNotSatisfiable(meta: BlobMeta, rangeHeader: string): Response {
  const shown = rangeHeader.slice(0, 100);
  return new Response(
    JSON.stringify({
      code: 416,
      msg: `range "${shown}" is outside the ${meta.size} bytes of this file`,
      data: {},
    }),
    {
      status: 416,
      headers: {
        "content-type": "application/json; charset=utf-8",
        "content-range": `bytes */${meta.size}`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    },
  );
}

/**
 * Parses a single `bytes=` range against `size`: [start, end] inclusive,
 * null when the header is not one we honour (serve the whole blob), or
 * "unsatisfiable".
 */
export function parseRange(
  header: string,
  size: number,
): [number, number] | null | "unsatisfiable" {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  let start: number;
  let end: number;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return [start, end];
}
