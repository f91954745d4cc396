import assert from "node:assert/strict";
import { idTime, isId, newId, randomHex } from "../../../domain/store/ids.ts";
import { sha256Hex } from "../../../domain/platform/sessions.ts";

/** Ids: 24 lowercase hex, time-prefixed, sorting in creation order. */

Deno.test("newId is 24 lowercase hex characters", () => {
  for (let i = 0; i < 100; i++) {
    const id = newId();
    assert.match(id, /^[0-9a-f]{24}$/);
    assert.ok(isId(id));
  }
});

Deno.test("newId encodes its time and sorts after every earlier id", () => {
  const before = Date.now();
  const ids = Array.from({ length: 5_000 }, () => newId());
  const after = Date.now();
  assert.ok(idTime(ids[0]) >= before && idTime(ids[0]) <= after + 1);
  assert.deepEqual(ids.toSorted(), ids);
  assert.equal(new Set(ids).size, ids.length);
});

Deno.test("newId keeps sorting when the clock stands still or goes back", () => {
  const base = Date.now() + 10_000;
  const ids = [
    newId(base),
    newId(base),
    newId(base - 5_000),
    newId(base),
    newId(base + 1),
  ];
  assert.deepEqual(ids.toSorted(), ids);
  assert.equal(new Set(ids).size, ids.length);
});

Deno.test("newId stays unique past 65536 ids in one millisecond", () => {
  const now = Date.now() + 20_000;
  const ids = Array.from({ length: 70_000 }, () => newId(now));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(ids.toSorted(), ids);
});

Deno.test("isId rejects what is not an id", () => {
  for (
    const value of [
      "",
      "0123456789abcdef0123456",
      "0123456789abcdef012345678",
      "0123456789ABCDEF01234567",
      "0123456789abcdef0123456g",
      123,
      null,
      undefined,
      { _id: "0123456789abcdef01234567" },
    ]
  ) {
    assert.equal(isId(value), false, String(value));
  }
});

Deno.test("randomHex gives 2 hex characters per byte, never repeating", () => {
  assert.match(randomHex(16), /^[0-9a-f]{32}$/);
  assert.match(randomHex(32), /^[0-9a-f]{64}$/);
  assert.equal(randomHex(0), "");
  const seen = new Set(Array.from({ length: 1000 }, () => randomHex(16)));
  assert.equal(seen.size, 1000);
});

Deno.test("sha256Hex matches the standard test vectors", () => {
  assert.equal(
    sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
