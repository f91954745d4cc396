import { AppError } from "../platform/errors.ts";
import {
  type BlobMeta,
  deleteBlob,
  getBlobMeta,
  putBlob,
} from "../store/blobs.ts";
import { randomHex } from "../store/ids.ts";

/**
 * Users' images (`upload_img_action/`, `show_img_action/`): PNG, JPEG, GIF
 * or WebP, recognised by their first bytes (never by a name or a declared
 * type), size-limited, stored in the blob store under a server-made random
 * name, readable only by their owner.
 *
 * | key                                 | value        |
 * | ----------------------------------- | ------------ |
 * | ["diaryu_images", openId, imgName]  | StoredImage  |
 *
 * The bytes are blob-store blobs (domain/store/blobs.ts, kind "image",
 * `owner` the openId). `imgName` is the user's own name for the image (the
 * seed's `img_name`), a key in the user's namespace only: it never names a
 * file and never reaches a path.
 */

/** Largest image accepted (the server's upload limit may be lower). */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
/** Images one user may keep; re-uploading a name replaces it. */
const MAX_IMAGES_PER_USER = 200;
/** Longest image name, in characters. */
export const MAX_IMAGE_NAME = 100;

/** What the seed calls an image: the user's name and where it is served. */
export interface StoredImage {
  name: string;
  /** The blob's server-made file name (32 hex + extension). */
  blob: string;
  contentType: string;
  size: number;
  createdAt: number;
}

/** An image format we accept, by its magic bytes. */
export interface ImageFormat {
  ext: "png" | "jpg" | "gif" | "webp";
  contentType: string;
}

const ASCII = (s: string) => Array.from(s, (ch) => ch.charCodeAt(0));

function startsWith(bytes: Uint8Array, magic: number[], at = 0): boolean {
  if (bytes.length < at + magic.length) return false;
  return magic.every((b, i) => bytes[at + i] === b);
}

/** The format of `bytes` by its signature, or null when it is none we accept. */
export function sniffImage(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return { ext: "png", contentType: "image/png" };
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) {
    return { ext: "jpg", contentType: "image/jpeg" };
  }
  if (
    startsWith(bytes, ASCII("GIF87a")) || startsWith(bytes, ASCII("GIF89a"))
  ) {
    return { ext: "gif", contentType: "image/gif" };
  }
  if (startsWith(bytes, ASCII("RIFF")) && startsWith(bytes, ASCII("WEBP"), 8)) {
    return { ext: "webp", contentType: "image/webp" };
  }
  return null;
}

/** True for an acceptable image name: no control characters, slashes or backslashes. */
function isImageName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_IMAGE_NAME &&
    !/[\p{Cc}/\\]/u.test(name);
}

function imageKey(openId: string, name: string): Deno.KvKey {
  return ["diaryu_images", openId, name];
}

/**
 * Stores an image of `openId` under `name`, replacing an earlier image of
 * that name. 415 when the bytes are not PNG/JPEG/GIF/WebP, 413 past
 * `maxBytes`, 409 past MAX_IMAGES_PER_USER: in each case nothing is stored.
 */
export async function saveImage(
  kv: Deno.Kv,
  openId: string,
  { name, bytes, maxBytes = MAX_IMAGE_BYTES, now = Date.now() }: {
    name: string;
    bytes: Uint8Array;
    maxBytes?: number;
    now?: number;
  },
): Promise<StoredImage> {
  if (!isImageName(name)) {
    throw new AppError(
      400,
      `img_name must be 1-${MAX_IMAGE_NAME} characters without / \\ or control characters`,
    );
  }
  if (bytes.length > maxBytes) {
    throw new AppError(413, `image is larger than ${maxBytes} bytes`);
  }
  const format = sniffImage(bytes);
  if (!format) {
    throw new AppError(
      415,
      "img is not a PNG, JPEG, GIF or WebP image (checked by its content)",
    );
  }
  const key = imageKey(openId, name);
  const old = await kv.get<StoredImage>(key);
  if (!old.value) await assertRoom(kv, openId);
  const blob = `${randomHex(16)}.${format.ext}`;
  await putBlob(kv, blob, bytes, {
    kind: "image",
    contentType: format.contentType,
    owner: openId,
  });
  const image: StoredImage = {
    name,
    blob,
    contentType: format.contentType,
    size: bytes.length,
    createdAt: now,
  };
  const res = await kv.atomic().check(old).set(key, image).commit();
  if (!res.ok) {
    // Another upload of this name won: keep it, drop ours.
    await deleteBlob(kv, blob);
    throw new AppError(409, `img_name "${name}" was uploaded again meanwhile`);
  }
  if (old.value) await deleteBlob(kv, old.value.blob);
  return image;
}

async function assertRoom(kv: Deno.Kv, openId: string): Promise<void> {
  let count = 0;
  for await (
    const _ of kv.list({ prefix: ["diaryu_images", openId] }, {
      limit: MAX_IMAGES_PER_USER,
    })
  ) count++;
  if (count >= MAX_IMAGES_PER_USER) {
    throw new AppError(
      409,
      `you have ${MAX_IMAGES_PER_USER} images, the most one user may keep: reuse an img_name to replace one`,
    );
  }
}

/** The caller's image named `name`; 404 when they have none by that name. */
export async function requireImage(
  kv: Deno.Kv,
  openId: string,
  name: string,
): Promise<StoredImage> {
  const image = isImageName(name)
    ? (await kv.get<StoredImage>(imageKey(openId, name))).value
    : null;
  if (!image) {
    throw new AppError(404, `you have no image named ${JSON.stringify(name)}`);
  }
  return image;
}

/**
 * The blob behind a served image file, for its owner only: 404 when there
 * is no such image, 403 when it is another user's.
 */
export async function requireOwnImageBlob(
  kv: Deno.Kv,
  openId: string,
  blob: string,
): Promise<BlobMeta> {
  const meta = await getBlobMeta(kv, blob);
  if (!meta || meta.kind !== "image") {
    throw new AppError(404, `no image ${JSON.stringify(blob)}`);
  }
  if (meta.owner !== openId) {
    throw new AppError(403, `image ${JSON.stringify(blob)} is not yours`);
  }
  return meta;
}
