import assert from "node:assert/strict";
import {
  assertDiaryError,
  type DiaryClient,
  diaryServer,
  fakeWechat,
  get,
  IMAGES,
  ok,
  pairUp,
  postForm,
  postJson,
  postMultipart,
  signIn,
  storeUser,
  wechatScript,
  writeDiary,
} from "../domain/diaryu/_fixtures.ts";

/**
 * The DiaryU HTTP contract (seed 001) as the mini-program speaks it: GET
 * queries and urlencoded or multipart form bodies, replies in
 * `{status, data}`, errors as `{status: "error", data: {errcode, errmsg}}`.
 */

const PROFILE_KEYS = [
  "avatarUrl",
  "city",
  "country",
  "gender",
  "nickName",
  "openId",
  "province",
];

async function countKeys(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

function wechatServer(baseUrl: string) {
  return diaryServer({
    wechatBaseUrl: baseUrl,
    wechatAppid: "wxTEST",
    wechatSecret: "test-secret",
  });
}

Deno.test("sign-in through WeChat: openId and token, never the session_key", async () => {
  await using wechat = fakeWechat(wechatScript);
  await using server = await wechatServer(wechat.baseUrl);
  const res = await fetch(
    `${server.url}/matching/get_openId_action/?js_code=code1`,
  );
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.ok(!text.includes("SECRET-SESSION-KEY"), "session_key never leaves");
  const body = JSON.parse(text);
  assert.equal(body.status, "success");
  assert.deepEqual(Object.keys(body.data).sort(), ["openId", "token"]);
  assert.equal(body.data.openId, "ocode1");
  assert.equal(wechat.requests[0].searchParams.get("js_code"), "code1");
  assert.equal(wechat.requests[0].searchParams.get("appid"), "wxTEST");

  // The token works; signing in again is the same user.
  const me = ok(
    await get(server, "/matching/get_user_action/", {}, body.data.token),
  );
  assert.equal(me.user.openId, "ocode1");
  const again = ok(
    await get(server, "/matching/get_openId_action/", { js_code: "code1" }),
  );
  assert.equal(again.openId, "ocode1");
  assert.notEqual(again.token, body.data.token);
});

Deno.test("WeChat's errors come back as {errcode, errmsg} with a fitting status", async () => {
  await using wechat = fakeWechat(wechatScript);
  await using server = await wechatServer(wechat.baseUrl);
  const signInWith = (js_code: string) =>
    get(server, "/matching/get_openId_action/", { js_code });

  assertDiaryError(await signInWith("invalid"), 400, "40029");
  assertDiaryError(await signInWith("used"), 409, "40163");
  const quota = await signInWith("quota");
  assertDiaryError(quota, 429, "45011");
  assert.equal(quota.headers.get("retry-after"), "60");
  const busy = await signInWith("busy");
  assertDiaryError(busy, 503, "-1");
  assert.ok(Number(busy.headers.get("retry-after")) > 0);
  assertDiaryError(await signInWith("html"), 502);
  assertDiaryError(await signInWith("risky"), 502, "40226");
  assertDiaryError(await signInWith("hang"), 504);
  assertDiaryError(
    await get(server, "/matching/get_openId_action/"),
    400,
  );
});

Deno.test("without WeChat configured, sign-in says so (503)", async () => {
  await using server = await diaryServer();
  const reply = await get(server, "/matching/get_openId_action/", {
    js_code: "abc",
  });
  assertDiaryError(reply, 503);
  assert.match(reply.body.data.errmsg, /not configured/);
});

Deno.test("try-out sign-in: a fresh local user with --demo, 404 without", async () => {
  await using demo = await diaryServer();
  const one = await signIn(demo);
  const two = await signIn(demo);
  assert.match(one.openId, /^demo_[0-9a-f]{24}$/);
  assert.notEqual(one.openId, two.openId);
  ok(await get(demo, "/matching/get_user_action/", {}, one.token));

  await using plain = await diaryServer({ demo: false });
  assertDiaryError(await postForm(plain, "/matching/demo_login/"), 404);
});

Deno.test("every endpoint answers in the seed's shape, with form bodies", async () => {
  await using server = await diaryServer();
  const a = await signIn(server);
  const b = await signIn(server);

  // store_action/: {status: "success"} alone.
  const stored = await postForm(server, "/matching/store_action/", {
    openId: a.openId,
    nickName: "小猪佩奇",
    avatarUrl: "https://example.com/a.png",
    gender: "2",
    province: "Zhejiang",
    city: "Hangzhou",
    country: "China",
    csrfmiddlewaretoken: "ignored",
  }, a.token);
  assert.deepEqual(stored.body, { status: "success" });

  // get_user_action/ before any diary: the user, no diaries, no match.
  const fresh = ok(
    await get(
      server,
      "/matching/get_user_action/",
      { openId: a.openId },
      a.token,
    ),
  );
  assert.deepEqual(Object.keys(fresh.user).sort(), PROFILE_KEYS);
  assert.equal(fresh.user.nickName, "小猪佩奇");
  assert.equal(
    fresh.user.gender,
    2,
    "the seed's user block has a numeric gender",
  );
  assert.deepEqual(fresh.diaries, []);
  assert.equal(fresh.match, undefined);
  const other = ok(
    await get(server, "/matching/get_user_action/", {}, b.token),
  );
  assert.equal(
    other.user.nickName,
    "None",
    "unset fields read None, as the seed",
  );

  // emotion/: a's diary waits (emotion only), b's is matched with a.
  const first = await writeDiary(
    server,
    a,
    "今天去了西湖，天气不错，心情平静。",
    "",
  );
  assert.match(first.emotion, /^[0-7]$/);
  assert.equal(first.match, undefined);
  const second = await writeDiary(server, b, "真的烦，什么都不顺。", "真的烦");
  assert.match(second.emotion, /^[0-7]$/);
  assert.deepEqual(Object.keys(second.match.user).sort(), PROFILE_KEYS);
  assert.equal(second.match.user.openId, a.openId);
  assert.equal(
    second.match.user.gender,
    "2",
    "the match block's gender is a string",
  );
  assert.ok(Array.isArray(second.evidence));

  // get_user_action/: brief diaries (title, or the first 100 characters) and the match.
  const long = "长".repeat(150);
  await writeDiary(server, a, long);
  const withMatch = ok(
    await get(
      server,
      "/matching/get_user_action/",
      { openId: a.openId },
      a.token,
    ),
  );
  assert.equal(withMatch.match.user.openId, b.openId);
  assert.equal(withMatch.diaries.length, 2);
  const [older, newer] = withMatch.diaries;
  for (const d of withMatch.diaries) {
    for (
      const key of ["diary_id", "title", "content", "emotion", "publish_date"]
    ) {
      assert.equal(typeof d[key], "string", key);
    }
    assert.match(d.publish_date, /^\d{4}-\d\d-\d\d$/);
  }
  assert.equal(older.title, "今天去了西湖，天气不错，心情平静。");
  assert.equal(newer.title, "长".repeat(100));

  // get_diary_action/?diaryId=: the whole diary.
  const one = ok(
    await get(server, "/matching/get_diary_action/", {
      diaryId: newer.diary_id,
    }, a.token),
  );
  assert.equal(one.diary.diary_id, newer.diary_id);
  assert.equal(one.diary.content, long);
  assert.equal(one.diary.title, "");
  assert.match(one.diary.emotion, /^[0-7]$/);

  // get_user_diary_action/ and the seed's alias get_diary_action/?openId=.
  const listed = ok(
    await get(
      server,
      "/matching/get_user_diary_action/",
      { openId: b.openId },
      b.token,
    ),
  );
  const alias = ok(
    await get(
      server,
      "/matching/get_diary_action/",
      { openId: b.openId },
      b.token,
    ),
  );
  assert.deepEqual(alias.diaries, listed.diaries);
  assert.equal(listed.diaries.length, 1);
  assert.equal(listed.diaries[0].title, "真的烦");
  assert.equal(
    listed.diaries[0].content,
    undefined,
    "a titled diary shows its title",
  );
  const untitled = ok(
    await get(server, "/matching/get_user_diary_action/", {}, a.token),
  ).diaries;
  assert.equal(untitled[0].content, "今天去了西湖，天气不错，心情平静。");
  assert.equal(
    untitled[0].title,
    undefined,
    "an untitled diary shows its content",
  );

  // alt_diary_action/: stored, classified again.
  const altered = ok(
    await postForm(server, "/matching/alt_diary_action/", {
      diaryId: newer.diary_id,
      title: "改过的",
      content: "改过的内容",
    }, a.token),
  );
  assert.match(altered.emotion, /^[0-7]$/);
  const reread = ok(
    await get(server, "/matching/get_diary_action/", {
      diaryId: newer.diary_id,
    }, a.token),
  );
  assert.equal(reread.diary.title, "改过的");
  assert.equal(reread.diary.content, "改过的内容");

  // delete_diary_action/: {status: "success"}.
  const deleted = await postForm(server, "/matching/delete_diary_action/", {
    diaryId: newer.diary_id,
  }, a.token);
  assert.deepEqual(deleted.body, { status: "success" });
  assertDiaryError(
    await get(server, "/matching/get_diary_action/", {
      diaryId: newer.diary_id,
    }, a.token),
    404,
  );

  // upload_img_action/ (multipart img + img_name) and show_img_action/.
  const uploaded = ok(
    await postMultipart(
      server,
      "/matching/upload_img_action/",
      {
        img_name: "Screen_Shot_2018-04-17_at_11.03.57_AM.png",
      },
      { field: "img", bytes: IMAGES.png, name: "shot.png" },
      a.token,
    ),
  );
  assert.equal(
    uploaded.image.name,
    "Screen_Shot_2018-04-17_at_11.03.57_AM.png",
  );
  const shown = ok(
    await get(server, "/matching/show_img_action/", {
      img_name: "Screen_Shot_2018-04-17_at_11.03.57_AM.png",
    }, a.token),
  );
  assert.deepEqual(Object.keys(shown.image).sort(), ["name", "photourl"]);
  assert.equal(shown.image.photourl, uploaded.image.photourl);
  const picture = await fetch(shown.image.photourl, {
    headers: { authorization: `Bearer ${a.token}` },
  });
  assert.equal(picture.status, 200);
  assert.equal(picture.headers.get("content-type"), "image/png");
  assert.deepEqual(new Uint8Array(await picture.arrayBuffer()), IMAGES.png);
  const part = await fetch(`${shown.image.photourl}?token=${a.token}`, {
    headers: { range: "bytes=0-7" },
  });
  assert.equal(part.status, 206);
  assert.deepEqual(
    new Uint8Array(await part.arrayBuffer()),
    IMAGES.png.subarray(0, 8),
  );

  // get_pair_action/, send_message_via_http/, get_history_action/.
  const { pair_id } = ok(
    await get(
      server,
      "/matching/get_pair_action/",
      { openId: a.openId },
      a.token,
    ),
  );
  assert.match(pair_id, /^[0-9a-f]{24}$/);
  const sent = await postForm(server, "/matching/send_message_via_http/", {
    pair_id,
    openId: a.openId,
    content: "123",
  }, a.token);
  assert.equal(sent.body.status, "success");
  await postForm(server, "/matching/send_message_via_http/", {
    pair_id,
    openId: b.openId,
    content: "hello",
  }, b.token);
  const { messages } = ok(
    await get(server, "/matching/get_history_action/", { pair_id }, b.token),
  );
  assert.deepEqual(messages.map((m: { content: string }) => m.content), [
    "123",
    "hello",
  ]);
  assert.deepEqual(messages.map((m: { openId: string }) => m.openId), [
    a.openId,
    b.openId,
  ]);
  assert.match(messages[0].publish_date, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

  // depair_action/: {status: "success"}; both are free.
  const ended = await postForm(server, "/matching/depair_action/", {
    openId: b.openId,
  }, b.token);
  assert.deepEqual(ended.body, { status: "success" });
  assertDiaryError(
    await get(server, "/matching/get_pair_action/", {}, a.token),
    404,
  );
  assertDiaryError(
    await get(server, "/matching/get_pair_action/", {}, b.token),
    404,
  );
  assert.equal(
    ok(await get(server, "/matching/get_user_action/", {}, a.token)).match,
    undefined,
  );
});

Deno.test("JSON and multipart bodies work as well as urlencoded ones", async () => {
  await using server = await diaryServer();
  const a = await signIn(server);
  const json = ok(
    await postJson(server, "/matching/emotion/", {
      openId: a.openId,
      content: "A quiet day at home.",
    }, a.token),
  );
  assert.match(json.emotion, /^[0-7]$/);
  const multipart = ok(
    await postMultipart(server, "/matching/emotion/", {
      content: "Another quiet day.",
      token: a.token,
    }),
  );
  assert.match(multipart.emotion, /^[0-7]$/);
  const stored = await postJson(server, "/matching/store_action/", {
    nickName: "Ann",
    gender: 1,
    token: a.token,
  });
  assert.deepEqual(stored.body, { status: "success" });
});

Deno.test("a clearly happy diary is Happy or Satisfied, a clearly angry one Angry", async () => {
  await using server = await diaryServer();
  const cases: [string, string[]][] = [
    ["今天真是太开心了！和好朋友一起去游乐园，玩得特别高兴，哈哈哈 😄", [
      "1",
      "2",
    ]],
    ["What a wonderful day! I'm so happy, we laughed all afternoon.", [
      "1",
      "2",
    ]],
    ["气死我了！他又骗我，我真的非常生气，太过分了！😡", ["3"]],
    ["I am so angry. He lied to me again and I'm furious!", ["3"]],
  ];
  for (const [content, expected] of cases) {
    const user = await storeUser(server.kv);
    const reply = await writeDiary(server, user, content);
    assert.ok(
      expected.includes(reply.emotion),
      `${content} → ${reply.emotion}`,
    );
    assert.ok(reply.evidence.length > 0, "the deciding words are shown");
  }
});

Deno.test("no token, a bad token, or another user's openId is refused", async () => {
  await using server = await diaryServer();
  const a = await signIn(server);
  const b = await signIn(server);
  assertDiaryError(
    await postForm(server, "/matching/emotion/", { content: "hi" }),
    401,
  );
  assertDiaryError(
    await postForm(
      server,
      "/matching/emotion/",
      { content: "hi" },
      "f".repeat(64),
    ),
    401,
  );
  const mismatch = await postForm(server, "/matching/emotion/", {
    openId: b.openId,
    content: "pretending to be b",
  }, a.token);
  assertDiaryError(mismatch, 403);
  assert.equal(
    await countKeys(server.kv, ["diaryu_diaries"]),
    0,
    "nothing stored",
  );
  assertDiaryError(
    await get(
      server,
      "/matching/get_user_action/",
      { openId: b.openId },
      a.token,
    ),
    403,
  );
  assertDiaryError(
    await postForm(server, "/matching/store_action/", {
      openId: b.openId,
      nickName: "x",
    }, a.token),
    403,
  );
  assertDiaryError(
    await postForm(
      server,
      "/matching/depair_action/",
      { openId: b.openId },
      a.token,
    ),
    403,
  );
  assertDiaryError(
    await get(
      server,
      "/matching/get_pair_action/",
      { openId: b.openId },
      a.token,
    ),
    403,
  );
});

Deno.test("another user's diary, image and pair are refused", async () => {
  await using server = await diaryServer();
  const a = await signIn(server);
  const b = await signIn(server);
  const eve = await signIn(server);
  const pairId = await pairUp(server, a, b);
  const [diary] = ok(
    await get(server, "/matching/get_user_diary_action/", {}, a.token),
  ).diaries;
  const image = ok(
    await postMultipart(
      server,
      "/matching/upload_img_action/",
      {
        img_name: "private.gif",
      },
      { field: "img", bytes: IMAGES.gif },
      a.token,
    ),
  ).image;

  // The diary.
  assertDiaryError(
    await get(server, "/matching/get_diary_action/", {
      diaryId: diary.diary_id,
    }, eve.token),
    403,
  );
  assertDiaryError(
    await postForm(server, "/matching/alt_diary_action/", {
      diaryId: diary.diary_id,
      content: "defaced",
    }, eve.token),
    403,
  );
  assertDiaryError(
    await postForm(server, "/matching/delete_diary_action/", {
      diaryId: diary.diary_id,
    }, b.token),
    403,
  );
  assert.equal(
    ok(
      await get(server, "/matching/get_diary_action/", {
        diaryId: diary.diary_id,
      }, a.token),
    )
      .diary.diary_id,
    diary.diary_id,
  );

  // The image: its file and its name.
  const stolen = await get(
    server,
    new URL(image.photourl).pathname,
    {},
    eve.token,
  );
  assertDiaryError(stolen, 403);
  assertDiaryError(await get(server, new URL(image.photourl).pathname), 401);
  // Nor through the smart-toy media routes, whatever the file name.
  const fileName = new URL(image.photourl).pathname.split("/").filter(Boolean)
    .at(-1);
  const viaToyApi = await fetch(`${server.url}/get_image/${fileName}`);
  assert.equal(viaToyApi.status, 404);
  await viaToyApi.body?.cancel();
  assertDiaryError(
    await get(
      server,
      "/matching/show_img_action/",
      { img_name: "private.gif" },
      eve.token,
    ),
    404,
  );

  // The pair: its history and its chat.
  assertDiaryError(
    await get(
      server,
      "/matching/get_history_action/",
      { pair_id: pairId },
      eve.token,
    ),
    403,
  );
  assertDiaryError(
    await postForm(server, "/matching/send_message_via_http/", {
      pair_id: pairId,
      content: "let me in",
    }, eve.token),
    403,
  );
  assert.deepEqual(
    ok(
      await get(
        server,
        "/matching/get_history_action/",
        { pair_id: pairId },
        a.token,
      ),
    )
      .messages,
    [],
  );
});

Deno.test("a non-image upload is refused (415) and nothing is stored", async () => {
  await using server = await diaryServer();
  const a = await signIn(server);
  // The built-in demo content is in the blob store from the start.
  const blobsBefore = await countKeys(server.kv, ["blobs"]);
  const metasBefore = await countKeys(server.kv, ["blob_meta"]);
  const reply = await postMultipart(server, "/matching/upload_img_action/", {
    img_name: "photo.png",
  }, {
    field: "img",
    bytes: new TextEncoder().encode("<?php system($_GET['c']); ?>"),
    name: "photo.png",
  }, a.token);
  assertDiaryError(reply, 415);
  assert.equal(await countKeys(server.kv, ["blob_meta"]), metasBefore);
  assert.equal(await countKeys(server.kv, ["blobs"]), blobsBefore);
  assert.equal(await countKeys(server.kv, ["diaryu_images"]), 0);
  assertDiaryError(
    await get(
      server,
      "/matching/show_img_action/",
      { img_name: "photo.png" },
      a.token,
    ),
    404,
  );
  assertDiaryError(
    await postMultipart(
      server,
      "/matching/upload_img_action/",
      {},
      undefined,
      a.token,
    ),
    400,
  );
});

Deno.test("bad input is a 400 in the DiaryU shape, never a 500", async () => {
  await using server = await diaryServer();
  const a = await signIn(server);
  const cases = [
    postForm(server, "/matching/emotion/", {}, a.token),
    postForm(server, "/matching/emotion/", { content: "   " }, a.token),
    postForm(
      server,
      "/matching/emotion/",
      { content: "x".repeat(10_001) },
      a.token,
    ),
    postForm(
      server,
      "/matching/alt_diary_action/",
      { diaryId: "557" },
      a.token,
    ),
    postForm(server, "/matching/store_action/", { gender: "7" }, a.token),
    postForm(server, "/matching/store_action/", {
      avatarUrl: "javascript:alert(1)",
    }, a.token),
    get(
      server,
      "/matching/get_history_action/",
      { pair_id: "../../x" },
      a.token,
    ),
    get(server, "/matching/get_history_action/", {
      pair_id: "0123456789abcdef01234567",
      limit: "-3",
    }, a.token),
    fetch(`${server.url}/matching/emotion/`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${a.token}`,
      },
      body: "{not json",
    }).then(async (res) => ({
      status: res.status,
      headers: res.headers,
      body: await res.json(),
    })),
  ];
  for (const reply of await Promise.all(cases)) assertDiaryError(reply, 400);
});

Deno.test("matching under load: 50 concurrent emotion/ posts make pairs of two distinct users, nobody in two", async () => {
  await using server = await diaryServer();
  const users: DiaryClient[] = [];
  for (let i = 0; i < 50; i++) users.push(await storeUser(server.kv));
  const contents = [
    "今天很开心",
    "I feel calm today.",
    "气死我了",
    "好难过，想哭",
    "有点担心明天的考试",
    "What a surprise!",
    "真恶心",
    "还不错，挺满意的",
  ];
  const replies = await Promise.all(
    users.map((u, i) => writeDiary(server, u, contents[i % contents.length])),
  );
  const members = new Map<string, string[]>();
  for (const [i, user] of users.entries()) {
    const pair = await get(
      server,
      "/matching/get_pair_action/",
      {},
      user.token,
    );
    if (pair.status === 404) {
      assert.equal(replies[i].match, undefined);
      continue;
    }
    const { pair_id } = ok(pair);
    members.set(pair_id, [...(members.get(pair_id) ?? []), user.openId]);
  }
  let paired = 0;
  for (const [pairId, ids] of members) {
    assert.equal(ids.length, 2, `pair ${pairId} has ${ids.length} members`);
    assert.notEqual(ids[0], ids[1]);
    paired += 2;
  }
  assert.ok(
    users.length - paired <= 1,
    `${users.length - paired} left unpaired`,
  );
  // Each reply that named a partner named the one in the user's pair.
  const partnerOf = new Map<string, string>();
  for (const [a, b] of members.values()) {
    partnerOf.set(a, b);
    partnerOf.set(b, a);
  }
  for (const [i, reply] of replies.entries()) {
    if (reply.match) {
      assert.equal(reply.match.user.openId, partnerOf.get(users[i].openId));
    }
  }
});

Deno.test("routes are described in /openapi.json under the diaryu tag", async () => {
  await using server = await diaryServer();
  const res = await fetch(`${server.url}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  const paths = Object.keys(doc.paths ?? {});
  for (
    const path of [
      "/matching/get_openId_action/",
      "/matching/emotion/",
      "/matching/get_history_action/",
      "/matching/send_message_via_http/",
    ]
  ) {
    assert.ok(paths.includes(path), `${path} is documented`);
  }
});

Deno.test("--emotion-lexicon adds the operator's words to the built-in ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble_lexicon_" });
  try {
    const file = `${dir}/lexicon.tsv`;
    await Deno.writeTextFile(file, "# word\tclass\tstrength\nzorblax\t7\t5\n");
    await using server = await diaryServer({ emotionLexicon: file });
    const user = await storeUser(server.kv);
    const reply = await writeDiary(server, user, "zorblax zorblax");
    assert.equal(reply.emotion, "7");
    assert.equal(reply.evidence[0].word, "zorblax");
    const happy = await writeDiary(
      server,
      await storeUser(server.kv),
      "今天真是太开心了！",
    );
    assert.ok(["1", "2"].includes(happy.emotion), "built-in words still count");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sign-ins are limited per address: 429 with Retry-After", async () => {
  await using wechat = fakeWechat(wechatScript);
  await using server = await wechatServer(wechat.baseUrl);
  let last = await get(server, "/matching/get_openId_action/", {
    js_code: "n0",
  });
  for (let i = 1; i <= 30 && last.status === 200; i++) {
    last = await get(server, "/matching/get_openId_action/", {
      js_code: `n${i}`,
    });
  }
  assertDiaryError(last, 429);
  assert.equal(last.headers.get("retry-after"), "60");
  assert.equal(
    wechat.requests.length,
    30,
    "the refused attempt never reached WeChat",
  );
});
