import assert from "node:assert/strict";
import { migrate, type Migration } from "../../../domain/store/kv.ts";

/** Schema migrations: forward steps, once each, however many instances start. */

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

/** Steps that record each run and take a while, so starts overlap. */
function slowSteps(runs: number[]): Migration[] {
  return [1, 2, 3].map((version) => ({
    version,
    run: async (kv: Deno.Kv) => {
      runs.push(version);
      await new Promise((r) => setTimeout(r, 30));
      await kv.set(["step", version], true);
    },
  }));
}

Deno.test("migrate: three instances starting together run each step once, in order", () =>
  withKv(async (kv) => {
    const runs: number[] = [];
    const steps = slowSteps(runs);
    const versions = await Promise.all(
      [0, 1, 2].map(() => migrate(kv, steps, { pollMs: 5 })),
    );
    assert.deepEqual(versions, [3, 3, 3]);
    assert.deepEqual(runs, [1, 2, 3]);
    assert.equal((await kv.get(["meta", "schema"])).value, 3);
    assert.equal(
      (await kv.get(["meta", "migration_lease"])).value,
      null,
      "the lease is released",
    );
    // Up to date: nothing runs again.
    assert.equal(await migrate(kv, steps), 3);
    assert.deepEqual(runs, [1, 2, 3]);
  }));

Deno.test("migrate: a lease left by an instance that died does not block for ever", () =>
  withKv(async (kv) => {
    await kv.set(["meta", "migration_lease"], {
      owner: "gone",
      expiresAt: Date.now() - 1,
    });
    const runs: number[] = [];
    assert.equal(await migrate(kv, slowSteps(runs), { pollMs: 5 }), 3);
    assert.deepEqual(runs, [1, 2, 3]);
  }));

Deno.test("migrate: a store from a newer Babble is refused, untouched", () =>
  withKv(async (kv) => {
    await kv.set(["meta", "schema"], 9);
    const runs: number[] = [];
    await assert.rejects(
      migrate(kv, slowSteps(runs)),
      /newer than this build's 3/,
    );
    assert.deepEqual(runs, []);
    assert.equal((await kv.get(["meta", "schema"])).value, 9);
  }));
