import assert from "node:assert/strict";
import { startTestServer } from "../../_server.ts";
import {
  assertError,
  type Family,
  newDevice,
  newFamily,
  ok,
  send,
} from "../../_family.ts";

/**
 * Authorization on the smart-toy routes: no token is 401, an unknown or
 * revoked token is 401, and a second family's valid token against the
 * first family's user, toys, chats and friend requests is 403. An id in the
 * body never stands in for authentication.
 */

interface Fixture {
  a: Family;
  b: Family;
  /** A pending request from b's toy to a's toy. */
  reqToA: string;
  freeDevice: string;
}

/** Every token-guarded route with a body that would succeed for `a`. */
function routesOf(f: Fixture): [string, Record<string, unknown>][] {
  return [
    ["/auto_login", { _id: f.a.userId }],
    ["/scan_qr", { device_key: f.freeDevice }],
    ["/bind_toy", {
      toy_name: "t",
      baby_name: "b",
      remark: "r",
      user_id: f.a.userId,
      device_key: f.freeDevice,
    }],
    ["/unbind_toy", { toy_id: f.a.toyId }],
    ["/toy_list", { _id: f.a.userId }],
    ["/friend_list", { _id: f.a.userId }],
    ["/friend_list", { _id: f.a.toyId }],
    ["/add_req", { req_user: f.a.toyId, add_user: f.b.toyId }],
    ["/req_list", { _id: f.a.userId }],
    ["/acc_req", { req_id: f.reqToA }],
    ["/ref_req", { req_id: f.reqToA }],
    ["/chat_list", { chat_id: f.a.chatId }],
    ["/logout", {}],
  ];
}

async function fixture(
  server: Awaited<ReturnType<typeof startTestServer>>,
): Promise<Fixture> {
  const a = await newFamily(server);
  const b = await newFamily(server);
  const { req_id } = ok(
    await send(server, "/add_req", {
      req_user: b.toyId,
      add_user: a.toyId,
    }, { token: b.token }),
  );
  return { a, b, reqToA: req_id, freeDevice: await newDevice(server) };
}

/** a's state, which no refused call may change. */
async function snapshot(
  server: Awaited<ReturnType<typeof startTestServer>>,
  f: Fixture,
): Promise<unknown> {
  const token = f.a.token;
  return {
    toys: ok(
      await send(server, "/toy_list", { _id: f.a.userId }, { token }),
    ),
    friends: ok(
      await send(server, "/friend_list", { _id: f.a.userId }, { token }),
    ),
    toyFriends: ok(
      await send(server, "/friend_list", { _id: f.a.toyId }, { token }),
    ),
    requests: ok(
      await send(server, "/req_list", { _id: f.a.userId }, { token }),
    ),
  };
}

Deno.test("no token: 401 on every guarded route", async (t) => {
  await using server = await startTestServer();
  const f = await fixture(server);
  const before = await snapshot(server, f);
  for (const [path, fields] of routesOf(f)) {
    await t.step(path, async () => {
      assertError(await send(server, path, fields), 401, /sign in first/);
    });
  }
  assert.deepEqual(await snapshot(server, f), before);
});

Deno.test("unknown, malformed or non-Bearer tokens: 401", async (t) => {
  await using server = await startTestServer();
  const f = await fixture(server);
  const bad = [
    "0".repeat(64),
    "not-a-token",
    f.a.token.toUpperCase(),
    f.a.token.slice(0, 63),
    f.a.userId,
  ];
  for (const [path, fields] of routesOf(f)) {
    await t.step(path, async () => {
      for (const token of bad) {
        assertError(
          await send(server, path, fields, { token }),
          401,
          /token is unknown, expired or logged out/,
        );
      }
    });
  }
  await t.step("a Basic header is not a token", async () => {
    const res = await fetch(`${server.url}/toy_list`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa("a:b")}` },
      body: JSON.stringify({ _id: f.a.userId }),
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });
});

Deno.test("a token after /logout: 401 on every guarded route", async (t) => {
  await using server = await startTestServer();
  const f = await fixture(server);
  const { token } = ok(
    await send(server, "/login", {
      username: f.a.username,
      password: f.a.password,
    }),
  );
  ok(await send(server, "/logout", {}, { token }));
  for (const [path, fields] of routesOf(f)) {
    await t.step(path, async () => {
      assertError(
        await send(server, path, fields, { token }),
        401,
        /logged out/,
      );
    });
  }
  await t.step("a second logout with it is 401 too", async () => {
    assertError(await send(server, "/logout", {}, { token }), 401);
  });
  await t.step("a logged-out toy token is 401", async () => {
    const open = await send(server, "/open_toy", {
      device_key: f.a.deviceKey,
    });
    const toyToken = open.body.token as string;
    ok(await send(server, "/logout", {}, { token: toyToken }));
    assertError(
      await send(server, "/friend_list", { _id: f.a.toyId }, {
        token: toyToken,
      }),
      401,
    );
  });
});

Deno.test("a second family's token against the first family: 403", async (t) => {
  await using server = await startTestServer();
  const f = await fixture(server);
  const before = await snapshot(server, f);
  const token = f.b.token;
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["/auto_login", { _id: f.a.userId }, /not the token's user/],
    ["/toy_list", { _id: f.a.userId }, /not the token's user/],
    ["/req_list", { _id: f.a.userId }, /not the token's user/],
    ["/friend_list", { _id: f.a.userId }, /neither you nor one of your toys/],
    ["/friend_list", { _id: f.a.toyId }, /neither you nor one of your toys/],
    ["/bind_toy", {
      toy_name: "t",
      baby_name: "b",
      remark: "r",
      user_id: f.a.userId,
      device_key: f.freeDevice,
    }, /not the token's user/],
    ["/unbind_toy", { toy_id: f.a.toyId }, /not bound to you/],
    [
      "/add_req",
      { req_user: f.a.toyId, add_user: f.b.toyId },
      /"req_user" .* neither you nor one of your toys/,
    ],
    [
      "/add_req",
      { req_user: f.a.userId, add_user: f.b.toyId },
      /"req_user" .* neither you nor one of your toys/,
    ],
    ["/acc_req", { req_id: f.reqToA }, /not yours/],
    ["/ref_req", { req_id: f.reqToA }, /not yours/],
  ];
  for (const [path, fields, pattern] of cases) {
    await t.step(`${path} ${JSON.stringify(fields).slice(0, 60)}`, async () => {
      assertError(await send(server, path, fields, { token }), 403, pattern);
    });
  }
  await t.step("the first family's chat history is not b's: 403", async () => {
    ok(
      await send(server, "/chat_list", { chat_id: f.a.chatId }, {
        token: f.a.token,
      }),
    );
    assertError(
      await send(server, "/chat_list", { chat_id: f.a.chatId }, { token }),
      403,
    );
    const open = await send(server, "/open_toy", {
      device_key: f.b.deviceKey,
    });
    assertError(
      await send(server, "/chat_list", { chat_id: f.a.chatId }, {
        token: open.body.token as string,
      }),
      403,
    );
  });
  await t.step("the first family's chat with its toy is not b's", async () => {
    const bFriends = ok(
      await send(server, "/friend_list", { _id: f.b.userId }, { token }),
    );
    assert.ok(
      bFriends.every((e: { friend_chat: string }) =>
        e.friend_chat !== f.a.chatId
      ),
    );
  });
  await t.step("nothing of a's changed", async () => {
    assert.deepEqual(await snapshot(server, f), before);
  });
  await t.step(
    "the requester cannot answer its own request either",
    async () => {
      assertError(
        await send(server, "/acc_req", { req_id: f.reqToA }, { token }),
        403,
      );
    },
  );
});

Deno.test("a toy's token is the toy: its own friends only, no parent routes", async (t) => {
  await using server = await startTestServer();
  const f = await fixture(server);
  const open = await send(server, "/open_toy", { device_key: f.a.deviceKey });
  const token = open.body.token as string;
  await t.step("its own friend list", async () => {
    ok(await send(server, "/friend_list", { _id: f.a.toyId }, { token }));
  });
  await t.step("not its parent's friend list", async () => {
    assertError(
      await send(server, "/friend_list", { _id: f.a.userId }, { token }),
      403,
    );
  });
  await t.step("not another toy's", async () => {
    assertError(
      await send(server, "/friend_list", { _id: f.b.toyId }, { token }),
      403,
    );
  });
  await t.step("not a request on behalf of its parent", async () => {
    assertError(
      await send(server, "/add_req", {
        req_user: f.a.userId,
        add_user: f.b.toyId,
      }, { token }),
      403,
    );
  });
  for (
    const [path, fields] of [
      ["/toy_list", { _id: f.a.userId }],
      ["/auto_login", { _id: f.a.userId }],
      ["/req_list", { _id: f.a.userId }],
      ["/acc_req", { req_id: f.reqToA }],
      ["/unbind_toy", { toy_id: f.a.toyId }],
      ["/scan_qr", { device_key: f.freeDevice }],
    ] as const
  ) {
    await t.step(`not ${path}`, async () => {
      assertError(
        await send(server, path, fields, { token }),
        403,
        /this route is for a user token/,
      );
    });
  }
});

Deno.test("the token travels as Bearer, ?token= or a body field", async () => {
  await using server = await startTestServer();
  const f = await fixture(server);
  const viaQuery = await fetch(
    `${server.url}/toy_list?token=${f.a.token}`,
    {
      method: "POST",
      body: new URLSearchParams({ _id: f.a.userId }),
    },
  );
  assert.equal(viaQuery.status, 200);
  assert.equal((await viaQuery.json()).data.length, 1);
  const viaBody = await send(server, "/toy_list", {
    _id: f.a.userId,
    token: f.a.token,
  }, { encoding: "multipart" });
  assert.equal(ok(viaBody).length, 1);
});
