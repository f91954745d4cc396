import { AppError } from "../platform/errors.ts";
import { newId, toHex } from "../store/ids.ts";
import { deleteBlob, getBlobMeta, putBlob } from "../store/blobs.ts";
import { getMarker, setMarker } from "../store/kv.ts";

/**
 * The content library the app shows and pushes to toys, and the toy's
 * built-in system prompts.
 *
 * | key                              | value              |
 * | -------------------------------- | ------------------ |
 * | ["content", id]                  | ContentItem        |
 * | ["content_by_title", lowercased] | id                 |
 *
 * Audio and covers live in the blob store as `<id>.mp3` / `<id>.jpg`
 * (kinds "music" and "cover"); the prompts as `Success.mp3`, `Nobind.mp3`,
 * `Nolic.mp3`.
 */

/** One item of the library, in the seed's shape. */
export interface ContentItem {
  _id: string;
  title: string;
  music: string;
  cover: string;
  category: string;
  /** Other names a child may use for it (the AI path matches them too). */
  aliases?: string[];
  /** SHA-256 of audio, cover and aliases: a re-import of the same is a no-op. */
  digest: string;
  created_at: number;
}

/** What an import adds: title, MP3 bytes, cover bytes. */
export interface ContentInput {
  title: string;
  mp3: Uint8Array;
  cover?: Uint8Array;
  coverType?: "jpg" | "png";
  category?: string;
  aliases?: string[];
}

/** The toy's system prompts, by meaning. */
export const PROMPTS = {
  success: "Success.mp3",
  unbound: "Nobind.mp3",
  unlicensed: "Nolic.mp3",
} as const;

const BUILTIN_VERSION = 1;
const STATIC = new URL("../../static/", import.meta.url);

async function digestOf(parts: Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return toHex(hash);
}

/**
 * Adds or updates one item, keyed by its title (case-insensitive):
 * importing the same files again changes nothing ("unchanged"); new files
 * under a known title replace the old ones ("updated").
 */
export async function upsertContent(
  kv: Deno.Kv,
  input: ContentInput,
): Promise<{ item: ContentItem; outcome: "added" | "updated" | "unchanged" }> {
  const title = input.title.trim();
  if (!title || title.length > 200) {
    throw new AppError(
      400,
      `content title must be 1-200 characters, got "${title}"`,
    );
  }
  const byTitle = ["content_by_title", title.toLowerCase()];
  const existingId = await kv.get<string>(byTitle);
  const existing = existingId.value
    ? (await kv.get<ContentItem>(["content", existingId.value])).value
    : null;
  const aliases = input.aliases ?? existing?.aliases ?? [];
  const files = [input.mp3, input.cover ?? new Uint8Array()];
  const digest = await digestOf(
    aliases.length
      ? [...files, new TextEncoder().encode(JSON.stringify(aliases))]
      : files,
  );
  if (existing && existing.digest === digest) {
    return { item: existing, outcome: "unchanged" };
  }
  const id = existing?._id ?? newId();
  const coverExt = input.coverType ?? "jpg";
  const item: ContentItem = {
    _id: id,
    title,
    music: `${id}.mp3`,
    cover: input.cover ? `${id}.${coverExt}` : "",
    category: input.category ?? "",
    ...(aliases.length ? { aliases } : {}),
    digest,
    created_at: existing?.created_at ?? Date.now() / 1000,
  };
  await putBlob(kv, item.music, input.mp3, { kind: "music" });
  if (input.cover) {
    await putBlob(kv, item.cover, input.cover, { kind: "cover" });
  }
  const res = await kv.atomic()
    .check(existingId)
    .set(["content", id], item)
    .set(byTitle, id)
    .commit();
  if (!res.ok) {
    // Another writer (a second instance seeding the built-ins, say) stored
    // this title first. The same files: done, minus our now-orphan blobs.
    const winner = await findContentByTitle(kv, title);
    if (winner?.digest === digest) {
      if (winner._id !== id) {
        await deleteBlob(kv, item.music);
        if (item.cover) await deleteBlob(kv, item.cover);
      }
      return { item: winner, outcome: "unchanged" };
    }
    throw new AppError(
      409,
      `content "${title}" was changed concurrently; retry`,
    );
  }
  return { item, outcome: existing ? "updated" : "added" };
}

/** The whole library, oldest first (ids sort by time). */
export async function listContent(kv: Deno.Kv): Promise<ContentItem[]> {
  const out: ContentItem[] = [];
  for await (const e of kv.list<ContentItem>({ prefix: ["content"] })) {
    out.push(e.value);
  }
  return out;
}

/** Finds an item by title, case-insensitively; null when there is none. */
async function findContentByTitle(
  kv: Deno.Kv,
  title: string,
): Promise<ContentItem | null> {
  const id =
    (await kv.get<string>(["content_by_title", title.trim().toLowerCase()]))
      .value;
  return id ? (await kv.get<ContentItem>(["content", id])).value : null;
}

/**
 * On first start (and when a new build ships new built-ins) stores the toy
 * prompts and the demo library from static/. Idempotent and cheap when done.
 */
export async function ensureBuiltinContent(kv: Deno.Kv): Promise<void> {
  // The store's marker (domain/store/kv.ts): which built-in set is in.
  const marker = await getMarker(kv, "builtin_content");
  if ((marker.value ?? 0) >= BUILTIN_VERSION) return;
  for (const name of Object.values(PROMPTS)) {
    if (await getBlobMeta(kv, name)) continue;
    const bytes = await Deno.readFile(new URL(`prompts/${name}`, STATIC));
    await putBlob(kv, name, bytes, { kind: "music" });
  }
  const manifest = JSON.parse(
    await Deno.readTextFile(new URL("content/manifest.json", STATIC)),
  ) as { title: string; music: string; cover: string; category: string }[];
  for (const entry of manifest) {
    await upsertContent(kv, {
      title: entry.title,
      category: entry.category,
      mp3: await Deno.readFile(new URL(`content/${entry.music}`, STATIC)),
      cover: await Deno.readFile(new URL(`content/${entry.cover}`, STATIC)),
    });
  }
  await setMarker(kv, marker, BUILTIN_VERSION);
}
