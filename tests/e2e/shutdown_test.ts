import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";
import { type Family, fixture, newFamily, ok, post } from "../_family.ts";
import { kill, MAIN, spawnServer, voiceLoad, wholeChat } from "../_process.ts";

/**
 * Stopping and moving a store: SIGTERM to a server under voice-message
 * load stops it cleanly (exit 0, one shutdown line) and loses nothing it
 * acknowledged; a backup restored into a fresh store answers the API
 * exactly as the original does.
 */

/** Runs a CLI subcommand of main.ts; returns its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, out: decode(stdout) + decode(stderr) };
}

/** What a family sees through the API, for comparing two stores. */
async function look(server: { url: string }, f: Family) {
  const user = ok(
    await post(server, "/auto_login", { _id: f.userId }, f.token),
  );
  const chat = await wholeChat(server, f);
  const audio: number[] = [];
  for (const m of chat.slice(0, 3)) {
    const res = await fetch(
      `${server.url}/get_chat/${m.chat}?token=${f.token}`,
    );
    assert.equal(res.status, 200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    audio.push(bytes.length, bytes.reduce((a, b) => (a * 31 + b) >>> 0, 7));
  }
  return {
    user,
    toys: ok(await post(server, "/toy_list", { _id: f.userId }, f.token)),
    friends: ok(await post(server, "/friend_list", { _id: f.userId }, f.token)),
    content: ok(await post(server, "/content_list", {})),
    chat,
    audio,
  };
}

Deno.test("graceful shutdown under load: exit 0, nothing acknowledged lost; backup → restore answers the same", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble-shutdown-" });
  const kv = `${dir}/babble.kv`;
  const voice = await fixture("speech.amr");
  try {
    let f: Family;
    {
      await using first = await startTestServer({ kv });
      f = await newFamily(first);
    }
    const child = await spawnServer(kv);
    let traffic: ReturnType<typeof voiceLoad> | undefined;
    try {
      traffic = voiceLoad(child.url, f, voice);
      const deadline = Date.now() + 10_000;
      while (
        traffic.toToy.length + traffic.toParent.length < 4 &&
        Date.now() < deadline
      ) await new Promise((r) => setTimeout(r, 20));
      child.process.kill("SIGTERM");
      const status = await child.process.status;
      await traffic.stop();
      await child.output;
      assert.equal(status.code, 0, "SIGTERM exits 0");
      assert.match(child.lines.join(""), /shut down/);
    } finally {
      await traffic?.stop();
      await kill(child);
    }
    const acked = [...traffic.toToy, ...traffic.toParent];
    assert.ok(acked.length >= 4, `only ${acked.length} acknowledged`);

    const backupFile = `${dir}/backup.jsonl`;
    const backup = await cli(["backup", backupFile, "--kv", kv]);
    assert.equal(backup.code, 0, backup.out);
    const restoredKv = `${dir}/restored/babble.kv`;
    await Deno.mkdir(`${dir}/restored`);
    const restore = await cli(["restore", backupFile, "--kv", restoredKv]);
    assert.equal(restore.code, 0, restore.out);

    let original;
    {
      await using server = await startTestServer({ kv });
      original = await look(server, f);
      const names = new Set(original.chat.map((m) => m.chat));
      for (const name of acked) {
        assert.ok(names.has(name), `${name} survived the shutdown`);
      }
    }
    {
      await using restored = await startTestServer({ kv: restoredKv });
      assert.deepEqual(await look(restored, f), original);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
