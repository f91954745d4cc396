import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  closeKv,
  migrate,
  type Migration,
  narrowExpiryIndex,
  openKv,
} from "../../../domain/store/kv.ts";
import { withKv, withTempDir } from "../../_kv.ts";

/** Schema migrations: forward steps, once each, however many instances start. */

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

/** The expiry index of a store file, and how SQLite runs Deno KV's expiry queries. */
function expiryIndexOf(file: string) {
  const db = new DatabaseSync(file);
  try {
    const plan = (sql: string, ...args: number[]) =>
      (db.prepare(`explain query plan ${sql}`).all(...args) as {
        detail: string;
      }[]).map((r) => r.detail).join("; ");
    return {
      sql: (db.prepare(
        "select sql from sqlite_master where name = 'kv_expiration_ms_idx'",
      ).get() as { sql: string }).sql,
      // Deno KV's own two expiry statements, as its SQLite backend runs them.
      collectPlan: plan(
        "delete from kv where expiration_ms >= 0 and expiration_ms <= ? returning k",
        Date.now(),
      ),
      earliestPlan: plan(
        "select expiration_ms from kv where expiration_ms >= 0 order by expiration_ms limit 1",
      ),
      indexed: (db.prepare(
        "select count(*) as n from kv indexed by kv_expiration_ms_idx where expiration_ms >= 0",
      ).get() as { n: number }).n,
      rows: (db.prepare("select count(*) as n from kv").get() as { n: number })
        .n,
    };
  } finally {
    db.close();
  }
}

Deno.test("openKv: the expiry index covers only expiring keys, and expiry still works through it", () =>
  withTempDir("babble_kv_index_", async (dir) => {
    const file = `${dir}/store.kv`;
    let kv = await openKv(file);
    await kv.set(["stays"], 1);
    await kv.set(["goes"], 2, { expireIn: 50 });
    let index = expiryIndexOf(file);
    assert.match(index.sql, /WHERE expiration_ms >= 0$/);
    assert.match(index.collectPlan, /USING INDEX kv_expiration_ms_idx/);
    assert.match(
      index.earliestPlan,
      /USING COVERING INDEX kv_expiration_ms_idx/,
    );
    assert.equal(index.indexed, 1, "only the expiring key is in the index");
    // Already narrow: a second open changes nothing.
    assert.equal(narrowExpiryIndex(file), false);
    closeKv(kv);

    // Deno KV collects expired keys when it opens a store: through the
    // narrow index, the expired row is gone and the other stays.
    await new Promise((r) => setTimeout(r, 100));
    kv = await openKv(file);
    assert.equal((await kv.get(["stays"])).value, 1);
    closeKv(kv);
    index = expiryIndexOf(file);
    assert.equal(index.indexed, 0);
    assert.equal(index.rows, 1, "the expired row was deleted");
  }));

Deno.test("narrowExpiryIndex leaves a store it does not recognise alone", () =>
  withTempDir("babble_kv_index_", async (dir) => {
    const file = `${dir}/store.kv`;
    const kv = await Deno.openKv(file);
    await kv.set(["k"], 1);
    kv.close();
    const db = new DatabaseSync(file);
    db.exec(
      "drop index kv_expiration_ms_idx; create index kv_expiration_ms_idx on kv (expiration_ms, k)",
    );
    db.close();
    assert.equal(narrowExpiryIndex(file), false);
    assert.match(expiryIndexOf(file).sql, /\(expiration_ms, k\)$/);
  }));
