import assert from "node:assert/strict";
import { startTestServer } from "../../_server.ts";
import {
  newDevice,
  newFamily,
  newParent,
  ok,
  type Reply,
  send,
  uniqueName,
} from "../../_family.ts";

/**
 * Races the design promises to win with checked atomics: a device is
 * bound once, a friend request is answered once, a username is taken once.
 */

const RACERS = 20;

async function countKeys(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

function statuses(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = `${r.status}/${r.body.code}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

Deno.test("20 concurrent bind_toy of one device: exactly one toy", async () => {
  await using server = await startTestServer();
  // Four parents, five attempts each, all at once.
  const parents = await Promise.all(
    Array.from({ length: 4 }, () => newParent(server)),
  );
  const deviceKey = await newDevice(server);
  const replies = await Promise.all(
    Array.from({ length: RACERS }, (_, i) => {
      const p = parents[i % parents.length];
      return send(server, "/bind_toy", {
        toy_name: `racer ${i}`,
        baby_name: "Kid",
        remark: "Dad",
        user_id: p.userId,
        device_key: deviceKey,
      }, { token: p.token, encoding: i % 2 ? "form" : "json" });
    }),
  );
  const winners = replies.filter((r) => r.body.code === 0);
  assert.equal(winners.length, 1, JSON.stringify(statuses(replies)));
  const toyId = winners[0].body.data.toy_id;
  for (const loser of replies.filter((r) => r.body.code !== 0)) {
    assert.equal(loser.status, 409);
    assert.equal(loser.body.code, 2);
    assert.deepEqual(loser.body.data, { toy_id: toyId });
  }
  let listed = 0;
  for (const p of parents) {
    const toys = ok(
      await send(server, "/toy_list", { _id: p.userId }, { token: p.token }),
    );
    listed += toys.length;
    for (const toy of toys) assert.equal(toy._id, toyId);
  }
  assert.equal(listed, 1);
  assert.equal(await countKeys(server.kv, ["toys"]), 1);
  assert.equal(await countKeys(server.kv, ["toys_by_user"]), 1);
  assert.equal(await countKeys(server.kv, ["chats"]), 1);
  assert.equal(await countKeys(server.kv, ["friends"]), 2);
  const scan = await send(server, "/scan_qr", { device_key: deviceKey }, {
    token: parents[0].token,
  });
  assert.deepEqual(scan.body.data, { toy_id: toyId });
});

Deno.test("20 concurrent acc_req of one request: accepted once", async () => {
  await using server = await startTestServer();
  const a = await newFamily(server);
  const b = await newFamily(server);
  const { req_id } = ok(
    await send(server, "/add_req", {
      req_user: a.toyId,
      add_user: b.toyId,
    }, { token: a.token }),
  );
  const chatsBefore = await countKeys(server.kv, ["chats"]);
  const replies = await Promise.all(
    Array.from(
      { length: RACERS },
      (_, i) =>
        send(server, "/acc_req", { req_id, remark: `r${i}` }, {
          token: b.token,
          encoding: i % 3 === 0 ? "multipart" : "json",
        }),
    ),
  );
  const winners = replies.filter((r) => r.body.code === 0);
  assert.equal(winners.length, 1, JSON.stringify(statuses(replies)));
  for (const loser of replies.filter((r) => r.body.code !== 0)) {
    assert.equal(loser.status, 409);
    assert.match(loser.body.msg, /already been answered/);
  }
  const friends = ok(
    await send(server, "/friend_list", { _id: b.toyId }, { token: b.token }),
  );
  assert.equal(
    friends.filter((f: { friend_id: string }) => f.friend_id === a.toyId)
      .length,
    1,
  );
  assert.equal(await countKeys(server.kv, ["chats"]), chatsBefore + 1);
  const [request] = ok(
    await send(server, "/req_list", { _id: b.userId }, { token: b.token }),
  );
  assert.equal(request.status, 1);
});

Deno.test("accepts and refusals racing on one request: answered once", async () => {
  await using server = await startTestServer();
  const a = await newFamily(server);
  const b = await newFamily(server);
  const { req_id } = ok(
    await send(server, "/add_req", {
      req_user: a.userId,
      add_user: b.toyId,
    }, { token: a.token }),
  );
  const replies = await Promise.all(
    Array.from(
      { length: RACERS },
      (_, i) =>
        send(server, i % 2 ? "/ref_req" : "/acc_req", { req_id }, {
          token: b.token,
        }),
    ),
  );
  const winners = replies.filter((r) => r.body.code === 0);
  assert.equal(winners.length, 1, JSON.stringify(statuses(replies)));
  const [request] = ok(
    await send(server, "/req_list", { _id: b.userId }, { token: b.token }),
  );
  const friends = ok(
    await send(server, "/friend_list", { _id: a.userId }, { token: a.token }),
  );
  const befriended = friends.some((f: { friend_id: string }) =>
    f.friend_id === b.toyId
  );
  assert.equal(request.status, befriended ? 1 : 2);
});

Deno.test("20 concurrent add_req of one pair: one pending request", async () => {
  await using server = await startTestServer();
  const a = await newFamily(server);
  const b = await newFamily(server);
  const replies = await Promise.all(
    Array.from({ length: RACERS }, () =>
      send(server, "/add_req", {
        req_user: a.toyId,
        add_user: b.toyId,
      }, { token: a.token })),
  );
  assert.equal(
    replies.filter((r) => r.body.code === 0).length,
    1,
    JSON.stringify(statuses(replies)),
  );
  for (const loser of replies.filter((r) => r.body.code !== 0)) {
    assert.equal(loser.status, 409);
  }
  const requests = ok(
    await send(server, "/req_list", { _id: b.userId }, { token: b.token }),
  );
  assert.equal(requests.length, 1);
});

Deno.test("20 concurrent reg of one username: one account", async () => {
  await using server = await startTestServer();
  const username = uniqueName("racer");
  const replies = await Promise.all(
    Array.from({ length: RACERS }, (_, i) =>
      send(server, "/reg", {
        username,
        password: `password-${i}`,
        nickname: `n${i}`,
      }, { encoding: i % 2 ? "form" : "json" })),
  );
  const winners = replies.filter((r) => r.body.code === 0);
  assert.equal(winners.length, 1, JSON.stringify(statuses(replies)));
  for (const loser of replies.filter((r) => r.body.code !== 0)) {
    assert.equal(loser.status, 409);
    assert.match(loser.body.msg, /already taken/);
  }
  assert.equal(await countKeys(server.kv, ["users"]), 1);
  assert.equal(await countKeys(server.kv, ["users_by_name"]), 1);
  // The account belongs to the winner: its password logs in, its id is stored.
  const index = replies.indexOf(winners[0]);
  const login = ok(
    await send(server, "/login", {
      username,
      password: `password-${index}`,
    }),
  );
  assert.equal(login._id, winners[0].body.data._id);
  assert.equal(login.nickname, `n${index}`);
});
