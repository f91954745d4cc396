import { AppError } from "../platform/errors.ts";
import type { AppDeps } from "../platform/services.ts";
import { listContent } from "../smart_toy/content.ts";
import { listFriends } from "../smart_toy/friends.ts";
import {
  buildMessages,
  cueAudio,
  dropAnswerAudio,
  openAnswerAudio,
  promptAudio,
  speakAnswer,
  type SpokenAnswer,
  sweepAnswerAudio,
} from "./answer.ts";
import { detectIntent } from "./intent.ts";
import { getMemory, getProfile, keepTranscript, remember } from "./profile.ts";
import {
  type AiStep,
  endpointOf,
  ProviderError,
  STEP_NAMES,
  transcribe,
} from "./providers.ts";
import { languageOf, type SpokenLanguage } from "./safety.ts";

/**
 * The AI path of one recording (`POST /ai_uploader`): transcode → speech to
 * text → keyword intent → play, message, or a streamed, spoken answer →
 * store. Each stage is timed into `babble_ai_stage_seconds{stage}`.
 *
 * An answer's reply leaves as soon as its first sentence's audio is in the
 * chat file: the toy starts `GET /get_chat/<f>` and hears it while the
 * later sentences are still being spoken and appended (`AnswerTasks`
 * tracks that rest, each part bounded by its provider's time limit).
 *
 * The child's audio lives only in this call's memory; the transcript is
 * kept only in the toy's short conversation memory (answers) and, when the
 * operator turned transcripts on, for the parents.
 */

/** The three bare replies of seed 002. */
export type AiReply =
  | { from_user: "ai"; music: string }
  | { from_user: "ai"; chat: string }
  | { from_user: string; chat: string; friend_type: "app" | "toy" };

/** The stages a reply goes through. */
export type AiStage = "transcode" | "stt" | "intent" | "chat" | "tts" | "store";

/** A reply and how long each stage took. */
export interface AiOutcome {
  reply: AiReply;
  intent: "play" | "message" | "answer" | "unheard";
  /** Milliseconds per stage that ran. */
  stages: Partial<Record<AiStage, number>>;
  /** Milliseconds until the first sentence of an answer was in its file. */
  firstAudioMs?: number;
  totalMs: number;
}

/** The histogram every stage is timed into. */
const STAGE_METRIC = "babble_ai_stage_seconds";
/** Answers a provider failure cut short after their reply went out. */
export const CUT_SHORT_METRIC = "babble_ai_answers_cut_short_total";

/**
 * The answers still being spoken after their reply went out; `settle()`
 * waits for them (a server closing lets them finish their file).
 */
export class AnswerTasks {
  #tasks = new Set<Promise<void>>();

  /** How many answers are still being spoken. */
  get size(): number {
    return this.#tasks.size;
  }

  /** Tracks `task` until it settles. */
  add(task: Promise<void>): void {
    const tracked = task.catch(() => {}).finally(() =>
      this.#tasks.delete(tracked)
    );
    this.#tasks.add(tracked);
  }

  /** Resolves once every tracked answer has settled. */
  async settle(): Promise<void> {
    while (this.#tasks.size) await Promise.all(this.#tasks);
  }
}

/** What a toy says to ask for the next recording to a friend. */
function talkNowPrompt(name: string, language: SpokenLanguage): string {
  return language === "zh"
    ? `好的，现在跟${name}说吧。`
    : `OK, talk to ${name} now.`;
}

/** What a toy says when the recording held no words. */
const UNHEARD_PROMPT: Record<SpokenLanguage, string> = {
  zh: "我没有听清楚，可以再说一遍吗？",
  en: "I didn't catch that. Can you say it again?",
};

/**
 * Turns one recording of `toyId` (already authorised) into a reply.
 * Throws AppError: 503 when a needed provider is not configured (the
 * message names it and its flag), 502/503/504 when a provider fails
 * (nothing is stored then), 4xx for audio that is not audio.
 */
export async function replyToRecording(
  deps: AppDeps,
  toyId: string,
  audio: Uint8Array,
  options: { signal?: AbortSignal; tasks?: AnswerTasks } = {},
): Promise<AiOutcome> {
  try {
    return await reply(deps, toyId, audio, options);
  } catch (err) {
    if (err instanceof ProviderError) {
      deps.metrics.inc("babble_ai_provider_failures_total", {
        step: err.step,
        status: String(err.status),
      });
    }
    throw err;
  }
}

async function reply(
  deps: AppDeps,
  toyId: string,
  audio: Uint8Array,
  { signal, tasks }: { signal?: AbortSignal; tasks?: AnswerTasks },
): Promise<AiOutcome> {
  const started = performance.now();
  const stages: AiOutcome["stages"] = {};
  const time = async <T>(stage: AiStage, work: () => Promise<T>) => {
    const at = performance.now();
    try {
      return await work();
    } finally {
      record(stage, performance.now() - at);
    }
  };
  const record = (stage: AiStage, ms: number) => {
    stages[stage] = Math.round(ms * 10) / 10;
    deps.metrics.observe(STAGE_METRIC, { stage }, ms / 1000);
  };
  const { kv, config } = deps;
  const stt = endpointOf(config, "stt");
  if (!stt) throw notConfigured(["stt"], "the toy cannot listen");
  const transcoder = deps.transcoder;
  if (!transcoder) {
    throw new AppError(503, "audio is off on this server (no transcoder)");
  }

  // The toy's profile, memory, library and friends load while ffmpeg runs.
  const context = Promise.all([
    getProfile(kv, toyId),
    getMemory(kv, toyId),
    listContent(kv),
    listFriends(kv, toyId),
  ]);
  context.catch(() => {});
  const { mp3 } = await time("transcode", () => transcoder.toMp3(audio));
  const [profile, memory, content, friends] = await context;
  const heard = await time(
    "stt",
    () =>
      transcribe(stt, mp3 as Uint8Array<ArrayBuffer>, {
        language: profile.language === "auto" ? undefined : profile.language,
        signal,
      }),
  );
  const language = profile.language === "auto"
    ? languageOf(heard)
    : profile.language;
  const outcome = (
    reply: AiReply,
    intent: AiOutcome["intent"],
    firstAudioMs?: number,
  ): AiOutcome => {
    deps.metrics.inc("babble_ai_replies_total", { intent });
    return {
      reply,
      intent,
      stages,
      ...(firstAudioMs !== undefined ? { firstAudioMs } : {}),
      totalMs: Math.round((performance.now() - started) * 10) / 10,
    };
  };

  if (!heard) {
    const chat = await time(
      "store",
      () => spokenPrompt(deps, UNHEARD_PROMPT[language], signal),
    );
    return outcome({ from_user: "ai", chat }, "unheard");
  }

  const intentAt = performance.now();
  const intent = detectIntent(heard, { content, friends });
  record("intent", performance.now() - intentAt);

  if (intent.kind === "play") {
    await keep(deps, toyId, heard, "play", intent.item.title);
    return outcome({ from_user: "ai", music: intent.item.music }, "play");
  }
  if (intent.kind === "message") {
    const friend = intent.friend;
    const name = friend.friend_remark || friend.friend_nick;
    const chat = await time(
      "store",
      () => spokenPrompt(deps, talkNowPrompt(name, language), signal),
    );
    await keep(deps, toyId, heard, "message", name);
    return outcome(
      { from_user: friend.friend_id, chat, friend_type: friend.friend_type },
      "message",
    );
  }

  const chatEndpoint = endpointOf(config, "chat");
  const ttsEndpoint = endpointOf(config, "tts");
  const missing = ([["chat", chatEndpoint], ["tts", ttsEndpoint]] as const)
    .filter(([, endpoint]) => !endpoint).map(([step]) => step);
  if (!chatEndpoint || !ttsEndpoint) {
    throw notConfigured(
      missing,
      "the toy can play content and message friends but cannot answer questions",
    );
  }
  const writer = await openAnswerAudio(kv, toyId);
  const chatAt = performance.now();
  let storeMs = 0;
  let firstAppendedAt = 0;
  let firstOut = () => {};
  const replyNow = new Promise<null>((resolve) => {
    firstOut = () => resolve(null);
  });
  const speaking = speakAnswer(
    chatEndpoint,
    ttsEndpoint,
    buildMessages(profile, memory, heard, language),
    {
      language,
      avoid: profile.avoid_topics,
      signal,
      async onAudio(mp3, { last }) {
        const at = performance.now();
        await writer.append(mp3);
        storeMs += performance.now() - at;
        firstAppendedAt ||= performance.now();
        // The last sentence completes the file first, then the reply goes.
        if (!last) firstOut();
      },
    },
  );
  speaking.catch(() => {});

  /** Stages, memory and the sweep, then the file is marked complete. */
  const complete = async (answer: SpokenAnswer) => {
    record("chat", (answer.chatDoneAt || performance.now()) - chatAt);
    record(
      "tts",
      performance.now() - (answer.speechStartedAt || answer.chatDoneAt),
    );
    record("store", storeMs);
    if (answer.failure) cutShort(deps, writer.name, answer);
    await Promise.all([
      remember(kv, toyId, {
        question: heard,
        answer: answer.text,
        at: Date.now(),
      }, {
        turns: config.aiMemoryTurns,
        quietMs: config.aiMemoryMinutes * 60_000,
      }),
      keep(deps, toyId, heard, "answer", answer.text),
      sweepAnswerAudio(kv, { toyId }),
    ]);
    await writer.finish();
  };

  let whole: SpokenAnswer | null;
  try {
    whole = await Promise.race([replyNow, speaking]);
  } catch (err) {
    await dropAnswerAudio(kv, toyId, writer).catch((e) =>
      deps.log.warn("AI answer file left behind", { error: String(e) })
    );
    throw err;
  }
  const chat = writer.name;
  if (whole) {
    await complete(whole);
  } else {
    const rest = speaking.then(complete).catch(async (err) => {
      deps.log.error("AI answer could not be completed", {
        file: chat,
        error: err instanceof Error ? err.message : String(err),
      });
      await writer.finish().catch(() => {});
    });
    tasks?.add(rest);
  }
  return outcome(
    { from_user: "ai", chat },
    "answer",
    Math.round((firstAppendedAt - started) * 10) / 10,
  );
}

/** Logs and counts an answer a provider cut short after the reply left. */
function cutShort(deps: AppDeps, file: string, answer: SpokenAnswer) {
  const err = answer.failure;
  const step = err instanceof ProviderError ? err.step : "store";
  deps.log.warn("AI answer cut short; the file keeps what was spoken", {
    file,
    sentences: answer.sentences,
    step,
    error: err instanceof Error ? err.message : String(err),
  });
  deps.metrics.inc(CUT_SHORT_METRIC, { step });
  if (err instanceof ProviderError) {
    deps.metrics.inc("babble_ai_provider_failures_total", {
      step: err.step,
      status: String(err.status),
    });
  }
}

/** A short spoken prompt: the speech provider's voice, else the chime. */
async function spokenPrompt(
  deps: AppDeps,
  text: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const tts = endpointOf(deps.config, "tts");
  if (tts) {
    try {
      return await promptAudio(deps.kv, tts, text, { signal });
    } catch (err) {
      // A prompt is a courtesy: the chime says "speak now" as well.
      deps.log.warn("AI prompt speech failed; using the chime", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return await cueAudio(deps.kv, deps.transcoder!);
}

/** Keeps a transcript when the operator turned that on. */
async function keep(
  deps: AppDeps,
  toyId: string,
  heard: string,
  intent: "play" | "message" | "answer",
  reply: string,
): Promise<void> {
  if (!deps.config.aiKeepTranscripts) return;
  await keepTranscript(deps.kv, toyId, { heard, intent, reply });
}

/** 503 naming the unconfigured steps and their flags. */
function notConfigured(steps: AiStep[], effect: string): AppError {
  const names = steps.map((s) =>
    `${STEP_NAMES[s].name} (${STEP_NAMES[s].flag})`
  );
  return new AppError(
    503,
    `AI ${steps.length > 1 ? "providers" : "provider"} not configured: ${
      names.join(" and ")
    }, so ${effect}`,
    { data: { missing: steps } },
  );
}
