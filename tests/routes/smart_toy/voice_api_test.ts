import assert from "node:assert/strict";
import { mp3AudioFrames } from "../../../domain/audio/transcoder.ts";
import { unreadCounts } from "../../../domain/smart_toy/messages.ts";
import { type RunningServer } from "../../../main.ts";
import { startTestServer } from "../../_server.ts";
import {
  appSocket,
  assertError,
  befriendToys,
  countKeys,
  type Family,
  fixture,
  newFamily,
  ok,
  post,
  type Reply,
  toySocket,
  upload,
} from "../../_family.ts";

/**
 * Voice messages over HTTP, end to end with the real ffmpeg.wasm pool:
 * /app_uploader and /toy_uploader, /get_chat streaming, /chat_list,
 * /recv_msg and the unread counts /auto_login shows; refused uploads that
 * leave nothing behind; who may send and read what.
 */

const FILENAME = /^[0-9a-f]{32}\.mp3$/;

function appUpload(
  server: { url: string },
  f: Family,
  bytes: Uint8Array<ArrayBuffer>,
  { to = f.toyId, userId = f.userId, token = f.token } = {},
): Promise<Reply> {
  return upload(server, "/app_uploader", { to_user: to, user_id: userId }, {
    field: "reco_file",
    bytes,
  }, token);
}

function toyUpload(
  server: { url: string },
  f: Family,
  bytes: Uint8Array<ArrayBuffer>,
  { to = f.userId, userId = f.toyId, token = f.toyToken } = {},
): Promise<Reply> {
  return upload(
    server,
    "/toy_uploader",
    {
      to_user: to,
      user_id: userId,
      friend_type: "toy",
    },
    { field: "reco", bytes },
    token,
  );
}

async function unread(server: { url: string }, f: Family) {
  return ok(await post(server, "/auto_login", { _id: f.userId }, f.token)).chat;
}

/** What a refused upload must not have left behind. */
async function snapshot(server: RunningServer, f: Family) {
  return {
    blobs: await countKeys(server.kv, ["blob_meta"]),
    chunks: await countKeys(server.kv, ["blobs"]),
    toyInbox: await countKeys(server.kv, ["inbox", f.toyId]),
    parentInbox: await countKeys(server.kv, ["inbox", f.userId]),
    history: ok(
      await post(server, "/chat_list", { chat_id: f.chatId }, f.token),
    ).length,
    unread: await unread(server, f),
    toyUnread: (await unreadCounts(server.kv, f.toyId)).count,
  };
}

/** An AMR-NB clip of `repeats` × the 10 s fixture (header once, frames repeated). */
async function longAmr(repeats: number): Promise<Uint8Array<ArrayBuffer>> {
  const clip = await fixture("speech10.amr");
  const frames = clip.subarray(6);
  const out = new Uint8Array(6 + frames.length * repeats);
  out.set(clip.subarray(0, 6));
  for (let i = 0; i < repeats; i++) out.set(frames, 6 + i * frames.length);
  return out;
}

Deno.test("AMR, WAV, WebM/Opus and MP3 uploads stream back as MP3 of about 3 s, with Range", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  for (
    const name of ["speech.amr", "speech.wav", "speech.webm", "speech.mp3"]
  ) {
    const data = ok(await appUpload(server, family, await fixture(name)));
    assert.match(data.filename, FILENAME, name);
    assert.equal(data.friend_type, "app");

    const res = await fetch(`${server.url}/get_chat/${data.filename}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get("content-type"), "audio/mpeg");
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    const mp3 = new Uint8Array(await res.arrayBuffer());
    assert.equal(Number(res.headers.get("content-length")), mp3.length);
    const { frames, seconds } = mp3AudioFrames(mp3);
    assert.ok(frames > 0, `${name}: MPEG frames`);
    assert.ok(Math.abs(seconds - 3) <= 0.5, `${name}: ${seconds} s of audio`);

    const part = await fetch(`${server.url}/get_chat/${data.filename}`, {
      headers: { range: "bytes=100-1099" },
    });
    assert.equal(part.status, 206, name);
    assert.equal(
      part.headers.get("content-range"),
      `bytes 100-1099/${mp3.length}`,
    );
    assert.deepEqual(
      new Uint8Array(await part.arrayBuffer()),
      mp3.subarray(100, 1100),
    );
    const tail = await fetch(`${server.url}/get_chat/${data.filename}`, {
      headers: { range: "bytes=-64" },
    });
    assert.equal(tail.status, 206);
    assert.deepEqual(
      new Uint8Array(await tail.arrayBuffer()),
      mp3.subarray(mp3.length - 64),
    );
  }
  const history = ok(
    await post(server, "/chat_list", { chat_id: family.chatId }, family.token),
  );
  assert.equal(history.length, 4);

  const missing = await fetch(`${server.url}/get_chat/${"0".repeat(32)}.mp3`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("toy → app: auto_login counts unread messages; chat_list reads and clears them", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  await using app = await appSocket(server, family);
  assert.deepEqual(await unread(server, family), { count: 0 });

  const first = ok(
    await toyUpload(server, family, await fixture("speech.wav")),
  );
  assert.equal(first.friend_type, "toy");
  assert.deepEqual(await unread(server, family), {
    count: 1,
    [family.toyId]: 1,
  });
  const event = await app.next((f) => f.type === "chat");
  assert.equal(event.chat, first.filename);
  assert.equal(event.from_user, family.toyId);
  assert.equal(event.to_user, family.userId);
  assert.equal(event.friend_type, "toy");
  assert.equal(event.chat_id, family.chatId);

  const second = ok(
    await toyUpload(server, family, await fixture("speech.amr")),
  );
  assert.deepEqual(await unread(server, family), {
    count: 2,
    [family.toyId]: 2,
  });

  const history = ok(
    await post(server, "/chat_list", { chat_id: family.chatId }, family.token),
  );
  assert.deepEqual(
    history.map((m: { chat: string }) => m.chat),
    [first.filename, second.filename],
  );
  for (const m of history) {
    assert.equal(m.message, m.chat);
    assert.equal(m.from_user, family.toyId);
    assert.equal(m.to_user, family.userId);
    assert.equal(typeof m.create_time, "number");
    assert.match(m._id, /^[0-9a-f]{24}$/);
  }
  assert.ok(history[0].create_time <= history[1].create_time);
  assert.deepEqual(await unread(server, family), { count: 0 });

  // Paging: the latest one, then the one before it.
  const latest = ok(
    await post(server, "/chat_list", {
      chat_id: family.chatId,
      limit: 1,
    }, family.token),
  );
  assert.deepEqual(latest.map((m: { chat: string }) => m.chat), [
    second.filename,
  ]);
  const older = ok(
    await post(server, "/chat_list", {
      chat_id: family.chatId,
      before: latest[0]._id,
    }, family.token),
  );
  assert.deepEqual(older.map((m: { chat: string }) => m.chat), [
    first.filename,
  ]);
});

Deno.test("app → toy: recv_msg returns the unread messages once, then []", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  const sent = [
    ok(await appUpload(server, family, await fixture("speech.amr"))),
    ok(await appUpload(server, family, await fixture("speech.webm"))),
  ];
  // The seed's toy also sends its device key: an extra field is ignored.
  const recv = () =>
    post(server, "/recv_msg", {
      from_user: family.userId,
      to_user: family.toyId,
      device_key: family.deviceKey,
    }, family.toyToken);

  const got = await recv();
  assert.equal(got.status, 200);
  assert.ok(Array.isArray(got.body), "recv_msg replies a bare array");
  assert.deepEqual(
    got.body.map((m: { chat: string }) => m.chat),
    sent.map((s) => s.filename),
  );
  for (const m of got.body) {
    assert.equal(m.message, m.chat);
    assert.equal(m.from_user, family.userId);
    assert.equal(m.to_user, family.toyId);
    assert.equal(m.friend_type, "app");
  }
  assert.deepEqual((await recv()).body, []);

  const third = ok(
    await appUpload(server, family, await fixture("speech.wav")),
  );
  assert.deepEqual(
    (await recv()).body.map((m: { chat: string }) => m.chat),
    [third.filename],
  );
  assert.deepEqual((await recv()).body, []);
});

Deno.test("not audio, header-only and oversized uploads: 415/413, nothing stored, the pool still works", async () => {
  // 8 KB: speech.amr (4.8 KB) fits; speech10.amr (16 KB) is refused by the
  // audio limit, speech.wav (96 KB) already by the body limit.
  await using server = await startTestServer({ maxUploadBytes: 8_000 });
  const family = await newFamily(server);
  await using toy = await toySocket(server, family);
  const before = await snapshot(server, family);
  const amr = await fixture("speech.amr");
  const wav = await fixture("speech.wav");

  const cases: [string, Uint8Array<ArrayBuffer>, number][] = [
    ["not audio", await fixture("not_audio.bin"), 415],
    ["AMR header only", amr.slice(0, 6), 415],
    ["AMR cut after 20 bytes", amr.slice(0, 20), 415],
    ["WAV header only", wav.slice(0, 44), 415],
    ["empty file", new Uint8Array(), 415],
    ["over maxUploadBytes", await fixture("speech10.amr"), 413],
    ["over the body limit", wav, 413],
  ];
  for (const [what, bytes, status] of cases) {
    const reply = await appUpload(server, family, bytes);
    assertError(reply, status);
    assert.ok(reply.body.msg.length > 10, `${what}: ${reply.body.msg}`);
    if (status === 413) {
      // The limit quoted is the configured one, whichever check refused.
      assert.match(
        reply.body.msg,
        /\b8000 bytes/,
        `${what}: ${reply.body.msg}`,
      );
    }
    const toyReply = await toyUpload(server, family, bytes);
    assertError(toyReply, status);
  }
  assert.deepEqual(await snapshot(server, family), before);
  await toy.nothing((f) => f.type === "chat", 100);

  // A good upload right after goes through the same pool.
  const good = ok(await appUpload(server, family, amr));
  const event = await toy.next((f) => f.type === "chat");
  assert.equal(event.chat, good.filename);
  assert.equal(event.seq, 1, "refused uploads took no inbox position");
});

Deno.test("a worker that crashes mid-upload: that upload fails with 503, nothing is stored, the next succeeds", async () => {
  // This worker crashes 300 ms into any job above 500 kB, as an
  // ffmpeg.wasm trap would; ten minutes of AMR is such a job.
  await using server = await startTestServer({}, {
    transcoderWorker: new URL(
      "../../fixtures/crashing_worker.ts",
      import.meta.url,
    ),
  });
  const transcoder = server.deps.transcoder!;
  const family = await newFamily(server);
  const before = await snapshot(server, family);

  const reply = await appUpload(server, family, await longAmr(60));
  assertError(reply, 503);
  assert.match(reply.body.msg, /worker/);
  assert.deepEqual(await snapshot(server, family), before);

  const next = ok(await appUpload(server, family, await fixture("speech.amr")));
  assert.match(next.filename, FILENAME);
  assert.deepEqual(
    [transcoder.stats().completed, transcoder.stats().failed],
    [1, 1],
  );
});

Deno.test("uploads and reads are refused across families", async () => {
  await using server = await startTestServer();
  const mine = await newFamily(server);
  const theirs = await newFamily(server);
  const before = await snapshot(server, mine);
  const amr = await fixture("speech.amr");

  // No token, or a bad one: 401.
  assertError(await appUpload(server, mine, amr, { token: "" }), 401);
  assertError(
    await appUpload(server, mine, amr, { token: "f".repeat(64) }),
    401,
  );
  assertError(await toyUpload(server, mine, amr, { token: "" }), 401);
  assertError(
    await post(server, "/chat_list", { chat_id: mine.chatId }),
    401,
  );
  assertError(
    await post(server, "/recv_msg", {
      from_user: mine.userId,
      to_user: mine.toyId,
    }),
    401,
  );

  // The app may send only to friends, only as itself.
  assertError(
    await appUpload(server, mine, amr, { to: theirs.toyId }),
    403,
  );
  assertError(
    await appUpload(server, mine, amr, { to: theirs.userId }),
    403,
  );
  assertError(
    await appUpload(server, mine, amr, { userId: theirs.userId }),
    403,
  );
  assertError(
    await appUpload(server, mine, amr, { token: mine.toyToken }),
    403,
  );

  // A toy (or its parent) uploads only as its own toy, only to friends.
  assertError(
    await toyUpload(server, mine, amr, { userId: theirs.toyId }),
    403,
  );
  assertError(
    await toyUpload(server, mine, amr, {
      userId: theirs.toyId,
      token: mine.token,
    }),
    403,
  );
  assertError(
    await toyUpload(server, mine, amr, { to: theirs.userId }),
    403,
  );
  assertError(
    await toyUpload(server, mine, amr, { to: theirs.toyId }),
    403,
  );

  // Nobody reads another family's chat or unread messages.
  assertError(
    await post(server, "/chat_list", { chat_id: theirs.chatId }, mine.token),
    403,
  );
  assertError(
    await post(
      server,
      "/chat_list",
      { chat_id: theirs.chatId },
      mine.toyToken,
    ),
    403,
  );
  assertError(
    await post(server, "/recv_msg", {
      from_user: theirs.userId,
      to_user: theirs.toyId,
    }, mine.toyToken),
    403,
  );
  assertError(
    await post(server, "/recv_msg", {
      from_user: theirs.userId,
      to_user: theirs.toyId,
    }, mine.token),
    403,
  );
  assert.deepEqual(await snapshot(server, mine), before);

  // A parent may upload as its own toy and read its toy's chats.
  ok(await toyUpload(server, mine, amr, { token: mine.token }));
  const toyChat = await befriendToys(server, mine, theirs);
  ok(await toyUpload(server, mine, amr, { to: theirs.toyId }));
  const read = ok(
    await post(server, "/chat_list", { chat_id: toyChat }, theirs.token),
  );
  assert.equal(read.length, 1);
  assert.equal(read[0].from_user, mine.toyId);
  // ... without clearing the toy's own unread count.
  const toyReceived = await post(server, "/recv_msg", {
    from_user: mine.toyId,
    to_user: theirs.toyId,
  }, theirs.toyToken);
  assert.equal(toyReceived.body.length, 1);
  const third = await newFamily(server);
  assertError(
    await post(server, "/chat_list", { chat_id: toyChat }, third.token),
    403,
  );
});

Deno.test("/openapi.json documents the voice routes with their replies", async () => {
  await using server = await startTestServer();
  const spec = await (await fetch(`${server.url}/openapi.json`)).json();
  for (
    const path of ["/app_uploader", "/toy_uploader", "/chat_list", "/recv_msg"]
  ) {
    const op = spec.paths[path]?.post;
    assert.ok(op, `${path} is documented`);
    assert.ok(op.responses?.["200"], `${path} documents its reply`);
  }
});
