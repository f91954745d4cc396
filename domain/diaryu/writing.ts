import { classifyEmotion, type EmotionLexicon } from "./emotion.ts";
import {
  createDiary,
  type Diary,
  type DiaryDraft,
  type EvidenceWord,
  MAX_EVIDENCE,
  updateDiary,
} from "./diaries.ts";
import { matchOrWait, type MatchOutcome } from "./matching.ts";

/**
 * Writing a diary, as `emotion/` and `alt_diary_action/` do it: classify
 * the text, store the diary, then match the writer (matching.ts) with the
 * emotion of what they just wrote. The diary is stored before matching
 * starts, so a busy matcher never loses a diary.
 */

/** A text's emotion class and the words that decided it. */
export interface Classification {
  emotion: number;
  evidence: EvidenceWord[];
}

/** Classifies a diary's text (title and content). */
export type Classifier = (text: string) => Classification;

/**
 * The classifier of emotion.ts over `lexicon` (its built-in one when
 * absent); keeps the MAX_EVIDENCE words it ranks first (the winning
 * class's, heaviest first).
 */
export function emotionClassifier(lexicon?: EmotionLexicon): Classifier {
  const options = lexicon ? { lexicon } : {};
  return function classify(text: string): Classification {
    const result = classifyEmotion(text, options);
    return {
      emotion: result.emotion,
      evidence: result.evidence.slice(0, MAX_EVIDENCE).map((e) => ({ ...e })),
    };
  };
}

/** What a write produced: the stored diary and the writer's match. */
export interface Written {
  diary: Diary;
  match: MatchOutcome;
}

function draftOf(
  classify: Classifier,
  title: string,
  content: string,
): DiaryDraft {
  const { emotion, evidence } = classify(
    title ? `${title}\n${content}` : content,
  );
  return { title, content, emotion, evidence };
}

/** Stores a new diary of `openId`, classified, then matches its writer. */
export async function writeDiary(
  kv: Deno.Kv,
  openId: string,
  { title, content, classify }: {
    title: string;
    content: string;
    classify: Classifier;
  },
): Promise<Written> {
  const diary = await createDiary(
    kv,
    openId,
    draftOf(classify, title, content),
  );
  const match = await matchOrWait(kv, openId, diary.emotion);
  return { diary, match };
}

/**
 * Edits the caller's diary (fields left out keep their text), classifies
 * it again, then matches its writer as a new diary would.
 */
export async function rewriteDiary(
  kv: Deno.Kv,
  openId: string,
  { diaryId, title, content, classify }: {
    diaryId: string;
    title?: string;
    content?: string;
    classify: Classifier;
  },
): Promise<Written> {
  const diary = await updateDiary(
    kv,
    openId,
    diaryId,
    (stored) =>
      draftOf(classify, title ?? stored.title, content ?? stored.content),
  );
  const match = await matchOrWait(kv, openId, diary.emotion);
  return { diary, match };
}
