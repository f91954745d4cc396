import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";
import { type Family, fixture, newFamily, ok, post } from "../_family.ts";
import { kill, spawnServer, voiceLoad, wholeChat } from "../_process.ts";

/**
 * Crash safety: a child server process (`main.ts serve` on a KV file)
 * under voice-message load in both directions is SIGKILLed at random
 * moments, five times. After each restart every acknowledged message is in
 * `/chat_list` and in what `/recv_msg` hands the toy, and the unread
 * counters agree with the messages committed since they were last cleared.
 * Acknowledged means durable: nothing a client was told "ok" about is lost.
 */

const KILLS = 5;

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

        const traffic = voiceLoad(child.url, f, voice);
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
