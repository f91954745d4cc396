/**
 * A fake OpenAI-compatible provider on 127.0.0.1 for tests and the bench:
 * `/v1/audio/transcriptions` answers scripted transcripts, `/v1/chat/
 * completions` scripted answers (streamed as server-sent events when asked,
 * or as one JSON body), `/v1/audio/speech` a real small MP3. Each step can be
 * switched to a failure mode, and every request is recorded.
 *
 * Modes: "ok" answers at once; "down" answers HTTP 503 like a provider
 * behind a proxy that lost it (`unreachableUrl()` gives a port nobody
 * listens on); "slow" waits `slowMs` before answering (past a short
 * timeout); "garbage" answers 200 with what the API never sends;
 * "realistic" behaves like a real local stack: speech to text 300 ms, chat
 * first token after 400 ms then 30 tokens/s, speech 200 ms per sentence;
 * "trickle" (chat) streams one token every `trickleMs`, so an answer is
 * still being written long after its first sentence (other steps answer
 * at once). `speechFailAfter` and `chatCutAfter` make a step fail part way.
 */

/** How a step of the fake behaves. */
export type FakeMode =
  | "ok"
  | "down"
  | "slow"
  | "garbage"
  | "realistic"
  | "trickle";

/** A recorded transcription request. */
export interface SttRequest {
  model: string;
  language: string | null;
  bytes: number;
  authorization: string | null;
}

/** A recorded chat request (the parsed JSON body). */
export interface ChatRequest {
  model: string;
  stream: boolean;
  messages: { role: string; content: string }[];
  authorization: string | null;
}

/** A recorded speech request (the parsed JSON body). */
export interface TtsRequest {
  model: string;
  voice: string;
  input: string;
  response_format: string;
  authorization: string | null;
}

/** The running fake. */
export interface FakeOpenAi extends AsyncDisposable {
  /** Base URL including `/v1`, as the --*-url flags take it. */
  url: string;
  /** Transcripts for the next transcriptions, in order; the last one repeats. */
  transcripts: string[];
  /** Answers for the next chat requests, in order; the last one repeats. */
  answers: string[];
  /** The mode of each step. */
  modes: { stt: FakeMode; chat: FakeMode; tts: FakeMode };
  /** False: answer chat with one JSON body even when asked to stream. */
  streaming: boolean;
  /** How long "slow" waits. */
  slowMs: number;
  /** The gap between streamed tokens in "trickle" mode. */
  trickleMs: number;
  /** When set, speech requests after this many answer 503. */
  speechFailAfter: number | null;
  /** When set, a streamed answer breaks off after this many tokens. */
  chatCutAfter: number | null;
  /** Streamed answers sent to their end ([DONE]). */
  chatStreamsDone: number;
  /** Every request, by step. */
  requests: { stt: SttRequest[]; chat: ChatRequest[]; tts: TtsRequest[] };
  /** The MP3 every speech request gets. */
  speech: Uint8Array;
  /** Sets every step's mode. */
  setMode(mode: FakeMode): void;
  close(): Promise<void>;
}

const SPEECH_URL = new URL("../static/prompts/Success.mp3", import.meta.url);

/** Starts the fake on an ephemeral 127.0.0.1 port. */
export async function startFakeOpenAi(
  { transcripts = ["hello"], answers = ["Hello! How are you today?"] }: {
    transcripts?: string[];
    answers?: string[];
  } = {},
): Promise<FakeOpenAi> {
  const speech = await Deno.readFile(SPEECH_URL);
  const closing = new AbortController();
  const fake: FakeOpenAi = {
    url: "",
    transcripts,
    answers,
    modes: { stt: "ok", chat: "ok", tts: "ok" },
    streaming: true,
    slowMs: 3_000,
    trickleMs: 40,
    speechFailAfter: null,
    chatCutAfter: null,
    chatStreamsDone: 0,
    requests: { stt: [], chat: [], tts: [] },
    speech,
    setMode(mode) {
      fake.modes = { stt: mode, chat: mode, tts: mode };
    },
    async close() {
      closing.abort();
      await server.shutdown();
    },
    [Symbol.asyncDispose]() {
      return fake.close();
    },
  };
  let sttCount = 0;
  let chatCount = 0;
  const next = (list: string[], n: number) =>
    list[Math.min(n, list.length - 1)] ?? "";

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async function fakeOpenAi(req) {
      const path = new URL(req.url).pathname;
      const authorization = req.headers.get("authorization");
      // Waits end when the fake closes (a client that gave up is not
      // noticed: Deno's request.signal also fires on successful replies).
      const signal = closing.signal;
      if (req.method !== "POST") return new Response("no", { status: 405 });
      if (path === "/v1/audio/transcriptions") {
        const form = await req.formData();
        const file = form.get("file");
        fake.requests.stt.push({
          model: String(form.get("model")),
          language: form.get("language") as string | null,
          bytes: file instanceof File ? file.size : 0,
          authorization,
        });
        const text = next(fake.transcripts, sttCount++);
        return await stepReply(fake.modes.stt, signal, fake.slowMs, 300, {
          garbage: () =>
            new Response("<html>oops</html>", {
              headers: { "content-type": "text/html" },
            }),
          ok: () => Response.json({ text }),
        });
      }
      if (path === "/v1/chat/completions") {
        const body = await req.json();
        fake.requests.chat.push({ ...body, authorization });
        const answer = next(fake.answers, chatCount++);
        const stream = body.stream === true && fake.streaming;
        const mode = fake.modes.chat;
        const cutAfter = fake.chatCutAfter;
        const streamed = () => fake.chatStreamsDone++;
        if (mode === "realistic" || mode === "trickle") {
          const [firstMs, perTokenMs] = mode === "realistic"
            ? [400, 1000 / 30]
            : [0, fake.trickleMs];
          return stream
            ? sse(answer, signal, firstMs, perTokenMs, cutAfter, streamed)
            : await delayed(
              signal,
              firstMs + tokens(answer).length * perTokenMs,
              () => Response.json(completion(answer)),
            );
        }
        return await stepReply(mode, signal, fake.slowMs, 0, {
          garbage: () =>
            stream
              ? new Response("data: {not json\n\n", {
                headers: { "content-type": "text/event-stream" },
              })
              : Response.json({ result: "no choices here" }),
          ok: () =>
            stream
              ? sse(answer, signal, 0, 0, cutAfter, streamed)
              : Response.json(completion(answer)),
        });
      }
      if (path === "/v1/audio/speech") {
        const body = await req.json();
        fake.requests.tts.push({ ...body, authorization });
        if (
          fake.speechFailAfter !== null &&
          fake.requests.tts.length > fake.speechFailAfter
        ) {
          return new Response("upstream is down", { status: 503 });
        }
        return await stepReply(fake.modes.tts, signal, fake.slowMs, 200, {
          garbage: () =>
            new Response("<html>not audio</html>", {
              headers: { "content-type": "audio/mpeg" },
            }),
          ok: () =>
            new Response(speech, { headers: { "content-type": "audio/mpeg" } }),
        });
      }
      return new Response("not found", { status: 404 });
    },
  );
  fake.url = `http://127.0.0.1:${server.addr.port}/v1`;
  return fake;
}

/** A base URL on 127.0.0.1 where nothing listens. */
export function unreachableUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}/v1`;
}

async function stepReply(
  mode: FakeMode,
  signal: AbortSignal,
  slowMs: number,
  realisticMs: number,
  replies: { garbage: () => Response; ok: () => Response },
): Promise<Response> {
  switch (mode) {
    case "down":
      return new Response("upstream is down", { status: 503 });
    case "garbage":
      return replies.garbage();
    case "slow":
      return await delayed(signal, slowMs, replies.ok);
    case "realistic":
      return await delayed(signal, realisticMs, replies.ok);
    default:
      return replies.ok();
  }
}

/** Waits `ms` (or until `signal`), then answers. */
async function delayed(
  signal: AbortSignal,
  ms: number,
  reply: () => Response,
): Promise<Response> {
  await sleep(ms, signal);
  return reply();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** A chat completion body. */
function completion(content: string) {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    choices: [{
      index: 0,
      message: { role: "assistant", content },
      finish_reason: "stop",
    }],
  };
}

/** Tokens as a model streams them: Chinese characters, words with their space. */
function tokens(text: string): string[] {
  return text.match(/\p{Script=Han}|[^\s\p{Script=Han}]+\s*|\s+/gu) ?? [];
}

/**
 * A server-sent event stream of `answer`, token by token; with `cutAfter`,
 * it breaks off after that many tokens.
 */
function sse(
  answer: string,
  signal: AbortSignal,
  firstMs: number,
  perTokenMs: number,
  cutAfter: number | null = null,
  onDone: () => void = () => {},
): Response {
  const encoder = new TextEncoder();
  const chunk = (delta: Record<string, string>) =>
    encoder.encode(
      `data: ${
        JSON.stringify({
          id: "chatcmpl-fake",
          object: "chat.completion.chunk",
          choices: [{ index: 0, delta, finish_reason: null }],
        })
      }\n\n`,
    );
  const stopped = new AbortController();
  const stop = AbortSignal.any([signal, stopped.signal]);
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        controller.enqueue(chunk({ role: "assistant" }));
        await sleep(firstMs, stop);
        for (const [i, token] of tokens(answer).entries()) {
          if (stop.aborted) break;
          if (cutAfter !== null && i >= cutAfter) {
            // Half an event, then the end: what a proxy that lost the
            // provider mid-answer passes on.
            controller.enqueue(encoder.encode('data: {"choices":[{"del\n\n'));
            controller.close();
            return;
          }
          controller.enqueue(chunk({ content: token }));
          if (perTokenMs) await sleep(perTokenMs, stop);
        }
        if (!stop.aborted) {
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          onDone();
        }
        controller.close();
      } catch {
        // The reader went away.
      }
    },
    cancel() {
      stopped.abort();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream" },
  });
}
