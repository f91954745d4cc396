import { AppError } from "../platform/errors.ts";
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
 * path is ever built from one. A blob is visible once its meta exists: the
 * meta is committed last (together with all chunks when they fit one atomic
 * op), so a reader never sees a half-written blob.
 */

/** Bytes per chunk: under the 64 KiB value limit. */
export const CHUNK_SIZE = 60 * 1024;
/** Chunks written per atomic op: ~720 KiB, under the 800 KiB op limit. */
const CHUNKS_PER_OP = 12;

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
  /** The principal who may read a private blob; absent means public. */
  owner?: string;
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
  if (old && old.chunks > chunks) {
    await deleteKeys(
      kv,
      range(chunks, old.chunks).map((n) => ["blobs", name, n]),
    );
  }
  return meta;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

async function deleteChunks(kv: Deno.Kv, name: string, chunks: number) {
  await deleteKeys(kv, range(0, chunks).map((n) => ["blobs", name, n]));
}

/** A blob's meta, or null. */
export async function getBlobMeta(
  kv: Deno.Kv,
  name: string,
): Promise<BlobMeta | null> {
  if (!isBlobName(name)) return null;
  return (await kv.get<BlobMeta>(["blob_meta", name])).value;
}

/** Deletes a blob (meta first, so readers stop seeing it at once). */
export async function deleteBlob(kv: Deno.Kv, name: string): Promise<void> {
  const meta = await getBlobMeta(kv, name);
  if (!meta) return;
  await kv.delete(["blob_meta", name]);
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
    const chunk = (await kv.get<Uint8Array>(["blobs", meta.name, n])).value;
    if (!chunk) throw new Error(`blob ${meta.name} is missing chunk ${n}`);
    const base = n * CHUNK_SIZE;
    const from = Math.max(start, base) - base;
    const to = Math.min(end + 1, base + chunk.length) - base;
    yield { offset: base + from - start, bytes: chunk.subarray(from, to) };
  }
}

/**
 * An HTTP response for a blob, honouring a `Range: bytes=` header (206 with
 * Content-Range, 416 for an unsatisfiable range). Chunks are read from KV
 * as the client consumes them.
 */
export function blobResponse(
  kv: Deno.Kv,
  meta: BlobMeta,
  rangeHeader: string | null | undefined,
  { method = "GET", cacheControl = "public, max-age=86400" } = {},
): Response {
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
  const chunks = streamRange(kv, meta, start, end);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value.bytes);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
  return new Response(body, { status, headers });
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
