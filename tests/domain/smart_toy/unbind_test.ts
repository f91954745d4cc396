import assert from "node:assert/strict";
import {
  createAppSession,
  resolveAppSession,
} from "../../../domain/smart_toy/accounts.ts";
import { getBlobMeta, putBlob } from "../../../domain/store/blobs.ts";
import { getChat } from "../../../domain/smart_toy/chats.ts";
import {
  MessageWriter,
  unreadCounts,
} from "../../../domain/smart_toy/messages.ts";
import { AppError } from "../../../domain/platform/errors.ts";
import { listFriends } from "../../../domain/smart_toy/friends.ts";
import {
  acceptRequest,
  addRequest,
  listRequestsTo,
} from "../../../domain/smart_toy/friend_requests.ts";
import {
  bindToy,
  getToy,
  scanDevice,
  toyIdsOf,
} from "../../../domain/smart_toy/toys.ts";
import { unbindToy } from "../../../domain/smart_toy/unbind.ts";
import { getMemory, remember, setProfile } from "../../../domain/ai/profile.ts";
import { withKv } from "../../_kv.ts";

/**
 * Unbinding a toy: every collection it touched is cleaned, and it races
 * correctly with a friend request being accepted.
 */

import { bindInput, parentWithDevice, rejectsWith } from "./_helpers.ts";

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

Deno.test("unbindToy forgets the toy's AI profile and conversation memory", () =>
  withKv(async (kv) => {
    const a = await parentWithDevice(kv);
    const toy = await bindToy(kv, bindInput(a.user._id, a.deviceKey));
    await setProfile(kv, toy._id, { persona_name: "Teddy" });
    await remember(kv, toy._id, {
      question: "why is the sky blue",
      answer: "because of the air",
      at: Date.now(),
    }, { turns: 6, quietMs: 60_000 });
    assert.equal((await getMemory(kv, toy._id)).length, 1);
    await unbindToy(kv, a.user._id, toy._id);
    const left = await Array.fromAsync(kv.list({ prefix: ["ai_profiles"] }));
    assert.deepEqual(left, []);
    assert.deepEqual(
      await Array.fromAsync(kv.list({ prefix: ["ai_memory"] })),
      [],
    );
  }));
