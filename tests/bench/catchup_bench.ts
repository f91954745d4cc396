/**
 * Catch-up cost (issue 14): what a reconnecting socket pays to read
 * "everything after my position" (`readInbox`) when a few messages are
 * new, for a principal with 3 / 20 / 200 / 2,000 correspondents, on a
 * local KV file. The cost should follow what is new, not how many
 * correspondents there are.
 *
 * Run alone: `deno task bench catchup`.
 */

import { MessageWriter, readInbox } from "../../domain/smart_toy/messages.ts";
import { newId } from "../../domain/store/ids.ts";

const SIZES = [3, 20, 200, 2_000];
/** Older messages from each correspondent, already read. */
const HISTORY_PER_SENDER = 5;
/** Messages new since the cursor. */
const NEW_MESSAGES = 5;
const READS = 200;
const GOAL_MS = 2;
const GOAL_AT = 200;

function percentile(sorted: number[], p: number): number {
  const v = sorted[Math.max(0, Math.ceil(p / 100 * sorted.length) - 1)];
  return Math.round(v * 1000) / 1000;
}

async function catchupAt(dir: string, correspondents: number) {
  const kv = await Deno.openKv(`${dir}/catchup_${correspondents}.kv`);
  try {
    const writer = new MessageWriter(kv);
    const me = newId();
    const senders = Array.from({ length: correspondents }, () => newId());
    const send = (from: string, n: number) =>
      writer.send({
        chat_id: `chat_${from}`,
        from_user: from,
        to_user: me,
        chat: `${from}_${n}.mp3`,
        friend_type: "app",
      });
    for (let n = 0; n < HISTORY_PER_SENDER; n++) {
      await Promise.all(senders.map((from) => send(from, n)));
    }
    // Other principals' mail too, so the store is not only ours.
    await Promise.all(
      senders.slice(0, 50).map((from) =>
        writer.send({
          chat_id: "x",
          from_user: me,
          to_user: from,
          chat: "x.mp3",
          friend_type: "app",
        })
      ),
    );
    const cursor = (await readInbox(kv, me, 0, 1_000_000)).at(-1)!.seq;
    for (let n = 0; n < NEW_MESSAGES; n++) {
      await send(senders[(n * 7) % senders.length], 100 + n);
    }
    const times: number[] = [];
    for (let i = 0; i < READS; i++) {
      const t0 = performance.now();
      const fresh = await readInbox(kv, me, cursor);
      times.push(performance.now() - t0);
      if (fresh.length !== NEW_MESSAGES) {
        throw new Error(`catch-up read ${fresh.length}, not ${NEW_MESSAGES}`);
      }
    }
    times.sort((a, b) => a - b);
    return {
      correspondents,
      stored: correspondents * HISTORY_PER_SENDER + NEW_MESSAGES,
      new: NEW_MESSAGES,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
    };
  } finally {
    kv.close();
  }
}

/** Catch-up read latency at each size; the goal is read at 200. */
export async function benchCatchup(): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "babble_catchup_bench_" });
  try {
    const rows = [];
    for (const size of SIZES) rows.push(await catchupAt(dir, size));
    const atGoal = rows.find((r) => r.correspondents === GOAL_AT)!;
    return {
      what: `readInbox after a cursor with ${NEW_MESSAGES} new messages, ` +
        `${HISTORY_PER_SENDER} older ones per correspondent, local KV ` +
        `file; ${READS} reads each`,
      rows,
      goal: `p50 ≤ ${GOAL_MS} ms at ${GOAL_AT} correspondents`,
      pass: atGoal.p50Ms <= GOAL_MS,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchCatchup(), null, 2));
}
