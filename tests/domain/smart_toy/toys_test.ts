import assert from "node:assert/strict";
import { getChat } from "../../../domain/smart_toy/chats.ts";
import { getDevice, mintDevices } from "../../../domain/smart_toy/devices.ts";
import { getFriend } from "../../../domain/smart_toy/friends.ts";
import {
  assertActsAs,
  bindToy,
  getToy,
  listToys,
  mayActAs,
  openToy,
  scanDevice,
  toyIdsOf,
} from "../../../domain/smart_toy/toys.ts";
import { withKv } from "../../_kv.ts";
import { bindInput, parentWithDevice, rejectsWith } from "./_helpers.ts";

/**
 * Toys over KV: scanning a device key, binding it in one atomic op (toy,
 * chat, friendship both ways, device marked), listing, opening, and who may
 * act as whom. Unbinding is unbind_test.ts.
 */

Deno.test("mintDevices makes distinct free 32-hex keys; bad counts are 400", () =>
  withKv(async (kv) => {
    const keys = await mintDevices(kv, 25);
    assert.equal(new Set(keys).size, 25);
    for (const key of keys) {
      assert.match(key, /^[0-9a-f]{32}$/);
      assert.equal((await getDevice(kv, key))?.value.toy_id, null);
    }
    for (const count of [0, -1, 1.5, NaN, 10_001]) {
      await rejectsWith(mintDevices(kv, count), 400);
    }
  }));

Deno.test("scanDevice: 0 free, 1 unknown or malformed, 2 bound", () =>
  withKv(async (kv) => {
    const { user, deviceKey } = await parentWithDevice(kv);
    assert.deepEqual(await scanDevice(kv, deviceKey), {
      code: 0,
      device_key: deviceKey,
    });
    assert.deepEqual(await scanDevice(kv, "f".repeat(32)), { code: 1 });
    assert.deepEqual(await scanDevice(kv, "not a key"), { code: 1 });
    const toy = await bindToy(kv, bindInput(user._id, deviceKey));
    assert.deepEqual(await scanDevice(kv, deviceKey), {
      code: 2,
      toy_id: toy._id,
    });
  }));

Deno.test("bindToy writes toy, chat, both friend entries and the device at once", () =>
  withKv(async (kv) => {
    const { user, deviceKey } = await parentWithDevice(kv);
    const toy = await bindToy(kv, {
      ...bindInput(user._id, deviceKey),
      gender: "1",
    });
    assert.deepEqual(await getToy(kv, toy._id), toy);
    assert.equal(toy.bind_user, user._id);
    assert.equal(toy.avatar, "toy.jpg");
    assert.equal(toy.gender, "1");
    assert.equal((await getDevice(kv, deviceKey))?.value.toy_id, toy._id);
    assert.deepEqual(await toyIdsOf(kv, user._id), [toy._id]);

    const toUser = await getFriend(kv, toy._id, user._id);
    const toToy = await getFriend(kv, user._id, toy._id);
    assert.ok(toUser && toToy);
    assert.equal(toUser.friend_chat, toToy.friend_chat);
    assert.deepEqual(toToy, {
      friend_id: toy._id,
      friend_nick: "Small dung ball",
      friend_remark: "Ball ball",
      friend_avatar: "toy.jpg",
      friend_chat: toToy.friend_chat,
      friend_type: "toy",
    });
    assert.equal(toUser.friend_type, "app");
    assert.equal(toUser.friend_nick, user.nickname);
    assert.equal(toUser.friend_remark, "Dad");
    const chat = await getChat(kv, toToy.friend_chat);
    assert.deepEqual(chat?.user_list, [user._id, toy._id]);
  }));

Deno.test("bindToy: unknown device 404 code 1, bound device 409 code 2 with the toy", () =>
  withKv(async (kv) => {
    const { user, deviceKey } = await parentWithDevice(kv);
    await rejectsWith(
      bindToy(kv, bindInput(user._id, "e".repeat(32))),
      404,
      (err) => assert.equal(err.code, 1),
    );
    const toy = await bindToy(kv, bindInput(user._id, deviceKey));
    await rejectsWith(
      bindToy(kv, bindInput(user._id, deviceKey)),
      409,
      (err) => {
        assert.equal(err.code, 2);
        assert.deepEqual(err.data, { toy_id: toy._id });
      },
    );
    await rejectsWith(
      bindToy(kv, bindInput("0123456789abcdef01234567", deviceKey)),
      404,
    );
  }));

Deno.test("bindToy racing itself: one toy, the rest 409 code 2", () =>
  withKv(async (kv) => {
    const { user, deviceKey } = await parentWithDevice(kv);
    const results = await Promise.allSettled(
      Array.from(
        { length: 20 },
        () => bindToy(kv, bindInput(user._id, deviceKey)),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.equal(r.reason.code, 2);
    }
    assert.equal((await toyIdsOf(kv, user._id)).length, 1);
  }));

Deno.test("listToys: each toy with its friends, seed field friend_nickname added", () =>
  withKv(async (kv) => {
    const { user, deviceKey } = await parentWithDevice(kv);
    const [second] = await mintDevices(kv, 1);
    const a = await bindToy(kv, bindInput(user._id, deviceKey));
    const b = await bindToy(kv, bindInput(user._id, second));
    const toys = await listToys(kv, user._id);
    assert.deepEqual(toys.map((t) => t._id), [a._id, b._id]);
    for (const toy of toys) {
      assert.equal(toy.friend_list.length, 1);
      assert.equal(toy.friend_list[0].friend_nickname, user.nickname);
      assert.equal(toy.friend_list[0].friend_id, user._id);
    }
    assert.deepEqual(await listToys(kv, "0123456789abcdef01234567"), []);
  }));

Deno.test("openToy: 0 with the toy, 1 unknown key, 2 unbound key", () =>
  withKv(async (kv) => {
    const { user, deviceKey } = await parentWithDevice(kv);
    assert.deepEqual(await openToy(kv, deviceKey), { code: 2 });
    assert.deepEqual(await openToy(kv, "d".repeat(32)), { code: 1 });
    assert.deepEqual(await openToy(kv, "../../x"), { code: 1 });
    const toy = await bindToy(kv, bindInput(user._id, deviceKey));
    assert.deepEqual(await openToy(kv, deviceKey), { code: 0, toy });
  }));

Deno.test("mayActAs: oneself, or a user's own toys; never a toy for its parent", () =>
  withKv(async (kv) => {
    const a = await parentWithDevice(kv);
    const b = await parentWithDevice(kv);
    const toyA = await bindToy(kv, bindInput(a.user._id, a.deviceKey));
    const toyB = await bindToy(kv, bindInput(b.user._id, b.deviceKey));
    const userA = { kind: "user" as const, id: a.user._id };
    const asToyA = { kind: "toy" as const, id: toyA._id };
    assert.ok(await mayActAs(kv, userA, a.user._id));
    assert.ok(await mayActAs(kv, userA, toyA._id));
    assert.ok(!(await mayActAs(kv, userA, toyB._id)));
    assert.ok(!(await mayActAs(kv, userA, b.user._id)));
    assert.ok(await mayActAs(kv, asToyA, toyA._id));
    assert.ok(!(await mayActAs(kv, asToyA, a.user._id)));
    await rejectsWith(
      assertActsAs(kv, userA, toyB._id, "req_user"),
      403,
      (err) => assert.match(err.message, /"req_user" .* neither you nor/),
    );
  }));
