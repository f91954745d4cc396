import {
  type BlobWriter,
  deleteBlob,
  getBlobMeta,
  openBlobWriter,
  putBlob,
} from "../store/blobs.ts";
import { randomHex } from "../store/ids.ts";
import { sha256Hex } from "../platform/sessions.ts";
import type { Transcoder } from "../audio/transcoder.ts";
import {
  type ChatMessage,
  type ProviderEndpoint,
  speak,
  streamChat,
} from "./providers.ts";
import type { AiProfile, Turn } from "./profile.ts";
import {
  capText,
  isBlocked,
  MAX_SPOKEN_CHARS,
  SAFE_FALLBACK,
  speakable,
  type SpokenLanguage,
} from "./safety.ts";

/**
 * Spoken answers: the chat reply is streamed, cut into sentences as they
 * complete, each sentence screened (safety.ts) and sent to the speech
 * provider at once, so the first sentence is being spoken while the model
 * still writes the rest. Each sentence's MP3, stripped to its MPEG frames
 * (frames concatenate cleanly), is appended in order to one growing chat
 * file, which `GET /get_chat/<f>` streams while later sentences are still
 * being spoken.
 *
 * | key                            | value                                 |
 * | ------------------------------ | ------------------------------------- |
 * | ["ai_answers", toyId, name]    | expiresAt (ms): answer audio to sweep |
 *
 * Answer audio lives in the blob store (kind "chat", 128-bit random
 * names) for `ANSWER_AUDIO_TTL_MS`, then `sweepAnswerAudio` deletes it.
 * Spoken prompts ("OK, talk to Dad now") are stored once per text and
 * voice under a name derived from both, and reused.
 */

/** How long an answer's audio stays fetchable. */
export const ANSWER_AUDIO_TTL_MS = 60 * 60 * 1000;
/** Sentences spoken at once: a local speech server is often single-file. */
const SPEECH_CONCURRENCY = 2;
/** A sentence longer than this is cut at a comma or space. */
const MAX_SENTENCE_CHARS = 160;

/**
 * Splits streamed text into sentences: after 。！？；… or a newline at
 * once, after . ! ? once whitespace follows (so "3.14" and "Mr. X" wait).
 */
export class SentenceSplitter {
  #buffer = "";

  /** Adds streamed text; returns the sentences it completed. */
  push(text: string): string[] {
    this.#buffer += text;
    const out: string[] = [];
    for (;;) {
      const end = this.#sentenceEnd();
      if (end < 0) break;
      const sentence = this.#buffer.slice(0, end).trim();
      this.#buffer = this.#buffer.slice(end);
      if (sentence) out.push(sentence);
    }
    return out;
  }

  /** The rest once the stream ended. */
  flush(): string[] {
    const rest = this.#buffer.trim();
    this.#buffer = "";
    return rest ? [rest] : [];
  }

  #sentenceEnd(): number {
    const b = this.#buffer;
    const match = /[。！？；…\n]+[”’」』）)"']*|[.!?]+[”’"')\]]*(?=\s)/u.exec(
      b,
    );
    if (match) return match.index + match[0].length;
    if (b.length <= MAX_SENTENCE_CHARS) return -1;
    const head = b.slice(0, MAX_SENTENCE_CHARS);
    const cut = Math.max(
      head.lastIndexOf("，"),
      head.lastIndexOf(","),
      head.lastIndexOf("、"),
      head.lastIndexOf(" "),
    );
    return cut > 0 ? cut + 1 : MAX_SENTENCE_CHARS;
  }
}

/** The chat request for a question: system prompt, memory, the question. */
export function buildMessages(
  profile: AiProfile,
  memory: readonly Turn[],
  question: string,
  language: SpokenLanguage,
): ChatMessage[] {
  const persona = profile.persona_name || "Babble";
  const avoid = profile.avoid_topics.filter(Boolean);
  const system = language === "zh"
    ? `你是${persona}，一个陪${profile.child_age}岁小朋友聊天的会说话的玩具。` +
      `请用简体中文回答，最多三句简短的话，用孩子听得懂的词。` +
      `要温暖、诚实、安全：不说吓人、暴力或粗鲁的内容；遇到危险或不适合孩子的问题，温和地建议去问爸爸妈妈。` +
      (avoid.length ? `不要谈论这些话题：${avoid.join("、")}。` : "") +
      `不要用列表、标题、表情符号或网址，因为你的回答会被念出来。`
    : `You are ${persona}, a talking toy who chats with a ${profile.child_age}-year-old child. ` +
      `Answer in English in at most three short sentences, with words a young child knows. ` +
      `Be warm, honest and safe: nothing scary, violent or rude; for anything dangerous or not meant for children, gently suggest asking a parent. ` +
      (avoid.length
        ? `Do not talk about these topics: ${avoid.join(", ")}. `
        : "") +
      `No lists, headings, emoji or links: your answer is read aloud.`;
  const messages: ChatMessage[] = [{ role: "system", content: system }];
  for (const turn of memory) {
    messages.push({ role: "user", content: turn.question });
    messages.push({ role: "assistant", content: turn.answer });
  }
  messages.push({ role: "user", content: question });
  return messages;
}

/** A spoken answer and when its parts were ready. */
export interface SpokenAnswer {
  /** What was spoken (after screening and the cap), as far as it got. */
  text: string;
  /** Sentences whose audio went to `onAudio`. */
  sentences: number;
  /**
   * The provider failure that cut the answer short after some audio went
   * out; absent when the whole answer was spoken.
   */
  failure?: unknown;
  /** performance.now() when the stream ended (0 if it never did). */
  chatDoneAt: number;
  /** performance.now() when the first sentence's audio was ready. */
  firstAudioAt: number;
  /** performance.now() when the first speech call started. */
  speechStartedAt: number;
}

/** Receives one sentence's MPEG frames; `last` when no more will come. */
export type AudioSink = (
  mp3: Uint8Array<ArrayBuffer>,
  progress: { last: boolean },
) => Promise<void>;

/**
 * Streams the chat answer and speaks it sentence by sentence as it comes,
 * handing each sentence's audio (tags and info frames stripped) to
 * `onAudio` in order, one call at a time. A failed speech call stops the
 * stream; a failed stream stops the speech calls. When the first failure
 * comes before any audio went out it is thrown; after, the answer ends
 * there and the result carries it in `failure`.
 */
export async function speakAnswer(
  chat: ProviderEndpoint,
  tts: ProviderEndpoint,
  messages: ChatMessage[],
  { language, avoid, signal, onAudio }: {
    language: SpokenLanguage;
    avoid: readonly string[];
    signal?: AbortSignal;
    onAudio: AudioSink;
  },
): Promise<SpokenAnswer> {
  const stop = new AbortController();
  const stopped = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const splitter = new SentenceSplitter();
  const run = limiter(SPEECH_CONCURRENCY);
  const spoken: string[] = [];
  const delivered: string[] = [];
  // Each sentence's audio goes out after the one before it.
  let delivery: Promise<void> = Promise.resolve();
  let budget = MAX_SPOKEN_CHARS[language];
  let full = false;
  let chatEnded = false;
  let failure: unknown = null;
  let speechStartedAt = 0;
  let firstAudioAt = 0;
  const fail = (err: unknown) => {
    failure ??= err;
    stop.abort();
  };

  const say = (sentence: string) => {
    if (full || failure) return;
    let text = speakable(sentence);
    if (!text || isBlocked(text, avoid)) return;
    if (text.length > budget) {
      text = capText(text, budget);
      full = true;
    }
    // The space that joins English sentences counts too.
    budget -= text.length + (language === "zh" ? 0 : 1);
    const index = spoken.push(text) - 1;
    const speech = run(() => {
      speechStartedAt ||= performance.now();
      return speak(tts, text, { signal: stopped });
    });
    // Handled here so a failure while earlier audio is still going out
    // stops everything at once and is never an unhandled rejection.
    speech.catch(fail);
    delivery = delivery.then(async () => {
      const mp3 = await speech;
      if (failure) throw failure;
      firstAudioAt ||= performance.now();
      const last = chatEnded && index === spoken.length - 1;
      await onAudio(concatMp3([mp3]), { last });
      delivered.push(text);
    });
    delivery.catch(fail);
  };

  let chatDoneAt = 0;
  try {
    for await (
      const delta of streamChat(chat, messages, { signal: stopped })
    ) {
      for (const sentence of splitter.push(delta)) say(sentence);
      if (full || failure) break;
    }
    for (const sentence of splitter.flush()) say(sentence);
    chatDoneAt = performance.now();
    if (spoken.length === 0 && !failure) say(SAFE_FALLBACK[language]);
  } catch (err) {
    fail(err);
  }
  chatEnded = true;
  await delivery.catch(() => {});
  if (failure && delivered.length === 0) throw failure;
  return {
    text: joinSentences(delivered, language),
    sentences: delivered.length,
    ...(failure ? { failure } : {}),
    chatDoneAt,
    firstAudioAt,
    speechStartedAt,
  };
}

function joinSentences(sentences: string[], language: SpokenLanguage): string {
  return sentences.join(language === "zh" ? "" : " ");
}

/** Runs at most `n` tasks at once, in the order given. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((go) => waiting.push(go));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * Joins MP3 files into one: each file's ID3v2 head tag, Xing/Info/VBRI
 * header frame (it describes one file's length, not the whole) and ID3v1
 * tail tag are dropped; the MPEG audio frames are kept in order.
 */
export function concatMp3(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const frames = parts.map((part) => {
    let start = 0;
    if (
      part.length >= 10 && part[0] === 0x49 && part[1] === 0x44 &&
      part[2] === 0x33
    ) {
      const size = (part[6] << 21) | (part[7] << 14) | (part[8] << 7) |
        part[9];
      start = Math.min(part.length, 10 + size + (part[5] & 0x10 ? 10 : 0));
    }
    start += infoFrameLength(part.subarray(start));
    let end = part.length;
    if (
      end - start >= 128 && part[end - 128] === 0x54 &&
      part[end - 127] === 0x41 && part[end - 126] === 0x47
    ) end -= 128;
    return part.subarray(start, Math.max(start, end));
  });
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

const LAYER3_KBPS = {
  v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};

/** Length of a leading Xing/Info/VBRI layer III header frame, else 0. */
function infoFrameLength(bytes: Uint8Array): number {
  if (bytes.length < 4 || bytes[0] !== 0xff || (bytes[1] & 0xe0) !== 0xe0) {
    return 0;
  }
  const version = (bytes[1] >> 3) & 3;
  const layer = (bytes[1] >> 1) & 3;
  const kbps = (version === 3 ? LAYER3_KBPS.v1 : LAYER3_KBPS.v2)[
    bytes[2] >> 4
  ];
  const rate = SAMPLE_RATES[version]?.[(bytes[2] >> 2) & 3];
  if (layer !== 1 || !kbps || !rate) return 0;
  const length = Math.floor((version === 3 ? 144 : 72) * kbps * 1000 / rate) +
    ((bytes[2] >> 1) & 1);
  const head = new TextDecoder("latin1").decode(
    bytes.subarray(4, Math.min(bytes.length, 4 + 40)),
  );
  return /Xing|Info|VBRI/.test(head) ? Math.min(length, bytes.length) : 0;
}

/**
 * Opens the growing chat file for an answer of `toyId` and notes when to
 * sweep it (so a file a crash left behind goes too). An answer that fails
 * before any audio goes with `dropAnswerAudio`.
 */
export async function openAnswerAudio(
  kv: Deno.Kv,
  toyId: string,
  now = Date.now(),
): Promise<BlobWriter> {
  const name = `${randomHex(16)}.mp3`;
  await kv.set(["ai_answers", toyId, name], now + ANSWER_AUDIO_TTL_MS);
  return await openBlobWriter(kv, name, { kind: "chat" });
}

/**
 * Deletes an answer file that was never served and its sweep note, so a
 * failed answer leaves no key behind.
 */
export async function dropAnswerAudio(
  kv: Deno.Kv,
  toyId: string,
  writer: BlobWriter,
): Promise<void> {
  await writer.abort();
  await kv.delete(["ai_answers", toyId, writer.name]);
}

/**
 * Deletes answer audio past its time (of one toy, or of all toys); returns
 * how many files went. Idempotent; safe on several instances at once.
 */
export async function sweepAnswerAudio(
  kv: Deno.Kv,
  { toyId, now = Date.now(), all = false }: {
    toyId?: string;
    now?: number;
    all?: boolean;
  } = {},
): Promise<number> {
  let swept = 0;
  const prefix = toyId ? ["ai_answers", toyId] : ["ai_answers"];
  for await (const e of kv.list<number>({ prefix })) {
    if (!all && e.value > now) continue;
    await deleteBlob(kv, e.key[2] as string);
    await kv.atomic().check(e).delete(e.key).commit();
    swept++;
  }
  return swept;
}

/**
 * A spoken prompt for `text` as a chat file, made once per text, model and
 * voice and reused after.
 */
export async function promptAudio(
  kv: Deno.Kv,
  tts: ProviderEndpoint,
  text: string,
  { signal }: { signal?: AbortSignal } = {},
): Promise<string> {
  const name = `ai-prompt-${
    sha256Hex(`${tts.url}\n${tts.model}\n${tts.voice}\n${text}`).slice(0, 32)
  }.mp3`;
  if (await getBlobMeta(kv, name)) return name;
  const mp3 = await speak(tts, text, { signal });
  await putBlob(kv, name, mp3, { kind: "chat" });
  return name;
}

/** The name of the built-in "speak now" chime (no speech provider needed). */
const CUE_FILE = "ai-cue.mp3";

/**
 * The "speak now" chime as a chat file: two short tones, made once with the
 * transcoder from samples computed here, so no speech provider is needed.
 */
export async function cueAudio(
  kv: Deno.Kv,
  transcoder: Transcoder,
): Promise<string> {
  if (await getBlobMeta(kv, CUE_FILE)) return CUE_FILE;
  const { mp3 } = await transcoder.toMp3(chimeWav());
  await putBlob(kv, CUE_FILE, mp3, { kind: "chat" });
  return CUE_FILE;
}

/** A 16 kHz mono 16-bit WAV of two rising tones (A5, E6), faded in and out. */
function chimeWav(): Uint8Array {
  const rate = 16_000;
  const tone = 0.18;
  const notes = [880, 1318.5];
  const samples = Math.round(rate * tone) * notes.length;
  const bytes = new Uint8Array(44 + samples * 2);
  const view = new DataView(bytes.buffer);
  const ascii = (at: number, s: string) =>
    [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + samples * 2, true);
  ascii(8, "WAVEfmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, samples * 2, true);
  const per = samples / notes.length;
  for (let i = 0; i < samples; i++) {
    const t = (i % per) / rate;
    const fade = Math.min(1, (i % per) / 160, (per - (i % per)) / 800);
    const value = Math.sin(2 * Math.PI * notes[Math.floor(i / per)] * t) *
      0.4 * fade;
    view.setInt16(44 + i * 2, Math.round(value * 32767), true);
  }
  return bytes;
}
