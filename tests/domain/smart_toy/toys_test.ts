import assert from "node:assert/strict";
import {
  createAppSession,
  registerUser,
  resolveAppSession,
} from "../../../domain/smart_toy/accounts.ts";
import { getBlobMeta, putBlob } from "../../../domain/store/blobs.ts";
import { getChat } from "../../../domain/smart_toy/chats.ts";
import {
  MessageWriter,
  unreadCounts,
} from "../../../domain/smart_toy/messages.ts";
import { getDevice, mintDevices } from "../../../domain/smart_toy/devices.ts";
import { AppError } from "../../../domain/platform/errors.ts";
import { getFriend, listFriends } from "../../../domain/smart_toy/friends.ts";
import {
  acceptRequest,
  addRequest,
  listRequestsTo,
} from "../../../domain/smart_toy/friend_requests.ts";
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
import { unbindToy } from "../../../domain/smart_toy/unbind.ts";
import { withKv } from "../../_kv.ts";

/**
 * Toys over KV: scanning a device key, binding it in one atomic op (toy,
 * chat, friendship both ways, device marked), unbinding, listing, opening,
 * and who may act as whom.
 */

async function rejectsWith(
  promise: Promise<unknown>,
  status: number,
  check: (err: AppError) => void = () => {},
): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, status, err.message);
    check(err);
    return true;
  });
}

let n = 0;

async function parentWithDevice(kv: Deno.Kv) {
  n++;
  const user = await registerUser(kv, {
    username: `parent${n}`,
    password: "pw-123456",
    nickname: `Parent ${n}`,
  });
  const [deviceKey] = await mintDevices(kv, 1);
  return { user, deviceKey };
}

function bindInput(userId: string, deviceKey: string) {
  return {
    userId,
    deviceKey,
    toyName: "Ball ball",
    babyName: "Small dung ball",
    remark: "Dad",
  };
}

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

Deno.test("unbindToy: owner only; frees the device, drops toy, friends, chats, unread, requests, sessions", () =>
  withKv(async (kv) => {
    const a = await parentWithDevice(kv);
    const b = await parentWithDevice(kv);
    const toyA = await bindToy(kv, bindInput(a.user._id, a.deviceKey));
    const toyB = await bindToy(kv, bindInput(b.user._id, b.deviceKey));
    const accepted = await addRequest(kv, {
      req_user: toyB._id,
      add_user: toyA._id,
      req_info: "hi",
      remark: "",
    });
    await acceptRequest(kv, { kind: "user", id: a.user._id }, {
      reqId: accepted._id,
      remark: "",
    });
    await addRequest(kv, {
      req_user: b.user._id,
      add_user: toyA._id,
      req_info: "me too",
      remark: "",
    });
    const friendsOfA = await listFriends(kv, toyA._id);
    const chats = friendsOfA.map((f) => f.friend_chat);
    assert.equal(chats.length, 2);
    // Real messages both ways: to the toy (its inbox) and from it (the
    // parent's unread count), each with its voice file.
    const writer = new MessageWriter(kv);
    for (const [i, f] of friendsOfA.entries()) {
      await putBlob(kv, `to-${i}.mp3`, new Uint8Array(10), { kind: "chat" });
      await writer.send({
        chat_id: f.friend_chat,
        from_user: f.friend_id,
        to_user: toyA._id,
        chat: `to-${i}.mp3`,
        friend_type: f.friend_id === a.user._id ? "app" : "toy",
      });
    }
    await putBlob(kv, "voice-1.mp3", new Uint8Array(10), { kind: "chat" });
    const parentChat = friendsOfA.find((f) => f.friend_id === a.user._id)!;
    await writer.send({
      chat_id: parentChat.friend_chat,
      from_user: toyA._id,
      to_user: a.user._id,
      chat: "voice-1.mp3",
      friend_type: "toy",
    });
    assert.equal((await unreadCounts(kv, a.user._id)).count, 1);
    assert.equal((await unreadCounts(kv, toyA._id)).count, 2);
    const toyToken = await createAppSession(kv, { kind: "toy", id: toyA._id });

    await rejectsWith(unbindToy(kv, b.user._id, toyA._id), 403);
    assert.ok(await getToy(kv, toyA._id));

    await unbindToy(kv, a.user._id, toyA._id);
    assert.equal(await getToy(kv, toyA._id), null);
    assert.deepEqual(await scanDevice(kv, a.deviceKey), {
      code: 0,
      device_key: a.deviceKey,
    });
    assert.deepEqual(await toyIdsOf(kv, a.user._id), []);
    assert.deepEqual(await listFriends(kv, a.user._id), []);
    assert.deepEqual(await listFriends(kv, toyA._id), []);
    assert.deepEqual(
      (await listFriends(kv, toyB._id)).map((f) => f.friend_id),
      [b.user._id],
    );
    for (const chat of chats) assert.equal(await getChat(kv, chat), null);
    for (
      const prefix of [["inbox", toyA._id], ["inbox", a.user._id, toyA._id]]
    ) {
      for await (const e of kv.list({ prefix })) {
        assert.fail(`message left behind: ${JSON.stringify(e.key)}`);
      }
    }
    for (const file of ["voice-1.mp3", "to-0.mp3", "to-1.mp3"]) {
      assert.equal(await getBlobMeta(kv, file), null);
    }
    assert.deepEqual(await unreadCounts(kv, a.user._id), { count: 0 });
    assert.deepEqual(await unreadCounts(kv, toyA._id), { count: 0 });
    assert.deepEqual(await listRequestsTo(kv, [toyA._id]), []);
    for (
      const prefix of [
        ["friend_requests_by_toy", toyA._id],
        ["friend_requests_by_requester", toyB._id],
        ["friend_requests_pending", b.user._id],
      ]
    ) {
      for await (const e of kv.list({ prefix })) {
        assert.fail(`left behind: ${JSON.stringify(e.key)}`);
      }
    }
    assert.equal(await resolveAppSession(kv, toyToken), null);
    await rejectsWith(unbindToy(kv, a.user._id, toyA._id), 404);
  }));

type Commit = () => Promise<Deno.KvCommitResult | Deno.KvCommitError>;

/**
 * Wraps `kv` so its first atomic commit runs through `around`, which may
 * wait before or after committing: two domain calls then interleave at an
 * exact point instead of by luck.
 */
function aroundFirstCommit(
  kv: Deno.Kv,
  around: (commit: Commit) => Promise<Deno.KvCommitResult | Deno.KvCommitError>,
): Deno.Kv {
  let first = true;
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            if (!first) return commit();
            first = false;
            return around(commit);
          };
          return op;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A promise with its resolver. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => fire = resolve);
  return { promise, fire };
}

/** Every friend entry whose owner or friend is `toyId`. */
async function friendEntriesOf(kv: Deno.Kv, toyId: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix: ["friends"] })) {
    if (e.key.includes(toyId)) out.push(JSON.stringify(e.key));
  }
  return out;
}

async function pendingBetweenToys(kv: Deno.Kv) {
  const a = await parentWithDevice(kv);
  const b = await parentWithDevice(kv);
  const toyA = await bindToy(kv, bindInput(a.user._id, a.deviceKey));
  const toyB = await bindToy(kv, bindInput(b.user._id, b.deviceKey));
  const request = await addRequest(kv, {
    req_user: toyB._id,
    add_user: toyA._id,
    req_info: "",
    remark: "",
  });
  return { owner: { kind: "user" as const, id: a.user._id }, toyA, request };
}

Deno.test("an accept committed just before the unbind is cleaned up with it", () =>
  withKv(async (kv) => {
    const { owner, toyA, request } = await pendingBetweenToys(kv);
    const reached = signal();
    const go = signal();
    const unbinding = unbindToy(
      aroundFirstCommit(kv, async (commit) => {
        reached.fire();
        await go.promise;
        return await commit();
      }),
      owner.id,
      toyA._id,
    );
    await reached.promise;
    await acceptRequest(kv, owner, { reqId: request._id, remark: "" });
    go.fire();
    await unbinding;
    assert.equal(await getToy(kv, toyA._id), null);
    assert.deepEqual(await friendEntriesOf(kv, toyA._id), []);
  }));

Deno.test("an accept committing just after the unbind freed the toy is refused", () =>
  withKv(async (kv) => {
    const { owner, toyA, request } = await pendingBetweenToys(kv);
    const acceptReached = signal();
    const acceptGo = signal();
    const accepting = acceptRequest(
      aroundFirstCommit(kv, async (commit) => {
        acceptReached.fire();
        await acceptGo.promise;
        return await commit();
      }),
      owner,
      { reqId: request._id, remark: "" },
    );
    const settled = accepting.then(() => "accepted", (err) => err);
    await acceptReached.promise;
    await unbindToy(
      aroundFirstCommit(kv, async (commit) => {
        const res = await commit();
        // The toy is gone; let the accept try to commit before cleanup.
        acceptGo.fire();
        await settled;
        return res;
      }),
      owner.id,
      toyA._id,
    );
    const outcome = await settled;
    assert.ok(outcome instanceof AppError, String(outcome));
    assert.equal(outcome.status, 409);
    assert.deepEqual(await friendEntriesOf(kv, toyA._id), []);
  }));
