import { z } from "zod";
import { AppError } from "../platform/errors.ts";
import type { Config } from "../platform/config.ts";
import { sniffAudioFormat } from "../audio/transcoder.ts";

/**
 * Clients of the three OpenAI-compatible AI providers (whisper.cpp server,
 * speaches, LocalAI, vLLM, Ollama, OpenAI and the like all speak them):
 *
 * - speech to text: `POST {sttUrl}/audio/transcriptions`, multipart
 *   `file`, `model`, `language?` → `{text}`;
 * - chat: `POST {chatUrl}/chat/completions` with `stream: true`, read as
 *   server-sent events; a provider that answers with one JSON body instead
 *   is read that way;
 * - speech: `POST {ttsUrl}/audio/speech` `{model, voice, input,
 *   response_format: "mp3"}` → MP3 bytes.
 *
 * Base URLs include the API version (`http://127.0.0.1:11434/v1`). Each call
 * has its own time limit, sends the key as a Bearer token, and reads at most
 * a bounded number of bytes. Failures are `ProviderError`s: 502 for an
 * answer that is not what the API promises, 503 for a provider that cannot
 * be reached or refuses, 504 for one that is too slow. Messages name the
 * step and the flag to look at, never the key.
 */

/** The three provider steps. */
export type AiStep = "stt" | "chat" | "tts";

/** Statuses a provider failure maps to. */
export type ProviderStatus = 502 | 503 | 504;

/** One configured provider endpoint. */
export interface ProviderEndpoint {
  step: AiStep;
  /** Base URL including the version path, e.g. `http://127.0.0.1:8080/v1`. */
  url: string;
  key?: string;
  model: string;
  timeoutMs: number;
  /** The speech voice (tts only). */
  voice?: string;
}

/** A provider failed; `status` 502, 503 or 504, `step` which one. */
export class ProviderError extends AppError {
  declare readonly status: ProviderStatus;
  readonly step: AiStep;

  constructor(
    step: AiStep,
    status: ProviderStatus,
    message: string,
    cause?: unknown,
  ) {
    super(status, message, { cause });
    this.name = "ProviderError";
    this.step = step;
  }
}

/** What each step is called in messages, and the flag that sets it. */
export const STEP_NAMES: Record<
  AiStep,
  { name: string; flag: string; keyFlag: string }
> = {
  stt: {
    name: "speech-to-text",
    flag: "--stt-url / BABBLE_STT_URL",
    keyFlag: "--stt-key / BABBLE_STT_KEY",
  },
  chat: {
    name: "chat",
    flag: "--chat-url / BABBLE_CHAT_URL",
    keyFlag: "--chat-key / BABBLE_CHAT_KEY",
  },
  tts: {
    name: "speech",
    flag: "--tts-url / BABBLE_TTS_URL",
    keyFlag: "--tts-key / BABBLE_TTS_KEY",
  },
};

// Reply budgets: a transcript or a completion is text; speech for a capped
// answer is well under a megabyte of 48 kbit/s MP3 per sentence.
const MAX_JSON_BYTES = 256 * 1024;
const MAX_STREAM_BYTES = 1024 * 1024;
const MAX_SSE_LINE = 64 * 1024;
const MAX_SPEECH_BYTES = 8 * 1024 * 1024;
/** Longest transcript kept (characters); a toy's recording is short. */
const MAX_TRANSCRIPT_CHARS = 2_000;
/** Completion tokens asked for: a child's answer is a few sentences. */
const MAX_ANSWER_TOKENS = 300;

/** Which AI steps this configuration has a provider for. */
export function aiStatus(
  config: Config,
): { stt: boolean; chat: boolean; tts: boolean } {
  return {
    stt: Boolean(config.sttUrl),
    chat: Boolean(config.chatUrl),
    tts: Boolean(config.ttsUrl),
  };
}

/**
 * One start-up log line saying which AI steps are configured (origins and
 * models only: never a key, a path's credentials or a query string).
 */
export function describeAiSetup(config: Config): string {
  const parts = (["stt", "chat", "tts"] as const).map((step) => {
    const endpoint = endpointOf(config, step);
    const name = STEP_NAMES[step].name;
    return endpoint
      ? `${name} ${safeOrigin(endpoint.url)} (${endpoint.model}${
        endpoint.key ? ", key set" : ""
      })`
      : `${name} off`;
  });
  const status = aiStatus(config);
  const effect = !status.stt
    ? "/ai_uploader is off"
    : status.chat && status.tts
    ? "play, message and answer work"
    : "play and message work, answers are off";
  return `AI: ${parts.join("; ")}: ${effect}`;
}

/** The endpoint of `step`, or null when its URL is not configured. */
export function endpointOf(
  config: Config,
  step: AiStep,
): ProviderEndpoint | null {
  switch (step) {
    case "stt":
      return config.sttUrl
        ? {
          step,
          url: config.sttUrl,
          key: config.sttKey,
          model: config.sttModel,
          timeoutMs: config.sttTimeoutMs,
        }
        : null;
    case "chat":
      return config.chatUrl
        ? {
          step,
          url: config.chatUrl,
          key: config.chatKey,
          model: config.chatModel,
          timeoutMs: config.chatTimeoutMs,
        }
        : null;
    case "tts":
      return config.ttsUrl
        ? {
          step,
          url: config.ttsUrl,
          key: config.ttsKey,
          model: config.ttsModel,
          voice: config.ttsVoice,
          timeoutMs: config.ttsTimeoutMs,
        }
        : null;
  }
}

/** Scheme, host and path of a URL, without credentials or query. */
function safeOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, "")}`;
  } catch {
    return "(invalid URL)";
  }
}

/** A chat message in the OpenAI shape. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Options every call takes. */
export interface CallOptions {
  /** Cancels the call (the client went away). */
  signal?: AbortSignal;
}

/**
 * Transcribes `audio` (a file the provider understands: MP3 here) and
 * returns the text, trimmed. `language` is an ISO-639-1 hint.
 */
export async function transcribe(
  endpoint: ProviderEndpoint,
  audio: Uint8Array<ArrayBuffer>,
  { language, fileName = "speech.mp3", signal }: CallOptions & {
    language?: string;
    fileName?: string;
  } = {},
): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([audio], { type: "audio/mpeg" }), fileName);
  form.append("model", endpoint.model);
  form.append("response_format", "json");
  if (language) form.append("language", language);
  return await call(endpoint, signal, async (timed) => {
    const res = await send(endpoint, "/audio/transcriptions", {
      method: "POST",
      body: form,
    }, timed);
    const body = parseJson(
      endpoint,
      await readBounded(endpoint, res, MAX_JSON_BYTES),
    );
    const parsed = z.object({ text: z.string() }).safeParse(body);
    if (!parsed.success) {
      throw garbage(endpoint, 'a JSON object without a "text" string');
    }
    return parsed.data.text.trim().slice(0, MAX_TRANSCRIPT_CHARS);
  });
}

/**
 * Asks for a completion and yields its text as it arrives (server-sent
 * events); a provider that answers with one JSON body yields it whole.
 * Breaking out of the loop cancels the request.
 */
export async function* streamChat(
  endpoint: ProviderEndpoint,
  messages: ChatMessage[],
  { signal }: CallOptions = {},
): AsyncGenerator<string> {
  const controller = new AbortController();
  const timeout = AbortSignal.timeout(endpoint.timeoutMs);
  const timed = AbortSignal.any(
    [timeout, controller.signal, ...(signal ? [signal] : [])],
  );
  let yielded = false;
  try {
    const res = await send(endpoint, "/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: endpoint.model,
        messages,
        stream: true,
        max_tokens: MAX_ANSWER_TOKENS,
        temperature: 0.7,
      }),
    }, timed);
    const type = res.headers.get("content-type") ?? "";
    if (!type.includes("text/event-stream")) {
      const content = completionOf(
        endpoint,
        parseJson(endpoint, await readBounded(endpoint, res, MAX_STREAM_BYTES)),
      );
      yielded = true;
      yield content;
      return;
    }
    for await (const data of sseData(endpoint, res)) {
      if (data === "[DONE]") break;
      const delta = deltaOf(endpoint, data);
      if (delta) {
        yielded = true;
        yield delta;
      }
    }
    if (!yielded) throw garbage(endpoint, "an empty answer");
  } catch (err) {
    throw providerFailure(endpoint, err, timeout, signal);
  } finally {
    // Stops the provider's work when the caller stops reading early.
    controller.abort();
  }
}

/** Speaks `text`; returns MP3 bytes. */
export async function speak(
  endpoint: ProviderEndpoint,
  text: string,
  { signal }: CallOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  return await call(endpoint, signal, async (timed) => {
    const res = await send(endpoint, "/audio/speech", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: endpoint.model,
        voice: endpoint.voice,
        input: text,
        response_format: "mp3",
      }),
    }, timed);
    const audio = await readBounded(endpoint, res, MAX_SPEECH_BYTES);
    if (sniffAudioFormat(audio) !== "mp3") {
      throw garbage(
        endpoint,
        `${audio.length} bytes that are not MP3 audio (asked for response_format "mp3")`,
      );
    }
    return audio;
  });
}

/** Runs `work` under the endpoint's time limit and maps what it throws. */
async function call<T>(
  endpoint: ProviderEndpoint,
  signal: AbortSignal | undefined,
  work: (timed: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeout = AbortSignal.timeout(endpoint.timeoutMs);
  const timed = signal ? AbortSignal.any([timeout, signal]) : timeout;
  try {
    return await work(timed);
  } catch (err) {
    throw providerFailure(endpoint, err, timeout, signal);
  }
}

/** POSTs to `path` under the base URL; a non-2xx answer is a ProviderError. */
async function send(
  endpoint: ProviderEndpoint,
  path: string,
  init: RequestInit,
  signal: AbortSignal,
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (endpoint.key) headers.set("authorization", `Bearer ${endpoint.key}`);
  const res = await fetch(endpoint.url.replace(/\/+$/, "") + path, {
    ...init,
    headers,
    signal,
  });
  if (res.ok) return res;
  await res.body?.cancel().catch(() => {});
  const { name, flag, keyFlag } = STEP_NAMES[endpoint.step];
  if (res.status === 401 || res.status === 403) {
    throw new ProviderError(
      endpoint.step,
      502,
      `the ${name} provider refused our API key (HTTP ${res.status}); the operator should check ${keyFlag}`,
    );
  }
  if (res.status === 404) {
    throw new ProviderError(
      endpoint.step,
      502,
      `the ${name} provider has no ${path} (HTTP 404): ${flag} must be an OpenAI-compatible base URL ending in /v1`,
    );
  }
  const busy = res.status === 429 || res.status === 503;
  throw new ProviderError(
    endpoint.step,
    busy ? 503 : 502,
    `the ${name} provider ${
      busy ? "is busy" : "failed"
    } (HTTP ${res.status}); try again`,
  );
}

/** Maps a thrown value to a ProviderError (time-outs 504, unreachable 503). */
function providerFailure(
  endpoint: ProviderEndpoint,
  err: unknown,
  timeout: AbortSignal,
  signal: AbortSignal | undefined,
): AppError {
  if (err instanceof AppError) return err;
  const { name } = STEP_NAMES[endpoint.step];
  if (timeout.aborted) {
    return new ProviderError(
      endpoint.step,
      504,
      `the ${name} provider did not answer within ${
        endpoint.timeoutMs / 1000
      } s; try again`,
      err,
    );
  }
  if (signal?.aborted) {
    return new ProviderError(
      endpoint.step,
      503,
      `the request was cancelled during ${name}`,
      err,
    );
  }
  return new ProviderError(
    endpoint.step,
    503,
    `the ${name} provider cannot be reached; try again later`,
    err,
  );
}

function garbage(endpoint: ProviderEndpoint, what: string): ProviderError {
  return new ProviderError(
    endpoint.step,
    502,
    `the ${
      STEP_NAMES[endpoint.step].name
    } provider answered with ${what}, not what the OpenAI API promises`,
  );
}

/** Reads a body up to `limit` bytes; more is a 502. */
async function readBounded(
  endpoint: ProviderEndpoint,
  res: Response,
  limit: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!res.body) return new Uint8Array();
  const tooLarge = () => garbage(endpoint, `more than ${limit} bytes`);
  if (Number(res.headers.get("content-length") ?? "0") > limit) {
    await res.body.cancel().catch(() => {});
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function parseJson(endpoint: ProviderEndpoint, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw garbage(endpoint, "a body that is not JSON");
  }
}

const completionSchema = z.object({
  choices: z.array(
    z.object({ message: z.object({ content: z.string().nullable() }) }),
  ).min(1),
});

const deltaSchema = z.object({
  choices: z.array(
    z.object({
      delta: z.object({ content: z.string().nullish() }).optional(),
    }),
  ),
});

/** The text of a non-streamed completion. */
function completionOf(endpoint: ProviderEndpoint, body: unknown): string {
  const parsed = completionSchema.safeParse(body);
  const content = parsed.success ? parsed.data.choices[0].message.content : "";
  if (!content) {
    throw garbage(endpoint, "a completion without choices[0].message.content");
  }
  return content;
}

/** The text of one streamed chunk ("" for role-only or empty chunks). */
function deltaOf(endpoint: ProviderEndpoint, data: string): string {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    throw garbage(endpoint, "an event-stream chunk that is not JSON");
  }
  const parsed = deltaSchema.safeParse(json);
  if (!parsed.success) {
    throw garbage(endpoint, "an event-stream chunk without choices[].delta");
  }
  return parsed.data.choices[0]?.delta?.content ?? "";
}

/** The `data:` payloads of a server-sent event stream, bounded. */
async function* sseData(
  endpoint: ProviderEndpoint,
  res: Response,
): AsyncGenerator<string> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffer = "";
  let total = 0;
  let data: string[] = [];
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_STREAM_BYTES) {
        throw garbage(
          endpoint,
          `a stream longer than ${MAX_STREAM_BYTES} bytes`,
        );
      }
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer[newline] === "\r" ? 2 : 1));
        if (line === "") {
          if (data.length) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
      if (buffer.length > MAX_SSE_LINE) {
        throw garbage(
          endpoint,
          `an event-stream line over ${MAX_SSE_LINE} bytes`,
        );
      }
    }
    if (buffer.startsWith("data:")) data.push(buffer.slice(5).trim());
    if (data.length) yield data.join("\n");
  } finally {
    await reader.cancel().catch(() => {});
  }
}
