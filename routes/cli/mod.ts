import { adminResetToken } from "./admin_reset_token.ts";
import { backup } from "./backup.ts";
import { contentImport } from "./content_import.ts";
import { devicesMint } from "./devices_mint.ts";
import { restore } from "./restore.ts";
import { type Command, UsageError } from "./_args.ts";

/**
 * The operator's subcommands, one module each. Each opens the store named
 * by --kv / BABBLE_KV (default ./data/babble.kv), so it works on the store
 * a stopped server uses (or a running one's, for a remote KV).
 */

const COMMANDS: readonly Command[] = [
  devicesMint,
  contentImport,
  backup,
  restore,
  adminResetToken,
];

/** The first usage line of every subcommand, for `babble --help`. */
export const COMMAND_USAGE: string = COMMANDS.map((c) =>
  c.usage.split("\n")[0].replace("usage: ", "       ")
).join("\n");

function usagesOf(commands: readonly Command[]): string {
  return commands.map((c) => c.usage).join("\n\n");
}

/**
 * Runs the subcommand `args` names and resolves to its exit code; a wrong
 * command line throws a UsageError (with the usage to show).
 */
export async function runCli(args: string[]): Promise<number> {
  const [first = "", second] = args;
  const command = COMMANDS.find((c) => c.name === `${first} ${second}`) ??
    COMMANDS.find((c) => c.name === first);
  if (command) {
    return await command.run(args.slice(command.name.split(" ").length));
  }
  // "devices", "devices --help", "devices frob": the family's usage.
  const family = COMMANDS.filter((c) => c.name.split(" ")[0] === first);
  if (family.length === 0) {
    throw new UsageError(
      `unknown command "${first}" (see babble --help)`,
      COMMAND_USAGE.replace(/^ {7}/, "usage: "),
    );
  }
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usagesOf(family));
    return 0;
  }
  throw new UsageError(
    second === undefined || second.startsWith("-")
      ? `"${first}" needs a subcommand`
      : `unknown command "${first} ${second}"`,
    usagesOf(family),
  );
}
