import { pinyin } from "pinyin-pro";

/**
 * Keyword intents, decided before any chat call: what the child said is
 * either a request to play content ("放小星星", "play twinkle twinkle"), a
 * request to message a friend ("给爸爸发消息", "send a message to Lily"),
 * or neither (then the chat provider answers).
 *
 * Matching is fuzzy because speech recognition is: text becomes a list of
 * sound units, Chinese characters as toneless pinyin syllables (so the
 * homophone 小猩猩 is 小星星) and other words as lowercase words, and units
 * are aligned with an edit distance where near-homophones (xin/xing,
 * zhu/zu, lan/nan) and near-spellings (twinkel/twinkle) cost part of an
 * edit. A title must cover most of a bare utterance, or follow a play
 * word ("放", "我想听", "play"); an unrelated sentence matches nothing.
 */

/** A piece of content as intent matching sees it. */
export interface Playable {
  _id: string;
  title: string;
  music: string;
  /** Other names of the title (a manifest's `aliases` field). */
  aliases?: readonly string[];
}

/** A friend as intent matching sees it. */
export interface Reachable {
  friend_id: string;
  friend_nick: string;
  friend_remark: string;
  friend_type: "app" | "toy";
}

/** What the child asked for. */
export type Intent<
  P extends Playable = Playable,
  R extends Reachable = Reachable,
> =
  | { kind: "play"; item: P; score: number }
  | { kind: "message"; friend: R; score: number }
  | { kind: "answer" };

/** Lowest match score (1 = exact) that counts as a match. */
const MATCH_THRESHOLD = 0.75;

/**
 * Decides the intent of `text` against the toy's library and friends.
 * Pure; a message request naming nobody among `friends` is an answer.
 */
export function detectIntent<P extends Playable, R extends Reachable>(
  text: string,
  { content, friends }: { content: readonly P[]; friends: readonly R[] },
): Intent<P, R> {
  const said = clean(text);
  if (!said) return { kind: "answer" };
  const name = messageTarget(said);
  if (name !== null) {
    const found = bestFriend(name, friends);
    return found
      ? { kind: "message", friend: found.friend, score: found.score }
      : { kind: "answer" };
  }
  const found = bestContent(said, content);
  return found
    ? { kind: "play", item: found.item, score: found.score }
    : { kind: "answer" };
}

/** Lowercase, NFKC, punctuation to spaces, spaces collapsed. */
function clean(text: string): string {
  return text.normalize("NFKC").toLowerCase()
    .replace(/[^\p{L}\p{N}'\s]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}

// --- message a friend -------------------------------------------------------

// Whisper writes Chinese in simplified or traditional characters: both.
const ZH_MESSAGE = [
  /(?:给|給|跟|和|向)(.{1,12}?)(?:发|發|留|录|錄|带|帶)(?:一?[条條个個段句])?(?:消息|信息|訊息|语音|語音|话|話)/u,
  /(?:发|發|留|录|錄)(?:一?[条條个個段])?(?:消息|信息|訊息|语音|語音)(?:给|給|跟)(.{1,12})$/u,
  /^(?:我想|我要)?(?:跟|和|给|給)(.{1,12}?)(?:说话|說話|讲话|講話|聊天|说句话|說句話|打电话|打電話)/u,
];

const EN_MESSAGE = [
  /\b(?:send|leave|record)\s+(?:a\s+|an\s+)?(?:(?:voice|quick|short|little)\s+)?(?:message|note|voicemail|voice\s+mail)\s+(?:to|for)\s+(.+)$/,
  /\b(?:send|leave|give)\s+(.+?)\s+(?:a\s+|an\s+)?(?:(?:voice|quick|short|little)\s+)?(?:message|note)\b/,
  /^(?:(?:i\s+)?(?:want|wanna|would\s+like)\s+to\s+|can\s+i\s+|let\s+me\s+)?(?:message|text|call|talk\s+to|speak\s+to)\s+(.+)$/,
];

const NAME_EDGES =
  /^(?:my|our|to|the)\s+|\s+(?:please|now|right now|again)$|(?:吧|呀|啊|呢|嘛|好吗|好不好)$/g;

/** The name in a message request, or null when `said` is not one. */
export function messageTarget(said: string): string | null {
  const text = said.trim();
  for (
    const pattern of /\p{Script=Han}/u.test(text) ? ZH_MESSAGE : EN_MESSAGE
  ) {
    const match = pattern.exec(text);
    if (!match) continue;
    let name = match[1].trim();
    for (let before = ""; before !== name;) {
      before = name;
      name = name.replace(NAME_EDGES, "").trim();
    }
    if (name) return name;
  }
  return null;
}

/** Words for one person in either language: a remark "Dad" is "爸爸" too. */
const KIN: readonly (readonly string[])[] = [
  ["dad", "daddy", "papa", "father", "爸爸", "爸", "老爸", "爹地", "爹"],
  [
    "mom",
    "mommy",
    "mum",
    "mummy",
    "mama",
    "mother",
    "妈妈",
    "妈",
    "老妈",
    "妈咪",
  ],
  ["grandpa", "granddad", "grandad", "grandfather"],
  ["grandma", "granny", "grandmother", "nana"],
];

/** What `label` may be called: itself, and its kin words when it is one. */
function namesOf(label: string): string[] {
  const key = clean(label).replace(/\s+/g, "");
  const group = KIN.find((words) => words.includes(key));
  return group ? [label, ...group] : [label];
}

/** The friend `name` fits best, or null when none fits well enough. */
function bestFriend<R extends Reachable>(
  name: string,
  friends: readonly R[],
): { friend: R; score: number } | null {
  const said = soundUnits(name);
  let best: { friend: R; score: number } | null = null;
  for (const friend of friends) {
    for (const label of [friend.friend_remark, friend.friend_nick]) {
      if (!label) continue;
      for (const alias of namesOf(label)) {
        const score = wholeScore(said, soundUnits(alias));
        if (score >= MATCH_THRESHOLD && (!best || score > best.score)) {
          best = { friend, score };
        }
      }
    }
  }
  return best;
}

// --- play content -----------------------------------------------------------

const ZH_PLAY =
  /^(?:请|請|你)?(?:给我|給我|帮我|幫我|我想|我要|我想要|我们|我們)?再?(?:听听|聽聽|听一听|聽一聽|听一下|聽一下|听|聽|放一放|放一下|放|播放|播一下|播|唱一唱|唱一下|唱|讲一讲|講一講|讲一下|講一下|讲|講|说一个|說一個|来|來)(?:一?[首个個段下遍]|一下)?/u;
const EN_PLAY =
  /^(?:(?:can|could|will|would)\s+you\s+|please\s+|let'?s\s+)?(?:play|sing|put\s+on|tell\s+me|read\s+me|hear|listen\s+to|(?:i\s+)?(?:want|wanna|would\s+like)\s+to\s+(?:hear|listen\s+to)|can\s+i\s+(?:hear|listen\s+to)|i\s+want)\b\s*(?:me\s+|us\s+)?/;
const FILLERS = /^(?:嗯+|那个|呃|um+|uh+|ok(?:ay)?|hey|hi|hello)\s*/u;
const PLAY_TAIL =
  /\s*(?:吧|呀|啊|嘛|呢|好吗|好嗎|好不好|可以吗|可以嗎|please|for me|for us|now|again|的歌|这首歌|這首歌|这个故事|這個故事|的故事|song|story)$/u;

/**
 * The phrase a play request names and whether a play word introduced it
 * ("我想听三只小猪" → explicit, "三只小猪"; "小星星" → not explicit).
 */
export function playRequest(
  said: string,
): { phrase: string; explicit: boolean } {
  let text = said.trim();
  for (let before = ""; before !== text;) {
    before = text;
    text = text.replace(FILLERS, "").trim();
  }
  const play = (/\p{Script=Han}/u.test(text) ? ZH_PLAY : EN_PLAY).exec(text);
  const explicit = play !== null && play[0].length > 0;
  let phrase = explicit ? text.slice(play![0].length) : text;
  for (let before = ""; before !== phrase;) {
    before = phrase;
    phrase = phrase.replace(PLAY_TAIL, "").trim();
  }
  return { phrase, explicit };
}

/** How much of a bare utterance (no play word) a title must cover. */
const BARE_COVERAGE = 0.6;
/** How much of a title a partial request must name ("twinkle twinkle"). */
const PARTIAL_COVERAGE = 0.4;

/** The content `said` asks for, or null. */
function bestContent<P extends Playable>(
  said: string,
  content: readonly P[],
): { item: P; score: number } | null {
  const { phrase, explicit } = playRequest(said);
  const asked = soundUnits(phrase);
  if (asked.length === 0) return null;
  let best: { item: P; score: number; size: number } | null = null;
  for (const item of content) {
    for (const name of [item.title, ...(item.aliases ?? [])]) {
      const title = soundUnits(name);
      if (title.length === 0) continue;
      const score = titleScore(asked, title, explicit);
      if (
        score >= MATCH_THRESHOLD &&
        (!best || score > best.score ||
          (score === best.score && title.length > best.size))
      ) {
        best = { item, score, size: title.length };
      }
    }
  }
  return best && { item: best.item, score: best.score };
}

/** How well `asked` names `title`: the better of title-in-request and request-in-title. */
function titleScore(asked: Unit[], title: Unit[], explicit: boolean): number {
  let score = 0;
  // The whole title said, maybe among other words.
  if (explicit || title.length >= BARE_COVERAGE * asked.length) {
    score = 1 - within(title, asked) / title.length;
  }
  // Part of the title said after a play word ("play twinkle twinkle").
  if (
    explicit && asked.length >= 2 &&
    asked.length >= PARTIAL_COVERAGE * title.length
  ) {
    score = Math.max(score, 1 - within(asked, title) / asked.length);
  }
  // A one-unit title must be said exactly.
  return title.length === 1 && score < 1 ? 0 : score;
}

// --- sound units and their alignment ----------------------------------------

/** A syllable of a Chinese character (pinyin, toneless) or a word. */
interface Unit {
  text: string;
  han: boolean;
}

const STOP_WORDS = new Set(["the", "a", "an"]);
const NUMBERS: Record<string, readonly string[]> = {
  "0": ["ling", "zero"],
  "1": ["yi", "one"],
  "2": ["er", "liang", "two"],
  "3": ["san", "three"],
  "4": ["si", "four"],
  "5": ["wu", "five"],
  "6": ["liu", "six"],
  "7": ["qi", "seven"],
  "8": ["ba", "eight"],
  "9": ["jiu", "nine"],
  "10": ["shi", "ten"],
};

// Titles and names repeat from request to request: their units are cached
// (bounded; dropped wholesale when full).
const unitCache = new Map<string, Unit[]>();
const UNIT_CACHE_MAX = 5_000;

/** The sound units of `text`. */
function soundUnits(text: string): Unit[] {
  const cachedUnits = unitCache.get(text);
  if (cachedUnits) return cachedUnits;
  const units: Unit[] = [];
  const runs = clean(text).matchAll(/\p{Script=Han}+|[\p{L}\p{N}']+/gu);
  for (const [run] of runs) {
    if (/\p{Script=Han}/u.test(run)) {
      const syllables = pinyin(run, { toneType: "none", type: "array" });
      for (const s of syllables) units.push({ text: s, han: true });
    } else {
      const word = run.replace(/'/g, "");
      if (word && !STOP_WORDS.has(word)) units.push({ text: word, han: false });
    }
  }
  if (unitCache.size >= UNIT_CACHE_MAX) unitCache.clear();
  unitCache.set(text, units);
  return units;
}

/** Folds the sounds speech recognition and accents mix up. */
function foldSyllable(s: string): string {
  return s.replace(/^zh/, "z").replace(/^ch/, "c").replace(/^sh/, "s")
    .replace(/^n(?=[aeiou])/, "l").replace(/^f/, "h")
    .replace(/ng$/, "n");
}

/** Cost of saying `b` where `a` was meant: 0 same, 1 unrelated. */
function unitCost(a: Unit, b: Unit): number {
  if (a.text === b.text) return 0;
  const number = NUMBERS[a.text] ?? NUMBERS[b.text];
  if (number && (number.includes(a.text) || number.includes(b.text))) return 0;
  if (a.han && b.han) {
    return foldSyllable(a.text) === foldSyllable(b.text) ? 0.25 : 1;
  }
  if (a.han !== b.han) return 1;
  const ratio = editDistance(a.text, b.text) /
    Math.max(a.text.length, b.text.length);
  return ratio <= 0.4 ? ratio : 1;
}

/** Least cost of aligning all of `pattern` with some stretch of `text`. */
function within(pattern: Unit[], text: Unit[]): number {
  let prev = new Array<number>(text.length + 1).fill(0);
  for (let i = 1; i <= pattern.length; i++) {
    const row = [i];
    for (let j = 1; j <= text.length; j++) {
      row[j] = Math.min(
        prev[j - 1] + unitCost(pattern[i - 1], text[j - 1]),
        prev[j] + 1,
        row[j - 1] + 1,
      );
    }
    prev = row;
  }
  return Math.min(...prev);
}

/** Similarity of two whole unit lists: 1 - cost / longer length. */
function wholeScore(a: Unit[], b: Unit[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j - 1] + unitCost(a[i - 1], b[j - 1]),
        prev[j] + 1,
        row[j - 1] + 1,
      );
    }
    prev = row;
  }
  return 1 - prev[b.length] / Math.max(a.length, b.length);
}

/** Edit distance with adjacent transpositions (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from(
    { length: a.length + 1 },
    (_, i) => [i, ...new Array<number>(b.length).fill(0)],
  );
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + cost,
      );
      if (
        i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]
      ) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
