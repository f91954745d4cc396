import { AppError } from "../platform/errors.ts";
import { newId } from "../store/ids.ts";
import { deleteKeys } from "../store/kv.ts";

/**
 * What a toy's AI knows: the profile its parent sets (persona, the child's
 * age, language, topics to avoid), a short conversation memory so follow-up
 * questions work, and — only when the operator turns it on — transcripts
 * the parent can read.
 *
 * | key                                | value                                |
 * | ---------------------------------- | ------------------------------------ |
 * | ["ai_profiles", toyId]             | AiProfile                            |
 * | ["ai_memory", toyId]               | Memory (expireIn + expiresAt)        |
 * | ["ai_transcripts", toyId, id]      | Transcript (expireIn + expiresAt)    |
 *
 * Memory forgets after a quiet spell: `expireIn` deletes lazily, so
 * `expiresAt` is checked on every read.
 */

/** The languages a toy's AI speaks; "auto" follows the child. */
export type AiLanguage = "auto" | "zh" | "en";

/** A toy's AI profile, as its parent sets it. */
export interface AiProfile {
  toy_id: string;
  /** What the toy calls itself. */
  persona_name: string;
  /** The child's age in years, so answers fit. */
  child_age: number;
  language: AiLanguage;
  /** Topics the toy must not talk about. */
  avoid_topics: string[];
  /** Seconds since the epoch; 0 while the parent never set it. */
  updated_at: number;
}

/** What a parent may change. */
export type ProfileChanges = Partial<
  Pick<AiProfile, "persona_name" | "child_age" | "language" | "avoid_topics">
>;

/** The profile of a toy whose parent has set nothing. */
export function defaultProfile(toyId: string): AiProfile {
  return {
    toy_id: toyId,
    persona_name: "Babble",
    child_age: 6,
    language: "auto",
    avoid_topics: [],
    updated_at: 0,
  };
}

/** A toy's profile (the defaults when never set). */
export async function getProfile(
  kv: Deno.Kv,
  toyId: string,
): Promise<AiProfile> {
  const stored = (await kv.get<AiProfile>(["ai_profiles", toyId])).value;
  return stored ?? defaultProfile(toyId);
}

/**
 * Applies `changes` to a toy's profile. One atomic write that checks the
 * profile it read and that the toy still exists (an unbind in between
 * wins); 404 when the toy is gone.
 */
export async function setProfile(
  kv: Deno.Kv,
  toyId: string,
  changes: ProfileChanges,
): Promise<AiProfile> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [toy, current] = await kv.getMany<[unknown, AiProfile]>([
      ["toys", toyId],
      ["ai_profiles", toyId],
    ]);
    if (toy.versionstamp === null) {
      throw new AppError(404, `no toy with toy_id "${toyId}"`);
    }
    const profile: AiProfile = {
      ...(current.value ?? defaultProfile(toyId)),
      ...definedOnly(changes),
      updated_at: Date.now() / 1000,
    };
    const res = await kv.atomic()
      .check(toy)
      .check(current)
      .set(["ai_profiles", toyId], profile)
      .commit();
    if (res.ok) return profile;
  }
  throw new AppError(409, "the profile was changed concurrently; retry");
}

function definedOnly(changes: ProfileChanges): ProfileChanges {
  return Object.fromEntries(
    Object.entries(changes).filter(([, v]) => v !== undefined),
  ) as ProfileChanges;
}

/** One question and its answer. */
export interface Turn {
  question: string;
  answer: string;
  /** Milliseconds since the epoch. */
  at: number;
}

/** A toy's conversation memory. */
interface Memory {
  turns: Turn[];
  expiresAt: number;
}

/** How much a toy remembers, and for how long after the last turn. */
export interface MemoryLimits {
  turns: number;
  quietMs: number;
}

// Each remembered text is capped, so a memory of any configured length
// stays far below the 64 KiB value limit.
const MAX_TURN_CHARS = 600;
const MAX_MEMORY_CHARS = 12_000;

/** The toy's remembered turns, oldest first; [] once the quiet spell passed. */
export async function getMemory(
  kv: Deno.Kv,
  toyId: string,
  now = Date.now(),
): Promise<Turn[]> {
  const memory = (await kv.get<Memory>(["ai_memory", toyId])).value;
  return memory && memory.expiresAt > now ? memory.turns : [];
}

/**
 * Adds a turn to the toy's memory, keeping the last `limits.turns` and
 * restarting the quiet-spell clock. Atomic against the memory it read.
 */
export async function remember(
  kv: Deno.Kv,
  toyId: string,
  turn: Turn,
  limits: MemoryLimits,
): Promise<void> {
  const kept: Turn = {
    question: turn.question.slice(0, MAX_TURN_CHARS),
    answer: turn.answer.slice(0, MAX_TURN_CHARS),
    at: turn.at,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await kv.get<Memory>(["ai_memory", toyId]);
    const live = entry.value && entry.value.expiresAt > turn.at
      ? entry.value.turns
      : [];
    const turns = [...live, kept].slice(-limits.turns);
    while (
      turns.length > 1 &&
      turns.reduce((n, t) => n + t.question.length + t.answer.length, 0) >
        MAX_MEMORY_CHARS
    ) turns.shift();
    const expiresAt = turn.at + limits.quietMs;
    const res = await kv.atomic()
      .check(entry)
      .set(["ai_memory", toyId], { turns, expiresAt } satisfies Memory, {
        expireIn: limits.quietMs,
      })
      .commit();
    if (res.ok) return;
  }
}

/** Forgets the toy's conversation; idempotent. */
export async function clearMemory(kv: Deno.Kv, toyId: string): Promise<void> {
  await kv.delete(["ai_memory", toyId]);
}

/** What the child said and what the toy did, kept only when the operator allows. */
export interface Transcript {
  _id: string;
  toy_id: string;
  /** The child's words, as speech-to-text heard them. */
  heard: string;
  intent: "play" | "message" | "answer";
  /** What the toy replied: the answer, the title played, the friend messaged. */
  reply: string;
  /** Seconds since the epoch. */
  create_time: number;
}

/** How long a kept transcript lives. */
const TRANSCRIPT_TTL_MS = 30 * 24 * 3600 * 1000;

/** Keeps one transcript (the caller checks the operator's setting). */
export async function keepTranscript(
  kv: Deno.Kv,
  toyId: string,
  entry: Pick<Transcript, "heard" | "intent" | "reply">,
): Promise<Transcript> {
  const transcript: Transcript = {
    _id: newId(),
    toy_id: toyId,
    heard: entry.heard.slice(0, 2_000),
    intent: entry.intent,
    reply: entry.reply.slice(0, 2_000),
    create_time: Date.now() / 1000,
  };
  await kv.set(
    ["ai_transcripts", toyId, transcript._id],
    { ...transcript, expiresAt: Date.now() + TRANSCRIPT_TTL_MS },
    { expireIn: TRANSCRIPT_TTL_MS },
  );
  return transcript;
}

/** A toy's transcripts, newest first; `before` an id for the next page. */
export async function listTranscripts(
  kv: Deno.Kv,
  toyId: string,
  { before, limit = 50 }: { before?: string; limit?: number } = {},
): Promise<Transcript[]> {
  const out: Transcript[] = [];
  const now = Date.now();
  const entries = kv.list<Transcript & { expiresAt: number }>(
    before
      ? {
        prefix: ["ai_transcripts", toyId],
        end: ["ai_transcripts", toyId, before],
      }
      : { prefix: ["ai_transcripts", toyId] },
    { reverse: true },
  );
  for await (const e of entries) {
    if (e.value.expiresAt <= now) continue;
    const { expiresAt: _, ...transcript } = e.value;
    out.push(transcript);
    if (out.length === limit) break;
  }
  return out;
}

/** Deletes a toy's transcripts; returns how many. */
export async function clearTranscripts(
  kv: Deno.Kv,
  toyId: string,
): Promise<number> {
  const keys: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: ["ai_transcripts", toyId] })) {
    keys.push(e.key);
  }
  await deleteKeys(kv, keys);
  return keys.length;
}

/** Deletes everything this module keeps for a toy (its unbinding calls it). */
export async function deleteToyAiData(
  kv: Deno.Kv,
  toyId: string,
): Promise<void> {
  await clearTranscripts(kv, toyId);
  await deleteKeys(kv, [["ai_memory", toyId], ["ai_profiles", toyId]]);
}
