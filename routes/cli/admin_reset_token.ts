import {
  adminSetupLink,
  resetAdminToken,
} from "../../domain/platform/admin_token.ts";
import { type Command, configFrom, parseCommand, withKv } from "./_args.ts";

/** `babble admin reset-token`: a new admin token and its setup link. */

const USAGE = `usage: babble admin reset-token [--port N] [--kv PATH]

Makes a new admin token, prints the admin page's setup link with it, and
makes the old token stop working. --port (or BABBLE_PORT, default 8000) is
the server's port, for the link. A server started with --admin-token /
BABBLE_ADMIN_TOKEN uses that token instead.`;

/** The `admin reset-token` command. */
export const adminResetToken: Command = {
  name: "admin reset-token",
  usage: USAGE,
  async run(args) {
    const { values } = parseCommand(args, { port: { type: "string" } }, {
      usage: USAGE,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const config = configFrom({ kv: values.kv, port: values.port });
    const token = await withKv(config.kv, resetAdminToken);
    console.log("A new admin token is made; the old one no longer works.");
    console.log("Open this link on this machine (it holds the token):");
    console.log(adminSetupLink(config.port, token));
    if (config.adminToken) {
      console.error(
        "babble: note: BABBLE_ADMIN_TOKEN is set; a server started with it " +
          "accepts that token, not this one",
      );
    }
    return 0;
  },
};
