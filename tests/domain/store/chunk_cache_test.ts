import assert from "node:assert/strict";
import {
  type BlobMeta,
  blobResponse,
  CHUNK_SIZE,
  ChunkCache,
  chunkCache,
  deleteBlob,
  getBlobMeta,
  openBlobWriter,
  putBlob,
  readBlob,
} from "../../../domain/store/blobs.ts";
import { startCaches, stopCaches } from "../../../domain/store/cache.ts";
import { withKv } from "../../_kv.ts";

/**
 * The in-memory cache of complete blobs' chunks: bounded, least recently
 * used first out, never serving other bytes than the blob's.
 */

function pattern(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + seed * 13 + (i >> 9)) & 0xff;
  return out;
}

async function body(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

Deno.test("the cache holds at most its bound, dropping the least recently used", () => {
  const cache = new ChunkCache(30);
  const meta: BlobMeta = {
    name: "a.mp3",
    kind: "music",
    contentType: "audio/mpeg",
    size: 40,
    chunks: 4,
    createdAt: 1,
    rev: "r1",
  };
  for (let n = 0; n < 3; n++) cache.set(meta, n, new Uint8Array(10).fill(n));
  assert.equal(cache.bytes, 30);
  cache.get(meta, 0); // chunk 0 is now the most recent
  cache.set(meta, 3, new Uint8Array(10).fill(3));
  assert.equal(cache.bytes, 30);
  assert.equal(cache.get(meta, 1), undefined, "the least recently used went");
  assert.deepEqual(cache.get(meta, 0), new Uint8Array(10).fill(0));
  assert.deepEqual(cache.get(meta, 3), new Uint8Array(10).fill(3));
  // Another write of the name (new rev) never sees these chunks.
  assert.equal(cache.get({ ...meta, rev: "r2" }, 0), undefined);
  // A growing blob's chunks are not kept.
  cache.set({ ...meta, name: "b.mp3", complete: false }, 0, new Uint8Array(5));
  assert.equal(
    cache.get({ ...meta, name: "b.mp3", complete: false }, 0),
    undefined,
  );
});

Deno.test("ranges of a cached blob are its bytes, across chunk edges, without KV reads", () =>
  withKv(async (kv) => {
    chunkCache.clear();
    const bytes = pattern(3 * CHUNK_SIZE + 1234, 1);
    const meta = await putBlob(kv, "song.mp3", bytes, { kind: "music" });
    // The first reads fill the cache.
    assert.deepEqual(await body(blobResponse(kv, meta, null)), bytes);
    assert.ok(chunkCache.bytes >= bytes.length);
    // With the chunks gone from KV, only the cache can answer now.
    for (let n = 0; n < meta.chunks; n++) {
      await kv.delete(["blobs", "song.mp3", n]);
    }
    const ranges: [number, number][] = [
      [0, 9],
      [CHUNK_SIZE - 5, CHUNK_SIZE + 4],
      [65_536, 131_071],
      [CHUNK_SIZE - 1, 3 * CHUNK_SIZE],
      [2 * CHUNK_SIZE, bytes.length - 1],
      [0, bytes.length - 1],
    ];
    for (const [from, to] of ranges) {
      const res = blobResponse(kv, meta, `bytes=${from}-${to}`);
      assert.equal(res.status, 206);
      assert.equal(res.headers.get("content-length"), String(to - from + 1));
      assert.deepEqual(await body(res), bytes.subarray(from, to + 1));
    }
  }));

Deno.test("a blob written again under its name is served with its new bytes", () =>
  withKv(async (kv) => {
    chunkCache.clear();
    const first = pattern(2 * CHUNK_SIZE, 2);
    const meta1 = await putBlob(kv, "cover.jpg", first, { kind: "cover" });
    assert.deepEqual(await body(blobResponse(kv, meta1, null)), first);
    // The same millisecond, the same size: only the bytes differ.
    const second = pattern(2 * CHUNK_SIZE, 3);
    const meta2 = await putBlob(kv, "cover.jpg", second, { kind: "cover" });
    assert.notEqual(meta2.rev, meta1.rev);
    const now = (await getBlobMeta(kv, "cover.jpg"))!;
    assert.deepEqual(await body(blobResponse(kv, now, null)), second);
    assert.deepEqual(
      await body(blobResponse(kv, now, "bytes=100-65635")),
      second.subarray(100, 65_636),
    );
    // Deleted: no meta, so nothing is served, cached chunks or not.
    await deleteBlob(kv, "cover.jpg");
    assert.equal(await getBlobMeta(kv, "cover.jpg"), null);
    assert.equal(await readBlob(kv, "cover.jpg"), null);
  }));

Deno.test("a growing blob is read from KV, not kept in the cache", () =>
  withKv(async (kv) => {
    chunkCache.clear();
    const writer = await openBlobWriter(kv, "answer.mp3", { kind: "chat" });
    const bytes = pattern(CHUNK_SIZE + 77, 4);
    await writer.append(bytes);
    const growing = (await getBlobMeta(kv, "answer.mp3"))!;
    const reading = body(
      blobResponse(kv, growing, null, { maxWaitMs: 5_000 }),
    );
    await writer.finish();
    assert.deepEqual(await reading, bytes);
    assert.equal(chunkCache.bytes, 0);
    // Once complete it is cached like any other.
    const done = (await getBlobMeta(kv, "answer.mp3"))!;
    assert.deepEqual(await body(blobResponse(kv, done, null)), bytes);
    assert.ok(chunkCache.bytes > 0);
  }));

Deno.test("a complete blob's meta is cached until any instance replaces or deletes it", () =>
  withKv(async (kv) => {
    startCaches(kv);
    try {
      const bytes = pattern(1000, 5);
      await putBlob(kv, "tune.mp3", bytes, { kind: "music" });
      const meta = await getBlobMeta(kv, "tune.mp3");
      assert.equal(meta?.size, 1000);
      // Another instance deletes it: the meta goes from KV first...
      await kv.delete(["blob_meta", "tune.mp3"]);
      assert.deepEqual(await getBlobMeta(kv, "tune.mp3"), meta, "cached");
      // ...then its epoch bump reaches this instance's watch.
      await kv.atomic().sum(["cache_epoch", "blobs"], 1n).commit();
      const deadline = Date.now() + 2_000;
      while (await getBlobMeta(kv, "tune.mp3") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(await getBlobMeta(kv, "tune.mp3"), null);

      // Replaced or deleted here: gone from this instance's cache at once.
      await putBlob(kv, "tune.mp3", bytes, { kind: "music" });
      const first = (await getBlobMeta(kv, "tune.mp3"))!;
      const second = await putBlob(kv, "tune.mp3", pattern(2000, 6), {
        kind: "music",
      });
      assert.deepEqual(await getBlobMeta(kv, "tune.mp3"), second);
      assert.notEqual(first.rev, second.rev);
      await deleteBlob(kv, "tune.mp3");
      assert.equal(await getBlobMeta(kv, "tune.mp3"), null);

      // A growing blob's meta is read from KV every time.
      const writer = await openBlobWriter(kv, "live.mp3", { kind: "chat" });
      await writer.append(pattern(10, 7));
      assert.equal((await getBlobMeta(kv, "live.mp3"))?.size, 10);
      await writer.append(pattern(10, 8));
      assert.equal((await getBlobMeta(kv, "live.mp3"))?.size, 20);
      await writer.finish();
    } finally {
      await stopCaches(kv);
    }
  }));
