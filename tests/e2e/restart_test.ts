import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";
import {
  befriendToys,
  type Family,
  newDevice,
  newFamily,
  ok,
  send,
} from "../_family.ts";

/**
 * A restart on the same KV file keeps every account, toy, friendship,
 * request and session: the second server sees exactly what the first left.
 */

interface Seen {
  login: unknown;
  toys: unknown;
  friends: unknown;
  toyFriends: unknown;
  requests: unknown;
  content: unknown;
}

async function look(
  server: { url: string },
  f: Family,
): Promise<Seen> {
  const token = f.token;
  const login = ok(
    await send(server, "/login", {
      username: f.username,
      password: f.password,
    }),
  );
  delete login.token;
  return {
    login,
    toys: ok(await send(server, "/toy_list", { _id: f.userId }, { token })),
    friends: ok(
      await send(server, "/friend_list", { _id: f.userId }, { token }),
    ),
    toyFriends: ok(
      await send(server, "/friend_list", { _id: f.toyId }, { token }),
    ),
    requests: ok(
      await send(server, "/req_list", { _id: f.userId }, { token }),
    ),
    content: ok(await send(server, "/content_list", {})),
  };
}

Deno.test("a restart on the same KV file keeps accounts, toys and friendships", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble-restart-" });
  const kv = `${dir}/data/babble.kv`;
  try {
    let families: Family[];
    let before: Seen[];
    let freeDevice: string;
    let pendingReq: string;
    {
      await using first = await startTestServer({ kv });
      families = [
        await newFamily(first),
        await newFamily(first),
        await newFamily(first),
      ];
      await befriendToys(first, families[0], families[1]);
      await befriendToys(first, families[2], families[0]);
      pendingReq = ok(
        await send(first, "/add_req", {
          req_user: families[1].userId,
          add_user: families[2].toyId,
          req_info: "hello",
        }, { token: families[1].token }),
      ).req_id;
      freeDevice = await newDevice(first);
      before = [];
      for (const f of families) before.push(await look(first, f));
    }

    await using second = await startTestServer({ kv });
    for (const [i, f] of families.entries()) {
      assert.deepEqual(await look(second, f), before[i], `family ${i}`);
    }
    // Tokens issued before the restart still work; devices keep their state.
    const [a] = families;
    ok(
      await send(second, "/auto_login", { _id: a.userId }, { token: a.token }),
    );
    const open = await send(second, "/open_toy", { device_key: a.deviceKey });
    assert.equal(open.body.code, 0);
    assert.equal(open.body.toy_id, a.toyId);
    const scan = await send(second, "/scan_qr", { device_key: freeDevice }, {
      token: a.token,
    });
    assert.equal(scan.body.code, 0);
    // A pending request can still be answered after the restart.
    ok(
      await send(second, "/acc_req", { req_id: pendingReq }, {
        token: families[2].token,
      }),
    );
    const prompt = await fetch(`${second.url}/get_music/Success.mp3`);
    assert.equal(prompt.status, 200);
    await prompt.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a third start on the file does not duplicate the built-in content", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble-restart-" });
  const kv = `${dir}/babble.kv`;
  try {
    const lists: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      await using server = await startTestServer({ kv });
      lists.push(ok(await send(server, "/content_list", {})));
    }
    assert.equal((lists[0] as unknown[]).length, 3);
    assert.deepEqual(lists[1], lists[0]);
    assert.deepEqual(lists[2], lists[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two instances starting together on one store both serve one library", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const [a, b] = await Promise.all([
      startTestServer({}, { kv }),
      startTestServer({}, { kv }),
    ]);
    await using _a = a;
    await using _b = b;
    const fromA = ok(await send(a, "/content_list", {}));
    assert.equal(fromA.length, 3);
    assert.deepEqual(ok(await send(b, "/content_list", {})), fromA);
    let blobs = 0;
    for await (const _ of kv.list({ prefix: ["blob_meta"] })) blobs++;
    assert.equal(
      blobs,
      3 + 2 * 3,
      "three prompts, music and cover of three items",
    );
  } finally {
    kv.close();
  }
});
