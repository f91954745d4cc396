import assert from "node:assert/strict";
import { AppError } from "../../../domain/platform/errors.ts";
import {
  requireImage,
  requireOwnImageBlob,
  saveImage,
  sniffImage,
} from "../../../domain/diaryu/images.ts";
import { readBlob } from "../../../domain/store/blobs.ts";
import { withKv } from "../../_kv.ts";
import { IMAGES } from "./_fixtures.ts";

/** Images: recognised by content, size-limited, stored as private blobs. */

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err.status;
  }
  return 200;
}

async function keyCount(kv: Deno.Kv): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: [] })) n++;
  return n;
}

Deno.test("PNG, JPEG, GIF and WebP are recognised by their first bytes; nothing else is", () => {
  assert.equal(sniffImage(IMAGES.png)?.contentType, "image/png");
  assert.equal(sniffImage(IMAGES.jpg)?.contentType, "image/jpeg");
  assert.equal(sniffImage(IMAGES.gif)?.contentType, "image/gif");
  assert.equal(sniffImage(IMAGES.webp)?.contentType, "image/webp");
  const enc = new TextEncoder();
  assert.equal(sniffImage(enc.encode("<svg xmlns='x'></svg>")), null);
  assert.equal(sniffImage(enc.encode("RIFF\0\0\0\0WAVEfmt ")), null);
  assert.equal(sniffImage(new Uint8Array()), null);
  assert.equal(sniffImage(IMAGES.png.subarray(0, 4)), null);
});

Deno.test("a non-image or too large upload is refused and nothing is stored", () =>
  withKv(async (kv) => {
    const bytes = new TextEncoder().encode("#!/bin/sh\necho hi\n");
    assert.equal(
      await status(saveImage(kv, "u1", { name: "evil.png", bytes })),
      415,
    );
    assert.equal(
      await status(
        saveImage(kv, "u1", {
          name: "big.png",
          bytes: IMAGES.png,
          maxBytes: 10,
        }),
      ),
      413,
    );
    assert.equal(
      await status(saveImage(kv, "u1", { name: "a/b.png", bytes: IMAGES.png })),
      400,
    );
    assert.equal(await keyCount(kv), 0);
  }));

Deno.test("an image is its owner's: others neither find its name nor read its file", () =>
  withKv(async (kv) => {
    const image = await saveImage(kv, "owner", {
      name: "Screen Shot.png",
      bytes: IMAGES.png,
    });
    assert.match(image.blob, /^[0-9a-f]{32}\.png$/);
    assert.deepEqual(await readBlob(kv, image.blob), IMAGES.png);
    assert.equal(
      (await requireImage(kv, "owner", "Screen Shot.png")).blob,
      image.blob,
    );
    assert.equal(
      await status(requireImage(kv, "other", "Screen Shot.png")),
      404,
    );
    assert.equal(
      (await requireOwnImageBlob(kv, "owner", image.blob)).size,
      IMAGES.png.length,
    );
    assert.equal(
      await status(requireOwnImageBlob(kv, "other", image.blob)),
      403,
    );
  }));

Deno.test("uploading a name again replaces the image and frees the old file", () =>
  withKv(async (kv) => {
    const first = await saveImage(kv, "u1", {
      name: "me.png",
      bytes: IMAGES.png,
    });
    const second = await saveImage(kv, "u1", {
      name: "me.png",
      bytes: IMAGES.gif,
    });
    assert.notEqual(first.blob, second.blob);
    assert.equal(await readBlob(kv, first.blob), null);
    assert.equal(
      (await requireImage(kv, "u1", "me.png")).contentType,
      "image/gif",
    );
  }));
