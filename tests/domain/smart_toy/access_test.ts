import assert from "node:assert/strict";
import {
  assertActsAsToy,
  assertIsCaller,
  chatReaderFor,
  mayReach,
} from "../../../domain/smart_toy/access.ts";
import { getChat } from "../../../domain/smart_toy/chats.ts";
import { getFriend } from "../../../domain/smart_toy/friends.ts";
import { bindToy } from "../../../domain/smart_toy/toys.ts";
import {
  logSignal,
  recentSignals,
  SIGNAL_TTL_MS,
} from "../../../domain/smart_toy/signals.ts";
import { withKv } from "../../_kv.ts";
import { bindInput, parentWithDevice, rejectsWith } from "./_helpers.ts";

/**
 * Who may do what: the caller guard, who may read a chat, who may reach
 * whom over a socket; and the signal log the relay falls back on.
 */

async function twoFamilies(kv: Deno.Kv) {
  const a = await parentWithDevice(kv);
  const b = await parentWithDevice(kv);
  const toyA = await bindToy(kv, bindInput(a.user._id, a.deviceKey));
  const toyB = await bindToy(kv, bindInput(b.user._id, b.deviceKey));
  return {
    parentA: { kind: "user" as const, id: a.user._id },
    parentB: { kind: "user" as const, id: b.user._id },
    toyA: { kind: "toy" as const, id: toyA._id },
    toyB: { kind: "toy" as const, id: toyB._id },
  };
}

Deno.test("assertIsCaller: a body id must be the token's principal", () => {
  const me = { kind: "user" as const, id: "a".repeat(24) };
  assertIsCaller(me, me.id);
  assert.throws(
    () => assertIsCaller(me, "b".repeat(24), "_id"),
    (err: Error & { status?: number }) =>
      err.status === 403 &&
      /"_id" b+ is not the token's user/.test(err.message),
  );
});

Deno.test("chatReaderFor: a member reads as itself, a parent as its toy, others 403", () =>
  withKv(async (kv) => {
    const f = await twoFamilies(kv);
    const entry = await getFriend(kv, f.parentA.id, f.toyA.id);
    const chat = (await getChat(kv, entry!.friend_chat))!;
    assert.equal(await chatReaderFor(kv, f.parentA, chat), f.parentA.id);
    assert.equal(await chatReaderFor(kv, f.toyA, chat), f.toyA.id);
    await rejectsWith(chatReaderFor(kv, f.parentB, chat), 403);
    await rejectsWith(chatReaderFor(kv, f.toyB, chat), 403);
    // A parent reads a chat of its toy with someone else as that toy.
    const toysChat = {
      ...chat,
      user_list: [f.toyA.id, f.toyB.id] as [string, string],
    };
    assert.equal(await chatReaderFor(kv, f.parentA, toysChat), f.toyA.id);
  }));

Deno.test("mayReach: friends and a parent's own toy, nobody else", () =>
  withKv(async (kv) => {
    const f = await twoFamilies(kv);
    assert.ok(await mayReach(kv, f.parentA, f.toyA.id));
    assert.ok(await mayReach(kv, f.toyA, f.parentA.id));
    assert.ok(!(await mayReach(kv, f.parentA, f.toyB.id)));
    assert.ok(!(await mayReach(kv, f.toyA, f.toyB.id)));
    assert.ok(!(await mayReach(kv, f.toyB, f.parentA.id)));
  }));

Deno.test("logSignal: the recipient reads it back while fresh, never an old one", () =>
  withKv(async (kv) => {
    const to = "c".repeat(24);
    await logSignal(kv, to, { type: "music", music: "a.mp3" });
    const [signal] = await recentSignals(kv, to);
    assert.deepEqual(signal.frame, { type: "music", music: "a.mp3" });
    assert.deepEqual(
      await recentSignals(kv, to, Date.now() + SIGNAL_TTL_MS + 1),
      [],
    );
  }));

Deno.test("assertActsAsToy: the toy or its parent; someone else's is 403, a non-toy 400", () =>
  withKv(async (kv) => {
    const f = await twoFamilies(kv);
    await assertActsAsToy(kv, f.toyA, f.toyA.id);
    await assertActsAsToy(kv, f.parentA, f.toyA.id);
    await rejectsWith(assertActsAsToy(kv, f.parentB, f.toyA.id), 403);
    await rejectsWith(assertActsAsToy(kv, f.parentA, f.parentA.id), 400);
  }));
