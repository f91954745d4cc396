import assert from "node:assert/strict";
import { deliveredCursor } from "../../../domain/smart_toy/messages.ts";
import { createApp } from "../../../routes/app.ts";
import { toyApiFeature } from "../../../routes/smart_toy/toy_api.ts";
import { Hub } from "../../../realtime/smart_toy/hub.ts";
import { toySocketsEndpoint } from "../../../realtime/smart_toy/sockets.ts";
import { startTestServer } from "../../_server.ts";
import {
  appSocket,
  befriendToys,
  closeCode,
  type Family,
  fixture,
  type Frame,
  newFamily,
  ok,
  post,
  RawFrameReader,
  rawHandshake,
  TestSocket,
  toySocket,
  until,
  upload,
} from "../../_family.ts";

/**
 * The smart-toy sockets `/app/<user_id>` and `/toy/<toy_id>` end to end:
 * relayed frames with a server-set `from_user`, bad frames, durable voice
 * messages delivered live and replayed on reconnect, keepalive, and who
 * may open which socket.
 */

const UNKNOWN_ID = "0123456789abcdef01234567";

function sendVoice(
  server: { url: string },
  f: Family,
  name = "speech.amr",
): Promise<string> {
  return fixture(name).then((bytes) =>
    upload(
      server,
      "/app_uploader",
      {
        to_user: f.toyId,
        user_id: f.userId,
      },
      { field: "reco_file", bytes },
      f.token,
    )
  ).then((reply) => ok(reply).filename);
}

/** Waits for a pong: every frame the server sent before it has arrived. */
async function settle(socket: TestSocket): Promise<void> {
  socket.send({ type: "ping" });
  await socket.next((f) => f.type === "pong");
}

const isChat = (f: Frame) => f.type === "chat";

Deno.test("the app pushes music to its toy; the server sets from_user, whatever the client claimed", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  const other = await newFamily(server);
  await using app = await appSocket(server, family);
  await using toy = await toySocket(server, family);

  app.send({
    to_user: family.toyId,
    type: "music",
    music: "twinkle_star.mp3",
    from_user: other.userId,
    id: "forged",
  });
  const pushed = await toy.next((f) => f.type === "music");
  assert.equal(pushed.music, "twinkle_star.mp3");
  assert.equal(pushed.from_user, family.userId);
  assert.equal(pushed.to_user, family.toyId);
  assert.match(pushed.id as string, /^[0-9a-f]{24}$/);

  // A seed client's bare push (no type) is a music push too.
  app.send({ to_user: family.toyId, music: "three_little_pigs.mp3" });
  const bare = await toy.next((f) => f.music === "three_little_pigs.mp3");
  assert.equal(bare.type, "music");

  // And the toy answers its parent. A relayed frame never passes for a
  // durable chat event: it is typed "notice" and loses the server's fields.
  toy.send({
    to_user: family.userId,
    type: "chat",
    text: "more!",
    seq: 1e15,
    chat_id: "forged",
  });
  const back = await app.next((f) => f.text === "more!");
  assert.equal(back.from_user, family.toyId);
  assert.equal(back.type, "notice");
  assert.equal(back.seq, undefined);
  assert.equal(back.chat_id, undefined);
});

Deno.test("bad frames get an error frame; the socket and the server stay up", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  const other = await newFamily(server);
  await using app = await appSocket(server, family);
  await using toy = await toySocket(server, family);
  const error = (f: Frame) => f.type === "error";

  const bad: [string, string | Uint8Array][] = [
    ["not JSON", "{music: nope"],
    ["JSON but not an object", "[1, 2, 3]"],
    ["missing to_user", JSON.stringify({ music: "a.mp3" })],
    ["to_user not an id", JSON.stringify({ to_user: "bob", music: "a.mp3" })],
    [
      "unknown recipient",
      JSON.stringify({ to_user: UNKNOWN_ID, music: "a.mp3" }),
    ],
    [
      "another family's toy",
      JSON.stringify({ to_user: other.toyId, music: "a.mp3" }),
    ],
    [
      "another family's parent",
      JSON.stringify({ to_user: other.userId, music: "a.mp3" }),
    ],
    ["binary", new Uint8Array([1, 2, 3])],
  ];
  for (const [what, frame] of bad) {
    app.ws.send(frame);
    const reply = await app.next(error);
    assert.equal(typeof reply.msg, "string", what);
    assert.ok((reply.msg as string).length > 5, `${what}: ${reply.msg}`);
  }
  // Nothing reached anyone.
  await settle(toy);
  assert.equal(toy.frames.length, 0);

  // The same socket still relays a good frame.
  app.send({ to_user: family.toyId, music: "ok.mp3" });
  assert.equal((await toy.next()).music, "ok.mp3");

  // A frame over 64 KiB closes that socket with 1009 ...
  app.send({ to_user: family.toyId, music: "x".repeat(70 * 1024) });
  const closed = await app.closed;
  assert.equal(closed.code, 1009);
  await settle(toy);
  assert.equal(toy.frames.length, 0);

  // ... and only that socket: a new one works, and so does HTTP.
  await using again = await appSocket(server, family);
  again.send({ to_user: family.toyId, music: "still.mp3" });
  assert.equal((await toy.next()).music, "still.mp3");
  const health = await fetch(server.url + "/healthz");
  assert.equal(health.status, 200);
  await health.body?.cancel();
});

Deno.test("who may reach whom: parent and own toy, friend toys, nobody else", async () => {
  await using server = await startTestServer();
  const one = await newFamily(server);
  const two = await newFamily(server);
  const toyChat = await befriendToys(server, one, two);
  assert.match(toyChat, /^[0-9a-f]{24}$/);
  await using toyOne = await toySocket(server, one);
  await using toyTwo = await toySocket(server, two);
  await using appTwo = await appSocket(server, two);

  toyOne.send({ to_user: two.toyId, type: "music", music: "pal.mp3" });
  assert.equal((await toyTwo.next()).from_user, one.toyId);

  // Friends of the toy are not friends of its parent, and vice versa.
  toyOne.send({ to_user: two.userId, music: "no.mp3" });
  assert.equal((await toyOne.next()).type, "error");
  appTwo.send({ to_user: one.toyId, music: "no.mp3" });
  assert.equal((await appTwo.next()).type, "error");
  await settle(appTwo);
  await settle(toyTwo);
  assert.deepEqual(appTwo.frames, []);
  assert.deepEqual(toyTwo.frames, []);
});

Deno.test("frames to many unknown recipients get an answer each, and the checks behind them are bounded", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  await using app = await appSocket(server, family);
  // 300 frames in one burst, each to an id nobody owns: each needs a store
  // read to refuse. At most 16 are checked at once and 100 a second.
  const strangers = Array.from(
    { length: 300 },
    (_, i) => `${i.toString(16).padStart(6, "0")}${UNKNOWN_ID.slice(6)}`,
  );
  for (const to of strangers) app.send({ to_user: to, music: "x.mp3" });
  const answers = new Map<string, string>();
  while (answers.size < strangers.length) {
    const reply = await app.next((f) => f.type === "error");
    answers.set(reply.to_user as string, reply.msg as string);
  }
  const kinds = { refused: 0, waitTurn: 0, rateLimited: 0 };
  for (const msg of answers.values()) {
    if (/^you may not reach /.test(msg)) kinds.refused++;
    else if (/too many new recipients at once/.test(msg)) kinds.waitTurn++;
    else if (/too many recipient checks: try again in \d+ s/.test(msg)) {
      kinds.rateLimited++;
    } else assert.fail(`unexpected answer: ${msg}`);
  }
  assert.ok(kinds.refused >= 16 && kinds.refused <= 100, JSON.stringify(kinds));
  assert.ok(kinds.waitTurn + kinds.rateLimited >= 200, JSON.stringify(kinds));

  // The socket stays up, and its own toy is still reached (after the
  // one-second window the limit counts in).
  await new Promise((r) => setTimeout(r, 1_100));
  await using toy = await toySocket(server, family);
  app.send({ to_user: family.toyId, type: "music", music: "ok.mp3" });
  assert.equal((await toy.next((f) => f.type === "music")).music, "ok.mp3");
});

Deno.test("ping gets pong", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  await using toy = await toySocket(server, family);
  toy.send({ type: "ping" });
  assert.deepEqual(await toy.next(), { type: "pong" });
});

Deno.test("a voice message to an offline toy arrives when it connects; live ones arrive at once", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  const filename = await sendVoice(server, family);

  await using toy = await toySocket(server, family);
  const event = await toy.next(isChat);
  assert.deepEqual(Object.keys(event).sort(), [
    "chat",
    "chat_id",
    "create_time",
    "friend_type",
    "from_user",
    "id",
    "seq",
    "to_user",
    "type",
  ]);
  assert.equal(event.chat, filename);
  assert.equal(event.from_user, family.userId);
  assert.equal(event.to_user, family.toyId);
  assert.equal(event.friend_type, "app");
  assert.equal(event.chat_id, family.chatId);
  assert.equal(event.seq, 1);
  assert.match(event.id as string, /^[0-9a-f]{24}$/);

  // A second socket of the same toy (say, the web simulator) and the
  // first both get the next one live.
  await using twin = await toySocket(server, family, "&after=1");
  const live = await sendVoice(server, family, "speech.wav");
  assert.equal((await toy.next(isChat)).chat, live);
  assert.equal((await twin.next(isChat)).chat, live);
  await settle(toy);
  assert.equal(toy.frames.filter(isChat).length, 0, "each message once");

  // The toy's HTTP view agrees.
  const unread = await post(server, "/recv_msg", {
    from_user: family.userId,
    to_user: family.toyId,
  }, family.toyToken);
  assert.deepEqual(unread.body.map((m: { chat: string }) => m.chat), [
    filename,
    live,
  ]);
});

Deno.test("reconnect replays what was missed: default cursor, ?after=, ?last_id=", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  const files = [];
  for (let i = 0; i < 3; i++) files.push(await sendVoice(server, family));

  const ids: string[] = [];
  {
    await using toy = await toySocket(server, family);
    for (let i = 0; i < 3; i++) {
      const e = await toy.next(isChat);
      assert.equal(e.chat, files[i]);
      assert.equal(e.seq, i + 1);
      ids.push(e.id as string);
    }
  }
  // The server records what it delivered just after sending it.
  await until(
    async () => (await deliveredCursor(server.kv, family.toyId)) === 3,
    "delivered cursor at 3",
  );
  const replay = async (query: string) => {
    await using toy = await toySocket(server, family, query);
    await settle(toy);
    await new Promise((r) => setTimeout(r, 100));
    return toy.frames.filter(isChat).map((e) => e.seq);
  };
  // Sent before: a plain reconnect starts after the delivered cursor.
  assert.deepEqual(await replay(""), []);
  assert.deepEqual(await replay("&after=0"), [1, 2, 3]);
  assert.deepEqual(await replay("&after=1"), [2, 3]);
  assert.deepEqual(await replay("&after=3"), []);
  assert.deepEqual(await replay(`&last_id=${ids[0]}`), [2, 3]);
  assert.deepEqual(await replay(`&last_id=${ids[2]}`), []);
  // An id it does not know falls back to the delivered cursor.
  assert.deepEqual(await replay(`&last_id=${UNKNOWN_ID}`), []);

  // Missed while offline: the next plain connect gets exactly those.
  const missed = await sendVoice(server, family, "speech.webm");
  {
    await using toy = await toySocket(server, family);
    const e = await toy.next(isChat);
    assert.equal(e.chat, missed);
    assert.equal(e.seq, 4);
  }

  // A position past the inbox (say, kept from before a restore) still
  // gets what comes next.
  {
    await using toy = await toySocket(server, family, "&after=999");
    await settle(toy);
    const next = await sendVoice(server, family);
    const e = await toy.next(isChat);
    assert.equal(e.chat, next);
    assert.equal(e.seq, 5);
  }
});

Deno.test("socket authentication and ownership are checked before the upgrade", async () => {
  await using server = await startTestServer();
  const mine = await newFamily(server);
  const theirs = await newFamily(server);
  const status = async (path: string) => {
    const raw = await rawHandshake(server, path);
    raw.conn.close();
    return raw.status;
  };

  assert.equal(await status(`/app/${mine.userId}?token=${mine.token}`), 101);
  assert.equal(
    await status(`/toy/${mine.toyId}?token=${mine.toyToken}`),
    101,
  );
  assert.equal(
    await status(`/toy/${mine.toyId}?device_key=${mine.deviceKey}`),
    101,
  );

  // No token, or one nobody issued: 401.
  assert.equal(await status(`/app/${mine.userId}`), 401);
  assert.equal(await status(`/toy/${mine.toyId}`), 401);
  assert.equal(
    await status(`/app/${mine.userId}?token=${"a".repeat(64)}`),
    401,
  );
  // Someone else's id: 403.
  assert.equal(await status(`/app/${theirs.userId}?token=${mine.token}`), 403);
  assert.equal(
    await status(`/toy/${theirs.toyId}?token=${mine.toyToken}`),
    403,
  );
  assert.equal(
    await status(`/toy/${theirs.toyId}?device_key=${mine.deviceKey}`),
    403,
  );
  assert.equal(
    await status(`/toy/${mine.toyId}?device_key=${"0".repeat(32)}`),
    403,
  );
  // The parent's token is not the toy's, nor the toy's the parent's.
  assert.equal(await status(`/toy/${mine.toyId}?token=${mine.token}`), 403);
  assert.equal(
    await status(`/app/${mine.userId}?token=${mine.toyToken}`),
    403,
  );
  assert.equal(await status(`/app/${mine.toyId}?token=${mine.token}`), 403);
  // Not an id, or not an upgrade: 400 in the contract's envelope.
  assert.equal(await status(`/app/nope?token=${mine.token}`), 400);
  const plain = await fetch(
    `${server.url}/app/${mine.userId}?token=${mine.token}`,
  );
  assert.equal(plain.status, 400);
  assert.deepEqual(Object.keys(await plain.json()).sort(), [
    "code",
    "data",
    "msg",
  ]);

  // A logged-out token stops working for sockets too.
  ok(await post(server, "/logout", {}, mine.token));
  assert.equal(await status(`/app/${mine.userId}?token=${mine.token}`), 401);
  await until(
    async () => {
      const text = await (await fetch(server.url + "/metrics")).text();
      return /^babble_sockets 0$/m.test(text);
    },
    "the accepted test sockets are gone",
  );
});

Deno.test("a socket that does not answer pings is closed after the idle timeout", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  // The same store and routes, served with a 1 s keepalive.
  const hub = new Hub(server.kv, server.deps.log, server.deps.metrics);
  const sockets = toySocketsEndpoint(server.deps, hub, { idleTimeoutSec: 1 });
  const app = createApp(server.deps, [toyApiFeature()]);
  await using quick = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => sockets.handle(req, info) ?? app.fetch(req, info),
  );
  try {
    const url = `http://127.0.0.1:${quick.addr.port}`;
    const raw = await rawHandshake(
      { url },
      `/toy/${family.toyId}?token=${family.toyToken}`,
    );
    assert.equal(raw.status, 101);
    const reader = new RawFrameReader(raw.conn, raw.rest);
    const started = Date.now();
    const seen: number[] = [];
    let code = 0;
    try {
      for (;;) {
        const frame = await reader.next();
        if (!frame) break;
        seen.push(frame.opcode);
        if (frame.opcode === 8) {
          code = closeCode(frame);
          break;
        }
      }
    } finally {
      raw.conn.close();
    }
    assert.ok(seen.includes(9), "the server pinged");
    assert.equal(code, 1001);
    assert.ok(Date.now() - started < 5_000);
    await until(() => hub.socketCount() === 0, "unregistered");
  } finally {
    await sockets.close?.();
  }
});

Deno.test("a relayed frame keeps the sender's other fields; the server sets from_user, type and id", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  await using app = await appSocket(server, family);
  await using toy = await toySocket(server, family);

  const extras = {
    volume: 7,
    loop: false,
    playlist: ["a.mp3", "b.mp3"],
    meta: { title: "Twinkle", nested: { n: 1 } },
  };
  app.send({ to_user: family.toyId, type: "typing", id: "mine", ...extras });
  const got = await toy.next((f) => f.type === "typing");
  assert.deepEqual(
    {
      volume: got.volume,
      loop: got.loop,
      playlist: got.playlist,
      meta: got.meta,
    },
    extras,
  );
  assert.equal(got.from_user, family.userId);
  assert.equal(got.to_user, family.toyId);
  assert.notEqual(got.id, "mine");
  assert.match(got.id as string, /^[0-9a-f]{24}$/);
});
