import { AppError } from "../platform/errors.ts";
import { isId, newId } from "../store/ids.ts";
import { dateOf } from "./dates.ts";

/**
 * Diaries: what a user wrote, its emotion class (0-7, the seed's table) and
 * the words that decided it.
 *
 * | key                                         | value         |
 * | ------------------------------------------- | ------------- |
 * | ["diaryu_diaries", diaryId]                 | Diary         |
 * | ["diaryu_diaries_by_user", openId, diaryId] | DiarySummary  |
 *
 * The by-user index holds the whole summary, so a listing is one
 * `kv.list`; a diary and its summary change together in one atomic op.
 * Diary ids are time-ordered, so the index lists oldest first.
 */

/** Longest title, in characters. */
export const MAX_TITLE = 100;
/**
 * Longest diary, in UTF-16 code units (zod's and JavaScript's `length`):
 * a long day's entry, and at two bytes a unit far under KV's 64 KiB value.
 */
export const MAX_CONTENT = 10_000;
/** Characters of content a summary shows in place of a missing title. */
const PREVIEW_CHARS = 100;
/** Words of evidence kept with a diary. */
export const MAX_EVIDENCE = 8;

/** A word that moved the classifier (as emotion.ts reports it). */
export interface EvidenceWord {
  word: string;
  emotion: number;
  weight: number;
  negated?: boolean;
  degree?: number;
}

/** A stored diary. */
export interface Diary {
  diary_id: string;
  openId: string;
  title: string;
  content: string;
  emotion: number;
  evidence: EvidenceWord[];
  /** `YYYY-MM-DD`, China Standard Time, of the first writing. */
  publish_date: string;
  createdAt: number;
  updatedAt: number;
}

/** What a listing shows of a diary. */
export interface DiarySummary {
  diary_id: string;
  /** The diary's own title ("" when it has none). */
  title: string;
  /** The first PREVIEW_CHARS characters of the content. */
  preview: string;
  emotion: number;
  evidence: EvidenceWord[];
  publish_date: string;
}

/** A diary's text and its classification, as written or edited. */
export interface DiaryDraft {
  title: string;
  content: string;
  emotion: number;
  evidence: EvidenceWord[];
}

function diaryKey(diaryId: string): Deno.KvKey {
  return ["diaryu_diaries", diaryId];
}

function byUserKey(openId: string, diaryId: string): Deno.KvKey {
  return ["diaryu_diaries_by_user", openId, diaryId];
}

/** The first `n` characters (code points: an emoji is never cut in half). */
export function firstChars(text: string, n: number): string {
  if (text.length <= n) return text;
  return Array.from(text).slice(0, n).join("");
}

/** A diary's listing entry. */
function summaryOf(diary: Diary): DiarySummary {
  return {
    diary_id: diary.diary_id,
    title: diary.title,
    preview: firstChars(diary.content, PREVIEW_CHARS),
    emotion: diary.emotion,
    evidence: diary.evidence,
    publish_date: diary.publish_date,
  };
}

function writeDiary(op: Deno.AtomicOperation, diary: Diary) {
  return op.set(diaryKey(diary.diary_id), diary)
    .set(byUserKey(diary.openId, diary.diary_id), summaryOf(diary));
}

/** Stores a new diary of `openId`; one atomic op for the diary and its index entry. */
export async function createDiary(
  kv: Deno.Kv,
  openId: string,
  draft: DiaryDraft,
  { now = Date.now() }: { now?: number } = {},
): Promise<Diary> {
  const diary: Diary = {
    diary_id: newId(now),
    openId,
    title: draft.title,
    content: draft.content,
    emotion: draft.emotion,
    evidence: draft.evidence.slice(0, MAX_EVIDENCE),
    publish_date: dateOf(now),
    createdAt: now,
    updatedAt: now,
  };
  const res = await writeDiary(kv.atomic(), diary).commit();
  if (!res.ok) throw new Error(`failed to store diary ${diary.diary_id}`);
  return diary;
}

/** A diary by id, or null (also for a malformed id). */
export async function getDiary(
  kv: Deno.Kv,
  diaryId: string,
): Promise<Diary | null> {
  if (!isId(diaryId)) return null;
  return (await kv.get<Diary>(diaryKey(diaryId))).value;
}

async function ownEntry(
  kv: Deno.Kv,
  openId: string,
  diaryId: string,
): Promise<Deno.KvEntry<Diary>> {
  const entry = isId(diaryId)
    ? await kv.get<Diary>(diaryKey(diaryId))
    : { value: null };
  if (!entry.value) {
    throw new AppError(404, `no diary with diaryId "${diaryId}"`);
  }
  if (entry.value.openId !== openId) {
    throw new AppError(403, `diary "${diaryId}" is not yours`);
  }
  return entry as Deno.KvEntry<Diary>;
}

/** The caller's own diary: 404 when there is none, 403 when it is another user's. */
export async function requireOwnDiary(
  kv: Deno.Kv,
  openId: string,
  diaryId: string,
): Promise<Diary> {
  return (await ownEntry(kv, openId, diaryId)).value;
}

/**
 * Rewrites the caller's diary with `edit` applied to what is stored now
 * (`edit` gets the stored diary and returns the new text and class). The
 * write checks the diary read, so concurrent edits cannot lose one another
 * silently: the later one is re-applied to the earlier one's result.
 */
export async function updateDiary(
  kv: Deno.Kv,
  openId: string,
  diaryId: string,
  edit: (stored: Diary) => DiaryDraft,
  { now = Date.now() }: { now?: number } = {},
): Promise<Diary> {
  for (;;) {
    const entry = await ownEntry(kv, openId, diaryId);
    const draft = edit(entry.value);
    const diary: Diary = {
      ...entry.value,
      title: draft.title,
      content: draft.content,
      emotion: draft.emotion,
      evidence: draft.evidence.slice(0, MAX_EVIDENCE),
      updatedAt: now,
    };
    const res = await writeDiary(kv.atomic().check(entry), diary).commit();
    if (res.ok) return diary;
  }
}

/** Deletes the caller's diary and its index entry in one atomic op. */
export async function deleteDiary(
  kv: Deno.Kv,
  openId: string,
  diaryId: string,
): Promise<void> {
  const entry = await ownEntry(kv, openId, diaryId);
  await kv.atomic().check(entry)
    .delete(diaryKey(diaryId))
    .delete(byUserKey(openId, diaryId))
    .commit();
}

/** Paging of `listDiaries`. */
export interface DiaryPage {
  /** At most `limit` summaries, oldest first. */
  diaries: DiarySummary[];
  /** True when older diaries exist (page on with `before` = the first id). */
  more: boolean;
}

/**
 * The `limit` most recent diaries of `openId` written before diary
 * `before` (all when absent), oldest first.
 */
export async function listDiaries(
  kv: Deno.Kv,
  openId: string,
  { limit = 100, before }: { limit?: number; before?: string } = {},
): Promise<DiaryPage> {
  const prefix = ["diaryu_diaries_by_user", openId];
  const selector = before ? { prefix, end: [...prefix, before] } : { prefix };
  const diaries: DiarySummary[] = [];
  for await (
    const entry of kv.list<DiarySummary>(selector, {
      reverse: true,
      limit: limit + 1,
    })
  ) {
    diaries.push(entry.value);
  }
  const more = diaries.length > limit;
  return { diaries: diaries.slice(0, limit).reverse(), more };
}
