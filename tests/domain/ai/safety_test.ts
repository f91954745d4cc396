import assert from "node:assert/strict";
import {
  capText,
  isBlocked,
  languageOf,
  speakable,
} from "../../../domain/ai/safety.ts";

/**
 * What may be spoken to a child: the word filter in both languages (whole
 * words, no innocent look-alikes), the parent's topics, text fit for speech
 * and the length cap.
 */

Deno.test("blocked words in English and Chinese; innocent look-alikes pass", () => {
  assert.ok(isBlocked("He had a gun."));
  assert.ok(isBlocked("Guns are loud"));
  assert.ok(isBlocked("What the FUCK"));
  assert.ok(isBlocked("他们吸毒"));
  assert.ok(isBlocked("然后他自杀了"));
  for (
    const fine of [
      "Hello there!",
      "A shell on the beach.",
      "Look, a shooting star!",
      "妈妈的生日快到了。",
      "水枪很好玩。",
      "The dinosaurs died out long ago.",
    ]
  ) assert.equal(isBlocked(fine), false, fine);
});

Deno.test("a parent's topics to avoid, in either language", () => {
  const avoid = ["dinosaur", "恐龙", "ghosts"];
  assert.ok(isBlocked("Dinosaurs were big.", avoid));
  assert.ok(isBlocked("恐龙很大。", avoid));
  assert.ok(isBlocked("Are ghosts real?", avoid));
  assert.equal(isBlocked("Birds came from them.", avoid), false);
});

Deno.test("speakable drops markdown, bullets and emoji", () => {
  assert.equal(speakable("**Cats** purr 😺 a lot!"), "Cats purr a lot!");
  assert.equal(speakable("- first point"), "first point");
  assert.equal(speakable("🎉"), "");
});

Deno.test("the length cap cuts at a boundary and ends the sentence", () => {
  assert.equal(capText("short", 10), "short");
  assert.equal(
    capText("one two three four five six", 15),
    "one two three.",
  );
  assert.equal(capText("一二三四五六七八九十", 5), "一二三四五。");
  assert.equal(languageOf("hello"), "en");
  assert.equal(languageOf("hello 你好"), "zh");
});
