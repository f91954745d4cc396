import { dirname } from "node:path";
import { restoreKv } from "../../domain/store/backup.ts";
import {
  type Command,
  configFrom,
  isStoreFile,
  parseOneArgument,
  storeExists,
  withKv,
} from "./_args.ts";

/** `babble restore`: loads a backup made by `babble backup`. */

const USAGE = `usage: babble restore <file.jsonl> [--kv PATH]

Loads a backup into the store; entries with the same keys are replaced.
Stop the server first when --kv is a local file. If the restore fails and
the store did not exist before, no store file is left behind.`;

/** The folders of `path` that do not exist yet, deepest first. */
async function missingFolders(path: string): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = dirname(path); !(await storeExists(dir)); dir = dirname(dir)) {
    missing.push(dir);
  }
  return missing;
}

/**
 * Removes a store file, SQLite's companions and the folders opening it
 * made (`created`, deepest first; only while empty).
 */
async function removeStore(path: string, created: string[]): Promise<void> {
  for (const file of [path, `${path}-wal`, `${path}-shm`, ...created]) {
    await Deno.remove(file).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
}

/** The `restore` command. */
export const restore: Command = {
  name: "restore",
  usage: USAGE,
  async run(args) {
    const parsed = parseOneArgument(args, {
      usage: USAGE,
      missing: "restore needs a backup file",
    });
    if (!parsed) return 0;
    const { argument: file, kv: kvFlag } = parsed;
    // A missing backup is reported before any store is opened or created.
    try {
      await Deno.stat(file);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new Error(`backup file ${file} not found`);
      }
      throw err;
    }
    const { kv } = configFrom({ kv: kvFlag });
    const fresh = isStoreFile(kv) && !(await storeExists(kv));
    const created = fresh ? await missingFolders(kv) : [];
    let n: number;
    try {
      n = await withKv(kv, (store) => restoreKv(store, file));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (fresh) {
        await removeStore(kv, created);
        throw new Error(`${reason}; no store was created`, { cause: err });
      }
      // Entries are written in batches: those before the failure may be in.
      throw new Error(`${reason}; entries before it may have been restored`, {
        cause: err,
      });
    }
    console.log(`restored ${n} entries`);
    return 0;
  },
};
