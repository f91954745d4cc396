import assert from "node:assert/strict";
import { AppError } from "../../../domain/platform/errors.ts";
import {
  createDiary,
  deleteDiary,
  firstChars,
  getDiary,
  listDiaries,
  requireOwnDiary,
  updateDiary,
} from "../../../domain/diaryu/diaries.ts";
import { withKv } from "../../_kv.ts";

/** Diaries: stored with their summary, owner-only, listed newest page first. */

const draft = (content: string, title = "") => ({
  title,
  content,
  emotion: 0,
  evidence: [],
});

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err.status;
  }
  return 200;
}

Deno.test("a diary is dated in China Standard Time and summarised with a 100-character preview", () =>
  withKv(async (kv) => {
    const long = "😀".repeat(150);
    // 2018-04-23 17:00 UTC is already the 24th in Beijing.
    const diary = await createDiary(kv, "u1", draft(long), {
      now: Date.UTC(2018, 3, 23, 17),
    });
    assert.equal(diary.publish_date, "2018-04-24");
    const { diaries } = await listDiaries(kv, "u1");
    assert.equal(diaries.length, 1);
    assert.equal(Array.from(diaries[0].preview).length, 100);
    assert.equal(diaries[0].preview, firstChars(long, 100));
    assert.equal(diaries[0].title, "");
  }));

Deno.test("another user's diary is refused (403); an unknown one is 404", () =>
  withKv(async (kv) => {
    const diary = await createDiary(kv, "owner", draft("mine"));
    assert.equal(
      await status(requireOwnDiary(kv, "other", diary.diary_id)),
      403,
    );
    assert.equal(
      await status(updateDiary(kv, "other", diary.diary_id, () => draft("x"))),
      403,
    );
    assert.equal(await status(deleteDiary(kv, "other", diary.diary_id)), 403);
    assert.equal((await getDiary(kv, diary.diary_id))?.content, "mine");
    assert.equal(
      await status(requireOwnDiary(kv, "owner", "0123456789abcdef01234567")),
      404,
    );
    assert.equal(await status(requireOwnDiary(kv, "owner", "../x")), 404);
  }));

Deno.test("an edit rewrites the diary and its summary together; a delete removes both", () =>
  withKv(async (kv) => {
    const diary = await createDiary(kv, "u1", draft("before", "t"));
    await updateDiary(kv, "u1", diary.diary_id, (stored) => ({
      ...draft(stored.content + " and after", "new title"),
      emotion: 2,
    }));
    const [summary] = (await listDiaries(kv, "u1")).diaries;
    assert.equal(summary.title, "new title");
    assert.equal(summary.preview, "before and after");
    assert.equal(summary.emotion, 2);
    await deleteDiary(kv, "u1", diary.diary_id);
    assert.equal(await getDiary(kv, diary.diary_id), null);
    assert.deepEqual((await listDiaries(kv, "u1")).diaries, []);
  }));

Deno.test("listing: the most recent page, oldest first, paged with before", () =>
  withKv(async (kv) => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await createDiary(kv, "u1", draft(`d${i}`))).diary_id);
    }
    await createDiary(kv, "u2", draft("someone else's"));
    const page = await listDiaries(kv, "u1", { limit: 2 });
    assert.deepEqual(page.diaries.map((d) => d.preview), ["d3", "d4"]);
    assert.equal(page.more, true);
    const older = await listDiaries(kv, "u1", {
      limit: 10,
      before: page.diaries[0].diary_id,
    });
    assert.deepEqual(older.diaries.map((d) => d.preview), ["d0", "d1", "d2"]);
    assert.equal(older.more, false);
  }));
