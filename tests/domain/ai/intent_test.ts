import assert from "node:assert/strict";
import {
  detectIntent,
  editDistance,
  messageTarget,
  type Playable,
  playRequest,
  type Reachable,
} from "../../../domain/ai/intent.ts";

/**
 * Keyword intents, pure: play content by a title said in Chinese (compared
 * by pinyin, so homophones match) or English (edit distance), aliases,
 * messaging a friend by remark or nickname, and sentences that match
 * nothing.
 */

const content: Playable[] = [
  { _id: "c1", title: "Twinkle Twinkle Little Star", music: "twinkle.mp3" },
  { _id: "c2", title: "The Three Little Pigs", music: "pigs.mp3" },
  { _id: "c3", title: "Why Is the Sky Blue", music: "sky.mp3" },
  { _id: "c4", title: "小星星", music: "xingxing.mp3" },
  {
    _id: "c5",
    title: "三只小猪",
    music: "zhu.mp3",
    aliases: ["小猪盖房子"],
  },
  { _id: "c6", title: "两只老虎", music: "laohu.mp3" },
];

const friends: Reachable[] = [
  {
    friend_id: "dad",
    friend_nick: "Big Bear",
    friend_remark: "Dad",
    friend_type: "app",
  },
  {
    friend_id: "mum",
    friend_nick: "妈妈",
    friend_remark: "妈妈",
    friend_type: "app",
  },
  {
    friend_id: "lily",
    friend_nick: "Bunny",
    friend_remark: "Lily",
    friend_type: "toy",
  },
  {
    friend_id: "ming",
    friend_nick: "小明的玩具",
    friend_remark: "小明",
    friend_type: "toy",
  },
];

function played(text: string): string | null {
  const intent = detectIntent(text, { content, friends });
  return intent.kind === "play" ? intent.item.music : null;
}

function messaged(text: string): string | null {
  const intent = detectIntent(text, { content, friends });
  return intent.kind === "message" ? intent.friend.friend_id : null;
}

Deno.test("Chinese titles match by pinyin, homophones included", () => {
  assert.equal(played("放小星星"), "xingxing.mp3");
  assert.equal(played("放小猩猩。"), "xingxing.mp3", "猩猩 sounds like 星星");
  assert.equal(played("我想听三只小猪"), "zhu.mp3");
  assert.equal(played("我想聽三隻小豬"), "zhu.mp3", "traditional characters");
  assert.equal(played("我想听3只小猪"), "zhu.mp3", "a digit for 三");
  assert.equal(played("唱两只老虎吧"), "laohu.mp3");
  assert.equal(played("小星星"), "xingxing.mp3", "the title alone");
  assert.equal(played("请放一首小心心"), "xingxing.mp3", "xin for xing");
});

Deno.test("English titles match by edit distance, in part after a play word", () => {
  assert.equal(played("play twinkle twinkle"), "twinkle.mp3");
  assert.equal(played("Play Twinkle Twinkel Little Star!"), "twinkle.mp3");
  assert.equal(played("can you play three little pigs please"), "pigs.mp3");
  assert.equal(played("the three little pigs"), "pigs.mp3");
  assert.equal(played("I want to hear the three little pics"), "pigs.mp3");
});

Deno.test("an alias names its content", () => {
  assert.equal(played("讲小猪盖房子的故事"), "zhu.mp3");
});

Deno.test("unrelated sentences match no content", () => {
  for (
    const text of [
      "why do cats purr",
      "天空为什么是蓝色的",
      "我昨天看到小星星了吗还有月亮和太阳",
      "play a song",
      "I want a cookie",
      "tell me a story about a dragon",
      "",
    ]
  ) {
    assert.equal(played(text), null, text);
  }
});

Deno.test("messages go to a friend named by remark, nickname or kin word", () => {
  assert.equal(messaged("给爸爸发消息"), "dad", "爸爸 is Dad");
  assert.equal(messaged("給爸爸發消息"), "dad");
  assert.equal(messaged("给八八发消息"), "dad", "a homophone of 爸爸");
  assert.equal(messaged("我要给妈妈发一条语音"), "mum");
  assert.equal(messaged("跟小明说话"), "ming");
  assert.equal(messaged("send a message to Lily"), "lily");
  assert.equal(messaged("Send a message to Lilly."), "lily", "misheard");
  assert.equal(messaged("send Bunny a voice message"), "lily", "nickname");
  assert.equal(messaged("I want to talk to daddy"), "dad");
  assert.equal(messaged("message my mom"), "mum");
});

Deno.test("a message request naming no friend is an answer, never a song", () => {
  for (
    const text of [
      "send a message to Tom",
      "给奶奶发消息",
      "I want to talk to you",
    ]
  ) {
    assert.deepEqual(detectIntent(text, { content, friends }), {
      kind: "answer",
    }, text);
  }
});

Deno.test("the pieces: message targets, play requests, edit distance", () => {
  assert.equal(messageTarget("给爸爸发消息"), "爸爸");
  assert.equal(messageTarget("send a message to my dad please"), "dad");
  assert.equal(messageTarget("why is the sky blue"), null);
  assert.deepEqual(playRequest("嗯 我想听三只小猪吧"), {
    phrase: "三只小猪",
    explicit: true,
  });
  assert.deepEqual(playRequest("twinkle twinkle"), {
    phrase: "twinkle twinkle",
    explicit: false,
  });
  assert.equal(editDistance("twinkle", "twinkel"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
});
