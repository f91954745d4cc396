import assert from "node:assert/strict";
import { AppError } from "../../../domain/platform/errors.ts";
import {
  clearMemory,
  clearTranscripts,
  deleteToyAiData,
  getMemory,
  getProfile,
  keepTranscript,
  listTranscripts,
  remember,
  setProfile,
} from "../../../domain/ai/profile.ts";
import { withKv } from "../../_kv.ts";

/**
 * A toy's AI profile, memory and transcripts over KV: defaults, atomic
 * updates that lose to an unbind, memory that keeps the last turns and
 * forgets after a quiet spell, transcripts newest first with paging.
 */

const TOY = "0123456789abcdef01234567";
const LIMITS = { turns: 2, quietMs: 60_000 };

Deno.test("a profile starts at its defaults and changes field by field", async () => {
  await withKv(async (kv) => {
    await kv.set(["toys", TOY], { _id: TOY });
    const initial = await getProfile(kv, TOY);
    assert.equal(initial.persona_name, "Babble");
    assert.equal(initial.language, "auto");
    assert.equal(initial.updated_at, 0);
    await setProfile(kv, TOY, { persona_name: "Teddy", child_age: 4 });
    const after = await setProfile(kv, TOY, {
      language: "en",
      persona_name: undefined,
    });
    assert.equal(after.persona_name, "Teddy", "undefined leaves a field be");
    assert.equal(after.child_age, 4);
    assert.equal(after.language, "en");
    assert.ok(after.updated_at > 0);
    assert.deepEqual(await getProfile(kv, TOY), after);
  });
});

Deno.test("a profile of a toy that is gone is not written", async () => {
  await withKv(async (kv) => {
    await assert.rejects(
      setProfile(kv, TOY, { child_age: 5 }),
      (err) => err instanceof AppError && err.status === 404,
    );
    assert.equal((await kv.get(["ai_profiles", TOY])).versionstamp, null);
  });
});

Deno.test("memory keeps the last turns and forgets after the quiet spell", async () => {
  await withKv(async (kv) => {
    const t0 = Date.now();
    for (const [i, at] of [[1, t0], [2, t0 + 1], [3, t0 + 2]]) {
      await remember(
        kv,
        TOY,
        { question: `q${i}`, answer: `a${i}`, at },
        LIMITS,
      );
    }
    const turns = await getMemory(kv, TOY, t0 + 3);
    assert.deepEqual(turns.map((t) => t.question), ["q2", "q3"]);
    assert.deepEqual(await getMemory(kv, TOY, t0 + 2 + 60_001), []);
    // A turn after the quiet spell starts a new conversation.
    await remember(
      kv,
      TOY,
      { question: "q4", answer: "a4", at: t0 + 2 + 60_001 },
      LIMITS,
    );
    assert.deepEqual(
      (await getMemory(kv, TOY, t0 + 60_004)).map((t) => t.question),
      ["q4"],
    );
    await clearMemory(kv, TOY);
    assert.deepEqual(await getMemory(kv, TOY), []);
  });
});

Deno.test("memory stays small whatever it is told", async () => {
  await withKv(async (kv) => {
    const long = "x".repeat(10_000);
    for (let i = 0; i < 30; i++) {
      await remember(
        kv,
        TOY,
        { question: long, answer: long, at: Date.now() },
        {
          turns: 30,
          quietMs: 60_000,
        },
      );
    }
    const entry = await kv.get(["ai_memory", TOY]);
    assert.ok(JSON.stringify(entry.value).length < 64 * 1024);
  });
});

Deno.test("transcripts list newest first, page, clear and go with the toy", async () => {
  await withKv(async (kv) => {
    const ids: string[] = [];
    for (const heard of ["one", "two", "three"]) {
      ids.push(
        (await keepTranscript(kv, TOY, { heard, intent: "answer", reply: "r" }))
          ._id,
      );
    }
    const all = await listTranscripts(kv, TOY);
    assert.deepEqual(all.map((t) => t.heard), ["three", "two", "one"]);
    assert.equal("expiresAt" in all[0], false);
    const page = await listTranscripts(kv, TOY, { before: ids[2], limit: 1 });
    assert.deepEqual(page.map((t) => t.heard), ["two"]);
    assert.equal(await clearTranscripts(kv, TOY), 3);
    assert.deepEqual(await listTranscripts(kv, TOY), []);

    await kv.set(["toys", TOY], { _id: TOY });
    await setProfile(kv, TOY, { child_age: 3 });
    await remember(
      kv,
      TOY,
      { question: "q", answer: "a", at: Date.now() },
      LIMITS,
    );
    await keepTranscript(kv, TOY, { heard: "h", intent: "play", reply: "t" });
    await deleteToyAiData(kv, TOY);
    for (const prefix of ["ai_profiles", "ai_memory", "ai_transcripts"]) {
      for await (const e of kv.list({ prefix: [prefix] })) {
        assert.fail(`left behind: ${JSON.stringify(e.key)}`);
      }
    }
  });
});
