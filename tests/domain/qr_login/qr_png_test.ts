import assert from "node:assert/strict";
import jsQRModule from "jsqr";

// jsqr's typings describe a CommonJS default export; at run time the
// default is the function itself.
type JsQr = (typeof jsQRModule)["default"];
const jsQR = ((jsQRModule as unknown as { default?: JsQr }).default ??
  jsQRModule) as unknown as JsQr;
import { qrPngDataUrl } from "../../../domain/qr_login/qr_png.ts";

/**
 * The QR login page's image: a valid PNG (checked chunk CRCs, a zlib stream
 * the platform inflates) whose pixels a QR reader decodes back to the key.
 */

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

async function decodePng(url: string) {
  assert.ok(url.startsWith("data:image/png;base64,"));
  const bytes = Uint8Array.from(atob(url.slice(22)), (ch) => ch.charCodeAt(0));
  assert.deepEqual([...bytes.subarray(0, 8)], [
    137,
    80,
    78,
    71,
    13,
    10,
    26,
    10,
  ]);
  const view = new DataView(bytes.buffer);
  let at = 8;
  let width = 0, height = 0;
  const idat: Uint8Array[] = [];
  while (at < bytes.length) {
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    assert.equal(
      view.getUint32(at + 8 + length),
      crc32(bytes.subarray(at + 4, at + 8 + length)),
      type,
    );
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      assert.equal(data[8], 1);
      assert.equal(data[9], 0);
    }
    if (type === "IDAT") idat.push(data);
    at += 12 + length;
  }
  const inflated = new Uint8Array(
    await new Response(
      new Blob(idat as BlobPart[]).stream().pipeThrough(
        new DecompressionStream("deflate"),
      ),
    ).arrayBuffer(),
  );
  const rowBytes = Math.ceil(width / 8);
  assert.equal(inflated.length, (rowBytes + 1) * height);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const white = inflated[y * (rowBytes + 1) + 1 + (x >> 3)] &
        (0x80 >> (x & 7));
      rgba.fill(white ? 255 : 0, (y * width + x) * 4, (y * width + x) * 4 + 3);
      rgba[(y * width + x) * 4 + 3] = 255;
    }
  }
  return { width, height, rgba, size: bytes.length };
}

Deno.test("qrPngDataUrl: a valid PNG that decodes to the key", async () => {
  for (
    const key of [
      "0123456789abcdef0123456789abcdef",
      "ffffffffffffffffffffffffffffffff",
    ]
  ) {
    const { width, height, rgba, size } = await decodePng(qrPngDataUrl(key));
    assert.equal(width, height);
    assert.ok(size < 6_000, `PNG of ${size} bytes`);
    assert.equal(jsQR(rgba, width, height)?.data, key);
  }
});
