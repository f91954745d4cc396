import { deviceQrPng, mintDevices } from "../../domain/smart_toy/devices.ts";
import {
  type Command,
  configFrom,
  parseCommand,
  progress,
  UsageError,
  withKv,
} from "./_args.ts";

/** `babble devices mint`: new device keys, and optionally their QR codes. */

const USAGE = `usage: babble devices mint --count N [--qr-dir DIR] [--kv PATH]

Creates N device keys (128-bit, hex; N from 1 to 10000) and prints one per
line on stdout. With --qr-dir, writes DIR/<key>.png, the QR code to print
on each toy.`;

/** Most keys one run mints (the domain's limit). */
const MAX_COUNT = 10_000;

/** The --count value as a whole number; a UsageError naming the bad value otherwise. */
function countOf(text: string | undefined): number {
  if (text === undefined) {
    throw new UsageError("devices mint needs --count N", USAGE);
  }
  const count = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(count >= 1 && count <= MAX_COUNT)) {
    throw new UsageError(
      `--count must be a whole number from 1 to ${MAX_COUNT}, got "${text}"`,
      USAGE,
    );
  }
  return count;
}

async function writeQrCodes(dir: string, keys: string[]): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const step = progress(keys.length, "QR codes");
  for (const [i, key] of keys.entries()) {
    await Deno.writeFile(`${dir}/${key}.png`, await deviceQrPng(key));
    step(i + 1);
  }
}

/** The `devices mint` command. */
export const devicesMint: Command = {
  name: "devices mint",
  usage: USAGE,
  async run(args) {
    const { values } = parseCommand(args, {
      count: { type: "string" },
      "qr-dir": { type: "string" },
    }, { usage: USAGE });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    // Everything is checked before the store is opened (or created).
    const count = countOf(values.count);
    const { kv } = configFrom({ kv: values.kv });
    const keys = await withKv(kv, (store) => mintDevices(store, count));
    if (values["qr-dir"]) await writeQrCodes(values["qr-dir"], keys);
    console.log(keys.join("\n"));
    return 0;
  },
};
