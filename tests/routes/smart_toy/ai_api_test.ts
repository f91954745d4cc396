import assert from "node:assert/strict";
import type { Config } from "../../../domain/platform/config.ts";
import { upsertContent } from "../../../domain/smart_toy/content.ts";
import { mp3AudioFrames } from "../../../domain/audio/transcoder.ts";
import type { RunningServer } from "../../../main.ts";
import { startTestServer } from "../../_server.ts";
import {
  appSocket,
  assertError,
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
import {
  type FakeOpenAi,
  startFakeOpenAi,
  unreachableUrl,
} from "../../_fake_openai.ts";

/**
 * `POST /ai_uploader` end to end: a real recording (WAV, AMR, MP3, WebM)
 * through the real ffmpeg.wasm pool, a fake OpenAI-compatible provider on
 * 127.0.0.1 that hears what each test scripts, and the three bare replies
 * of seed 002 — play, message a friend, a spoken answer. Providers that
 * fail or are missing give a clear envelope error and leave nothing
 * behind; an answer's reply leaves after its first sentence and its file
 * streams while the rest is spoken; who may ask and who may set a toy's
 * AI profile.
 */

const MP3_FILE = /^[0-9a-f]{32}\.mp3$/;

/** A server whose three providers are the fake, plus the fake. */
async function aiServer(
  overrides: Partial<Config> = {},
): Promise<
  & { server: RunningServer & AsyncDisposable; fake: FakeOpenAi }
  & AsyncDisposable
> {
  const fake = await startFakeOpenAi();
  try {
    const server = await startTestServer({
      sttUrl: fake.url,
      chatUrl: fake.url,
      ttsUrl: fake.url,
      sttTimeoutMs: 2_000,
      chatTimeoutMs: 2_000,
      ttsTimeoutMs: 2_000,
      ...overrides,
    });
    return {
      server,
      fake,
      async [Symbol.asyncDispose]() {
        await server.close();
        await fake.close();
      },
    };
  } catch (err) {
    await fake.close();
    throw err;
  }
}

/** The toy uploads a recording to /ai_uploader. */
async function ask(
  server: { url: string },
  f: Family,
  { recording = "speech.mp3", toyId = f.toyId, token = f.toyToken, query = "" }:
    {
      recording?: string;
      toyId?: string;
      token?: string;
      query?: string;
    } = {},
): Promise<Reply> {
  return await upload(
    { url: server.url },
    `/ai_uploader${query}`,
    { toy_id: toyId },
    { field: "reco", bytes: await fixture(recording), name: "reco.wav" },
    token || undefined,
  );
}

/** Adds a Chinese title to the library (the built-ins are English). */
async function addTitle(server: RunningServer, title: string) {
  const mp3 = await Deno.readFile(
    new URL("../../../static/content/twinkle_star.mp3", import.meta.url),
  );
  return (await upsertContent(server.kv, { title, mp3, category: "song" }))
    .item;
}

/** The library item titled `title`. */
async function titled(server: { url: string }, title: string) {
  const list = ok(await post(server, "/content_list", {}));
  const item = list.find((c: { title: string }) => c.title === title);
  assert.ok(item, `no content titled ${title}`);
  return item as { _id: string; music: string };
}

/** Makes `a`'s toy and `b`'s toy friends, `a`'s toy calling `b`'s `name`. */
async function befriend(
  server: { url: string },
  a: Family,
  b: Family,
  name: string,
): Promise<void> {
  const { req_id } = ok(
    await post(server, "/add_req", {
      req_user: a.toyId,
      add_user: b.toyId,
      type: "toy",
      req_info: "hi",
      remark: name,
    }, a.token),
  );
  ok(await post(server, "/acc_req", { req_id, remark: "pal" }, b.token));
}

/** Fetches a chat file and checks it is MP3 audio. */
async function assertChatAudio(server: { url: string }, file: string) {
  const res = await fetch(`${server.url}/get_chat/${file}`);
  assert.equal(res.status, 200, file);
  assert.equal(res.headers.get("content-type"), "audio/mpeg");
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.ok(bytes.length > 100, "holds audio");
}

/** Everything a refused request must not have left. */
async function stored(server: RunningServer) {
  return {
    blobs: await countKeys(server.kv, ["blob_meta"]),
    chunks: await countKeys(server.kv, ["blobs"]),
    answers: await countKeys(server.kv, ["ai_answers"]),
    memory: await countKeys(server.kv, ["ai_memory"]),
  };
}

Deno.test("play: the child names content in Chinese (a misheard title still plays)", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const star = await addTitle(server, "小星星");
  const pigs = await addTitle(server, "三只小猪");
  const f = await newFamily(server);

  fake.transcripts = ["放小猩猩。"];
  const misheard = await ask(server, f, { recording: "speech.wav" });
  assert.equal(misheard.status, 200, JSON.stringify(misheard.body));
  assert.deepEqual(misheard.body, { from_user: "ai", music: star.music });

  fake.transcripts = ["我想听三只小猪"];
  const named = await ask(server, f, { recording: "speech.amr" });
  assert.deepEqual(named.body, { from_user: "ai", music: pigs.music });

  assert.equal(fake.requests.stt.length, 2);
  assert.equal(fake.requests.chat.length, 0, "keyword intents need no chat");
  const music = await fetch(`${server.url}/get_music/${star.music}`);
  assert.equal(music.status, 200);
  await music.body?.cancel();
});

Deno.test("play: the child names content in English, partly or misheard", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  const twinkle = await titled(server, "Twinkle Twinkle Little Star");
  const pigs = await titled(server, "The Three Little Pigs");

  fake.transcripts = ["Play twinkle twinkle!"];
  const partial = await ask(server, f, { recording: "speech.webm" });
  assert.deepEqual(partial.body, { from_user: "ai", music: twinkle.music });

  fake.transcripts = ["I want to hear the three little pics"];
  const misheard = await ask(server, f);
  assert.deepEqual(misheard.body, { from_user: "ai", music: pigs.music });
  assert.equal(fake.requests.chat.length, 0);
});

Deno.test("message: the child asks to message a friend, in Chinese and English", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  const lily = await newFamily(server);
  await befriend(server, f, lily, "Lily");

  fake.transcripts = ["给爸爸发消息"];
  const toDad = await ask(server, f, { recording: "speech.wav" });
  assert.equal(toDad.status, 200, JSON.stringify(toDad.body));
  assert.deepEqual(Object.keys(toDad.body).sort(), [
    "chat",
    "friend_type",
    "from_user",
  ]);
  assert.equal(toDad.body.from_user, f.userId);
  assert.equal(toDad.body.friend_type, "app");
  await assertChatAudio(server, toDad.body.chat);
  assert.equal(fake.requests.tts.at(-1)?.input, "好的，现在跟Dad说吧。");

  fake.transcripts = ["Send a message to Lilly."];
  const toLily = await ask(server, f);
  assert.equal(toLily.body.from_user, lily.toyId);
  assert.equal(toLily.body.friend_type, "toy");
  await assertChatAudio(server, toLily.body.chat);
  assert.equal(fake.requests.tts.at(-1)?.input, "OK, talk to Lily now.");
  assert.equal(fake.requests.chat.length, 0);

  // The prompt is spoken once and reused.
  const spoken = fake.requests.tts.length;
  const again = await ask(server, f);
  assert.equal(again.body.chat, toLily.body.chat);
  assert.equal(fake.requests.tts.length, spoken);
});

Deno.test("answer: an unrelated sentence gets a spoken answer, not a song", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.transcripts = ["Why do cats purr?"];
  fake.answers = [
    "Cats purr when they feel happy and safe. It is a little rumble in their throat! Some cats purr to feel better, too.",
  ];
  const before = await countKeys(server.kv, ["blob_meta"]);
  const reply = await ask(server, f, { recording: "speech.wav" });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.deepEqual(Object.keys(reply.body).sort(), ["chat", "from_user"]);
  assert.equal(reply.body.from_user, "ai");
  assert.match(reply.body.chat, MP3_FILE);
  await assertChatAudio(server, reply.body.chat);
  assert.equal(await countKeys(server.kv, ["blob_meta"]), before + 1);

  const [chat] = fake.requests.chat;
  assert.equal(chat.stream, true);
  assert.equal(chat.messages[0].role, "system");
  assert.match(chat.messages[0].content, /Babble.*6-year-old.*English/s);
  assert.deepEqual(chat.messages.at(-1), {
    role: "user",
    content: "Why do cats purr?",
  });
  // Spoken sentence by sentence, in order.
  assert.deepEqual(fake.requests.tts.map((t) => t.input), [
    "Cats purr when they feel happy and safe.",
    "It is a little rumble in their throat!",
    "Some cats purr to feel better, too.",
  ]);
  const timing = await fetch(`${server.url}/metrics`).then((r) => r.text());
  for (const stage of ["transcode", "stt", "intent", "chat", "tts", "store"]) {
    assert.match(
      timing,
      new RegExp(`babble_ai_stage_seconds_count\\{stage="${stage}"\\} 1`),
    );
  }
});

Deno.test("answer in Chinese; a name that is not a friend's falls through to an answer", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.transcripts = ["天空为什么是蓝色的？"];
  fake.answers = ["因为阳光里的蓝光被空气散开了。所以我们看到蓝天！"];
  const zh = await ask(server, f, { recording: "speech.amr" });
  assert.equal(zh.body.from_user, "ai");
  await assertChatAudio(server, zh.body.chat);
  assert.match(fake.requests.chat[0].messages[0].content, /简体中文/);
  assert.deepEqual(fake.requests.tts.map((t) => t.input), [
    "因为阳光里的蓝光被空气散开了。",
    "所以我们看到蓝天！",
  ]);

  fake.transcripts = ["send a message to Tom"];
  fake.answers = ["Tom is not on your friend list yet."];
  const stranger = await ask(server, f);
  assert.equal(stranger.body.from_user, "ai");
  assert.equal(stranger.body.friend_type, undefined);
  assert.equal(
    fake.requests.chat.at(-1)?.messages.at(-1)?.content,
    "send a message to Tom",
  );
});

Deno.test("silence: nothing heard gets a spoken 'say it again', no chat call", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.transcripts = ["   "];
  const reply = await ask(server, f);
  assert.equal(reply.body.from_user, "ai");
  await assertChatAudio(server, reply.body.chat);
  assert.match(fake.requests.tts[0].input, /say it again/);
  assert.equal(fake.requests.chat.length, 0);
});

Deno.test("answer: a provider that ignores stream:true still answers", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.streaming = false;
  fake.transcripts = ["what is a rainbow"];
  fake.answers = ["A rainbow is sunlight split into colours. It needs rain!"];
  const reply = await ask(server, f);
  assert.equal(reply.body.from_user, "ai");
  await assertChatAudio(server, reply.body.chat);
  assert.equal(fake.requests.tts.length, 2);
});

Deno.test("safety: a sentence with a blocked word or an avoided topic is not spoken", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  ok(
    await post(server, "/ai_profile/set", {
      toy_id: f.toyId,
      avoid_topics: "dinosaurs, 恐龙",
    }, f.token),
  );
  fake.transcripts = ["tell me something"];
  fake.answers = [
    "Guns are loud. Dinosaurs lived long ago. Butterflies taste with their feet!",
  ];
  const reply = await ask(server, f);
  assert.equal(reply.body.from_user, "ai");
  assert.deepEqual(fake.requests.tts.map((t) => t.input), [
    "Butterflies taste with their feet!",
  ]);
  assert.match(
    fake.requests.chat[0].messages[0].content,
    /Do not talk about these topics: dinosaurs, 恐龙/,
  );

  // Nothing left to say: a kind fallback instead.
  fake.answers = ["You can kill time with a gun."];
  const fallback = await ask(server, f);
  assert.equal(fallback.body.from_user, "ai");
  assert.match(fake.requests.tts.at(-1)!.input, /ask a grown-up/);
});

Deno.test("memory: a follow-up carries the previous turn until the parent clears it", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.transcripts = ["How big is the moon?", "And the sun?", "And the sun?"];
  fake.answers = ["The moon is about a quarter as wide as Earth."];
  assert.equal((await ask(server, f)).status, 200);
  await ask(server, f);
  const followUp = fake.requests.chat[1].messages.map((m) => m.content);
  assert.deepEqual(followUp.slice(1), [
    "How big is the moon?",
    "The moon is about a quarter as wide as Earth.",
    "And the sun?",
  ]);

  ok(await post(server, "/ai_memory/clear", { toy_id: f.toyId }, f.token));
  await ask(server, f);
  const fresh = fake.requests.chat[2].messages;
  assert.equal(fresh.length, 2, "system prompt and the question only");
  assert.equal(fresh[1].content, "And the sun?");
});

for (
  const [step, mode, status] of [
    ["stt", "down", 503],
    ["stt", "slow", 504],
    ["stt", "garbage", 502],
    ["chat", "down", 503],
    ["chat", "slow", 504],
    ["chat", "garbage", 502],
    ["tts", "down", 503],
    ["tts", "slow", 504],
    ["tts", "garbage", 502],
  ] as const
) {
  Deno.test(`${step} provider ${mode}: a clear ${status}, nothing stored, the socket unaffected, the next request fine`, async () => {
    await using ai = await aiServer({
      sttTimeoutMs: 300,
      chatTimeoutMs: 300,
      ttsTimeoutMs: 300,
    });
    const { server, fake } = ai;
    const f = await newFamily(server);
    await using toy = await toySocket(server, f);
    await using app = await appSocket(server, f);
    fake.transcripts = ["why is grass green"];
    fake.answers = ["Grass has green stuff inside. It helps it eat sunlight."];
    const before = await stored(server);

    fake.modes[step] = mode;
    const failed = await ask(server, f);
    assertError(failed, status);
    const name = { stt: "speech-to-text", chat: "chat", tts: "speech" }[step];
    assert.match(failed.body.msg, new RegExp(`the ${name} provider`));
    assert.deepEqual(await stored(server), before, "nothing stored");
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
    assert.match(
      metrics,
      new RegExp(
        `babble_ai_provider_failures_total\\{step="${step}",status="${status}"\\} 1`,
      ),
    );

    toy.send({ to_user: f.userId, type: "music", music: "still.mp3" });
    const relayed = await app.next((frame) => frame.music === "still.mp3");
    assert.equal(relayed.from_user, f.toyId);

    fake.modes[step] = "ok";
    const fine = await ask(server, f);
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
    assert.equal(fine.body.from_user, "ai");
  });
}

Deno.test("a provider nobody listens on: 503, nothing stored", async () => {
  await using ai = await aiServer({ chatUrl: unreachableUrl() });
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.transcripts = ["why is the sea salty"];
  const before = await stored(server);
  const failed = await ask(server, f);
  assertError(failed, 503);
  assert.match(failed.body.msg, /chat provider cannot be reached/);
  assert.deepEqual(await stored(server), before);
});

/** MPEG frames in `bytes`, and in one sentence of the fake's speech. */
function frames(bytes: Uint8Array): number {
  return mp3AudioFrames(bytes).frames;
}

const FOUR_SENTENCES =
  "Owls can turn their heads very far. They hunt at night. Their feathers make no sound. Baby owls are called owlets.";

Deno.test("a slow answer: the reply leaves after the first sentence, and /get_chat streams every sentence as it is spoken", async () => {
  await using ai = await aiServer({ chatTimeoutMs: 10_000 });
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.transcripts = ["tell me about owls"];
  fake.answers = [FOUR_SENTENCES];
  fake.modes.chat = "trickle";
  fake.trickleMs = 60;

  const reply = await ask(server, f);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(fake.chatStreamsDone, 0, "the model is still writing");
  assert.deepEqual(Object.keys(reply.body).sort(), ["chat", "from_user"]);
  assert.match(reply.body.chat, MP3_FILE);

  const res = await fetch(`${server.url}/get_chat/${reply.body.chat}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "audio/mpeg");
  assert.equal(res.headers.get("content-length"), null, "still growing");
  const audio = new Uint8Array(await res.arrayBuffer());
  assert.equal(fake.chatStreamsDone, 1);
  assert.deepEqual(fake.requests.tts.map((t) => t.input), [
    "Owls can turn their heads very far.",
    "They hunt at night.",
    "Their feathers make no sound.",
    "Baby owls are called owlets.",
  ]);
  assert.equal(audio[0], 0xff, "starts with an MPEG frame, no tag");
  assert.equal(frames(audio), 4 * frames(fake.speech), "every sentence");

  // Complete now: a plain file with a length and ranges.
  const again = await fetch(`${server.url}/get_chat/${reply.body.chat}`, {
    headers: { range: "bytes=0-99" },
  });
  assert.equal(again.status, 206);
  assert.deepEqual(
    new Uint8Array(await again.arrayBuffer()),
    audio.subarray(0, 100),
  );
  const memory = fake.requests.chat.length;
  fake.answers = ["Yes."];
  fake.modes.chat = "ok";
  await ask(server, f);
  assert.equal(fake.requests.chat.length, memory + 1);
  assert.equal(
    fake.requests.chat.at(-1)?.messages.at(-2)?.content,
    FOUR_SENTENCES,
    "the whole answer is remembered",
  );
});

for (
  const [what, fail] of [
    ["the speech provider fails", (fake: FakeOpenAi) => {
      fake.speechFailAfter = 1;
    }],
    ["the chat stream breaks off", (fake: FakeOpenAi) => {
      fake.chatCutAfter = 9;
    }],
  ] as const
) {
  Deno.test(`${what} after the first sentence: the file keeps what was spoken, logged and counted`, async () => {
    await using ai = await aiServer();
    const { server, fake } = ai;
    const f = await newFamily(server);
    fake.transcripts = ["tell me about owls"];
    fake.answers = [FOUR_SENTENCES];
    fake.modes.chat = "trickle";
    fail(fake);

    const reply = await ask(server, f);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const res = await fetch(`${server.url}/get_chat/${reply.body.chat}`);
    assert.equal(res.status, 200);
    const audio = new Uint8Array(await res.arrayBuffer());
    assert.equal(frames(audio), frames(fake.speech), "the first sentence");

    const complete = await fetch(`${server.url}/get_chat/${reply.body.chat}`, {
      method: "HEAD",
    });
    assert.equal(complete.headers.get("content-length"), String(audio.length));
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
    const step = fake.speechFailAfter === null ? "chat" : "tts";
    assert.match(
      metrics,
      new RegExp(`babble_ai_answers_cut_short_total\\{step="${step}"\\} 1`),
    );
  });
}

Deno.test("the chat stream breaks off before the first sentence: a clear error, nothing stored", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.transcripts = ["tell me about owls"];
  fake.answers = [FOUR_SENTENCES];
  fake.modes.chat = "trickle";
  fake.chatCutAfter = 3;
  const before = await stored(server);
  const failed = await ask(server, f);
  assertError(failed, 502);
  assert.match(failed.body.msg, /the chat provider/);
  assert.equal(fake.requests.tts.length, 0);
  assert.deepEqual(await stored(server), before, "nothing stored");
});

Deno.test("only speech-to-text configured: play and message work, an answer names what is missing", async () => {
  await using ai = await aiServer({
    chatUrl: undefined,
    ttsUrl: undefined,
  });
  const { server, fake } = ai;
  const f = await newFamily(server);
  const twinkle = await titled(server, "Twinkle Twinkle Little Star");

  fake.transcripts = ["play twinkle twinkle little star"];
  assert.deepEqual((await ask(server, f)).body, {
    from_user: "ai",
    music: twinkle.music,
  });

  fake.transcripts = ["给爸爸发个消息"];
  const message = await ask(server, f);
  assert.equal(message.body.from_user, f.userId);
  await assertChatAudio(server, message.body.chat); // the built-in chime

  fake.transcripts = ["why do birds sing"];
  const answer = await ask(server, f);
  assertError(answer, 503);
  assert.match(answer.body.msg, /chat \(--chat-url \/ BABBLE_CHAT_URL\)/);
  assert.match(answer.body.msg, /speech \(--tts-url \/ BABBLE_TTS_URL\)/);
  assert.deepEqual(answer.body.data, { missing: ["chat", "tts"] });
  assert.equal(fake.requests.chat.length + fake.requests.tts.length, 0);
});

Deno.test("no provider configured: the reply says the toy cannot listen", async () => {
  await using server = await startTestServer();
  const f = await newFamily(server);
  const reply = await ask(server, f);
  assertError(reply, 503);
  assert.match(
    reply.body.msg,
    /speech-to-text \(--stt-url \/ BABBLE_STT_URL\)/,
  );
});

Deno.test("authorization: another family's toy, a parent's token, no token, a wrong device key", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  const other = await newFamily(server);
  fake.transcripts = ["play twinkle twinkle"];

  assertError(await ask(server, f, { toyId: other.toyId }), 403);
  assertError(await ask(server, f, { token: f.token }), 403);
  assertError(await ask(server, f, { token: "" }), 401);
  assertError(
    await ask(server, f, {
      token: "",
      query: `?device_key=${other.deviceKey}`,
    }),
    403,
  );
  assertError(
    await ask(server, f, { token: "", query: `?device_key=${"0".repeat(32)}` }),
    401,
  );
  assert.equal(fake.requests.stt.length, 0, "refused before any provider");

  // The toy's own device key works, in the query or as a form field.
  const byKey = await ask(server, f, {
    token: "",
    query: `?device_key=${f.deviceKey}`,
  });
  assert.equal(byKey.status, 200, JSON.stringify(byKey.body));
  const form = new FormData();
  form.append("toy_id", f.toyId);
  form.append("device_key", f.deviceKey);
  form.append("reco", new Blob([await fixture("speech.mp3")]), "reco.mp3");
  const res = await fetch(`${server.url}/ai_uploader`, {
    method: "POST",
    body: form,
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).from_user, "ai");
});

Deno.test("bad input: not audio is 415, a missing recording 400, in the envelope", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  assertError(
    await ask(server, f, { recording: "not_audio.bin" }),
    415,
  );
  assertError(
    await post(server, "/ai_uploader", { toy_id: f.toyId }, f.toyToken),
    400,
  );
  assert.equal(fake.requests.stt.length, 0);
});

Deno.test("rate limit: a toy that keeps asking gets 429 with Retry-After", async () => {
  await using server = await startTestServer();
  const f = await newFamily(server);
  let last: Response | null = null;
  for (let i = 0; i < 21; i++) {
    const form = new FormData();
    form.append("toy_id", f.toyId);
    form.append("reco", new Blob([await fixture("speech.mp3")]), "r.mp3");
    last = await fetch(`${server.url}/ai_uploader`, {
      method: "POST",
      headers: { authorization: `Bearer ${f.toyToken}` },
      body: form,
    });
    const body = await last.json();
    if (i < 20) assert.equal(last.status, 503, JSON.stringify(body));
    else assert.equal(body.code, 429);
  }
  assert.equal(last!.status, 429);
  assert.match(last!.headers.get("retry-after") ?? "", /^\d+$/);
});

Deno.test("profile routes: the owner reads and sets; others are refused", async () => {
  await using ai = await aiServer();
  const { server, fake } = ai;
  const f = await newFamily(server);
  const other = await newFamily(server);

  const initial = ok(
    await post(server, "/ai_profile", { toy_id: f.toyId }, f.token),
  );
  assert.equal(initial.persona_name, "Babble");
  assert.equal(initial.language, "auto");
  assert.deepEqual(initial.providers, { stt: true, chat: true, tts: true });
  assert.equal(initial.keep_transcripts, false);

  const set = ok(
    await post(server, "/ai_profile/set", {
      toy_id: f.toyId,
      persona_name: "小熊",
      child_age: "4",
      language: "zh",
      avoid_topics: ["ghosts"],
    }, f.token),
  );
  assert.equal(set.persona_name, "小熊");
  assert.equal(set.child_age, 4);
  assert.deepEqual(set.avoid_topics, ["ghosts"]);
  const read = ok(
    await post(server, "/ai_profile", { toy_id: f.toyId }, f.token),
  );
  assert.equal(read.language, "zh");

  // The toy now listens and answers in Chinese, whatever it hears.
  fake.transcripts = ["what is snow"];
  fake.answers = ["雪是天上掉下来的小冰花。"];
  await ask(server, f);
  assert.equal(fake.requests.stt[0].language, "zh");
  assert.match(fake.requests.chat[0].messages[0].content, /你是小熊.*4岁/s);

  for (
    const path of [
      "/ai_profile",
      "/ai_profile/set",
      "/ai_memory/clear",
      "/ai_transcripts",
      "/ai_transcripts/clear",
    ]
  ) {
    assertError(
      await post(server, path, { toy_id: f.toyId }, other.token),
      403,
    );
    assertError(
      await post(server, path, { toy_id: f.toyId }, f.toyToken),
      403,
    );
    assertError(await post(server, path, { toy_id: f.toyId }), 401);
  }
  assertError(
    await post(server, "/ai_profile/set", {
      toy_id: f.toyId,
      child_age: 99,
    }, f.token),
    400,
  );
  const unchanged = ok(
    await post(server, "/ai_profile", { toy_id: f.toyId }, f.token),
  );
  assert.equal(unchanged.child_age, 4);
});

Deno.test("transcripts: kept for the parent only when the operator turns them on", async () => {
  {
    await using ai = await aiServer();
    const { server, fake } = ai;
    const f = await newFamily(server);
    fake.transcripts = ["play twinkle twinkle", "why is ice cold"];
    await ask(server, f);
    await ask(server, f);
    const off = await post(
      server,
      "/ai_transcripts",
      { toy_id: f.toyId },
      f.token,
    );
    assert.deepEqual(ok(off), []);
    assert.match(off.body.msg, /not kept/);
    assert.equal(await countKeys(server.kv, ["ai_transcripts"]), 0);
  }
  await using ai = await aiServer({ aiKeepTranscripts: true });
  const { server, fake } = ai;
  const f = await newFamily(server);
  fake.transcripts = ["play twinkle twinkle", "why is ice cold"];
  fake.answers = ["Ice is water that got very cold."];
  await ask(server, f);
  await ask(server, f);
  const list = ok(
    await post(server, "/ai_transcripts", { toy_id: f.toyId }, f.token),
  );
  assert.deepEqual(
    list.map((t: { heard: string; intent: string }) => [t.heard, t.intent]),
    [["why is ice cold", "answer"], ["play twinkle twinkle", "play"]],
  );
  assert.equal(list[0].reply, "Ice is water that got very cold.");
  const cleared = ok(
    await post(server, "/ai_transcripts/clear", { toy_id: f.toyId }, f.token),
  );
  assert.equal(cleared.deleted, 2);
  assert.deepEqual(
    ok(await post(server, "/ai_transcripts", { toy_id: f.toyId }, f.token)),
    [],
  );
});

Deno.test("/openapi.json describes the AI routes", async () => {
  await using server = await startTestServer();
  const doc = await fetch(`${server.url}/openapi.json`).then((r) => r.json());
  for (
    const path of [
      "/ai_uploader",
      "/ai_profile",
      "/ai_profile/set",
      "/ai_memory/clear",
      "/ai_transcripts",
    ]
  ) {
    assert.ok(doc.paths[path]?.post, `${path} is documented`);
  }
});
