import assert from "node:assert/strict";
import { startTestServer } from "../../_server.ts";
import {
  assertError,
  befriendToys,
  ENCODINGS,
  newDevice,
  newFamily,
  newParent,
  ok,
  send,
  uniqueName,
  UNKNOWN_KEY,
} from "../../_family.ts";

/**
 * The smart-toy contract's happy paths (seeds 000 and 002, CONTRACTS.md
 * "Smart toy"), each sent as JSON, as a urlencoded form (what the seed's
 * Flask code reads with `request.form`) and as multipart/form-data.
 */

const HEX24 = /^[0-9a-f]{24}$/;
const HEX64 = /^[0-9a-f]{64}$/;

const FRIEND_KEYS = [
  "friend_avatar",
  "friend_chat",
  "friend_id",
  "friend_nick",
  "friend_remark",
  "friend_type",
];

function sorted(object: Record<string, unknown>): string[] {
  return Object.keys(object).sort();
}

Deno.test("/reg registers a user from JSON, a form and multipart", async (t) => {
  await using server = await startTestServer();
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const username = uniqueName();
      const data = ok(
        await send(server, "/reg", {
          username,
          password: "hunter22",
          nickname: "You are really something!",
          gender: "2",
          avatar: "baba.jpg",
        }, { encoding }),
      );
      assert.match(data._id, HEX24);
      const login = ok(
        await send(server, "/login", { username, password: "hunter22" }),
      );
      assert.equal(login._id, data._id);
      assert.equal(login.nickname, "You are really something!");
      assert.equal(login.gender, "2");
      assert.equal(login.avatar, "baba.jpg");
    });
  }
});

Deno.test("/reg takes only username and password; the rest defaults", async () => {
  await using server = await startTestServer();
  const username = uniqueName();
  ok(await send(server, "/reg", { username, password: "hunter22" }));
  const user = ok(
    await send(server, "/login", { username, password: "hunter22" }),
  );
  assert.equal(user.nickname, username);
  assert.equal(user.avatar, "baba.jpg");
});

Deno.test("/login replies the seed's user shape plus a token, never the password", async (t) => {
  await using server = await startTestServer();
  const username = uniqueName();
  ok(
    await send(server, "/reg", {
      username,
      password: "hunter22",
      nickname: "DragonFire",
      gender: 2,
    }),
  );
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const reply = await send(server, "/login", {
        username,
        password: "hunter22",
      }, { encoding });
      const data = ok(reply);
      assert.equal(reply.body.msg, "Successful login");
      for (
        const key of [
          "_id",
          "username",
          "nickname",
          "gender",
          "avatar",
          "friend_list",
          "bind_toy",
          "token",
        ]
      ) {
        assert.ok(key in data, `login data lacks "${key}"`);
      }
      assert.equal(data.username, username);
      assert.equal(data.gender, "2");
      assert.deepEqual(data.friend_list, []);
      assert.deepEqual(data.bind_toy, []);
      assert.match(data.token, HEX64);
      const text = JSON.stringify(reply.body);
      assert.ok(!text.includes("hunter22"));
      assert.ok(!text.includes("password"), text);
    });
  }
});

Deno.test("/login lists the bound toys and their friendship", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  const data = ok(
    await send(server, "/login", {
      username: family.username,
      password: family.password,
    }),
  );
  assert.deepEqual(data.bind_toy, [family.toyId]);
  assert.equal(data.friend_list.length, 1);
  assert.equal(data.friend_list[0].friend_id, family.toyId);
  assert.equal(data.friend_list[0].friend_type, "toy");
});

Deno.test("/auto_login resumes the session; a new user has chat {count: 0}", async (t) => {
  await using server = await startTestServer();
  const parent = await newParent(server);
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const data = ok(
        await send(server, "/auto_login", { _id: parent.userId }, {
          token: parent.token,
          encoding,
        }),
      );
      assert.equal(data._id, parent.userId);
      assert.equal(data.username, parent.username);
      assert.deepEqual(data.chat, { count: 0 });
      assert.deepEqual(data.friend_list, []);
      assert.deepEqual(data.bind_toy, []);
      assert.ok(!("password_hash" in data));
    });
  }
  await t.step(
    "token as a body field, where a client cannot set headers",
    async () => {
      const data = ok(
        await send(server, "/auto_login", {
          _id: parent.userId,
          token: parent.token,
        }, { encoding: "form" }),
      );
      assert.equal(data._id, parent.userId);
    },
  );
});

Deno.test("/logout revokes exactly the token it was sent with", async (t) => {
  await using server = await startTestServer();
  const parent = await newParent(server);
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const login = ok(
        await send(server, "/login", {
          username: parent.username,
          password: parent.password,
        }),
      );
      ok(
        await send(server, "/logout", {}, { token: login.token, encoding }),
      );
      assertError(
        await send(server, "/auto_login", { _id: parent.userId }, {
          token: login.token,
        }),
        401,
        /logged out/,
      );
      ok(
        await send(server, "/auto_login", { _id: parent.userId }, {
          token: parent.token,
        }),
      );
    });
  }
});

Deno.test("/content_list lists the built-in library, digests hidden", async (t) => {
  await using server = await startTestServer();
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const items = ok(
        await send(server, "/content_list", {}, { encoding }),
      );
      assert.equal(items.length, 3);
      for (const item of items) {
        assert.match(item._id, HEX24);
        assert.equal(typeof item.title, "string");
        assert.equal(item.music, `${item._id}.mp3`);
        assert.equal(item.cover, `${item._id}.jpg`);
        assert.ok(!("digest" in item));
      }
      assert.deepEqual(
        items.map((i: { title: string }) => i.title).sort(),
        [
          "The Three Little Pigs",
          "Twinkle Twinkle Little Star",
          "Why Is the Sky Blue",
        ],
      );
    });
  }
  await t.step("an empty body is an empty request", async () => {
    const res = await fetch(`${server.url}/content_list`, { method: "POST" });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.data.length, 3);
  });
});

Deno.test("/get_music, /get_cover and /get_image stream the library's files", async () => {
  await using server = await startTestServer();
  const [item] = ok(await send(server, "/content_list", {}));
  const manifest = JSON.parse(
    await Deno.readTextFile(
      new URL("../../../static/content/manifest.json", import.meta.url),
    ),
  ) as { title: string; music: string; cover: string }[];
  const source = manifest.find((m) => m.title === item.title)!;
  const mp3 = await Deno.readFile(
    new URL(`../../../static/content/${source.music}`, import.meta.url),
  );
  const jpg = await Deno.readFile(
    new URL(`../../../static/content/${source.cover}`, import.meta.url),
  );

  const music = await fetch(`${server.url}/get_music/${item.music}`);
  assert.equal(music.status, 200);
  assert.equal(music.headers.get("content-type"), "audio/mpeg");
  assert.equal(music.headers.get("accept-ranges"), "bytes");
  assert.equal(music.headers.get("content-length"), String(mp3.length));
  assert.deepEqual(new Uint8Array(await music.arrayBuffer()), mp3);

  for (const route of ["get_cover", "get_image"]) {
    const cover = await fetch(`${server.url}/${route}/${item.cover}`);
    assert.equal(cover.status, 200, route);
    assert.equal(cover.headers.get("content-type"), "image/jpeg");
    assert.deepEqual(new Uint8Array(await cover.arrayBuffer()), jpg);
  }
});

Deno.test("/get_music serves the toy's three built-in prompts", async () => {
  await using server = await startTestServer();
  for (const name of ["Success.mp3", "Nobind.mp3", "Nolic.mp3"]) {
    const res = await fetch(`${server.url}/get_music/${name}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get("content-type"), "audio/mpeg");
    const expected = await Deno.readFile(
      new URL(`../../../static/prompts/${name}`, import.meta.url),
    );
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), expected);
  }
});

Deno.test("/get_qr/<key>.png is a PNG of the device's QR code", async () => {
  await using server = await startTestServer();
  const [a, b] = [await newDevice(server), await newDevice(server)];
  const pngs: Uint8Array[] = [];
  for (const key of [a, b]) {
    const res = await fetch(`${server.url}/get_qr/${key}.png`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/png");
    const png = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual(
      [...png.subarray(0, 8)],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    );
    const ihdr = new DataView(png.buffer, 16, 8);
    assert.equal(ihdr.getUint32(0), 300, "width");
    assert.equal(ihdr.getUint32(4), 300, "height");
    pngs.push(png);
  }
  assert.notDeepEqual(pngs[0], pngs[1]);
  const unknown = await fetch(`${server.url}/get_qr/${UNKNOWN_KEY}.png`);
  assert.equal(unknown.status, 404);
  assert.match((await unknown.json()).msg, /no device/);
});

Deno.test("/scan_qr answers the seed's three codes", async (t) => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  const free = await newDevice(server);
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const token = family.token;
      const zero = await send(server, "/scan_qr", { device_key: free }, {
        token,
        encoding,
      });
      assert.equal(zero.status, 200);
      assert.deepEqual(zero.body, {
        code: 0,
        msg: "Successful Scanning of Two-Dimensional Code",
        data: { device_key: free },
      });
      const one = await send(server, "/scan_qr", { device_key: UNKNOWN_KEY }, {
        token,
        encoding,
      });
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, {
        code: 1,
        msg: "Please scan the toy two-dimensional code",
        data: {},
      });
      const two = await send(server, "/scan_qr", {
        device_key: family.deviceKey,
      }, { token, encoding });
      assert.equal(two.status, 200);
      assert.deepEqual(two.body, {
        code: 2,
        msg: "Equipment has been bound",
        data: { toy_id: family.toyId },
      });
    });
  }
  await t.step(
    "a scanned key in capitals or with spaces is the same key",
    async () => {
      const reply = await send(server, "/scan_qr", {
        device_key: ` ${free.toUpperCase()} `,
      }, { token: family.token });
      assert.equal(reply.body.code, 0);
    },
  );
  await t.step("text that is not a device key is code 1", async () => {
    const reply = await send(server, "/scan_qr", {
      device_key: "https://example.com/not-a-toy",
    }, { token: family.token });
    assert.equal(reply.body.code, 1);
  });
});

Deno.test("/bind_toy creates the toy, its chat and the friendship both ways", async (t) => {
  await using server = await startTestServer();
  const parent = await newParent(server, { nickname: "Obscene King" });
  const bound: string[] = [];
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const deviceKey = await newDevice(server);
      const reply = await send(server, "/bind_toy", {
        toy_name: `very ${encoding}`,
        baby_name: "Bad shit",
        remark: "Dad",
        user_id: parent.userId,
        device_key: deviceKey,
      }, { token: parent.token, encoding });
      const data = ok(reply);
      assert.equal(reply.body.msg, "Binding Completion");
      assert.match(data.toy_id, HEX24);
      bound.push(data.toy_id);
      const scan = await send(server, "/scan_qr", { device_key: deviceKey }, {
        token: parent.token,
      });
      assert.deepEqual(scan.body.data, { toy_id: data.toy_id });
    });
  }
  const toys = ok(
    await send(server, "/toy_list", { _id: parent.userId }, {
      token: parent.token,
    }),
  );
  assert.deepEqual(toys.map((toy: { _id: string }) => toy._id), bound);
  const friends = ok(
    await send(server, "/friend_list", { _id: parent.userId }, {
      token: parent.token,
    }),
  );
  assert.deepEqual(
    friends.map((f: { friend_id: string }) => f.friend_id).sort(),
    [...bound].sort(),
  );
  for (const toy of toys) {
    const mine = friends.find((f: { friend_id: string }) =>
      f.friend_id === toy._id
    );
    assert.equal(mine.friend_chat, toy.friend_list[0].friend_chat);
  }
});

Deno.test("/toy_list replies the seed's toy shape with the toy's friend_list", async (t) => {
  await using server = await startTestServer();
  const family = await newFamily(server, {
    nickname: "Obscene King",
    toyName: "very",
    babyName: "Bad shit",
  });
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const reply = await send(server, "/toy_list", { _id: family.userId }, {
        token: family.token,
        encoding,
      });
      const [toy, ...rest] = ok(reply);
      assert.equal(reply.body.msg, "Obtain Toy list");
      assert.deepEqual(rest, []);
      assert.equal(toy._id, family.toyId);
      assert.equal(toy.device_key, family.deviceKey);
      assert.equal(toy.bind_user, family.userId);
      assert.equal(toy.toy_name, "very");
      assert.equal(toy.baby_name, "Bad shit");
      assert.equal(toy.avatar, "toy.jpg");
      assert.equal(typeof toy.gender, "string");
      assert.equal(toy.friend_list.length, 1);
      const [friend] = toy.friend_list;
      assert.equal(friend.friend_id, family.userId);
      assert.equal(friend.friend_nickname, "Obscene King");
      assert.equal(friend.friend_nick, "Obscene King");
      assert.equal(friend.friend_avatar, "baba.jpg");
      assert.equal(friend.friend_remark, "Obscene King");
      assert.equal(friend.friend_chat, family.chatId);
      assert.equal(friend.friend_type, "app");
    });
  }
});

Deno.test("/open_toy answers the three codes with the prompt of each meaning", async (t) => {
  await using server = await startTestServer();
  const family = await newFamily(server, { toyName: "Ball ball" });
  const unbound = await newDevice(server);
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const zero = await send(server, "/open_toy", {
        device_key: family.deviceKey,
      }, { encoding });
      assert.equal(zero.status, 200);
      assert.equal(zero.body.code, 0);
      assert.equal(zero.body.music, "Success.mp3");
      assert.equal(zero.body.toy_id, family.toyId);
      assert.equal(zero.body.name, "Ball ball");
      assert.match(zero.body.token as string, HEX64);
      assert.deepEqual(zero.body.data, {
        music: "Success.mp3",
        toy_id: family.toyId,
        name: "Ball ball",
        token: zero.body.token,
      });

      const one = await send(server, "/open_toy", { device_key: UNKNOWN_KEY }, {
        encoding,
      });
      assert.equal(one.status, 200);
      assert.equal(one.body.code, 1);
      assert.equal(one.body.music, "Nolic.mp3");
      assert.deepEqual(one.body.data, { music: "Nolic.mp3" });

      const two = await send(server, "/open_toy", { device_key: unbound }, {
        encoding,
      });
      assert.equal(two.status, 200);
      assert.equal(two.body.code, 2);
      assert.equal(two.body.music, "Nobind.mp3");
      assert.deepEqual(two.body.data, { music: "Nobind.mp3" });
    });
  }
  await t.step("the toy's token reads the toy's own friend list", async () => {
    const open = await send(server, "/open_toy", {
      device_key: family.deviceKey,
    });
    const friends = ok(
      await send(server, "/friend_list", { _id: family.toyId }, {
        token: open.body.token as string,
      }),
    );
    assert.deepEqual(friends.map((f: { friend_id: string }) => f.friend_id), [
      family.userId,
    ]);
  });
  await t.step("each prompt the toy is told to play is served", async () => {
    for (const name of ["Success.mp3", "Nobind.mp3", "Nolic.mp3"]) {
      const res = await fetch(`${server.url}/get_music/${name}`);
      await res.body?.cancel();
      assert.equal(res.status, 200, name);
    }
  });
});

Deno.test("/friend_list entries have exactly the seed's six keys", async (t) => {
  await using server = await startTestServer();
  const a = await newFamily(server, { nickname: "Mum" });
  const b = await newFamily(server);
  await befriendToys(server, a, b);
  for (const encoding of ENCODINGS) {
    await t.step(encoding, async () => {
      const reply = await send(server, "/friend_list", { _id: a.userId }, {
        token: a.token,
        encoding,
      });
      const [entry, ...rest] = ok(reply);
      assert.equal(reply.body.msg, "Friends Inquiry");
      assert.deepEqual(rest, []);
      assert.deepEqual(sorted(entry), FRIEND_KEYS);
      assert.deepEqual(entry, {
        friend_id: a.toyId,
        friend_nick: "Small dung ball",
        friend_remark: "Ball ball",
        friend_avatar: "toy.jpg",
        friend_chat: a.chatId,
        friend_type: "toy",
      });
    });
  }
  await t.step(
    "a parent reads its toy's friends: the parent and the other toy",
    async () => {
      const friends = ok(
        await send(server, "/friend_list", { _id: a.toyId }, {
          token: a.token,
        }),
      );
      for (const entry of friends) assert.deepEqual(sorted(entry), FRIEND_KEYS);
      const byId = Object.fromEntries(
        friends.map((f: { friend_id: string }) => [f.friend_id, f]),
      );
      assert.deepEqual(Object.keys(byId).sort(), [a.userId, b.toyId].sort());
      assert.equal(byId[a.userId].friend_type, "app");
      assert.equal(byId[a.userId].friend_nick, "Mum");
      assert.equal(byId[b.toyId].friend_type, "toy");
      assert.equal(byId[b.toyId].friend_remark, "pal");
    },
  );
});

Deno.test("friend requests: /add_req, /req_list, /acc_req, /ref_req", async (t) => {
  await using server = await startTestServer();
  const a = await newFamily(server, { nickname: "Mum" });
  const b = await newFamily(server, { toyName: "Bear" });
  const c = await newFamily(server);
  for (const [i, encoding] of ENCODINGS.entries()) {
    await t.step(encoding, async () => {
      // A fresh pair per encoding: a's parent asks, b's parent answers.
      const asker = i === 0 ? a : i === 1 ? c : await newFamily(server);
      const add = await send(server, "/add_req", {
        req_user: asker.userId,
        add_user: b.toyId,
        type: "app",
        req_info: "I am xxx",
        remark: "Teddy",
      }, { token: asker.token, encoding });
      const { req_id } = ok(add);
      assert.equal(add.body.msg, "Successful Added Friends Request");
      assert.match(req_id, HEX24);

      const list = ok(
        await send(server, "/req_list", { _id: b.userId }, {
          token: b.token,
          encoding,
        }),
      );
      const request = list.find((r: { _id: string }) => r._id === req_id);
      assert.deepEqual(
        { ...request, created_at: 0 },
        {
          _id: req_id,
          req_user: asker.userId,
          add_user: b.toyId,
          type: "app",
          req_info: "I am xxx",
          remark: "Teddy",
          avatar: "baba.jpg",
          nickname: asker.nickname,
          status: 0,
          toy_name: "Bear",
          created_at: 0,
        },
      );

      if (encoding === "form") {
        const refused = await send(server, "/ref_req", { req_id }, {
          token: b.token,
          encoding,
        });
        ok(refused);
        assert.equal(refused.body.msg, "Refuse to add friends");
        const after = ok(
          await send(server, "/req_list", { _id: b.userId }, {
            token: b.token,
          }),
        );
        assert.equal(
          after.find((r: { _id: string }) => r._id === req_id).status,
          2,
        );
        const friends = ok(
          await send(server, "/friend_list", { _id: asker.userId }, {
            token: asker.token,
          }),
        );
        assert.ok(
          !friends.some((f: { friend_id: string }) => f.friend_id === b.toyId),
        );
        return;
      }
      const accepted = await send(server, "/acc_req", {
        req_id,
        remark: "Auntie",
      }, { token: b.token, encoding });
      ok(accepted);
      assert.equal(accepted.body.msg, "Agree to add friends");
      const after = ok(
        await send(server, "/req_list", { _id: b.userId }, { token: b.token }),
      );
      assert.equal(
        after.find((r: { _id: string }) => r._id === req_id).status,
        1,
      );
      const mine = ok(
        await send(server, "/friend_list", { _id: asker.userId }, {
          token: asker.token,
        }),
      ).find((f: { friend_id: string }) => f.friend_id === b.toyId);
      assert.equal(mine.friend_type, "toy");
      assert.equal(mine.friend_remark, "Teddy");
      const theirs = ok(
        await send(server, "/friend_list", { _id: b.toyId }, {
          token: b.token,
        }),
      ).find((f: { friend_id: string }) => f.friend_id === asker.userId);
      assert.equal(theirs.friend_type, "app");
      assert.equal(theirs.friend_remark, "Auntie");
      assert.equal(theirs.friend_chat, mine.friend_chat);
    });
  }
  await t.step("a toy's own token may ask on the toy's behalf", async () => {
    const open = await send(server, "/open_toy", { device_key: c.deviceKey });
    const add = await send(server, "/add_req", {
      req_user: c.toyId,
      add_user: a.toyId,
      type: "toy",
      req_info: "hi",
      remark: "ball",
    }, { token: open.body.token as string });
    const { req_id } = ok(add);
    const list = ok(
      await send(server, "/req_list", { _id: a.userId }, { token: a.token }),
    );
    const request = list.find((r: { _id: string }) => r._id === req_id);
    assert.equal(request.type, "toy");
    assert.equal(request.nickname, "Small dung ball");
    assert.equal(request.avatar, "toy.jpg");
  });
});

Deno.test("/unbind_toy frees the device and removes the toy everywhere", async (t) => {
  await using server = await startTestServer();
  const a = await newFamily(server);
  const b = await newFamily(server);
  await befriendToys(server, a, b);
  const pending = ok(
    await send(server, "/add_req", {
      req_user: a.userId,
      add_user: b.toyId,
      req_info: "me too",
    }, { token: a.token }),
  );
  const toyToken = (await send(server, "/open_toy", {
    device_key: a.deviceKey,
  })).body.token as string;

  await t.step("another family cannot unbind it", async () => {
    assertError(
      await send(server, "/unbind_toy", { toy_id: a.toyId }, {
        token: b.token,
      }),
      403,
      /not bound to you/,
    );
    const toys = ok(
      await send(server, "/toy_list", { _id: a.userId }, { token: a.token }),
    );
    assert.equal(toys.length, 1);
  });

  await t.step("the owner unbinds it", async () => {
    const reply = await send(server, "/unbind_toy", { toy_id: a.toyId }, {
      token: a.token,
      encoding: "form",
    });
    ok(reply);
  });

  await t.step("the device is free again: scan_qr 0, open_toy 2", async () => {
    const scan = await send(server, "/scan_qr", { device_key: a.deviceKey }, {
      token: b.token,
    });
    assert.deepEqual(scan.body, {
      code: 0,
      msg: "Successful Scanning of Two-Dimensional Code",
      data: { device_key: a.deviceKey },
    });
    const open = await send(server, "/open_toy", { device_key: a.deviceKey });
    assert.equal(open.body.code, 2);
    assert.equal(open.body.music, "Nobind.mp3");
  });

  await t.step(
    "the toy is gone from toy_list and every friend list",
    async () => {
      assert.deepEqual(
        ok(
          await send(server, "/toy_list", { _id: a.userId }, {
            token: a.token,
          }),
        ),
        [],
      );
      assert.deepEqual(
        ok(
          await send(server, "/friend_list", { _id: a.userId }, {
            token: a.token,
          }),
        ),
        [],
      );
      const bFriends = ok(
        await send(server, "/friend_list", { _id: b.toyId }, {
          token: b.token,
        }),
      );
      assert.deepEqual(
        bFriends.map((f: { friend_id: string }) => f.friend_id),
        [b.userId],
      );
      const login = ok(
        await send(server, "/login", {
          username: a.username,
          password: a.password,
        }),
      );
      assert.deepEqual(login.bind_toy, []);
    },
  );

  await t.step("its requests are gone and its token is revoked", async () => {
    const list = ok(
      await send(server, "/req_list", { _id: b.userId }, { token: b.token }),
    );
    assert.ok(
      list.every((r: { req_user: string }) => r.req_user !== a.toyId),
      JSON.stringify(list),
    );
    assert.ok(list.some((r: { _id: string }) => r._id === pending.req_id));
    assertError(
      await send(server, "/friend_list", { _id: a.toyId }, {
        token: toyToken,
      }),
      401,
    );
    assertError(
      await send(server, "/unbind_toy", { toy_id: a.toyId }, {
        token: a.token,
      }),
      404,
      /no toy/,
    );
  });

  await t.step("the freed device binds again, to another family", async () => {
    const data = ok(
      await send(server, "/bind_toy", {
        toy_name: "second life",
        baby_name: "Kid",
        remark: "Pa",
        user_id: b.userId,
        device_key: a.deviceKey,
      }, { token: b.token }),
    );
    assert.notEqual(data.toy_id, a.toyId);
    const toys = ok(
      await send(server, "/toy_list", { _id: b.userId }, { token: b.token }),
    );
    assert.equal(toys.length, 2);
  });
});

Deno.test("/healthz reports the store reachable", async () => {
  await using server = await startTestServer();
  const res = await fetch(`${server.url}/healthz`);
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.status, "ok");
  assert.equal(body.kv, "ok");
  assert.equal(typeof body.uptime_s, "number");
});

Deno.test("a route the server does not have is a 404 in the envelope", async () => {
  await using server = await startTestServer();
  const reply = await send(server, "/no_such_route", {});
  assertError(reply, 404, /no route POST \/no_such_route/);
  const get = await fetch(`${server.url}/toy_list`);
  assert.equal(get.status, 404);
  assert.equal((await get.json()).code, 404);
});
