import { z } from "zod";
import { upsertContent } from "../../domain/smart_toy/content.ts";
import {
  createTranscoder,
  sniffAudioFormat,
  type Transcoder,
} from "../../domain/audio/transcoder.ts";
import {
  type Command,
  configFrom,
  parseOneArgument,
  progress,
  withKv,
} from "./_args.ts";

/** `babble content import`: a folder of audio (and covers) into the content library. */

const USAGE = `usage: babble content import <folder> [--kv PATH]

Imports the content library from <folder>: either a manifest.json
([{"title", "music", "cover"?, "category"?, "aliases"?}], paths relative to
the folder, aliases a list of other names the AI may hear) or plain files,
where each audio file (mp3, wav, amr, webm) is an item titled by its file
name, with a cover image of the same name (jpg/png). Non-MP3 audio is
transcoded. Re-importing the same files changes nothing.`;

const manifestSchema = z.array(z.object({
  title: z.string().min(1),
  music: z.string().min(1),
  cover: z.string().min(1).optional(),
  category: z.string().optional(),
  aliases: z.array(z.string()).optional(),
}));

type ImportEntry = z.infer<typeof manifestSchema>[number];

const AUDIO = /\.(mp3|wav|amr|webm)$/i;
const IMAGE = /\.(jpe?g|png)$/i;

/** The items to import: the manifest's, else one per audio file. */
async function entriesOf(folder: string): Promise<ImportEntry[]> {
  let text: string | null = null;
  try {
    text = await Deno.readTextFile(`${folder}/manifest.json`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (text !== null) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${folder}/manifest.json is not valid JSON`);
    }
    const parsed = manifestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `${folder}/manifest.json: ${
          issue.path.length ? `[${issue.path.join("].")}: ` : ""
        }${issue.message}`,
      );
    }
    return parsed.data;
  }
  const names: string[] = [];
  for await (const e of Deno.readDir(folder)) if (e.isFile) names.push(e.name);
  names.sort();
  return names.filter((n) => AUDIO.test(n)).map((music) => {
    const base = music.replace(AUDIO, "");
    const cover = names.find((n) => n.startsWith(base + ".") && IMAGE.test(n));
    return { title: base.replace(/[_-]+/g, " "), music, cover };
  });
}

/** The `content import` command. */
export const contentImport: Command = {
  name: "content import",
  usage: USAGE,
  async run(args) {
    const parsed = parseOneArgument(args, {
      usage: USAGE,
      missing: "content import needs a folder",
    });
    if (!parsed) return 0;
    const { argument: folder, kv: kvFlag } = parsed;
    const { kv } = configFrom({ kv: kvFlag });
    const entries = await entriesOf(folder);
    if (entries.length === 0) {
      throw new Error(`no audio files or manifest.json in ${folder}`);
    }
    const counts = { added: 0, updated: 0, unchanged: 0, failed: 0 };
    let transcoder: Transcoder | null = null;
    try {
      await withKv(kv, async (store) => {
        const step = progress(entries.length, "importing");
        for (const [i, entry] of entries.entries()) {
          try {
            let mp3: Uint8Array = await Deno.readFile(
              `${folder}/${entry.music}`,
            );
            const format = sniffAudioFormat(mp3);
            if (!format) throw new Error(`${entry.music} is not audio`);
            if (format !== "mp3") {
              transcoder ??= createTranscoder({ workers: 1 });
              mp3 = (await transcoder.toMp3(mp3)).mp3;
            }
            const cover = entry.cover
              ? await Deno.readFile(`${folder}/${entry.cover}`)
              : undefined;
            // `aliases` is stored with the item where ContentInput carries it.
            const item = {
              title: entry.title,
              category: entry.category,
              mp3,
              cover,
              coverType: entry.cover?.toLowerCase().endsWith(".png")
                ? "png" as const
                : "jpg" as const,
              aliases: entry.aliases,
            };
            const { outcome } = await upsertContent(store, item);
            counts[outcome]++;
            step(i + 1, entry.title.slice(0, 40));
          } catch (err) {
            counts.failed++;
            step(i + 1, `FAILED ${entry.music}`);
            console.error(
              `babble: ${entry.music}: ${
                err instanceof Error ? err.message : err
              }`,
            );
          }
        }
      });
    } finally {
      await (transcoder as Transcoder | null)?.close();
    }
    console.log(
      `${counts.added} added, ${counts.updated} updated, ` +
        `${counts.unchanged} unchanged, ${counts.failed} failed`,
    );
    return counts.failed ? 1 : 0;
  },
};
