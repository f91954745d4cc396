import { z } from "zod";
import { AppError } from "../domain/platform/errors.ts";
import { isAdminToken } from "../domain/platform/admin_token.ts";
import type { AppDeps } from "../domain/platform/services.ts";
import { sniffAudioFormat } from "../domain/audio/transcoder.ts";
import { upsertContent } from "../domain/smart_toy/content.ts";
import { listDevices, mintDevices } from "../domain/smart_toy/devices.ts";
import { toyBody } from "../domain/smart_toy/envelope.ts";
import { type Feature, subApp } from "./app.ts";
import {
  api,
  bindRoute,
  clientAddress,
  input,
  text,
  tokenOf,
  validate,
} from "./_http.ts";

/**
 * The operator's API, behind the admin token (the configured
 * --admin-token, else the one made on first start; see
 * domain/platform/admin_token.ts): mint and list device keys, add content.
 * Replies, errors included, in the smart-toy envelope (the app's default
 * renderer), which the admin page reads.
 */

const TAG = "admin";
/** Wrong admin tokens one address may send per minute before 429s. */
const WRONG_TOKENS_PER_MINUTE = 20;

/** Whole numbers arrive as JSON numbers or as form text. */
function wholeNumber(max: number) {
  return z.union([
    z.number(),
    z.string().trim().regex(/^\d+$/).transform(Number),
  ], { error: `must be a whole number from 1 to ${max}` }).pipe(
    z.number().int("must be a whole number").min(1, "must be at least 1")
      .max(max, `must be at most ${max}`),
  );
}

const devicesQuery = z.object({
  limit: wholeNumber(1000).optional(),
  cursor: z.string().max(200, "must be at most 200 characters").optional(),
});

const file = z.instanceof(File, {
  message: "must be an uploaded file (multipart/form-data)",
});

const deviceEntry = z.object({
  device_key: z.string(),
  bound: z.boolean(),
  toy_id: z.string().nullable(),
  created_at: z.number(),
});

function routes(maxUpload: number) {
  return {
    check: api({
      method: "GET",
      path: "/admin/check",
      tag: TAG,
      summary: "Whether the admin token is right: {ok: true}",
      auth: "admin",
      reply: z.object({ ok: z.literal(true) }),
    }),
    mint: api({
      method: "POST",
      path: "/admin/devices",
      tag: TAG,
      summary: "Mint device keys",
      auth: "admin",
      body: z.strictObject({ count: wholeNumber(1000) }),
      reply: z.object({ keys: z.array(z.string()) }),
    }),
    devices: api({
      method: "GET",
      path: "/admin/devices",
      tag: TAG,
      summary:
        "Minted device keys in pages, each with whether a toy is bound to it",
      auth: "admin",
      query: devicesQuery,
      reply: z.object({
        devices: z.array(deviceEntry),
        cursor: z.string().nullable(),
      }),
    }),
    addContent: api({
      method: "POST",
      path: "/admin/content",
      tag: TAG,
      summary:
        "Add (or replace, by title) a content item: audio (MP3, or AMR/WAV/WebM to transcode), a PNG/JPEG cover",
      auth: "admin",
      files: ["audio", "cover"],
      maxBody: maxUpload,
      body: z.strictObject({
        title: text(200),
        audio: file,
        cover: file,
        aliases: z.string().max(1000, "must be at most 1000 characters")
          .optional(),
      }),
      reply: z.object({
        _id: z.string(),
        title: z.string(),
        music: z.string(),
        cover: z.string(),
        outcome: z.enum(["added", "updated", "unchanged"]),
      }),
    }),
  };
}

/** "png" or "jpg" by the image's magic bytes; null for anything else. */
function imageType(bytes: Uint8Array): "png" | "jpg" | null {
  if (
    bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 &&
    bytes[2] === 0x4e && bytes[3] === 0x47
  ) {
    return "png";
  }
  if (
    bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 &&
    bytes[2] === 0xff
  ) {
    return "jpg";
  }
  return null;
}

/** Comma-separated aliases (ASCII or full-width commas), trimmed, empty ones dropped. */
function aliasesOf(raw: string | undefined): string[] {
  const aliases = (raw ?? "").split(/[,，]/).map((a) => a.trim()).filter(
    Boolean,
  );
  for (const alias of aliases) {
    if (alias.length > 200) {
      throw new AppError(
        400,
        `"aliases": each alias must be at most 200 characters, got "${
          alias.slice(0, 40)
        }…"`,
      );
    }
  }
  return aliases;
}

/** The operator routes of one instance. */
export function adminFeature(deps: AppDeps): Feature {
  const app = subApp();
  // Room for the multipart framing around the two files.
  const r = routes(2 * deps.config.maxUploadBytes + 64 * 1024);

  // Every /admin/… path, known or not, wants the token; /admin itself is
  // left to the admin page.
  app.use("/admin/*", async function requireAdmin(c, next) {
    if (c.req.path === "/admin") return await next();
    const token = tokenOf(c);
    if (!token) {
      throw new AppError(401, "send Authorization: Bearer <admin token>");
    }
    const ok = await isAdminToken(deps.kv, token, {
      configured: deps.config.adminToken,
    });
    if (!ok) {
      // Guessing is hopeless against a 256-bit token, but a configured
      // one may be as short as 16 characters.
      deps.limiter.take(
        `admin_token:${clientAddress(c)}`,
        WRONG_TOKENS_PER_MINUTE,
        60_000,
        "wrong admin tokens",
      );
      throw new AppError(
        401,
        "wrong admin token (babble admin reset-token makes a new one)",
      );
    }
    await next();
  });

  bindRoute(app, r.check, function adminCheck(c) {
    return c.json(toyBody(0, "admin token ok", { ok: true }));
  });

  bindRoute(app, r.mint, async function mintDeviceKeys(c) {
    const { count } = await input(c, r.mint);
    const keys = await mintDevices(deps.kv, count);
    return c.json(toyBody(0, `minted ${keys.length} device keys`, { keys }));
  });

  bindRoute(app, r.devices, async function listDeviceKeys(c) {
    const query = validate(devicesQuery, c.req.query());
    const page = await listDevices(deps.kv, {
      limit: query.limit ?? 100,
      cursor: query.cursor,
    });
    const devices = page.devices.map((d) => ({
      device_key: d.device_key,
      bound: d.toy_id !== null,
      toy_id: d.toy_id,
      created_at: d.created_at,
    }));
    return c.json(
      toyBody(0, `${devices.length} device keys`, {
        devices,
        cursor: page.cursor,
      }),
    );
  });

  bindRoute(app, r.addContent, async function addContent(c) {
    const b = await input(c, r.addContent);
    const limit = deps.config.maxUploadBytes;
    for (const field of ["audio", "cover"] as const) {
      if (b[field].size > limit) {
        throw new AppError(413, `"${field}" is larger than ${limit} bytes`);
      }
    }
    const cover = new Uint8Array(await b.cover.arrayBuffer());
    const coverType = imageType(cover);
    if (!coverType) {
      throw new AppError(415, `"cover" must be a PNG or JPEG image`);
    }
    const mp3 = await mp3Of(deps, new Uint8Array(await b.audio.arrayBuffer()));
    // The AI matches spoken titles against `aliases` too (issue 12); it is
    // stored with the item where ContentInput carries it.
    const entry = {
      title: b.title,
      mp3,
      cover,
      coverType,
      // Not sent: the item keeps the aliases it has; sent empty: none.
      aliases: b.aliases === undefined ? undefined : aliasesOf(b.aliases),
    };
    const { item, outcome } = await upsertContent(deps.kv, entry);
    return c.json(
      toyBody(0, `content "${item.title}" ${outcome}`, {
        _id: item._id,
        title: item.title,
        music: item.music,
        cover: item.cover,
        outcome,
      }),
    );
  });

  return { app };
}

/** MP3 as uploaded; other audio through the transcoder (415 when it is not audio). */
async function mp3Of(deps: AppDeps, audio: Uint8Array): Promise<Uint8Array> {
  const format = sniffAudioFormat(audio);
  if (format === "mp3") return audio;
  if (!format) {
    throw new AppError(
      415,
      `"audio" must be MP3 (or AMR, WAV, WebM to transcode), got ${audio.length} bytes of something else`,
    );
  }
  if (!deps.transcoder) {
    throw new AppError(503, "transcoding is off on this server: upload MP3");
  }
  return (await deps.transcoder.toMp3(audio)).mp3;
}
