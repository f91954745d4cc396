import assert from "node:assert/strict";
import { AppError } from "../../../domain/platform/errors.ts";
import { depair, matchOrWait } from "../../../domain/diaryu/matching.ts";
import {
  appendLine,
  headOf,
  history,
  linesAfter,
} from "../../../domain/diaryu/pair_chat.ts";
import { withKv } from "../../_kv.ts";

/** Pair lines: numbered per pair, only members write, nothing after the end. */

async function pairOf(kv: Deno.Kv, a: string, b: string): Promise<string> {
  await matchOrWait(kv, a, 1);
  const outcome = await matchOrWait(kv, b, 1);
  assert.equal(outcome.status, "paired");
  return outcome.status === "paired" ? outcome.pair.pair_id : "";
}

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err.status;
  }
  return 200;
}

Deno.test("lines are numbered 1, 2, 3 per pair, also when both members write at once", () =>
  withKv(async (kv) => {
    const pairId = await pairOf(kv, "a", "b");
    const sent = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        appendLine(kv, pairId, {
          openId: i % 2 ? "a" : "b",
          content: `line ${i}`,
        })),
    );
    assert.deepEqual(
      sent.map((l) => l.seq).sort((x, y) => x - y),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal(await headOf(kv, pairId), 20);
    const after = await linesAfter(kv, pairId, 18);
    assert.deepEqual(after.map((l) => l.seq), [19, 20]);
  }));

Deno.test("only the pair's members write; nobody writes after the pair ended", () =>
  withKv(async (kv) => {
    const pairId = await pairOf(kv, "a", "b");
    assert.equal(
      await status(appendLine(kv, pairId, { openId: "eve", content: "hi" })),
      403,
    );
    assert.equal(
      await status(
        appendLine(kv, "0123456789abcdef01234567", {
          openId: "a",
          content: "hi",
        }),
      ),
      404,
    );
    await depair(kv, "b");
    assert.equal(
      await status(appendLine(kv, pairId, { openId: "a", content: "hi" })),
      409,
    );
    assert.equal(await headOf(kv, pairId), 0);
  }));

Deno.test("history: the latest page oldest first, then before and after a seq", () =>
  withKv(async (kv) => {
    const pairId = await pairOf(kv, "a", "b");
    for (let i = 1; i <= 7; i++) {
      await appendLine(kv, pairId, { openId: "a", content: `m${i}` });
    }
    const latest = await history(kv, pairId, { limit: 3 });
    assert.deepEqual(latest.messages.map((l) => l.content), ["m5", "m6", "m7"]);
    assert.equal(latest.more, true);
    const older = await history(kv, pairId, { limit: 10, before: 5 });
    assert.deepEqual(older.messages.map((l) => l.seq), [1, 2, 3, 4]);
    assert.equal(older.more, false);
    const newer = await history(kv, pairId, { limit: 2, after: 4 });
    assert.deepEqual(newer.messages.map((l) => l.seq), [5, 6]);
    assert.equal(newer.more, true);
    assert.match(
      latest.messages[0].publish_date,
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
    );
  }));
