import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";
import {
  type Family,
  fixture,
  newFamily,
  ok,
  post,
  upload,
} from "../_family.ts";

/**
 * Crash safety: a child server process (`main.ts serve` on a KV file)
 * under voice-message load in both directions is SIGKILLed at random
 * moments, five times. After each restart every acknowledged message is in
 * `/chat_list` and in what `/recv_msg` hands the toy, and the unread
 * counters agree with the messages committed since they were last cleared.
 * Acknowledged means durable: nothing a client was told "ok" about is lost.
 */

const KILLS = 5;
const UPLOADERS = 3;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A child `babble serve` process and its URL. */
interface Child {
  process: Deno.ChildProcess;
  url: string;
  output: Promise<void>;
}

/** Starts `main.ts serve` on `kv`; resolves once it prints its URL. */
async function spawnServer(kv: string): Promise<Child> {
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
  const output = (async () => {
    while (!(await lines.read()).done);
  })().catch(() => {});
  return { process, url, output };
}

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
function load(url: string, f: Family, voice: Uint8Array<ArrayBuffer>) {
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
async function wholeChat(
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

Deno.test("crash safety: SIGKILL under voice-message load loses nothing acknowledged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble-crash-" });
  const kv = `${dir}/babble.kv`;
  const voice = await fixture("speech.amr");
  try {
    let f: Family;
    {
      await using first = await startTestServer({ kv });
      f = await newFamily(first);
    }
    const acked = { toToy: new Set<string>(), toParent: new Set<string>() };
    let seenToToy = 0;
    let seenToParent = 0;
    for (let round = 0; round <= KILLS; round++) {
      const child = await spawnServer(kv);
      const server = { url: child.url };
      try {
        // Unread counters agree with what was committed since each was cleared.
        const unread = ok(
          await post(server, "/auto_login", { _id: f.userId }, f.token),
        ).chat as Record<string, number>;
        const fromToy = await post(server, "/recv_msg", {
          from_user: f.userId,
          to_user: f.toyId,
        }, f.toyToken);
        assert.equal(fromToy.status, 200, JSON.stringify(fromToy.body));
        const delivered = new Set(
          (fromToy.body as { chat: string }[]).map((m) => m.chat),
        );
        const chat = await wholeChat(server, f);
        const names = new Set(chat.map((m) => m.chat));
        for (const name of [...acked.toToy, ...acked.toParent]) {
          assert.ok(
            names.has(name),
            `round ${round}: ${name} is in /chat_list`,
          );
        }
        const toToy = chat.filter((m) => m.from_user === f.userId);
        const toParent = chat.filter((m) => m.from_user === f.toyId);
        // /recv_msg handed the toy exactly what arrived since the last call.
        assert.equal(
          delivered.size,
          toToy.length - seenToToy,
          `round ${round}`,
        );
        for (const m of toToy.slice(seenToToy)) {
          assert.ok(
            delivered.has(m.chat),
            `round ${round}: ${m.chat} delivered`,
          );
        }
        assert.equal(
          unread[f.toyId] ?? 0,
          toParent.length - seenToParent,
          `round ${round}: the parent's unread count from the toy`,
        );
        seenToToy = toToy.length;
        seenToParent = toParent.length;
        if (round === KILLS) break;

        const traffic = load(child.url, f, voice);
        // A random moment: after some acknowledged traffic, within 2 s.
        const deadline = Date.now() + 10_000;
        while (
          traffic.toToy.length + traffic.toParent.length < 2 &&
          Date.now() < deadline
        ) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, Math.random() * 1_500));
        await kill(child);
        await traffic.stop();
        assert.ok(
          traffic.toToy.length + traffic.toParent.length >= 2,
          "traffic was acknowledged before the kill",
        );
        for (const n of traffic.toToy) acked.toToy.add(n);
        for (const n of traffic.toParent) acked.toParent.add(n);
      } finally {
        await kill(child);
      }
    }
    assert.ok(acked.toToy.size + acked.toParent.size >= 2 * KILLS);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
