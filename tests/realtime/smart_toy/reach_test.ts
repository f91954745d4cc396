import assert from "node:assert/strict";
import { ReachCache } from "../../../realtime/smart_toy/reach.ts";

/** A lookup whose answers the test gives, one pending call at a time. */
function scriptedLookup() {
  const calls: { to: string; answer: (ok: boolean) => void }[] = [];
  const lookup = (to: string) =>
    new Promise<boolean>((resolve) => calls.push({ to, answer: resolve }));
  return { calls, lookup };
}

/**
 * A cache (5 s answers, refreshed in their last second) on a clock the
 * test moves, whose first lookup of `to` has already said yes at 0.
 */
async function primedYes(to: string) {
  const clock = { now: 0 };
  const { calls, lookup } = scriptedLookup();
  const reach = new ReachCache(lookup, {
    ttlMs: 5_000,
    refreshMs: 1_000,
    clock: () => clock.now,
  });
  const first = reach.check(to);
  assert.ok(first instanceof Promise);
  calls[0].answer(true);
  assert.equal(await first, true);
  return { clock, calls, reach };
}

Deno.test("a yes is kept for its time: frames meanwhile never wait", async () => {
  const { clock, calls, reach } = await primedYes("toy");
  for (let i = 0; i < 100; i++) {
    clock.now += 30; // 3 s in all: still outside the refresh window
    assert.equal(reach.check("toy"), true);
  }
  assert.equal(calls.length, 1, "one lookup for a pair that keeps talking");
});

Deno.test("frames that arrive while an answer is missing share one lookup, in order", async () => {
  const { calls, lookup } = scriptedLookup();
  const reach = new ReachCache(lookup, { clock: () => 0 });
  const order: number[] = [];
  const waits = [1, 2, 3].map((n) => {
    const answer = reach.check("toy");
    assert.ok(answer instanceof Promise);
    return answer.then((ok) => ok && order.push(n));
  });
  assert.equal(calls.length, 1);
  calls[0].answer(true);
  await Promise.all(waits);
  assert.deepEqual(order, [1, 2, 3]);
});

Deno.test("near expiry one frame starts a refresh; a 'no' ends the cached yes", async () => {
  const { clock, calls, reach } = await primedYes("friend");
  clock.now = 4_500; // inside the refresh window: still yes, one lookup starts
  assert.equal(reach.check("friend"), true);
  assert.equal(reach.check("friend"), true);
  assert.equal(calls.length, 2, "one refresh, however many frames");
  calls[1].answer(false); // the friendship ended meanwhile
  await new Promise((r) => setTimeout(r, 0));

  const after = reach.check("friend");
  assert.ok(after instanceof Promise, "the revoked yes is gone at once");
  calls[2].answer(false);
  assert.equal(await after, false);
});

Deno.test("a refreshed yes extends the answer; without frames it lapses", async () => {
  const { clock, calls, reach } = await primedYes("toy");
  clock.now = 4_800;
  assert.equal(reach.check("toy"), true);
  calls[1].answer(true);
  await new Promise((r) => setTimeout(r, 0));
  clock.now = 8_000; // past the first answer, within the refreshed one
  assert.equal(reach.check("toy"), true);
  assert.equal(calls.length, 2);
  clock.now = 20_000; // silence: the answer lapsed, the next frame asks again
  assert.ok(reach.check("toy") instanceof Promise);
  assert.equal(calls.length, 3);
});

Deno.test("a no is not cached, and a failed refresh keeps the yes in hand", async () => {
  let now = 0;
  let answer: boolean | Error = false;
  let asked = 0;
  const reach = new ReachCache(
    () => {
      asked++;
      return answer instanceof Error
        ? Promise.reject(answer)
        : Promise.resolve(answer);
    },
    { ttlMs: 5_000, refreshMs: 1_000, clock: () => now },
  );
  assert.equal(await reach.check("stranger"), false);
  answer = true; // they became friends: the next frame goes through
  assert.equal(await reach.check("stranger"), true);
  assert.equal(asked, 2);

  now = 4_500;
  answer = new Error("store unavailable");
  assert.equal(reach.check("stranger"), true);
  await new Promise((r) => setTimeout(r, 0));
  now = 4_900;
  assert.equal(reach.check("stranger"), true, "the yes stands until it ends");
});

Deno.test("the cache stays bounded", async () => {
  let asked = 0;
  const reach = new ReachCache(() => {
    asked++;
    return Promise.resolve(true);
  }, { maxEntries: 4, clock: () => 0 });
  for (let i = 0; i < 10; i++) await reach.check(`toy${i}`);
  assert.equal(asked, 10);
  // At most 4 answers are held: the earliest were dropped.
  assert.ok(reach.check("toy0") instanceof Promise);
  assert.equal(reach.check("toy9"), true);
});

Deno.test("at most maxPending lookups run at once; a frame to yet another recipient gets null", async () => {
  const { calls, lookup } = scriptedLookup();
  const reach = new ReachCache(lookup, { maxPending: 2, clock: () => 0 });
  const a = reach.check("a");
  const b = reach.check("b");
  assert.ok(a instanceof Promise && b instanceof Promise);
  assert.equal(reach.check("c"), null, "a third recipient waits its turn");
  assert.equal(
    reach.check("a"),
    a,
    "frames to a recipient being checked share its lookup",
  );
  assert.equal(calls.length, 2);

  calls[0].answer(false);
  assert.equal(await a, false);
  const c = reach.check("c");
  assert.ok(c instanceof Promise, "room again once an answer came");
  calls[2].answer(true);
  assert.equal(await c, true);
  assert.equal(reach.check("c"), true);
});

Deno.test("a lookup that refuses at once (a rate limit) fails that frame's answer, not the cache", async () => {
  let refuse = true;
  const reach = new ReachCache((to) => {
    if (refuse) throw new Error(`too many recipient checks (${to})`);
    return Promise.resolve(true);
  }, { clock: () => 0 });
  const refused = reach.check("toy");
  assert.ok(refused instanceof Promise);
  await assert.rejects(refused, /too many recipient checks/);
  refuse = false;
  assert.equal(await reach.check("toy"), true, "the next frame asks again");
  assert.equal(reach.check("toy"), true);
});
