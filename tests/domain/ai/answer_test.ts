import assert from "node:assert/strict";
import { testConfig } from "../../../domain/platform/config.ts";
import { endpointOf, ProviderError } from "../../../domain/ai/providers.ts";
import {
  ANSWER_AUDIO_TTL_MS,
  buildMessages,
  concatMp3,
  dropAnswerAudio,
  openAnswerAudio,
  SentenceSplitter,
  speakAnswer,
  sweepAnswerAudio,
} from "../../../domain/ai/answer.ts";
import { defaultProfile } from "../../../domain/ai/profile.ts";
import { mp3AudioFrames } from "../../../domain/audio/transcoder.ts";
import { getBlobMeta, readBlob } from "../../../domain/store/blobs.ts";
import { type FakeOpenAi, startFakeOpenAi } from "../../_fake_openai.ts";
import { withKv } from "../../_kv.ts";

/**
 * Spoken answers: sentences cut from a stream as they complete, the first
 * spoken (and its audio handed on) before the model has finished, MP3s
 * joined frame-exact, failures that stop everything or cut an answer
 * short, and answer audio swept after its time.
 */

function endpoints(fake: FakeOpenAi) {
  const config = testConfig({ chatUrl: fake.url, ttsUrl: fake.url });
  return { chat: endpointOf(config, "chat")!, tts: endpointOf(config, "tts")! };
}

const ASK = [{ role: "user" as const, content: "why?" }];

/** An audio sink that keeps what it is handed, in order. */
function collector() {
  const parts: Uint8Array[] = [];
  const lasts: boolean[] = [];
  return {
    parts,
    lasts,
    get mp3() {
      return concatMp3(parts);
    },
    onAudio(mp3: Uint8Array, { last }: { last: boolean }) {
      parts.push(mp3);
      lasts.push(last);
      return Promise.resolve();
    },
  };
}

Deno.test("the splitter cuts sentences as soon as they are complete", () => {
  const s = new SentenceSplitter();
  assert.deepEqual(s.push("Hello there"), []);
  assert.deepEqual(s.push("! It is 3.14 today."), ["Hello there!"]);
  assert.deepEqual(s.push(" 你好。我们"), ["It is 3.14 today.", "你好。"]);
  assert.deepEqual(s.push("走吧"), []);
  assert.deepEqual(s.flush(), ["我们走吧"]);
  const long = new SentenceSplitter();
  const [first] = long.push("word ".repeat(50));
  assert.ok(first.length <= 160 && first.endsWith("word"), first);
});

Deno.test("joined MP3s keep every frame and drop the tags", async () => {
  const one = await Deno.readFile(
    new URL("../../../static/prompts/Success.mp3", import.meta.url),
  );
  const frames = mp3AudioFrames(one).frames;
  const joined = concatMp3([one, one, one]);
  assert.equal(mp3AudioFrames(joined).frames, frames * 3);
});

Deno.test("the first sentence is spoken before the stream has ended", async () => {
  await using fake = await startFakeOpenAi({
    answers: [
      "Cats purr. " + "They purr when they are happy and calm. ".repeat(2),
    ],
  });
  fake.modes.chat = "realistic";
  const { chat, tts } = endpoints(fake);
  const audio = collector();
  const answer = await speakAnswer(chat, tts, ASK, {
    language: "en",
    avoid: [],
    onAudio: audio.onAudio,
  });
  assert.ok(
    answer.firstAudioAt < answer.chatDoneAt,
    `first audio ${answer.firstAudioAt} before the stream ended ${answer.chatDoneAt}`,
  );
  assert.equal(fake.requests.tts[0].input, "Cats purr.");
  assert.equal(fake.requests.tts.length, 3);
  assert.equal(
    answer.text,
    "Cats purr. They purr when they are happy and calm. They purr when they are happy and calm.",
  );
  assert.equal(answer.sentences, 3);
  assert.equal(answer.failure, undefined);
  // "last" only when it is known that nothing follows.
  assert.deepEqual(audio.lasts.slice(0, -1), [false, false]);
  for (const part of audio.parts) {
    assert.equal(part[0], 0xff, "each part starts with an MPEG frame");
    assert.equal(
      mp3AudioFrames(part).frames,
      mp3AudioFrames(fake.speech).frames,
    );
  }
  assert.equal(
    mp3AudioFrames(audio.mp3).frames,
    3 * mp3AudioFrames(fake.speech).frames,
  );
});

Deno.test("a speech failure after the first sentence's audio ends the answer there", async () => {
  await using fake = await startFakeOpenAi({
    answers: ["One fish. Two fish. Red fish. Blue fish."],
  });
  fake.modes.chat = "trickle";
  fake.speechFailAfter = 1;
  const { chat, tts } = endpoints(fake);
  const audio = collector();
  const answer = await speakAnswer(chat, tts, ASK, {
    language: "en",
    avoid: [],
    onAudio: audio.onAudio,
  });
  assert.equal(answer.sentences, 1);
  assert.equal(answer.text, "One fish.");
  assert.ok(answer.failure instanceof ProviderError);
  assert.equal((answer.failure as ProviderError).step, "tts");
  assert.equal(audio.parts.length, 1);
});

Deno.test("a long answer is capped before speech", async () => {
  await using fake = await startFakeOpenAi({
    answers: ["This is a sentence about the sea. ".repeat(40)],
  });
  const { chat, tts } = endpoints(fake);
  const answer = await speakAnswer(chat, tts, ASK, {
    language: "en",
    avoid: [],
    onAudio: collector().onAudio,
  });
  assert.ok(answer.text.length <= 500, `${answer.text.length} characters`);
  const spoken = fake.requests.tts.reduce((n, t) => n + t.input.length, 0);
  assert.ok(spoken <= 500);
});

Deno.test("a failed sentence stops the answer with the speech error", async () => {
  await using fake = await startFakeOpenAi({
    answers: ["One. Two. Three. Four. Five."],
  });
  fake.modes.tts = "garbage";
  const { chat, tts } = endpoints(fake);
  await assert.rejects(
    speakAnswer(chat, tts, ASK, {
      language: "en",
      avoid: [],
      onAudio: collector().onAudio,
    }),
    (err) =>
      err instanceof ProviderError && err.step === "tts" &&
      err.status === 502,
  );
});

Deno.test("the system prompt carries persona, age, language, topics and memory", () => {
  const profile = {
    ...defaultProfile("t"),
    persona_name: "Teddy",
    child_age: 5,
    avoid_topics: ["ghosts"],
  };
  const en = buildMessages(
    profile,
    [
      { question: "Q1", answer: "A1", at: 0 },
    ],
    "Q2",
    "en",
  );
  assert.match(en[0].content, /You are Teddy.*5-year-old.*ghosts/s);
  assert.deepEqual(en.slice(1), [
    { role: "user", content: "Q1" },
    { role: "assistant", content: "A1" },
    { role: "user", content: "Q2" },
  ]);
  const zh = buildMessages(profile, [], "为什么", "zh");
  assert.match(zh[0].content, /你是Teddy.*5岁.*ghosts/s);
});

Deno.test("answer audio is swept after its time", async () => {
  await withKv(async (kv) => {
    const mp3 = new Uint8Array([0xff, 0xf3, 0x44, 0xc4, 1, 2, 3]);
    const now = Date.now();
    const writer = await openAnswerAudio(kv, "toy1", now);
    await writer.append(mp3);
    await writer.finish();
    const name = writer.name;
    assert.deepEqual(await readBlob(kv, name), mp3);
    assert.equal(await sweepAnswerAudio(kv, { now }), 0);
    assert.ok(await getBlobMeta(kv, name));
    assert.equal(
      await sweepAnswerAudio(kv, { now: now + ANSWER_AUDIO_TTL_MS + 1 }),
      1,
    );
    assert.equal(await getBlobMeta(kv, name), null);
  });
});

Deno.test("a dropped answer file leaves no key behind", async () => {
  await withKv(async (kv) => {
    const writer = await openAnswerAudio(kv, "toy1");
    await writer.append(new Uint8Array([0xff, 0xf3, 0x44, 0xc4]));
    await dropAnswerAudio(kv, "toy1", writer);
    for await (const e of kv.list({ prefix: [] })) {
      assert.fail(`left behind: ${JSON.stringify(e.key)}`);
    }
  });
});
