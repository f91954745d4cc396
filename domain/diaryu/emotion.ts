/**
 * DiaryU emotion classifier: the seed's eight classes for diary text in
 * Chinese, English or both, offline, synchronous and explainable (the result
 * lists the words that decided).
 *
 * Reading a text:
 * - Chinese, emoji, WeChat/Weibo tags ("[哈哈]") and kaomoji are matched
 *   longest-first against a trie of the lexicon, so "不开心" is 不 + 开心 and
 *   "天气" (a neutral entry) hides its 气. A one-character word (烦, 爽, 气)
 *   counts only when it stands as a word: next to punctuation or function
 *   characters (好烦, 烦死了) it does; inside other characters Intl.Segmenter
 *   ("zh", word granularity) decides. The segmenter is asked only then,
 *   because segmenting every diary would cost more than all the rest.
 * - English words are looked up whole, then as phrases ("can't wait"), then
 *   with elongation undone ("soooo", "hahaha", "2333") and regular endings
 *   stripped (-s, -ed, -ing, -ly, -er, -est, -ness).
 *
 * Rules:
 * - Negation (不, 没有, 别, not, never, n't …) turns the next emotion word
 *   within a few words: Happy becomes Sad ("不开心", "not happy"), Satisfied
 *   becomes Disgusted ("not worth it"; "不好", "not good" become Sad),
 *   Peaceful becomes Worried ("不平静"), and a negative or surprised word
 *   becomes a faint Peaceful ("不害怕", "don't worry", "不意外"): denying a
 *   fear says the writer is calm, not happy. "不太开心" / "not very happy"
 *   (negation before a degree word) is a weak turn; "很不开心" a strong one;
 *   two negations cancel. A negation reads through light words ("没有觉得很
 *   开心", "not feeling happy") but another content word takes it ("不去上班，
 *   开心", "can't shake this anxiety").
 * - Degree words before a word (很, 非常, 有点, very, a bit …) and after it
 *   (死了, 得要命, af) scale it; 好 / damn are degree words before an emotion
 *   word and emotion words otherwise.
 * - Contrast (但是, 不过, but, however) weakens what came before in the
 *   sentence and strengthens what follows; concession (虽然, although)
 *   weakens its own clause.
 * - "!" and "！" strengthen their clause (more for surprise), "?!" and "???"
 *   add surprise, repeated characters and emoji (哈哈哈哈, 😭😭😭, 啊啊啊)
 *   strengthen, and a text with several questions weighs its worry more.
 * - The class with the highest score wins; Peaceful when nothing scores at
 *   least MIN_SCORE or calm words score as much.
 */

import {
  CONCESSION_WORDS,
  CONTRAST_WORDS,
  DEGREE_WORDS,
  EMOTION_WORDS,
  NEGATION_TARGETS,
  NEGATORS,
  POST_DEGREE_WORDS,
  SOFT_NEGATORS,
  STRONG_NEGATORS,
} from "./emotion_lexicon.ts";

/** One of the seed's emotion classes. */
export interface EmotionClass {
  readonly code: number;
  readonly zh: string;
  readonly en: string;
}

/** The seed's eight classes, indexed by code. */
export const EMOTIONS: readonly EmotionClass[] = Object.freeze([
  { code: 0, zh: "静", en: "Peaceful" },
  { code: 1, zh: "乐", en: "Happy" },
  { code: 2, zh: "好", en: "Satisfied" },
  { code: 3, zh: "怒", en: "Angry" },
  { code: 4, zh: "哀", en: "Sad" },
  { code: 5, zh: "惧", en: "Worried" },
  { code: 6, zh: "恶", en: "Disgusted" },
  { code: 7, zh: "惊", en: "Surprised" },
]);

/** What a lexicon says about one word: its class and how strongly. */
export interface LexiconEntry {
  readonly emotion: number;
  readonly strength: number;
}

/**
 * Words (lower-case; English phrases with single spaces) to their entry. A
 * lexicon is compiled once per object and cached: do not change it after
 * classifying with it.
 */
export type EmotionLexicon = ReadonlyMap<string, LexiconEntry>;

/** A word, emoji, tag or punctuation run that moved the scores. */
export interface EmotionEvidence {
  /** As written in the text. */
  word: string;
  /** The class it scored for (after negation). */
  emotion: number;
  /** What it added to that class. */
  weight: number;
  /** A negation turned it (its own class was another). */
  negated?: boolean;
  /** The degree multiplier applied to it, when not 1. */
  degree?: number;
}

/** The class of a text, the score of each class and the deciding words. */
export interface EmotionResult {
  /** 0-7, the seed's table. */
  emotion: number;
  /** Eight scores, indexed by class. */
  scores: number[];
  /** The winning class's words first, then the rest, heaviest first. */
  evidence: EmotionEvidence[];
}

/** Options of classifyEmotion. */
export interface ClassifyOptions {
  /** The whole lexicon to use (default: the built-in one). */
  lexicon?: EmotionLexicon;
}

/** Below this top score a text is Peaceful: one faint word ("有点累") is no mood. */
const MIN_SCORE = 0.6;
/** Units (a Chinese character or matched word; an English word) a negation reaches. */
const NEGATION_REACH_CJK = 4;
const NEGATION_REACH_WORDS = 3;
/** Units a degree word reaches: "太让人开心" but not across a clause. */
const DEGREE_REACH_CJK = 3;
const DEGREE_REACH_WORDS = 2;
/** "not very happy" is a weak turn, whatever the degree word. */
const SOFT_NEGATION = 0.6;
/** Chained degree words ("真的太超级") stop multiplying here. */
const MAX_DEGREE = 3;
const CONCESSION_WEIGHT = 0.6;
const BEFORE_CONTRAST = 0.6;
const AFTER_CONTRAST = 1.3;
/** Clause multiplier by the number of "!" closing it (0, 1, 2, 3+). */
const EXCLAMATION_BOOST = [1, 1.2, 1.4, 1.6];
const EXCLAIMED_SURPRISE = 1.3;
const INTERROBANG_WEIGHT = 0.8;
const QUESTION_RUN_WEIGHT = 0.6;
/** With this many questions, worry words weigh WORRIED_QUESTIONS times more. */
const QUESTION_HEAVY = 2;
const WORRIED_QUESTIONS = 1.4;
/** Each repeat of a word ("哈哈哈哈", "😭😭") adds this much, up to REPEAT_MAX. */
const REPEAT_STEP = 0.2;
const REPEAT_MAX = 1.6;
/** "soooo happy", "yayyyy", and a stutter like "啊啊啊" in the clause. */
const ELONGATION_BOOST = 1.3;
/** Evidence kept in a result (a 100 KB text matches thousands of words). */
const MAX_EVIDENCE = 64;

/** The class a negated word of each class scores for, and the factor. */
const NEGATED_CLASS = [5, 4, 6, 0, 0, 0, 0, 0];
const NEGATED_FACTOR = [0.6, 0.8, 0.7, 0.5, 0.5, 0.5, 0.5, 0.5];

const CONTRAST = 1;
const CONCESSION = 2;

/** Everything the reader knows about one lexicon key. */
interface Sense {
  emotion: number;
  strength: number;
  negatedEmotion: number;
  negatedFactor: number;
  /** Multiplier for the next emotion word; 0 when not a degree word. */
  degree: number;
  /** Multiplier for the emotion word just before; 0 when none. */
  post: number;
  /** Weight of a negation (1, or more for "根本不"); 0 when not one. */
  negation: number;
  softNegation: boolean;
  contrast: number;
  /** One Han character: it must stand as a word to count. */
  single: boolean;
  /** What a repeat looks like: the character of "哈哈", else the key. */
  repeat: string;
}

interface TrieNode {
  next: Map<number, TrieNode> | null;
  sense: Sense | null;
}

interface Phrase {
  rest: string[];
  sense: Sense;
}

/** A lexicon compiled for reading. */
interface Matcher {
  /** The trie's first level by UTF-16 code unit: no hashing per character. */
  firsts: (TrieNode | undefined)[];
  words: Map<string, Sense>;
  phrases: Map<string, Phrase[]>;
}

/** An English word or phrase key: letters, digits, ' and _, inner hyphens. */
const WORDY =
  /^[a-z0-9'_]+(?:-[a-z0-9'_]+)*(?: [a-z0-9'_]+(?:-[a-z0-9'_]+)*)*$/;

/** The key a word is stored under: trimmed, ASCII lower-case, no VS16. */
function normalizeKey(word: string): string {
  const key = word.trim().replace(/\uFE0F/g, "").replace(/[\u2018\u2019]/g, "'")
    .replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
  return WORDY.test(key.replace(/\s+/g, " ")) ? key.replace(/\s+/g, " ") : key;
}

/** Keys of a whitespace-separated word list; `+` joins a phrase's words. */
function listKeys(words: string): string[] {
  return words.split(/\s+/).filter((word) => word !== "").map((word) =>
    normalizeKey(
      word.includes("+") && WORDY.test(word.replaceAll("+", " "))
        ? word.replaceAll("+", " ")
        : word,
    )
  );
}

/** The built-in lexicon (emotion_lexicon.ts), one entry per word. */
function buildBuiltinLexicon(): EmotionLexicon {
  const lexicon = new Map<string, LexiconEntry>();
  for (const [emotion, strength, words] of EMOTION_WORDS) {
    for (const key of listKeys(words)) {
      lexicon.set(key, Object.freeze({ emotion, strength }));
    }
  }
  return lexicon;
}

/** The built-in lexicon: Chinese, English, emoji, tags and kaomoji. */
export const BUILTIN_LEXICON: EmotionLexicon = buildBuiltinLexicon();

/** A copy of `base` with the entries of `extra` added or overriding. */
export function mergeLexicon(
  base: EmotionLexicon,
  extra: EmotionLexicon,
): EmotionLexicon {
  return new Map([...base, ...extra]);
}

/**
 * Parses an operator's lexicon: one `word, class, strength` a line, tab- or
 * comma-separated (a phrase's words separated by spaces), `#` comment lines
 * and blank lines skipped. Throws an Error naming `source`, the line number
 * and the bad value.
 * @example parseEmotionLexicon("开心\t1\t2\n# comment\nso done,6,1")
 */
export function parseEmotionLexicon(
  text: string,
  source = "emotion lexicon",
): EmotionLexicon {
  const lexicon = new Map<string, LexiconEntry>();
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${source}:${index + 1}`;
    const fields = line.split(line.includes("\t") ? "\t" : ",")
      .map((field) => field.trim());
    if (fields.length !== 3) {
      throw new Error(
        `${where}: expected "word, class, strength" separated by tabs or commas, got "${line}"`,
      );
    }
    const [word, emotion, strength] = fields;
    const key = normalizeKey(word);
    if (key === "") throw new Error(`${where}: the word is empty in "${line}"`);
    if (!/^[0-7]$/.test(emotion)) {
      throw new Error(
        `${where}: class must be an integer 0-7, got "${emotion}"`,
      );
    }
    const value = Number(strength);
    if (strength === "" || !Number.isFinite(value) || value < 0 || value > 10) {
      throw new Error(
        `${where}: strength must be a number from 0 to 10, got "${strength}"`,
      );
    }
    lexicon.set(
      key,
      Object.freeze({ emotion: Number(emotion), strength: value }),
    );
  }
  return lexicon;
}

/**
 * Reads an operator's lexicon file (format: parseEmotionLexicon). Merge it
 * into the built-in one with mergeLexicon(BUILTIN_LEXICON, extra).
 */
export async function loadEmotionLexicon(
  path: string,
): Promise<EmotionLexicon> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(
      `cannot read emotion lexicon "${path}": ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    );
  }
  return parseEmotionLexicon(text, path);
}

function isHan(c: number): boolean {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0xf900 && c <= 0xfaff);
}

/** Han, kana or hangul: one unit of distance each. */
function isCjk(c: number): boolean {
  return isHan(c) || (c >= 0x3040 && c <= 0x30ff) ||
    (c >= 0xac00 && c <= 0xd7af);
}

function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}

function isApostrophe(c: number): boolean {
  return c === 39 || c === 0x2019;
}

function isWordChar(c: number): boolean {
  return isAlnum(c) || c === 39 || c === 0x2019 || c === 95;
}

/** ASCII upper case lowered; other code units unchanged. */
function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/**
 * Characters that do not make a word with an emotion character beside them:
 * degree words, negations, particles, pronouns. "好烦", "烦死了", "我哭了"
 * count without asking the segmenter.
 */
const BOUND = new Set(
  [..."好真太超很挺蛮巨贼最更特也都又还就再才却了的地得着啊呀吧呢哦啦嘛哇喔哟噢呐咯么死不没别被让把给是在有和跟对会要想我你他她它们这那"]
    .map((c) => c.charCodeAt(0)),
);

/**
 * Words a negation or degree word reaches through to the emotion word after
 * them ("没有觉得很开心", "not feeling very happy"); any other word takes the
 * negation itself ("不去上班，开心", "can't shake this anxiety").
 */
const SEE_THROUGH_CJK = new Set(
  [..."觉得感到显是很太那么这怎会让使令我你他她它们再也都还够算的地了着真特别挺蛮有点些一儿为就可能要想敢被给把对人"]
    .map((c) => c.charCodeAt(0)),
);
const SEE_THROUGH_WORDS = new Set(
  `am is are was were be been being i'm im it's its you're we're they're
  he's she's that's feel feels feeling felt look looks looking looked seem
  seems seemed get gets getting got become became i me you he she it we
  they my your his her our their this that these those the a an at all
  even think thought make makes made want wanted to of about with any
  anymore as how one bit`.split(/\s+/),
);

/** Sentence-final particles: "好啊", "好了" keep 好 an adjective. */
const PARTICLES = new Set(
  [..."了的啊呀吧呢哦啦嘛哇喔哟噢呐咯么"].map((c) => c.charCodeAt(0)),
);

const SEGMENTER = new Intl.Segmenter("zh", { granularity: "word" });

/**
 * Whether the one-character word text[start, end) (with its repeats) stands
 * as a word: free on both sides, or a word of its own (with only function
 * characters) as Intl.Segmenter reads the few characters around it.
 */
function standsAlone(text: string, start: number, end: number): boolean {
  const before = start > 0 ? text.charCodeAt(start - 1) : 0;
  const after = end < text.length ? text.charCodeAt(end) : 0;
  if (
    (!isHan(before) || BOUND.has(before)) && (!isHan(after) || BOUND.has(after))
  ) return true;
  let from = start;
  let to = end;
  while (from > 0 && start - from < 4 && isHan(text.charCodeAt(from - 1))) {
    from--;
  }
  while (to < text.length && to - end < 4 && isHan(text.charCodeAt(to))) to++;
  const word = SEGMENTER.segment(text.slice(from, to)).containing(start - from);
  if (word === undefined) return true;
  const own = text.charCodeAt(start);
  for (let k = 0; k < word.segment.length; k++) {
    const c = word.segment.charCodeAt(k);
    if (c !== own && !BOUND.has(c)) return false;
  }
  return true;
}

function newSense(key: string): Sense {
  let repeat = key;
  if (key.length > 1 && [...key].every((c) => c === key[0])) repeat = key[0];
  return {
    emotion: -1,
    strength: 0,
    negatedEmotion: 0,
    negatedFactor: 0,
    degree: 0,
    post: 0,
    negation: 0,
    softNegation: false,
    contrast: 0,
    single: key.length === 1 && isHan(key.charCodeAt(0)),
    repeat,
  };
}

/** Compiles a lexicon and the function words into the reader's tables. */
function compile(lexicon: EmotionLexicon): Matcher {
  const senses = new Map<string, Sense>();
  const senseOf = (key: string): Sense => {
    let sense = senses.get(key);
    if (sense === undefined) {
      sense = newSense(key);
      senses.set(key, sense);
    }
    return sense;
  };
  for (const [word, entry] of lexicon) {
    const sense = senseOf(normalizeKey(word));
    sense.emotion = entry.emotion;
    sense.strength = entry.strength;
    sense.negatedEmotion = NEGATED_CLASS[entry.emotion];
    sense.negatedFactor = NEGATED_FACTOR[entry.emotion];
  }
  for (const [target, words] of NEGATION_TARGETS) {
    for (const key of listKeys(words)) {
      const sense = senses.get(key);
      if (sense !== undefined && sense.emotion >= 0) {
        sense.negatedEmotion = target;
      }
    }
  }
  for (const key of listKeys(NEGATORS)) senseOf(key).negation = 1;
  for (const key of listKeys(STRONG_NEGATORS)) senseOf(key).negation = 1.3;
  for (const key of listKeys(SOFT_NEGATORS)) {
    const sense = senseOf(key);
    sense.negation = 1;
    sense.softNegation = true;
  }
  for (const [factor, words] of DEGREE_WORDS) {
    for (const key of listKeys(words)) senseOf(key).degree = factor;
  }
  for (const [factor, words] of POST_DEGREE_WORDS) {
    for (const key of listKeys(words)) senseOf(key).post = factor;
  }
  for (const key of listKeys(CONTRAST_WORDS)) senseOf(key).contrast = CONTRAST;
  for (const key of listKeys(CONCESSION_WORDS)) {
    senseOf(key).contrast = CONCESSION;
  }

  const root: TrieNode = { next: new Map(), sense: null };
  const words = new Map<string, Sense>();
  const phrases = new Map<string, Phrase[]>();
  for (const [key, sense] of senses) {
    if (key === "") continue;
    if (WORDY.test(key)) {
      const [first, ...rest] = key.split(" ");
      if (rest.length === 0) {
        words.set(first, sense);
      } else {
        const list = phrases.get(first) ?? [];
        list.push({ rest, sense });
        phrases.set(first, list);
      }
      continue;
    }
    let node = root;
    for (let k = 0; k < key.length; k++) {
      const c = key.charCodeAt(k);
      node.next ??= new Map();
      let child = node.next.get(c);
      if (child === undefined) {
        child = { next: null, sense: null };
        node.next.set(c, child);
      }
      node = child;
    }
    node.sense = sense;
  }
  for (const list of phrases.values()) {
    list.sort((a, b) => b.rest.length - a.rest.length);
  }
  const firsts = new Array<TrieNode | undefined>(0x10000).fill(undefined);
  for (const [c, node] of root.next!) firsts[c] = node;
  return { firsts, words, phrases };
}

const BUILTIN_MATCHER = compile(BUILTIN_LEXICON);
const compiled = new WeakMap<EmotionLexicon, Matcher>([[
  BUILTIN_LEXICON,
  BUILTIN_MATCHER,
]]);

function matcherFor(lexicon: EmotionLexicon): Matcher {
  let matcher = compiled.get(lexicon);
  if (matcher === undefined) {
    matcher = compile(lexicon);
    compiled.set(lexicon, matcher);
  }
  return matcher;
}

// The longest trie match's sense, set by longestMatch (no allocation per call).
let matchedSense: Sense | null = null;

/**
 * End of the longest lexicon key at text[start], given the trie node of its
 * first character, or -1; sets matchedSense.
 */
function longestMatch(first: TrieNode, text: string, start: number): number {
  let node: TrieNode | undefined = first;
  let end = first.sense === null ? -1 : start + 1;
  matchedSense = first.sense;
  for (let k = start + 1; k < text.length; k++) {
    const c = lower(text.charCodeAt(k));
    if (c === 0xfe0f && k > start) continue;
    node = node.next?.get(c);
    if (node === undefined) break;
    if (node.sense !== null) {
      matchedSense = node.sense;
      end = k + 1;
    }
  }
  return end;
}

/** End of a phrase's remaining words after text[0, pos), or -1. */
function matchRest(text: string, pos: number, rest: string[]): number {
  for (const word of rest) {
    let k = pos;
    while (
      k < text.length && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)
    ) k++;
    if (k === pos || k + word.length > text.length) return -1;
    for (let t = 0; t < word.length; t++) {
      let c = lower(text.charCodeAt(k + t));
      if (c === 0x2019) c = 39;
      if (c !== word.charCodeAt(t)) return -1;
    }
    k += word.length;
    if (k < text.length && isWordChar(text.charCodeAt(k))) return -1;
    pos = k;
  }
  return pos;
}

/** An emotion word with no function role, or undefined. */
function emotionWord(
  words: Map<string, Sense>,
  key: string,
): Sense | undefined {
  const sense = words.get(key);
  return sense !== undefined && sense.emotion >= 0 && sense.strength > 0 &&
      sense.degree === 0 && sense.negation === 0
    ? sense
    : undefined;
}

/** Last letters of the endings stemmed() strips: s, d, g, y, r, t. */
const STEMMABLE_ENDINGS = new Set([..."sdgyrt"].map((c) => c.charCodeAt(0)));

/** "sadder" → "sad": the stem without a doubled last consonant. */
function undouble(stem: string): string {
  const n = stem.length;
  return n >= 3 && stem[n - 1] === stem[n - 2] ? stem.slice(0, -1) : stem;
}

/** The emotion word `token` inflects (-s, -ed, -ing, -ly, -er, -est, -ness). */
function stemmed(words: Map<string, Sense>, token: string): Sense | undefined {
  if (
    token.length < 4 ||
    !STEMMABLE_ENDINGS.has(token.charCodeAt(token.length - 1))
  ) {
    return undefined;
  }
  const at = (key: string) => emotionWord(words, key);
  const cut = (n: number) => token.slice(0, -n);
  if (token.endsWith("ies") || token.endsWith("ied") || token.endsWith("ier")) {
    return at(cut(3) + "y");
  }
  if (token.endsWith("iest") || token.endsWith("iness")) {
    return at(cut(token.endsWith("iest") ? 4 : 5) + "y");
  }
  if (token.endsWith("ily")) return at(cut(3) + "y");
  if (token.endsWith("ing")) {
    return at(cut(3)) ?? at(cut(3) + "e") ?? at(undouble(cut(3)));
  }
  if (token.endsWith("ed")) {
    return at(cut(2)) ?? at(cut(1)) ?? at(undouble(cut(2)));
  }
  if (token.endsWith("est")) {
    return at(cut(3)) ?? at(cut(2)) ?? at(undouble(cut(3)));
  }
  if (token.endsWith("er")) {
    return at(cut(2)) ?? at(cut(1)) ?? at(undouble(cut(2)));
  }
  if (token.endsWith("ness")) return at(cut(4));
  if (token.endsWith("bly")) return at(cut(1) + "e");
  if (token.endsWith("ly")) return at(cut(2));
  if (token.endsWith("es")) return at(cut(2)) ?? at(cut(1));
  if (token.endsWith("s") && !token.endsWith("ss")) return at(cut(1));
  return undefined;
}

/** Whether `token` repeats a character three times or alternates two ("haha"). */
function hasRun(token: string): boolean {
  for (let k = 2; k < token.length; k++) {
    if (token.charCodeAt(k) === token.charCodeAt(k - 2)) return true;
  }
  return false;
}

function isOneCharacter(token: string): boolean {
  for (let k = 1; k < token.length; k++) {
    if (token.charCodeAt(k) !== token.charCodeAt(0)) return false;
  }
  return true;
}

/** Runs of three or more of one letter cut to `keep` letters. */
function collapse(token: string, keep: number): string {
  return token.replace(/(.)\1{2,}/g, (_, c: string) => c.repeat(keep));
}

// The intensity of the last variant() hit.
let variantBoost = 1;

/**
 * The sense of an unlisted English token: laughter and elongation undone
 * ("hahaha", "hhhh", "2333", "soooo"), then regular endings stripped.
 */
function variant(words: Map<string, Sense>, token: string): Sense | undefined {
  variantBoost = 1;
  const n = token.length;
  if (n >= 3 && hasRun(token)) {
    if (isOneCharacter(token)) {
      const sense = words.get(token.slice(0, 3));
      if (sense !== undefined) {
        variantBoost = Math.min(REPEAT_MAX, 1 + REPEAT_STEP * (n - 3));
        return sense;
      }
    }
    if (n >= 4 && token[0] !== token[1]) {
      let repeated = true;
      for (let k = 2; k < n && repeated; k++) {
        repeated = token[k] === token[k % 2];
      }
      if (repeated) {
        const sense = words.get(token.slice(0, 4)) ??
          words.get(token.slice(0, 3));
        if (sense !== undefined) {
          variantBoost = Math.min(REPEAT_MAX, 1 + REPEAT_STEP * ((n - 4) >> 1));
          return sense;
        }
      }
    }
    const one = collapse(token, 1);
    if (one !== token) {
      const two = collapse(token, 2);
      const sense = words.get(one) ?? words.get(two) ?? stemmed(words, one) ??
        stemmed(words, two);
      if (sense !== undefined) {
        variantBoost = ELONGATION_BOOST;
        return sense;
      }
    }
  }
  return stemmed(words, token);
}

/** One pass over one text: the evidence and the state of the rules. */
class Reader {
  readonly evidence: EmotionEvidence[] = [];
  /** Distance counter: one per Chinese character or matched word, per English word. */
  unit = 0;
  negating = false;
  negationAt = -1;
  negationReach = 0;
  negationWeight = 1;
  negationSoft = false;
  degree = 1;
  degreeAt = -1;
  degreeReach = 0;
  /** A word that is a degree word before an emotion word, else an emotion (好). */
  dual: Sense | null = null;
  dualStart = 0;
  dualEnd = 0;
  dualAt = 0;
  dualWordy = false;
  /** Unit of the last emotion word, for post-degree words. */
  lastAt = -10;
  conceding = false;
  afterContrast = false;
  clauseStart = 0;
  sentenceStart = 0;
  previousSentenceStart = 0;
  clauseBoost = 1;
  questionRuns = 0;

  constructor(readonly text: string, readonly matcher: Matcher) {}

  read(): void {
    const text = this.text;
    const n = text.length;
    const firsts = this.matcher.firsts;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (isWordChar(c)) {
        i = this.word(i);
        continue;
      }
      const first = firsts[lower(c)];
      if (first !== undefined) {
        const end = longestMatch(first, text, i);
        if (end > 0) {
          i = this.matched(matchedSense!, i, end);
          continue;
        }
      }
      if (isCjk(c)) {
        this.unit++;
        if (!SEE_THROUGH_CJK.has(c)) this.interrupt();
        if (text.charCodeAt(i + 1) === c && text.charCodeAt(i + 2) === c) {
          this.clauseBoost = Math.max(this.clauseBoost, ELONGATION_BOOST);
          while (text.charCodeAt(i + 1) === c) i++;
        }
        i++;
        continue;
      }
      i = this.punctuation(c, i);
    }
    this.closeClause(0, 0);
  }

  /** A trie match: counts its repeats, then reads it. Returns where to go on. */
  matched(sense: Sense, start: number, end: number): number {
    const repeat = sense.repeat;
    let repeats = 0;
    while (repeats < 50 && this.text.startsWith(repeat, end)) {
      end += repeat.length;
      repeats++;
    }
    const intensity = Math.min(REPEAT_MAX, 1 + REPEAT_STEP * repeats);
    this.item(sense, start, end, false, intensity);
    return end;
  }

  /** An ASCII word from `start`; returns its end. */
  word(start: number): number {
    const text = this.text;
    const n = text.length;
    let j = start;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (isWordChar(c)) j++;
      else if (c === 45 && j + 1 < n && isAlnum(text.charCodeAt(j + 1))) j++;
      else break;
    }
    let a = start;
    let b = j;
    while (a < b && isApostrophe(text.charCodeAt(a))) a++;
    while (b > a && isApostrophe(text.charCodeAt(b - 1))) b--;
    if (a === b) return j;
    const { firsts, words, phrases } = this.matcher;
    const first = firsts[lower(text.charCodeAt(a))];
    if (first !== undefined) {
      // Keys that start like a word but go on past it: "10/10", "ok的".
      const end = longestMatch(first, text, a);
      if (end > b) return this.matched(matchedSense!, a, end);
    }
    let token = text.slice(a, b).toLowerCase();
    if (token.includes("\u2019")) token = token.replaceAll("\u2019", "'");
    const candidates = phrases.get(token);
    if (candidates !== undefined) {
      for (const phrase of candidates) {
        const end = matchRest(text, b, phrase.rest);
        if (end > 0) {
          this.item(phrase.sense, a, end, true, 1);
          return end;
        }
      }
    }
    let sense = words.get(token);
    let intensity = 1;
    if (sense === undefined) {
      sense = variant(words, token);
      intensity = variantBoost;
    }
    if (sense === undefined) {
      this.unit++;
      if (!SEE_THROUGH_WORDS.has(token)) this.interrupt();
    } else this.item(sense, a, b, true, intensity);
    return j;
  }

  /** Punctuation and other symbols at `i`; returns where to go on. */
  punctuation(c: number, i: number): number {
    const text = this.text;
    if (c === 33 || c === 0xff01 || c === 63 || c === 0xff1f) {
      let bangs = 0;
      let questions = 0;
      let j = i;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 33 || d === 0xff01) bangs++;
        else if (d === 63 || d === 0xff1f) questions++;
        else break;
      }
      this.closeClause(bangs, questions);
      this.closeSentence();
      return j;
    }
    if (c === 0x3002 || c === 10 || c === 0xff0e) {
      this.closeClause(0, 0);
      this.closeSentence();
      return i + 1;
    }
    if (c === 46) {
      // "." ends a sentence, "..." trails off within one.
      let j = i + 1;
      while (text.charCodeAt(j) === 46) j++;
      this.closeClause(0, 0);
      if (j - i === 1) this.closeSentence();
      return j;
    }
    if (
      c === 44 || c === 0xff0c || c === 0x3001 || c === 59 || c === 0xff1b ||
      c === 58 || c === 0xff1a || c === 126 || c === 0xff5e || c === 0x2026
    ) {
      this.closeClause(0, 0);
    }
    return i + 1;
  }

  /** Reads one matched word, phrase, emoji or tag. */
  item(
    sense: Sense,
    start: number,
    end: number,
    wordy: boolean,
    intensity: number,
  ): void {
    const at = this.unit++;
    if (this.dual !== null) this.settleDual(sense, at);
    if (sense.contrast === CONTRAST) return this.contrast();
    if (sense.contrast === CONCESSION) {
      this.conceding = true;
      return;
    }
    if (
      sense.post > 0 && this.lastAt === at - 1 &&
      this.evidence.length > this.clauseStart
    ) {
      const last = this.evidence[this.evidence.length - 1];
      last.weight *= sense.post;
      last.degree = (last.degree ?? 1) * sense.post;
      this.lastAt = at;
      return;
    }
    const emotional = sense.emotion >= 0 && sense.strength > 0;
    if (!emotional && sense.degree === 0 && sense.negation === 0) {
      // A neutral word ("天气", "不知道") is content: it takes the negation.
      return this.interrupt();
    }
    if (emotional && (sense.degree > 0 || sense.negation > 0)) {
      this.dual = sense;
      this.dualStart = start;
      this.dualEnd = end;
      this.dualAt = at;
      this.dualWordy = wordy;
      return;
    }
    if (sense.negation > 0) return this.negate(sense, at, wordy);
    if (sense.degree > 0) {
      return this.intensify(
        intensity > 1 ? sense.degree * 1.2 : sense.degree,
        at,
        wordy,
      );
    }
    if (emotional) this.emit(sense, start, end, at, intensity);
  }

  /** The pending dual word: a degree or negation word if an emotion word follows at once. */
  settleDual(next: Sense | null, at: number): void {
    const dual = this.dual!;
    this.dual = null;
    const adjacent = next !== null && at === this.dualAt + 1 &&
      next.contrast === 0 &&
      ((next.emotion >= 0 && next.strength > 0) || next.degree > 0 ||
        next.negation > 0);
    if (!adjacent) {
      // "好热", "好想": before another character 好 means "very", not "good".
      const after = this.text.charCodeAt(this.dualEnd);
      if (!isHan(after) || PARTICLES.has(after)) {
        this.emit(dual, this.dualStart, this.dualEnd, this.dualAt, 1);
      }
    } else if (dual.degree > 0) {
      this.intensify(dual.degree, this.dualAt, this.dualWordy);
    } else {
      this.negate(dual, this.dualAt, this.dualWordy);
    }
  }

  /** A content word: pending negation and degree apply to it, not past it. */
  interrupt(): void {
    this.negating = false;
    this.degreeAt = -1;
  }

  negate(sense: Sense, at: number, wordy: boolean): void {
    const pending = this.negating && at - this.negationAt <= this.negationReach;
    // A second negation in reach cancels the first ("不是不开心").
    this.negating = !pending;
    this.negationAt = at;
    this.negationReach = wordy ? NEGATION_REACH_WORDS : NEGATION_REACH_CJK;
    this.negationWeight = sense.negation;
    this.negationSoft = sense.softNegation;
  }

  intensify(factor: number, at: number, wordy: boolean): void {
    const chained = this.degreeAt >= 0 && at === this.degreeAt + 1;
    this.degree = chained ? Math.min(this.degree * factor, MAX_DEGREE) : factor;
    this.degreeAt = at;
    this.degreeReach = wordy ? DEGREE_REACH_WORDS : DEGREE_REACH_CJK;
  }

  /** Scores an emotion word under the pending negation and degree. */
  emit(
    sense: Sense,
    start: number,
    end: number,
    at: number,
    intensity: number,
  ): void {
    if (sense.strength <= 0) return;
    if (sense.single && !standsAlone(this.text, start, end)) return;
    let weight = sense.strength * intensity;
    let emotion = sense.emotion;
    let degree = 1;
    const degreeOn = this.degreeAt >= 0 &&
      at - this.degreeAt <= this.degreeReach;
    const negated = this.negating && at - this.negationAt <= this.negationReach;
    if (negated) {
      emotion = sense.negatedEmotion;
      const soft = this.negationSoft ||
        (degreeOn && this.degreeAt > this.negationAt);
      if (!soft && degreeOn) degree = this.degree;
      weight *= sense.negatedFactor *
        (soft ? SOFT_NEGATION : this.negationWeight * degree);
    } else if (degreeOn) {
      degree = this.degree;
      weight *= degree;
    }
    if (this.conceding) weight *= CONCESSION_WEIGHT;
    if (this.afterContrast) weight *= AFTER_CONTRAST;
    const evidence: EmotionEvidence = {
      word: this.text.slice(start, end),
      emotion,
      weight,
    };
    if (negated) evidence.negated = true;
    if (degree !== 1) evidence.degree = degree;
    this.evidence.push(evidence);
    this.lastAt = at;
    this.negating = false;
    this.degreeAt = -1;
  }

  contrast(): void {
    const from = this.evidence.length === this.sentenceStart
      ? this.previousSentenceStart
      : this.sentenceStart;
    for (let k = from; k < this.evidence.length; k++) {
      this.evidence[k].weight *= BEFORE_CONTRAST;
    }
    this.afterContrast = true;
    this.conceding = false;
  }

  /** Ends a clause closed by `bangs` "!" and `questions` "?". */
  closeClause(bangs: number, questions: number): void {
    if (this.dual !== null) this.settleDual(null, this.unit);
    if (bangs > 0 && questions > 0) {
      this.evidence.push({
        word: "?!",
        emotion: 7,
        weight: INTERROBANG_WEIGHT,
      });
    } else if (questions >= 3) {
      this.evidence.push({
        word: "???",
        emotion: 7,
        weight: QUESTION_RUN_WEIGHT,
      });
    }
    if (questions > 0) this.questionRuns++;
    const boost = this.clauseBoost * EXCLAMATION_BOOST[Math.min(bangs, 3)];
    if (boost !== 1) {
      for (let k = this.clauseStart; k < this.evidence.length; k++) {
        const evidence = this.evidence[k];
        evidence.weight *= evidence.emotion === 7 && bangs > 0
          ? boost * EXCLAIMED_SURPRISE
          : boost;
      }
    }
    this.clauseStart = this.evidence.length;
    this.clauseBoost = 1;
    this.negating = false;
    this.degreeAt = -1;
    this.conceding = false;
    this.unit++;
  }

  closeSentence(): void {
    this.previousSentenceStart = this.sentenceStart;
    this.sentenceStart = this.evidence.length;
    this.afterContrast = false;
  }

  result(): EmotionResult {
    const evidence = this.evidence;
    if (this.questionRuns >= QUESTION_HEAVY) {
      for (const item of evidence) {
        if (item.emotion === 5) item.weight *= WORRIED_QUESTIONS;
      }
    }
    const scores = [0, 0, 0, 0, 0, 0, 0, 0];
    for (const item of evidence) {
      item.weight = round(item.weight);
      if (item.degree !== undefined) item.degree = round(item.degree);
      scores[item.emotion] += item.weight;
    }
    let emotion = 0;
    let top = 0;
    for (let e = 1; e < 8; e++) {
      scores[e] = round(scores[e]);
      if (scores[e] > top) {
        top = scores[e];
        emotion = e;
      }
    }
    scores[0] = round(scores[0]);
    if (top < MIN_SCORE || top <= scores[0]) emotion = 0;
    const ordered = evidence.filter((item) => item.weight > 0)
      .sort((a, b) =>
        Number(b.emotion === emotion) - Number(a.emotion === emotion) ||
        b.weight - a.weight
      );
    if (ordered.length > MAX_EVIDENCE) ordered.length = MAX_EVIDENCE;
    return { emotion, scores, evidence: ordered };
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * Classifies diary text into the seed's eight classes (0 Peaceful when no
 * emotion, or only a faint one, is found). Pure and synchronous.
 * @example classifyEmotion("今天好开心哈哈哈").emotion // 1 (Happy)
 */
export function classifyEmotion(
  text: string,
  options: ClassifyOptions = {},
): EmotionResult {
  const matcher = options.lexicon === undefined
    ? BUILTIN_MATCHER
    : matcherFor(options.lexicon);
  const reader = new Reader(text, matcher);
  reader.read();
  return reader.result();
}
