import { parseArgs } from "node:util";
import QRCode from "qrcode";
import { loadConfig } from "../domain/platform/config.ts";
import { closeKv, migrate, openKv } from "../domain/store/kv.ts";
import { mintDevices } from "../domain/smart_toy/devices.ts";
import { upsertContent } from "../domain/smart_toy/content.ts";
import {
  createTranscoder,
  sniffAudioFormat,
} from "../domain/audio/transcoder.ts";
import { dumpKv, restoreKv } from "../domain/store/backup.ts";

/**
 * CLI subcommands other than `serve`. Each opens the KV store named by
 * --kv / BABBLE_KV (default ./data/babble.kv), so it works on the same
 * store a stopped — or running, for a remote KV — server uses.
 */

const HELP: Record<string, string> = {
  devices: `usage: babble devices mint --count N [--qr-dir DIR] [--kv PATH]

Creates N device keys (128-bit, hex), prints one per line on stdout.
With --qr-dir, writes DIR/<key>.png, the QR code to print on each toy.`,
  content: `usage: babble content import <folder> [--kv PATH]

Imports the content library from <folder>: either a manifest.json
([{"title", "music", "cover", "category"?}], paths relative to the folder)
or plain files, where each audio file (mp3, wav, amr, webm) is an item
titled by its file name, with a cover image of the same name (jpg/png).
Non-MP3 audio is transcoded. Re-importing the same files changes nothing.`,
  backup: `usage: babble backup <file.jsonl> [--kv PATH]

Writes every KV entry to a JSON-lines file (blobs included).`,
  restore: `usage: babble restore <file.jsonl> [--kv PATH]

Loads a backup into the store (entries with the same keys are replaced).`,
};

function kvOption(values: { kv?: string }): string {
  return loadConfig({ kv: values.kv }, Deno.env.toObject()).kv;
}

async function withKv<T>(
  path: string,
  fn: (kv: Deno.Kv) => Promise<T>,
): Promise<T> {
  const kv = await openKv(path);
  try {
    await migrate(kv);
    return await fn(kv);
  } finally {
    closeKv(kv);
  }
}

/** A one-line progress bar on stderr (only when it is a terminal, else a line per step). */
function progress(total: number, label: string) {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  return (done: number, note = "") => {
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    const line = `${label} [${"#".repeat(filled)}${
      ".".repeat(width - filled)
    }] ${done}/${total} ${note}`;
    Deno.stderr.writeSync(
      enc.encode(tty ? `\r${line.padEnd(100)}` : `${line}\n`),
    );
    if (tty && done === total) Deno.stderr.writeSync(enc.encode("\n"));
  };
}

async function devices(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      count: { type: "string" },
      "qr-dir": { type: "string" },
      kv: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help || positionals[0] !== "mint") {
    console.log(HELP.devices);
    return values.help ? 0 : 2;
  }
  const countText = values.count ?? "1";
  const count = /^\d{1,5}$/.test(countText) ? Number(countText) : NaN;
  if (!(count >= 1 && count <= 10_000)) {
    console.error(
      `babble: --count must be a whole number from 1 to 10000, got "${countText}"`,
    );
    return 2;
  }
  const keys = await withKv(kvOption(values), (kv) => mintDevices(kv, count));
  if (values["qr-dir"]) {
    await Deno.mkdir(values["qr-dir"], { recursive: true });
    const step = progress(keys.length, "QR codes");
    for (const [i, key] of keys.entries()) {
      const png = await QRCode.toBuffer(key, {
        type: "png",
        width: 300,
        margin: 2,
      });
      await Deno.writeFile(
        `${values["qr-dir"]}/${key}.png`,
        new Uint8Array(png),
      );
      step(i + 1);
    }
  }
  console.log(keys.join("\n"));
  return 0;
}

interface ImportEntry {
  title: string;
  music: string;
  cover?: string;
  category?: string;
}

const AUDIO = /\.(mp3|wav|amr|webm)$/i;

async function entriesOf(folder: string): Promise<ImportEntry[]> {
  try {
    const manifest = JSON.parse(
      await Deno.readTextFile(`${folder}/manifest.json`),
    );
    if (!Array.isArray(manifest)) {
      throw new Error("manifest.json must be an array");
    }
    return manifest as ImportEntry[];
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const names: string[] = [];
  for await (const e of Deno.readDir(folder)) if (e.isFile) names.push(e.name);
  names.sort();
  return names.filter((n) => AUDIO.test(n)).map((music) => {
    const base = music.replace(AUDIO, "");
    const cover = names.find((n) =>
      n.startsWith(base + ".") && /\.(jpe?g|png)$/i.test(n)
    );
    return { title: base.replace(/[_-]+/g, " "), music, cover };
  });
}

async function content(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { kv: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help || positionals[0] !== "import" || !positionals[1]) {
    console.log(HELP.content);
    return values.help ? 0 : 2;
  }
  const folder = positionals[1];
  const entries = await entriesOf(folder);
  if (entries.length === 0) {
    console.error(`babble: no audio files or manifest.json in ${folder}`);
    return 1;
  }
  let transcoder: ReturnType<typeof createTranscoder> | null = null;
  const counts = { added: 0, updated: 0, unchanged: 0, failed: 0 };
  await withKv(kvOption(values), async (kv) => {
    const step = progress(entries.length, "importing");
    for (const [i, entry] of entries.entries()) {
      try {
        let audio: Uint8Array = await Deno.readFile(`${folder}/${entry.music}`);
        const format = sniffAudioFormat(audio);
        if (!format) throw new Error(`${entry.music} is not audio`);
        if (format !== "mp3") {
          transcoder ??= createTranscoder({ workers: 1 });
          audio = (await transcoder.toMp3(audio)).mp3;
        }
        const cover = entry.cover
          ? await Deno.readFile(`${folder}/${entry.cover}`)
          : undefined;
        const { outcome } = await upsertContent(kv, {
          title: entry.title,
          category: entry.category,
          mp3: audio,
          cover,
          coverType: entry.cover?.toLowerCase().endsWith(".png")
            ? "png"
            : "jpg",
        });
        counts[outcome]++;
        step(i + 1, entry.title.slice(0, 40));
      } catch (err) {
        counts.failed++;
        step(i + 1, `FAILED ${entry.music}`);
        console.error(
          `babble: ${entry.music}: ${err instanceof Error ? err.message : err}`,
        );
      }
    }
  });
  await (transcoder as ReturnType<typeof createTranscoder> | null)?.close();
  console.log(
    `${counts.added} added, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.failed} failed`,
  );
  return counts.failed ? 1 : 0;
}

async function backupOrRestore(command: "backup" | "restore", args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: { kv: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help || !positionals[0]) {
    console.log(HELP[command]);
    return values.help ? 0 : 2;
  }
  const file = positionals[0];
  const n = await withKv(
    kvOption(values),
    (kv) => command === "backup" ? dumpKv(kv, file) : restoreKv(kv, file),
  );
  console.log(`${command === "backup" ? "wrote" : "restored"} ${n} entries`);
  return 0;
}

/** Runs a subcommand; returns the process exit code. */
export async function runCli(command: string, args: string[]): Promise<number> {
  switch (command) {
    case "devices":
      return await devices(args);
    case "content":
      return await content(args);
    case "backup":
    case "restore":
      return await backupOrRestore(command, args);
    default:
      console.error(`babble: unknown command "${command}" (see babble --help)`);
      return 2;
  }
}
