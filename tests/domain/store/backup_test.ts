import assert from "node:assert/strict";
import { dumpKv, restoreKv } from "../../../domain/store/backup.ts";
import { withKv } from "../../_kv.ts";

/** Backup and restore: every value type round-trips; a bad file writes nothing. */

Deno.test("backup then restore round-trips bytes, counters, bigints and objects", () =>
  withKv(async (kv) => {
    await kv.set(["a", 1], { nested: [1, "two", true], at: null });
    await kv.set(["b", new Uint8Array([1, 2])], new Uint8Array([0, 255, 7]));
    await kv.set(["c"], new Deno.KvU64(42n));
    await kv.set(["d", 5n], 12345678901234567890n);
    const file = await Deno.makeTempFile({ suffix: ".jsonl" });
    try {
      assert.equal(await dumpKv(kv, file), 4);
      await using fresh = await Deno.openKv(":memory:");
      assert.equal(await restoreKv(fresh, file), 4);
      const before = await Array.fromAsync(kv.list({ prefix: [] }));
      const after = await Array.fromAsync(fresh.list({ prefix: [] }));
      assert.deepEqual(
        after.map((e) => [e.key, e.value]),
        before.map((e) => [e.key, e.value]),
      );
    } finally {
      await Deno.remove(file);
    }
  }));

Deno.test("a damaged backup is refused before anything is written", () =>
  withKv(async (kv) => {
    const file = await Deno.makeTempFile({ suffix: ".jsonl" });
    try {
      const good = JSON.stringify({ key: ["x", 1], value: "kept out" });
      for (
        const [bad, message] of [
          ["not json", /:2 is not a JSON line/],
          [JSON.stringify({ key: [], value: 1 }), /:2: "key" must be/],
          [JSON.stringify({ key: "x", value: 1 }), /:2: "key" must be/],
          [JSON.stringify({ key: ["x"] }), /:2 has no "key" and "value"/],
        ] as const
      ) {
        await Deno.writeTextFile(file, `${good}\n${bad}\n${good}\n`);
        await assert.rejects(restoreKv(kv, file), message);
        assert.deepEqual(await Array.fromAsync(kv.list({ prefix: [] })), []);
      }
    } finally {
      await Deno.remove(file);
    }
  }));
