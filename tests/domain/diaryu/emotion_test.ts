import assert from "node:assert/strict";
import {
  BUILTIN_LEXICON,
  classifyEmotion,
  type EmotionResult,
  EMOTIONS,
  loadEmotionLexicon,
  mergeLexicon,
  parseEmotionLexicon,
} from "../../../domain/diaryu/emotion.ts";
import { EMOTION_WORDS } from "../../../domain/diaryu/emotion_lexicon.ts";
import { EMOTION_CASES } from "./emotion_cases.ts";

/** Per-class precision and recall of the classifier on `cases`. */
function confusion(cases: readonly { text: string; emotion: number }[]) {
  const truePositives = new Array(8).fill(0);
  const predicted = new Array(8).fill(0);
  const support = new Array(8).fill(0);
  const misses: string[] = [];
  for (const { text, emotion } of cases) {
    const got = classifyEmotion(text).emotion;
    support[emotion]++;
    predicted[got]++;
    if (got === emotion) truePositives[emotion]++;
    else misses.push(`  expected ${emotion}, got ${got}: ${text}`);
  }
  const accuracy = truePositives.reduce((a, b) => a + b, 0) / cases.length;
  const perClass = EMOTIONS.map(({ code, en }) => ({
    code,
    en,
    precision: predicted[code] ? truePositives[code] / predicted[code] : 1,
    recall: support[code] ? truePositives[code] / support[code] : 1,
    support: support[code],
  }));
  return { accuracy, perClass, misses };
}

function scoreOf(result: EmotionResult, emotion: number): number {
  return result.scores[emotion];
}

Deno.test("the case table has at least 300 sentences, ~30+ per class, both languages", () => {
  assert.ok(EMOTION_CASES.length >= 300, `${EMOTION_CASES.length} cases`);
  for (let code = 0; code < 8; code++) {
    const count = EMOTION_CASES.filter((c) => c.emotion === code).length;
    assert.ok(count >= 30, `class ${code} has ${count} cases`);
  }
  const chinese = EMOTION_CASES.filter((c) => /[\u4e00-\u9fff]/.test(c.text));
  const share = chinese.length / EMOTION_CASES.length;
  assert.ok(share > 0.4 && share < 0.6, `Chinese share ${share}`);
});

Deno.test("accuracy on the case table ≥ 0.85 and every class's recall ≥ 0.7", () => {
  const { accuracy, perClass, misses } = confusion(EMOTION_CASES);
  const report = () =>
    [
      `accuracy ${accuracy.toFixed(3)}`,
      ...perClass.map((c) =>
        `${c.code} ${c.en.padEnd(9)} precision ${
          c.precision.toFixed(2)
        } recall ${c.recall.toFixed(2)} (${c.support})`
      ),
      ...misses,
    ].join("\n");
  assert.ok(accuracy >= 0.85, report());
  for (const c of perClass) assert.ok(c.recall >= 0.7, report());
});

Deno.test("EMOTIONS is the seed's table", () => {
  assert.deepEqual(
    EMOTIONS.map((e) => `${e.code}${e.zh}${e.en}`),
    [
      "0静Peaceful",
      "1乐Happy",
      "2好Satisfied",
      "3怒Angry",
      "4哀Sad",
      "5惧Worried",
      "6恶Disgusted",
      "7惊Surprised",
    ],
  );
});

Deno.test("the built-in lexicon is large, covers every class and lists each word once", () => {
  const perClass = new Array(8).fill(0);
  for (const entry of BUILTIN_LEXICON.values()) {
    if (entry.strength > 0) perClass[entry.emotion]++;
  }
  const total = perClass.reduce((a, b) => a + b, 0);
  assert.ok(total >= 3000, `${total} emotion entries`);
  for (let code = 0; code < 8; code++) {
    assert.ok(perClass[code] >= 150, `class ${code}: ${perClass[code]}`);
  }
  const seen = new Map<string, string>();
  const twice: string[] = [];
  for (const [emotion, strength, words] of EMOTION_WORDS) {
    for (const word of words.split(/\s+/).filter(Boolean)) {
      const key = word.toLowerCase();
      if (seen.has(key)) {
        twice.push(`${word} (${seen.get(key)} and ${emotion}/${strength})`);
      }
      seen.set(key, `${emotion}/${strength}`);
    }
  }
  assert.deepEqual(twice, []);
});

Deno.test("negation turns an emotion word", () => {
  assert.notEqual(classifyEmotion("我今天不开心").emotion, 1);
  assert.equal(classifyEmotion("我今天不开心").emotion, 4);
  assert.notEqual(classifyEmotion("I am not happy").emotion, 1);
  assert.equal(classifyEmotion("I am not happy").emotion, 4);
  assert.equal(classifyEmotion("I don't feel happy at all").emotion, 4);
  assert.equal(classifyEmotion("不害怕").emotion, 0);
  assert.equal(classifyEmotion("don't worry").emotion, 0);
  assert.equal(classifyEmotion("心里一点也不平静").emotion, 5);
  const negated = classifyEmotion("我今天不开心").evidence[0];
  assert.equal(negated.word, "开心");
  assert.equal(negated.negated, true);
  // Two negations cancel; negation does not reach past the clause.
  assert.equal(classifyEmotion("我不是不开心").emotion, 1);
  assert.equal(classifyEmotion("没有下雨，开心").emotion, 1);
  // "not very happy" turns weakly, "很不开心" strongly.
  assert.ok(
    scoreOf(classifyEmotion("不太开心"), 4) <
      scoreOf(classifyEmotion("很不开心"), 4),
  );
  // Set phrases that contain a negation are words of their own.
  assert.equal(classifyEmotion("不错").emotion, 2);
  assert.equal(classifyEmotion("I can't wait!").emotion, 1);
});

Deno.test("degree words scale the emotion word after them", () => {
  const very = classifyEmotion("非常开心");
  const little = classifyEmotion("有点开心");
  assert.equal(very.emotion, 1);
  assert.equal(little.emotion, 1);
  assert.ok(scoreOf(very, 1) > scoreOf(little, 1));
  assert.ok(scoreOf(very, 1) > scoreOf(classifyEmotion("开心"), 1));
  assert.ok(
    scoreOf(classifyEmotion("extremely happy"), 1) >
      scoreOf(classifyEmotion("a bit happy"), 1),
  );
  assert.ok(
    scoreOf(classifyEmotion("累死了"), 4) > scoreOf(classifyEmotion("累"), 4),
  );
  assert.equal(classifyEmotion("非常开心").evidence[0].degree, 2);
  // 好 is a degree word before an emotion word, "good" on its own.
  assert.equal(classifyEmotion("好烦").emotion, 6);
  assert.equal(classifyEmotion("今天真好").emotion, 2);
  assert.equal(classifyEmotion("天气好热").emotion, 0);
});

Deno.test("punctuation, repeats and contrast shift the weights", () => {
  assert.ok(
    scoreOf(classifyEmotion("开心！！！"), 1) >
      scoreOf(classifyEmotion("开心"), 1),
  );
  assert.ok(
    scoreOf(classifyEmotion("哈哈哈哈哈哈"), 1) >
      scoreOf(classifyEmotion("哈哈"), 1),
  );
  assert.equal(classifyEmotion("什么？！").emotion, 7);
  assert.equal(classifyEmotion("今天很累，但是很开心").emotion, 1);
  assert.equal(classifyEmotion("今天很开心，但是很累").emotion, 4);
  assert.equal(classifyEmotion("I was happy, but now I'm so sad.").emotion, 4);
  const worried = classifyEmotion("万一考砸了怎么办？会不会挂科？");
  assert.equal(worried.emotion, 5);
});

Deno.test("the evidence lists the deciding words, heaviest of the winner first", () => {
  const result = classifyEmotion(
    "今天加班到很晚，有点累，但是老板夸了我，超级开心😄",
  );
  assert.equal(result.emotion, 1);
  const words = result.evidence.map((e) => e.word);
  assert.ok(words.includes("开心"), words.join(" "));
  assert.ok(words.includes("😄"), words.join(" "));
  assert.ok(words.includes("累"), words.join(" "));
  assert.equal(result.evidence[0].emotion, 1);
  for (const item of result.evidence) {
    assert.ok(item.weight > 0);
    assert.ok(item.emotion >= 0 && item.emotion < 8);
  }
  const winners = result.evidence.filter((e) => e.emotion === 1);
  const total = winners.reduce((sum, e) => sum + e.weight, 0);
  assert.ok(Math.abs(total - result.scores[1]) < 0.01);
});

Deno.test("emoji and bracket tags alone are classified", () => {
  const cases: [string, number][] = [
    ["😂😂😂", 1],
    ["[哈哈]", 1],
    ["[笑cry]", 1],
    ["👍", 2],
    ["[赞][心]", 2],
    ["😡", 3],
    ["[怒]", 3],
    ["😭", 4],
    ["[泪]", 4],
    ["😱", 5],
    ["[害怕]", 5],
    ["🤮", 6],
    ["[吐]", 6],
    ["😮", 7],
    ["[惊讶]", 7],
    ["❤️❤️", 2],
    ["👍🏻", 2],
  ];
  for (const [text, emotion] of cases) {
    assert.equal(classifyEmotion(text).emotion, emotion, text);
  }
});

Deno.test("empty, whitespace and emotionless text is Peaceful", () => {
  for (const text of ["", "   ", "\n\t", "。。。", "12345", "今天去超市买菜"]) {
    const result = classifyEmotion(text);
    assert.equal(result.emotion, 0, JSON.stringify(text));
    assert.equal(result.scores.length, 8);
  }
  assert.deepEqual(classifyEmotion("").evidence, []);
});

Deno.test("one-character words count only as words", () => {
  assert.equal(classifyEmotion("今天天气不错").emotion, 2);
  assert.equal(classifyEmotion("买了一瓶可乐").emotion, 0);
  assert.equal(classifyEmotion("我好烦").emotion, 6);
  assert.equal(classifyEmotion("爽！").emotion, 1);
  assert.equal(classifyEmotion("大学生气质").emotion, 0);
});

Deno.test("a 100 KB text is classified quickly", () => {
  const paragraph =
    "今天天气不错，和朋友去公园散步，心情很好。Work was busy but fine. ";
  const text = paragraph.repeat(Math.ceil(100_000 / paragraph.length));
  const started = performance.now();
  const result = classifyEmotion(text);
  const elapsed = performance.now() - started;
  assert.equal(result.emotion, 2);
  assert.ok(result.evidence.length <= 64);
  assert.ok(elapsed < 2000, `${elapsed} ms`);
});

Deno.test("loadEmotionLexicon reads tab and comma files", async () => {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(
      path,
      "# operator words\n\n摸鱼成功\t1\t3\nsuper chill,0,2\n  卷王 , 6 , 1.5 \r\n",
    );
    const lexicon = await loadEmotionLexicon(path);
    assert.deepEqual(lexicon.get("摸鱼成功"), { emotion: 1, strength: 3 });
    assert.deepEqual(lexicon.get("super chill"), { emotion: 0, strength: 2 });
    assert.deepEqual(lexicon.get("卷王"), { emotion: 6, strength: 1.5 });
    assert.equal(lexicon.size, 3);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadEmotionLexicon rejects a bad line with its number and value", async () => {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(path, "开心\t1\t2\n# fine\n难过,9,2\n");
    await assert.rejects(
      () => loadEmotionLexicon(path),
      (err: Error) =>
        err.message.includes(`${path}:3`) && err.message.includes('"9"'),
    );
    await Deno.writeTextFile(path, "开心,1,lots\n");
    await assert.rejects(
      () => loadEmotionLexicon(path),
      (err: Error) =>
        err.message.includes(`${path}:1`) && err.message.includes('"lots"'),
    );
    await Deno.writeTextFile(path, "ok\n开心,1\n");
    await assert.rejects(
      () => loadEmotionLexicon(path),
      (err: Error) => err.message.includes(`${path}:1`),
    );
  } finally {
    await Deno.remove(path);
  }
  await assert.rejects(
    () => loadEmotionLexicon(`${path}.missing`),
    (err: Error) => err.message.includes(`${path}.missing`),
  );
});

Deno.test("an extra lexicon entry changes a classification", () => {
  const text = "今天又被卷王折腾了一天";
  assert.equal(classifyEmotion(text).emotion, 0);
  const extra = parseEmotionLexicon("卷王\t6\t2", "extra.txt");
  const lexicon = mergeLexicon(BUILTIN_LEXICON, extra);
  assert.equal(classifyEmotion(text, { lexicon }).emotion, 6);
  // Overriding a built-in word: strength 0 silences it.
  const silenced = mergeLexicon(
    BUILTIN_LEXICON,
    parseEmotionLexicon("开心,1,0"),
  );
  assert.equal(classifyEmotion("开心", { lexicon: silenced }).emotion, 0);
  // The built-in lexicon is untouched.
  assert.equal(classifyEmotion("开心").emotion, 1);
  assert.equal(BUILTIN_LEXICON.get("卷王"), undefined);
});
