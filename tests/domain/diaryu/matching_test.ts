import assert from "node:assert/strict";
import {
  currentPair,
  depair,
  matchOrWait,
  type Pair,
  PREFERENCE,
  waitingOf,
} from "../../../domain/diaryu/matching.ts";
import { withKv } from "../../_kv.ts";

/** The matching rules of domain/diaryu/matching.ts, one by one. */

/** Makes a and b ex-partners (paired, then depaired): free, and not matched again. */
async function exPartners(kv: Deno.Kv, a: string, b: string): Promise<void> {
  await matchOrWait(kv, a, 0);
  const paired = await matchOrWait(kv, b, 0);
  assert.equal(paired.status, "paired");
  await depair(kv, a);
}

function partnerOf(outcome: Awaited<ReturnType<typeof matchOrWait>>) {
  return outcome.status === "paired" ? outcome.partner : null;
}

Deno.test("a lone writer waits; the next writer is paired with them", () =>
  withKv(async (kv) => {
    assert.deepEqual(await matchOrWait(kv, "alice", 1), {
      status: "waiting",
      emotion: 1,
    });
    const bob = await matchOrWait(kv, "bob", 4);
    assert.equal(bob.status, "paired");
    assert.equal(partnerOf(bob), "alice");
    assert.equal(bob.status === "paired" && bob.fresh, true);
    const pair = (await currentPair(kv, "alice"))!;
    assert.deepEqual([...pair.members].sort(), ["alice", "bob"]);
    assert.equal((await currentPair(kv, "bob"))?.pair_id, pair.pair_id);
    assert.equal(await waitingOf(kv, "alice"), null);
  }));

Deno.test("never yourself: writing again while waiting keeps you waiting, in your place", () =>
  withKv(async (kv) => {
    await matchOrWait(kv, "alice", 1);
    const before = await waitingOf(kv, "alice");
    assert.equal((await matchOrWait(kv, "alice", 3)).status, "waiting");
    const after = await waitingOf(kv, "alice");
    assert.equal(after?.emotion, 3, "waits with the newest emotion");
    assert.equal(after?.arrival, before?.arrival, "keeps its place in line");
    assert.equal(await currentPair(kv, "alice"), null);
  }));

Deno.test("never a current partner: a paired writer keeps the pair, others are not pulled in", () =>
  withKv(async (kv) => {
    await matchOrWait(kv, "alice", 1);
    const first = await matchOrWait(kv, "bob", 1);
    const again = await matchOrWait(kv, "alice", 5);
    assert.equal(again.status, "paired");
    assert.equal(partnerOf(again), "bob");
    assert.equal(again.status === "paired" && again.fresh, false);
    assert.equal(
      again.status === "paired" && first.status === "paired" &&
        again.pair.pair_id === first.pair.pair_id,
      true,
    );
    assert.equal((await matchOrWait(kv, "carol", 1)).status, "waiting");
  }));

Deno.test("the same emotion is preferred over an earlier arrival", () =>
  withKv(async (kv) => {
    await exPartners(kv, "amy", "ben");
    await matchOrWait(kv, "amy", 4);
    assert.equal((await matchOrWait(kv, "ben", 1)).status, "waiting");
    assert.equal(partnerOf(await matchOrWait(kv, "cat", 1)), "ben");
  }));

Deno.test("within one emotion, the earliest arrival is matched first", () =>
  withKv(async (kv) => {
    await exPartners(kv, "amy", "ben");
    await matchOrWait(kv, "amy", 2);
    await matchOrWait(kv, "ben", 2);
    assert.equal(partnerOf(await matchOrWait(kv, "cat", 2)), "amy");
    assert.equal(partnerOf(await matchOrWait(kv, "dan", 2)), "ben");
  }));

Deno.test("without the same emotion, the nearest one is matched", () =>
  withKv(async (kv) => {
    // Worried (5) is nearer Sad (4) than Happy (1) on the circumplex.
    assert.ok(PREFERENCE[5].indexOf(4) < PREFERENCE[5].indexOf(1));
    await exPartners(kv, "amy", "ben");
    await matchOrWait(kv, "amy", 1);
    await matchOrWait(kv, "ben", 4);
    assert.equal(partnerOf(await matchOrWait(kv, "cat", 5)), "ben");
  }));

Deno.test("the preference order starts with the emotion itself and lists all eight", () => {
  for (let e = 0; e < 8; e++) {
    assert.equal(PREFERENCE[e][0], e);
    assert.deepEqual([...PREFERENCE[e]].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  }
});

Deno.test("depair frees both; they are not matched with each other right away", () =>
  withKv(async (kv) => {
    await matchOrWait(kv, "alice", 1);
    await matchOrWait(kv, "bob", 1);
    const ended = await depair(kv, "bob");
    assert.ok(ended?.endedAt);
    assert.equal(await currentPair(kv, "alice"), null);
    assert.equal(await currentPair(kv, "bob"), null);
    assert.equal(await depair(kv, "bob"), null, "idempotent");
    assert.equal((await matchOrWait(kv, "alice", 1)).status, "waiting");
    assert.equal((await matchOrWait(kv, "bob", 1)).status, "waiting");
    assert.equal(partnerOf(await matchOrWait(kv, "carol", 1)), "alice");
    assert.equal(partnerOf(await matchOrWait(kv, "dave", 3)), "bob");
  }));

Deno.test("50 concurrent writers: everyone in at most one pair, at most one left waiting", () =>
  withKv(async (kv) => {
    const users = Array.from({ length: 50 }, (_, i) => `user${i}`);
    const outcomes = await Promise.all(
      users.map((u, i) => matchOrWait(kv, u, i % 8)),
    );
    const pairs = new Map<string, Pair>();
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status !== "paired") continue;
      assert.notEqual(outcome.partner, users[i]);
      pairs.set(outcome.pair.pair_id, outcome.pair);
    }
    const seen = new Set<string>();
    for (const pair of pairs.values()) {
      const [a, b] = pair.members;
      assert.notEqual(a, b);
      for (const m of pair.members) {
        assert.ok(!seen.has(m), `${m} is in two pairs`);
        seen.add(m);
        assert.equal((await currentPair(kv, m))?.pair_id, pair.pair_id);
      }
    }
    let waiting = 0;
    for (const u of users) {
      if (await waitingOf(kv, u)) {
        waiting++;
        assert.ok(!seen.has(u), `${u} waits while paired`);
      }
    }
    // Two free users who could be matched never both stay waiting.
    assert.ok(waiting <= 1, `${waiting} left waiting`);
    assert.equal(seen.size + waiting, users.length);
  }));
