import assert from "node:assert/strict";
import {
  ABANDONED_AFTER_MS,
  blobResponse,
  CHUNK_SIZE,
  contentTypeOf,
  deleteBlob,
  getBlobMeta,
  isBlobName,
  openBlobWriter,
  parseRange,
  putBlob,
  readBlob,
} from "../../../domain/store/blobs.ts";
import { AppError } from "../../../domain/platform/errors.ts";
import { withKv } from "../../_kv.ts";

/**
 * The blob store: media chunked under the 64 KiB value limit, visible only
 * once complete, streamed with Range support; names are validated, never
 * paths. A growing blob streams to readers as it is appended to.
 */

function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed + (i >> 10)) & 0xff;
  return out;
}

async function keysUnder(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

Deno.test("isBlobName accepts server-made names only", () => {
  for (
    const name of [
      "Success.mp3",
      "01a20a22167a0000abcd1234.jpg",
      "1552898221960.amr.mp3",
      "ba7462dd-62a5-460c-bfab-bb64edd7c983.wav",
    ]
  ) {
    assert.ok(isBlobName(name), name);
  }
  for (
    const name of [
      "",
      ".mp3",
      "..",
      "../a.mp3",
      "a/b.mp3",
      "a\\b.mp3",
      "/etc/passwd",
      "a.mp3\0.jpg",
      "noext",
      "a.b.c.d",
      "a b.mp3",
      "x".repeat(97) + ".mp3",
      "%2e%2e.mp3",
    ]
  ) {
    assert.ok(!isBlobName(name), name);
  }
});

Deno.test("contentTypeOf maps the media extensions", () => {
  assert.equal(contentTypeOf("a.mp3"), "audio/mpeg");
  assert.equal(contentTypeOf("a.amr.mp3"), "audio/mpeg");
  assert.equal(contentTypeOf("a.JPG"), "image/jpeg");
  assert.equal(contentTypeOf("a.png"), "image/png");
  assert.equal(contentTypeOf("a.wav"), "audio/wav");
  assert.equal(contentTypeOf("a.xyz"), "application/octet-stream");
});

Deno.test("putBlob then readBlob round-trips every size around the chunk edges", () =>
  withKv(async (kv) => {
    const sizes = [
      0,
      1,
      CHUNK_SIZE - 1,
      CHUNK_SIZE,
      CHUNK_SIZE + 1,
      12 * CHUNK_SIZE,
      12 * CHUNK_SIZE + 5,
      30 * CHUNK_SIZE + 7,
    ];
    for (const [i, size] of sizes.entries()) {
      const bytes = pattern(size, i);
      const name = `blob-${i}.mp3`;
      const meta = await putBlob(kv, name, bytes, { kind: "music" });
      assert.equal(meta.size, size);
      assert.equal(meta.chunks, Math.max(1, Math.ceil(size / CHUNK_SIZE)));
      assert.equal(meta.contentType, "audio/mpeg");
      assert.deepEqual(await readBlob(kv, name), bytes, `size ${size}`);
      assert.equal(await keysUnder(kv, ["blobs", name]), meta.chunks);
    }
  }));

Deno.test("putBlob rejects a bad name with a 400 and writes nothing", () =>
  withKv(async (kv) => {
    await assert.rejects(
      putBlob(kv, "../escape.mp3", pattern(10), { kind: "music" }),
      (err) => err instanceof AppError && err.status === 400,
    );
    assert.equal(await keysUnder(kv, []), 0);
  }));

Deno.test("replacing a blob with a smaller one leaves no stale chunks", () =>
  withKv(async (kv) => {
    await putBlob(kv, "song.mp3", pattern(5 * CHUNK_SIZE), { kind: "music" });
    const small = pattern(100, 9);
    await putBlob(kv, "song.mp3", small, { kind: "music" });
    assert.deepEqual(await readBlob(kv, "song.mp3"), small);
    assert.equal(await keysUnder(kv, ["blobs", "song.mp3"]), 1);
  }));

Deno.test("deleteBlob removes meta and chunks; unknown names are no-ops", () =>
  withKv(async (kv) => {
    await putBlob(kv, "gone.jpg", pattern(3 * CHUNK_SIZE), { kind: "cover" });
    await deleteBlob(kv, "gone.jpg");
    await deleteBlob(kv, "never.jpg");
    assert.equal(await getBlobMeta(kv, "gone.jpg"), null);
    assert.equal(await readBlob(kv, "gone.jpg"), null);
    // Only the cache epoch stays (it tells every instance to drop the meta).
    assert.equal(await keysUnder(kv, ["blobs"]), 0);
    assert.equal(await keysUnder(kv, ["blob_meta"]), 0);
  }));

Deno.test("getBlobMeta does not look up invalid names", () =>
  withKv(async (kv) => {
    await kv.set(["blob_meta", "../x"], { name: "../x" });
    assert.equal(await getBlobMeta(kv, "../x"), null);
  }));

Deno.test("parseRange: single ranges, suffixes, clamping, unsatisfiable", () => {
  assert.deepEqual(parseRange("bytes=0-99", 1000), [0, 99]);
  assert.deepEqual(parseRange("bytes=900-", 1000), [900, 999]);
  assert.deepEqual(parseRange("bytes=-100", 1000), [900, 999]);
  assert.deepEqual(parseRange("bytes=-5000", 1000), [0, 999]);
  assert.deepEqual(parseRange("bytes=990-5000", 1000), [990, 999]);
  assert.deepEqual(parseRange(" bytes=1-1 ", 1000), [1, 1]);
  assert.equal(parseRange("bytes=1000-", 1000), "unsatisfiable");
  assert.equal(parseRange("bytes=5-4", 1000), "unsatisfiable");
  assert.equal(parseRange("bytes=-0", 1000), "unsatisfiable");
  assert.equal(parseRange("bytes=0-", 0), "unsatisfiable");
  assert.equal(parseRange("bytes=-", 1000), null);
  assert.equal(parseRange("bytes=0-1,4-5", 1000), null);
  assert.equal(parseRange("lines=0-1", 1000), null);
});

Deno.test("blobResponse streams ranges that cross chunk boundaries", () =>
  withKv(async (kv) => {
    const bytes = pattern(3 * CHUNK_SIZE + 10);
    const meta = await putBlob(kv, "long.mp3", bytes, { kind: "music" });
    const whole = blobResponse(kv, meta, null);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get("content-length"), String(bytes.length));
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), bytes);

    const from = CHUNK_SIZE - 3;
    const to = 2 * CHUNK_SIZE + 3;
    const part = blobResponse(kv, meta, `bytes=${from}-${to}`);
    assert.equal(part.status, 206);
    assert.equal(
      part.headers.get("content-range"),
      `bytes ${from}-${to}/${bytes.length}`,
    );
    assert.deepEqual(
      new Uint8Array(await part.arrayBuffer()),
      bytes.subarray(from, to + 1),
    );

    const none = blobResponse(kv, meta, `bytes=${bytes.length}-`);
    assert.equal(none.status, 416);
    assert.equal(none.headers.get("content-range"), `bytes */${bytes.length}`);
    assert.equal(none.headers.get("cache-control"), "no-store");
    assert.match(none.headers.get("content-type") ?? "", /^application\/json/);
    const body = await none.json();
    assert.equal(body.code, 416);
    assert.match(body.msg, /outside/);
    assert.deepEqual(body.data, {});
    for (const bad of ["bytes=-0", "bytes=5-1"]) {
      const res = blobResponse(kv, meta, bad);
      assert.equal(res.status, 416, bad);
      assert.equal((await res.json()).code, 416);
    }

    const head = blobResponse(kv, meta, "bytes=0-9", { method: "HEAD" });
    assert.equal(head.status, 206);
    assert.equal(head.headers.get("content-length"), "10");
    assert.equal(head.body, null);
  }));

Deno.test("blobResponse of an empty blob is an empty 200", () =>
  withKv(async (kv) => {
    const meta = await putBlob(kv, "empty.mp3", new Uint8Array(), {
      kind: "music",
    });
    const res = blobResponse(kv, meta, null);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "0");
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  }));

Deno.test("a private blob records its owner", () =>
  withKv(async (kv) => {
    const meta = await putBlob(kv, "voice.mp3", pattern(10), {
      kind: "chat",
      owner: "0123456789abcdef01234567",
    });
    assert.equal(meta.owner, "0123456789abcdef01234567");
    assert.equal((await getBlobMeta(kv, "voice.mp3"))?.kind, "chat");
  }));

Deno.test("a growing blob: a reader started early gets every byte in order, and the stream ends at finish", () =>
  withKv(async (kv) => {
    const parts = [
      pattern(10, 1),
      pattern(CHUNK_SIZE - 3, 2), // tops up chunk 0 and spills into chunk 1
      pattern(13 * CHUNK_SIZE + 17, 3), // more than one atomic op
      pattern(1, 4),
    ];
    const writer = await openBlobWriter(kv, "answer.mp3", { kind: "chat" });
    const early = await getBlobMeta(kv, "answer.mp3");
    assert.equal(early?.complete, false);
    assert.equal(early?.size, 0);

    const res = blobResponse(kv, early!, "bytes=0-9");
    assert.equal(res.status, 200, "Range is ignored while growing");
    assert.equal(res.headers.get("content-length"), null);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const reader = res.body!.getReader();
    const received: Uint8Array[] = [];
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        received.push(value);
      }
    })();

    for (const part of parts) {
      await writer.append(part);
      const meta = await getBlobMeta(kv, "answer.mp3");
      assert.equal(meta?.size, writer.size);
      assert.equal(meta?.complete, false);
    }
    const done = await writer.finish();
    await reading;

    const whole = concat(parts);
    assert.deepEqual(concat(received), whole);
    assert.equal(done.size, whole.length);
    assert.equal(done.complete, undefined);
    assert.equal(done.chunks, Math.ceil(whole.length / CHUNK_SIZE));
    assert.equal(await keysUnder(kv, ["blobs", "answer.mp3"]), done.chunks);

    // Once complete it behaves like any stored blob.
    const meta = (await getBlobMeta(kv, "answer.mp3"))!;
    const ranged = blobResponse(kv, meta, "bytes=5-14");
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get("content-length"), "10");
    assert.deepEqual(
      new Uint8Array(await ranged.arrayBuffer()),
      whole.subarray(5, 15),
    );
    assert.deepEqual(await readBlob(kv, "answer.mp3"), whole);
  }));

Deno.test("a growing blob: abort leaves nothing, and a reader's stream ends", () =>
  withKv(async (kv) => {
    const writer = await openBlobWriter(kv, "gone.mp3", { kind: "chat" });
    await writer.append(pattern(2 * CHUNK_SIZE + 9));
    const res = blobResponse(kv, (await getBlobMeta(kv, "gone.mp3"))!, null);
    const reading = res.arrayBuffer();
    await writer.abort();
    await writer.abort();
    await reading;
    assert.equal(await getBlobMeta(kv, "gone.mp3"), null);
    assert.equal(await keysUnder(kv, []), 0);
    await assert.rejects(writer.append(pattern(1)), /aborted/);
  }));

Deno.test("a growing blob: a name in use is refused, a bad name is a 400", () =>
  withKv(async (kv) => {
    await putBlob(kv, "taken.mp3", pattern(5), { kind: "chat" });
    await assert.rejects(
      openBlobWriter(kv, "taken.mp3", { kind: "chat" }),
      (err) => err instanceof AppError && err.status === 409,
    );
    await assert.rejects(
      openBlobWriter(kv, "../x.mp3", { kind: "chat" }),
      (err) => err instanceof AppError && err.status === 400,
    );
    assert.deepEqual(await readBlob(kv, "taken.mp3"), pattern(5));
  }));

Deno.test("a growing blob nobody finishes: readers end with what is there", () =>
  withKv(async (kv) => {
    const writer = await openBlobWriter(kv, "stuck.mp3", { kind: "chat" });
    const bytes = pattern(100);
    await writer.append(bytes);
    const meta = (await getBlobMeta(kv, "stuck.mp3"))!;

    // A reader waits at most its bound, then ends.
    const bounded = blobResponse(kv, meta, null, { maxWaitMs: 50 });
    assert.deepEqual(new Uint8Array(await bounded.arrayBuffer()), bytes);

    // A writer that crashed long ago: served as complete, as it is.
    const abandoned = {
      ...meta,
      updatedAt: Date.now() - ABANDONED_AFTER_MS - 1,
    };
    await kv.set(["blob_meta", "stuck.mp3"], abandoned);
    const res = blobResponse(kv, abandoned, null);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "100");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
  }));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
