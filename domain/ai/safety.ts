/**
 * What may be spoken to a child: every sentence of an answer passes a word
 * filter (Chinese and English, plus the parent's topics to avoid) and the
 * whole answer a length cap, before any of it reaches the speech provider.
 * A sentence that fails is dropped, not censored mid-word; an answer left
 * with nothing says so kindly.
 */

/** The languages answers are spoken in. */
export type SpokenLanguage = "zh" | "en";

// Words no answer for a child should contain. Kept short and specific: a
// filter that drops "die", "shooting" or "枪" would also drop shooting stars,
// water pistols and honest science, which the system prompt already keeps
// child-friendly. Chinese entries match as substrings, so none may hide in
// an innocent phrase ("妈的" is inside "妈妈的").
const BLOCKED_EN = [
  "kill",
  "killing",
  "murder",
  "suicide",
  "gun",
  "bomb",
  "terrorist",
  "rape",
  "porn",
  "pornography",
  "sex",
  "sexy",
  "naked",
  "nude",
  "cocaine",
  "heroin",
  "meth",
  "marijuana",
  "drunk",
  "fuck",
  "shit",
  "bitch",
  "bastard",
  "asshole",
  "dick",
  "cunt",
  "slut",
  "whore",
  "damn",
  "hell",
];
const BLOCKED_ZH = [
  "杀人",
  "杀死",
  "自杀",
  "谋杀",
  "开枪",
  "枪杀",
  "炸弹",
  "恐怖分子",
  "强奸",
  "色情",
  "性交",
  "做爱",
  "裸体",
  "毒品",
  "吸毒",
  "大麻",
  "可卡因",
  "海洛因",
  "他妈的",
  "操你",
  "傻逼",
  "婊子",
  "贱人",
  "滚蛋",
  "血腥",
];

const BLOCKED_EN_PATTERN = wordPattern(BLOCKED_EN);

/** The most characters of an answer that are spoken, per language. */
export const MAX_SPOKEN_CHARS: Record<SpokenLanguage, number> = {
  // About 40 seconds of speech either way.
  zh: 200,
  en: 500,
};

/** What the toy says when nothing of an answer may be spoken. */
export const SAFE_FALLBACK: Record<SpokenLanguage, string> = {
  zh: "这个问题我们问问爸爸妈妈吧。我们聊点别的好吗？",
  en:
    "Let's ask a grown-up about that one. Shall we talk about something else?",
};

/** A case-insensitive whole-word pattern (plurals and -ed/-ing included). */
function wordPattern(words: readonly string[]): RegExp | null {
  const escaped = words.map((w) => w.trim()).filter(Boolean)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (escaped.length === 0) return null;
  return new RegExp(
    `(?<![\\p{L}\\p{N}])(?:${
      escaped.join("|")
    })(?:s|es|ed|ing)?(?![\\p{L}\\p{N}])`,
    "iu",
  );
}

/** True when `text` mentions a blocked word or one of `avoid`. */
export function isBlocked(
  text: string,
  avoid: readonly string[] = [],
): boolean {
  const lower = text.normalize("NFKC").toLowerCase();
  if (BLOCKED_EN_PATTERN?.test(lower)) return true;
  if (BLOCKED_ZH.some((w) => lower.includes(w))) return true;
  const han = avoid.filter((t) => /\p{Script=Han}/u.test(t));
  if (han.some((t) => lower.includes(t.toLowerCase()))) return true;
  return wordPattern(avoid.filter((t) => !/\p{Script=Han}/u.test(t)))
    ?.test(lower) ?? false;
}

/**
 * Makes a sentence fit for speech: markdown marks, emoji and list bullets
 * removed, whitespace collapsed. Empty when nothing speakable is left.
 */
export function speakable(sentence: string): string {
  return sentence
    .replace(/[*_`#>~|]+/g, "")
    .replace(/^\s*(?:[-•]|\d+[.)])\s+/gm, "")
    .replace(/\p{Extended_Pictographic}/gu, "")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Cuts `text` to at most `max` characters at a word or clause boundary
 * where there is one, ending it as a sentence.
 */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max);
  const cut = Math.max(
    head.lastIndexOf(" "),
    head.lastIndexOf("，"),
    head.lastIndexOf(","),
    head.lastIndexOf("、"),
  );
  const kept = (cut > max / 2 ? head.slice(0, cut) : head).replace(
    /[\s,，、;；:：]+$/,
    "",
  );
  return /\p{Script=Han}/u.test(kept) ? `${kept}。` : `${kept}.`;
}

/** The language a text is in, for a toy set to follow the child. */
export function languageOf(text: string): SpokenLanguage {
  return /\p{Script=Han}/u.test(text) ? "zh" : "en";
}
