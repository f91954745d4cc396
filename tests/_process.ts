import { type Family, ok, post, upload } from "./_family.ts";

/**
 * Child server processes for crash and shutdown tests: `main.ts serve` on
 * a KV file, voice-message load against it, and reading a chat back.
 */

/** main.ts, to run as a child process. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;
const UPLOADERS = 3;

/** A child `babble serve` process and its URL. */
export interface Child {
  process: Deno.ChildProcess;
  url: string;
  output: Promise<void>;
}

/** Starts `main.ts serve` on `kv`; resolves once it prints its URL. */
export async function spawnServer(
  kv: string,
): Promise<Child & { lines: string[] }> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--kv",
      kv,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--transcode-workers",
      "1",
      "--admin-token",
      "crash-test-admin-token-0123456789",
      "--log-level",
      "error",
    ],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let url = "";
  let buffered = "";
  while (!url) {
    const next = await lines.read();
    if (next.done) throw new Error(`server exited before serving: ${buffered}`);
    buffered += next.value;
    url = /serving on (http:\/\/\S+)/.exec(buffered)?.[1] ?? "";
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  const printed = [buffered];
  const output = (async () => {
    for (;;) {
      const next = await lines.read();
      if (next.done) return;
      printed.push(next.value);
    }
  })().catch(() => {});
  return { process, url, output, lines: printed };
}

export /** SIGKILLs a child server and waits for it to be gone. */
async function kill(child: Child): Promise<void> {
  try {
    child.process.kill("SIGKILL");
  } catch {
    // already gone
  }
  await child.process.status;
  await child.output;
}

/** Uploads in a loop until `stop()`; records the file names acknowledged. */
export function voiceLoad(
  url: string,
  f: Family,
  voice: Uint8Array<ArrayBuffer>,
) {
  const toToy: string[] = [];
  const toParent: string[] = [];
  let running = true;
  const server = { url };
  const loops = Array.from({ length: UPLOADERS }, async (_, i) => {
    while (running) {
      try {
        if (i % 2 === 0) {
          const reply = await upload(
            server,
            "/app_uploader",
            {
              to_user: f.toyId,
              user_id: f.userId,
            },
            { field: "reco_file", bytes: voice, name: "v.amr" },
            f.token,
          );
          if (reply.status === 200) toToy.push(reply.body.data.filename);
        } else {
          const reply = await upload(
            server,
            "/toy_uploader",
            {
              to_user: f.userId,
              user_id: f.toyId,
              friend_type: "toy",
            },
            { field: "reco", bytes: voice, name: "v.amr" },
            f.toyToken,
          );
          if (reply.status === 200) toParent.push(reply.body.data.filename);
        }
      } catch {
        // The server died mid-request: not acknowledged, not counted.
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  return {
    toToy,
    toParent,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every message of the chat, oldest first, through `/chat_list` paging. */
export async function wholeChat(
  server: { url: string },
  f: Family,
): Promise<{ chat: string; from_user: string }[]> {
  const out: { _id: string; chat: string; from_user: string }[] = [];
  let before: string | undefined;
  for (;;) {
    const page = ok(
      await post(server, "/chat_list", {
        chat_id: f.chatId,
        limit: 500,
        ...(before === undefined ? {} : { before }),
      }, f.token),
    ) as { _id: string; chat: string; from_user: string }[];
    out.unshift(...page);
    if (page.length < 500) return out;
    before = page[0]._id;
  }
}
