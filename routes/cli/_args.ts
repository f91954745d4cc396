import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import {
  type Config,
  loadConfig,
  SETTINGS,
} from "../../domain/platform/config.ts";
import { closeKv, migrate, openKv } from "../../domain/store/kv.ts";
import { SCHEMA_MIGRATIONS } from "../../domain/smart_toy/migrations.ts";

/**
 * What the subcommands share: parsing a command line into a clear usage
 * error, the configuration (flags, then BABBLE_* variables), opening the
 * store, and a progress bar.
 */

/** One subcommand: `babble <name> …`. */
export interface Command {
  /** The words that select it, e.g. "devices mint". */
  name: string;
  /** Its help text; the first line is `usage: babble …`. */
  usage: string;
  /** Runs it with the arguments after its name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** A wrong command line or configuration: `babble: <message>`, the usage if any, exit 2. */
export class UsageError extends Error {
  constructor(message: string, readonly usage?: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit code of a wrong command line or configuration. */
const EXIT_USAGE = 2;

/**
 * Prints a failure on stderr as `babble: <message>` (and the usage, for a
 * usage error) and returns the exit code: 2 for usage, 1 otherwise.
 */
export function reportFailure(err: unknown): number {
  console.error(`babble: ${err instanceof Error ? err.message : err}`);
  if (!(err instanceof UsageError)) return 1;
  if (err.usage) console.error(`\n${err.usage}`);
  return EXIT_USAGE;
}

/** The options every command takes: --kv and --help. */
const COMMON = {
  kv: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsOptionsConfig;

/**
 * Parses `args` strictly with `options` plus --kv and --help; an unknown
 * option, a missing value or a stray argument is a UsageError with `usage`.
 */
export function parseCommand<O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
  { usage, positionals = false }: { usage: string; positionals?: boolean },
) {
  try {
    return parseArgs({
      args,
      options: { ...COMMON, ...options },
      strict: true,
      allowPositionals: positionals,
    });
  } catch (err) {
    // node:util's messages run on with advice about "--"; the first
    // sentence names the problem.
    const message = err instanceof Error ? err.message.split(". ")[0] : err;
    throw new UsageError(String(message), usage);
  }
}

/**
 * Parses a command that takes exactly one argument (a file or folder) and
 * the common flags; prints the usage and returns null for --help.
 */
export function parseOneArgument(
  args: string[],
  { usage, missing }: { usage: string; missing: string },
): { argument: string; kv?: string } | null {
  const { values, positionals } = parseCommand(args, {}, {
    usage,
    positionals: true,
  });
  if (values.help) {
    console.log(usage);
    return null;
  }
  const [argument, ...extra] = positionals;
  if (!argument) throw new UsageError(missing, usage);
  if (extra.length) {
    throw new UsageError(`unexpected argument "${extra[0]}"`, usage);
  }
  return { argument, kv: values.kv };
}

/** parseArgs options for every server setting (`--port`, `--kv`, …), all strings. */
export function settingsOptions(): Record<string, { type: "string" }> {
  return Object.fromEntries(
    Object.values(SETTINGS).map((s) => [s.flag, { type: "string" as const }]),
  );
}

/** The configuration from these flags and the environment; a bad value is a UsageError. */
export function configFrom(flags: Record<string, string | undefined>): Config {
  try {
    return loadConfig(flags, Deno.env.toObject());
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Opens the store at `path`, migrates it as a server start would, runs
 * `fn`, and closes it.
 */
export async function withKv<T>(
  path: string,
  fn: (kv: Deno.Kv) => Promise<T>,
): Promise<T> {
  const kv = await openKv(path);
  try {
    await migrate(kv, SCHEMA_MIGRATIONS);
    return await fn(kv);
  } finally {
    closeKv(kv);
  }
}

/**
 * A progress bar on stderr: redrawn in place on a terminal, else one line
 * per step (so logs and tests see each step). Call with the steps done.
 */
export function progress(
  total: number,
  label: string,
): (done: number, note?: string) => void {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  const width = 30;
  return function step(done, note = "") {
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

/** Whether `path` names a local store file (not :memory: nor a KV Connect URL). */
export function isStoreFile(path: string): boolean {
  return path !== ":memory:" && !/^https?:\/\//.test(path);
}

/** Whether the store at `path` exists; a remote or in-memory store always does. */
export async function storeExists(path: string): Promise<boolean> {
  if (!isStoreFile(path)) return true;
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
