import assert from "node:assert/strict";
import { testConfig } from "../../../domain/platform/config.ts";
import {
  aiStatus,
  describeAiSetup,
  endpointOf,
  type ProviderEndpoint,
  ProviderError,
  speak,
  streamChat,
  transcribe,
} from "../../../domain/ai/providers.ts";
import {
  type FakeOpenAi,
  startFakeOpenAi,
  unreachableUrl,
} from "../../_fake_openai.ts";

/**
 * The OpenAI-compatible clients against the fake provider: what they send
 * (model, language, key as Bearer), streamed and whole completions, and
 * each failure as the status a client can act on: 503 unreachable or
 * refusing, 504 too slow, 502 an answer the API never gives.
 */

const MP3 = await Deno.readFile(
  new URL("../../fixtures/speech.mp3", import.meta.url),
);

function endpoints(fake: FakeOpenAi, timeoutMs = 2_000) {
  const config = testConfig({
    sttUrl: fake.url,
    sttKey: "stt-secret",
    chatUrl: fake.url,
    chatKey: "chat-secret",
    chatModel: "qwen2.5:3b",
    ttsUrl: fake.url,
    sttTimeoutMs: timeoutMs,
    chatTimeoutMs: timeoutMs,
    ttsTimeoutMs: timeoutMs,
  });
  return {
    stt: endpointOf(config, "stt")!,
    chat: endpointOf(config, "chat")!,
    tts: endpointOf(config, "tts")!,
  };
}

async function collect(stream: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const piece of stream) out.push(piece);
  return out;
}

async function failsWith(
  promise: Promise<unknown>,
  status: number,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ProviderError, String(err));
    assert.equal(err.status, status, err.message);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });
}

Deno.test("transcribe sends the file, model, language and key; returns the text", async () => {
  await using fake = await startFakeOpenAi({ transcripts: ["  放小星星  "] });
  const { stt } = endpoints(fake);
  assert.equal(await transcribe(stt, MP3, { language: "zh" }), "放小星星");
  const [req] = fake.requests.stt;
  assert.equal(req.model, "whisper-1");
  assert.equal(req.language, "zh");
  assert.equal(req.bytes, MP3.length);
  assert.equal(req.authorization, "Bearer stt-secret");
});

Deno.test("streamChat yields a streamed answer piece by piece", async () => {
  await using fake = await startFakeOpenAi({
    answers: ["Cats purr when happy. They purr to heal too."],
  });
  const { chat } = endpoints(fake);
  const pieces = await collect(
    streamChat(chat, [{ role: "user", content: "why do cats purr" }]),
  );
  assert.ok(pieces.length > 3, "arrives in pieces");
  assert.equal(pieces.join(""), "Cats purr when happy. They purr to heal too.");
  const [req] = fake.requests.chat;
  assert.equal(req.stream, true);
  assert.equal(req.model, "qwen2.5:3b");
  assert.equal(req.authorization, "Bearer chat-secret");
  assert.deepEqual(req.messages, [{
    role: "user",
    content: "why do cats purr",
  }]);
});

Deno.test("streamChat reads a provider that answers in one JSON body", async () => {
  await using fake = await startFakeOpenAi({ answers: ["One whole answer."] });
  fake.streaming = false;
  const { chat } = endpoints(fake);
  assert.deepEqual(
    await collect(streamChat(chat, [{ role: "user", content: "hi" }])),
    ["One whole answer."],
  );
});

Deno.test("stopping early cancels the stream", async () => {
  await using fake = await startFakeOpenAi({
    answers: ["one two three four five six seven eight"],
  });
  fake.modes.chat = "realistic";
  const { chat } = endpoints(fake);
  const got: string[] = [];
  for await (
    const piece of streamChat(chat, [{ role: "user", content: "x" }])
  ) {
    got.push(piece);
    if (got.length === 2) break;
  }
  assert.deepEqual(got, ["one ", "two "]);
});

Deno.test("speak returns MP3 bytes and asks for mp3 with the voice", async () => {
  await using fake = await startFakeOpenAi();
  const { tts } = endpoints(fake);
  const audio = await speak(tts, "Hello there.");
  assert.deepEqual(audio, fake.speech);
  const [req] = fake.requests.tts;
  assert.equal(req.input, "Hello there.");
  assert.equal(req.voice, "alloy");
  assert.equal(req.response_format, "mp3");
  assert.equal(req.authorization, null, "no key configured: no header");
});

Deno.test("a provider that is down: 503 naming the step", async () => {
  await using fake = await startFakeOpenAi();
  fake.setMode("down");
  const { stt, chat, tts } = endpoints(fake);
  await failsWith(transcribe(stt, MP3), 503, /speech-to-text provider is busy/);
  await failsWith(
    collect(streamChat(chat, [{ role: "user", content: "x" }])),
    503,
    /chat provider is busy/,
  );
  await failsWith(speak(tts, "hi"), 503, /speech provider is busy/);
});

Deno.test("a provider nobody listens on: 503 cannot be reached", async () => {
  const endpoint: ProviderEndpoint = {
    step: "stt",
    url: unreachableUrl(),
    model: "whisper-1",
    timeoutMs: 2_000,
  };
  await failsWith(transcribe(endpoint, MP3), 503, /cannot be reached/);
});

Deno.test("a provider slower than its time limit: 504", async () => {
  await using fake = await startFakeOpenAi();
  fake.setMode("slow");
  const { stt, chat, tts } = endpoints(fake, 150);
  await failsWith(transcribe(stt, MP3), 504, /within 0.15 s/);
  await failsWith(
    collect(streamChat(chat, [{ role: "user", content: "x" }])),
    504,
    /chat provider did not answer/,
  );
  await failsWith(speak(tts, "hi"), 504, /speech provider did not answer/);
});

Deno.test("garbage from a provider: 502 saying what came back", async () => {
  await using fake = await startFakeOpenAi();
  fake.setMode("garbage");
  const { stt, chat, tts } = endpoints(fake);
  await failsWith(transcribe(stt, MP3), 502, /not JSON/);
  await failsWith(
    collect(streamChat(chat, [{ role: "user", content: "x" }])),
    502,
    /event-stream chunk that is not JSON/,
  );
  fake.streaming = false;
  await failsWith(
    collect(streamChat(chat, [{ role: "user", content: "x" }])),
    502,
    /without choices/,
  );
  await failsWith(speak(tts, "hi"), 502, /not MP3 audio/);
});

Deno.test("a wrong URL path: 502 saying the base URL must end in /v1", async () => {
  await using fake = await startFakeOpenAi();
  const endpoint: ProviderEndpoint = {
    step: "tts",
    url: fake.url.replace(/\/v1$/, ""),
    model: "tts-1",
    voice: "alloy",
    timeoutMs: 2_000,
  };
  await failsWith(speak(endpoint, "hi"), 502, /ending in \/v1/);
});

Deno.test("aiStatus and the start-up line say which steps are set, never a key", () => {
  const none = testConfig();
  assert.deepEqual(aiStatus(none), { stt: false, chat: false, tts: false });
  assert.match(
    describeAiSetup(none),
    /speech-to-text off.*\/ai_uploader is off/,
  );
  const sttOnly = testConfig({
    sttUrl: "http://user:pw@127.0.0.1:8080/v1?x=1",
    sttKey: "very-secret",
  });
  assert.deepEqual(aiStatus(sttOnly), { stt: true, chat: false, tts: false });
  const line = describeAiSetup(sttOnly);
  assert.match(
    line,
    /speech-to-text http:\/\/127\.0\.0\.1:8080\/v1 \(whisper-1, key set\)/,
  );
  assert.match(line, /answers are off/);
  assert.doesNotMatch(line, /very-secret|pw|x=1/);
});
