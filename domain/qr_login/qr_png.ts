import QRCode from "qrcode";

/**
 * A QR code as a small black-and-white PNG data URL, made cheaply: one
 * page socket costs a QR code, and a flood of pages must not stall the
 * event loop. The `qrcode` package's own PNG path takes ~2.5 ms per code
 * (mask search, RGBA raster, zlib); here the mask is fixed (any of the
 * eight is valid; ISO 18004 only recommends the search), the
 * raster is 1 bit per pixel, and the image data goes in stored (uncompressed)
 * deflate blocks, so a code costs ~0.1 ms and ~3 KB.
 */

/** Pixels per QR module; browsers scale the image up crisply with CSS. */
const SCALE = 5;
/** Quiet zone around the code, in modules (the standard asks for 4). */
const MARGIN = 4;

/** `text` as a QR code (error correction M) in a `data:image/png;base64,` URL. */
export function qrPngDataUrl(text: string): string {
  const qr = QRCode.create(text, { errorCorrectionLevel: "M", maskPattern: 0 });
  const size = qr.modules.size;
  const side = (size + 2 * MARGIN) * SCALE;
  const rowBytes = Math.ceil(side / 8);
  // Each scanline: filter byte 0, then 1-bit pixels (1 = white).
  const raw = new Uint8Array((rowBytes + 1) * side);
  for (let y = 0; y < side; y++) {
    const row = y * (rowBytes + 1);
    const my = Math.floor(y / SCALE) - MARGIN;
    for (let x = 0; x < side; x++) {
      const mx = Math.floor(x / SCALE) - MARGIN;
      const dark = mx >= 0 && my >= 0 && mx < size && my < size &&
        qr.modules.get(my, mx) === 1;
      if (!dark) raw[row + 1 + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, side);
  view.setUint32(4, side);
  header[8] = 1; // bit depth
  header[9] = 0; // greyscale
  const png = concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", zlibStored(raw)),
    chunk("IEND", new Uint8Array()),
  ]);
  return `data:image/png;base64,${base64(png)}`;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A zlib stream of stored (uncompressed) deflate blocks. */
function zlibStored(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + data.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let at = 2;
  for (let i = 0; i < blocks; i++) {
    const part = data.subarray(i * 65535, (i + 1) * 65535);
    out[at] = i === blocks - 1 ? 1 : 0;
    out[at + 1] = part.length & 0xff;
    out[at + 2] = part.length >> 8;
    out[at + 3] = ~part.length & 0xff;
    out[at + 4] = (~part.length >> 8) & 0xff;
    out.set(part, at + 5);
    at += 5 + part.length;
  }
  new DataView(out.buffer).setUint32(at, adler32(data));
  return out;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
