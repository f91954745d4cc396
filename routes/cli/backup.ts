import { dumpKv } from "../../domain/store/backup.ts";
import {
  type Command,
  configFrom,
  parseOneArgument,
  storeExists,
  withKv,
} from "./_args.ts";

/** `babble backup`: the whole store as JSON lines. */

const USAGE = `usage: babble backup <file.jsonl> [--kv PATH]

Writes every KV entry (blobs included) to a JSON-lines file, which
babble restore loads. Stop the server first when --kv is a local file.`;

/** The `backup` command. */
export const backup: Command = {
  name: "backup",
  usage: USAGE,
  async run(args) {
    const parsed = parseOneArgument(args, {
      usage: USAGE,
      missing: "backup needs a file to write",
    });
    if (!parsed) return 0;
    const { argument: file, kv: kvFlag } = parsed;
    const { kv } = configFrom({ kv: kvFlag });
    if (!(await storeExists(kv))) {
      throw new Error(`there is no store at ${kv} (check --kv / BABBLE_KV)`);
    }
    const n = await withKv(kv, (store) => dumpKv(store, file));
    console.log(`wrote ${n} entries`);
    return 0;
  },
};
