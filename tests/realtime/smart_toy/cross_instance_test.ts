import assert from "node:assert/strict";
import { startTestServer } from "../../_server.ts";
import {
  appSocket,
  befriendToys,
  fixture,
  newFamily,
  ok,
  toySocket,
  upload,
} from "../../_family.ts";

/**
 * Two instances of the app in one process on one KV file, as two
 * deployments share one store: a sender on A, the recipient's socket on
 * B. Durable messages cross through the delivery key B watches; ephemeral
 * signals through the short-lived signal log.
 */

/** Two servers on one fresh KV file, each with its own KV handle. */
async function twoInstances() {
  const dir = await Deno.makeTempDir({ prefix: "babble_cross_" });
  const kv = `${dir}/babble.kv`;
  const a = await startTestServer({ kv });
  const b = await startTestServer({ kv });
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("a voice message uploaded on A reaches the toy's socket on B", async () => {
  await using pair = await twoInstances();
  const { a, b } = pair;
  const family = await newFamily(a);
  await using toy = await toySocket(b, family);

  const reply = ok(
    await upload(
      a,
      "/app_uploader",
      {
        to_user: family.toyId,
        user_id: family.userId,
      },
      { field: "reco_file", bytes: await fixture("speech.amr") },
      family.token,
    ),
  );
  const event = await toy.next((f) => f.type === "chat", 10_000);
  assert.equal(event.chat, reply.filename);
  assert.equal(event.from_user, family.userId);
  assert.equal(event.to_user, family.toyId);
  assert.equal(event.chat_id, family.chatId);
  assert.equal(event.seq, 1);

  // The audio is readable from either instance: one store.
  const res = await fetch(`${b.url}/get_chat/${reply.filename}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "audio/mpeg");
  await res.body?.cancel();
});

Deno.test("a voice message sent on A while the toy is offline is replayed on B", async () => {
  await using pair = await twoInstances();
  const { a, b } = pair;
  const family = await newFamily(a);
  const reply = ok(
    await upload(
      a,
      "/app_uploader",
      {
        to_user: family.toyId,
        user_id: family.userId,
      },
      { field: "reco_file", bytes: await fixture("speech.wav") },
      family.token,
    ),
  );
  await using toy = await toySocket(b, family);
  const event = await toy.next((f) => f.type === "chat");
  assert.equal(event.chat, reply.filename);
});

Deno.test("music pushed from the app on A reaches the toy on B, every time", async () => {
  await using pair = await twoInstances();
  const { a, b } = pair;
  const family = await newFamily(a);
  await using toy = await toySocket(b, family);
  await using app = await appSocket(a, family);

  // The very first signal to a principal, then a few more in a row.
  for (let i = 0; i < 5; i++) {
    app.send({
      to_user: family.toyId,
      type: "music",
      music: `song${i}.mp3`,
      from_user: "0123456789abcdef01234567",
    });
    const pushed = await toy.next((f) => f.type === "music");
    assert.equal(pushed.music, `song${i}.mp3`);
    assert.equal(pushed.from_user, family.userId);
  }
  // And back: the toy on B answers its parent on A.
  toy.send({ to_user: family.userId, type: "chat", text: "thanks" });
  const back = await app.next((f) => f.text === "thanks");
  assert.equal(back.from_user, family.toyId);
});

Deno.test("toy to friend toy across instances: signals and voice messages", async () => {
  await using pair = await twoInstances();
  const { a, b } = pair;
  const one = await newFamily(a);
  const two = await newFamily(b);
  const chatId = await befriendToys(a, one, two);
  await using sender = await toySocket(a, one);
  await using receiver = await toySocket(b, two);

  sender.send({ to_user: two.toyId, type: "music", music: "hello.mp3" });
  const pushed = await receiver.next((f) => f.type === "music");
  assert.equal(pushed.from_user, one.toyId);

  const reply = ok(
    await upload(
      a,
      "/toy_uploader",
      {
        to_user: two.toyId,
        user_id: one.toyId,
        friend_type: "toy",
      },
      { field: "reco", bytes: await fixture("speech.wav") },
      one.toyToken,
    ),
  );
  const event = await receiver.next((f) => f.type === "chat");
  assert.equal(event.chat, reply.filename);
  assert.equal(event.chat_id, chatId);
  assert.equal(event.friend_type, "toy");
});

Deno.test("signals are not replayed: a socket opened later on B gets none of the earlier ones", async () => {
  await using pair = await twoInstances();
  const { a, b } = pair;
  const family = await newFamily(a);
  await using app = await appSocket(a, family);
  // The toy is offline everywhere: the push goes to the signal log.
  app.send({ to_user: family.toyId, type: "music", music: "missed.mp3" });
  app.send({ type: "ping" });
  await app.next((f) => f.type === "pong");
  await new Promise((r) => setTimeout(r, 1_200));

  await using toy = await toySocket(b, family);
  app.send({ to_user: family.toyId, type: "music", music: "live.mp3" });
  const pushed = await toy.next((f) => f.type === "music");
  assert.equal(pushed.music, "live.mp3");
  await toy.nothing((f) => f.music === "missed.mp3");
});

Deno.test("relays through KV are limited per sender; relays to a socket here are not", async () => {
  await using pair = await twoInstances();
  const { a, b } = pair;
  const family = await newFamily(a);
  await using app = await appSocket(a, family);
  const burst = (label: string) => {
    for (let i = 0; i < 250; i++) {
      app.send({
        to_user: family.toyId,
        type: "music",
        music: `${label}${i}.mp3`,
      });
    }
  };
  const arrived = (toy: { frames: Record<string, unknown>[] }, label: string) =>
    toy.frames.filter((f) => String(f.music ?? "").startsWith(label)).length;

  {
    // The toy on B: each frame is a KV write, 200 a second per sender.
    await using toy = await toySocket(b, family);
    burst("far");
    const refused = await app.next((f) =>
      f.type === "error" && /too many frames/.test(String(f.msg))
    );
    assert.match(String(refused.msg), /try again in \d+ s/);
    await toy.next((f) => f.music === "far0.mp3");
    await new Promise((r) => setTimeout(r, 1_000));
    const far = arrived(toy, "far");
    assert.ok(far >= 150 && far < 250, `${far} of 250 crossed instances`);
  }
  {
    // The toy on A: a local relay costs no KV write and is not limited.
    await using toy = await toySocket(a, family);
    app.frames.length = 0;
    burst("near");
    await toy.next((f) => f.music === "near249.mp3");
    assert.equal(arrived(toy, "near"), 249); // next() took the last one
    await app.nothing((f) => f.type === "error", 200);
  }
});
