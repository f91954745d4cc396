import assert from "node:assert/strict";
import {
  closeCode,
  RawFrameReader,
  rawHandshake,
  TestSocket,
} from "../../_family.ts";
import { startTestServer } from "../../_server.ts";
import {
  type DiaryClient,
  diaryServer,
  get,
  ok,
  pairUp,
  postForm,
  storeUser,
} from "../../domain/diaryu/_fixtures.ts";

/**
 * The pair room `/matching/chat/<pair_id>/`: only the pair's two members,
 * every line stored before anyone sees it, delivered across instances.
 */

function roomSocket(
  server: { url: string },
  pairId: string,
  user: DiaryClient,
  query = "",
): Promise<TestSocket> {
  return TestSocket.open(
    server.url,
    `/matching/chat/${pairId}/?token=${user.token}${query}`,
  );
}

function sendOverHttp(
  server: { url: string },
  pairId: string,
  user: DiaryClient,
  content: string,
) {
  return postForm(server, "/matching/send_message_via_http/", {
    pair_id: pairId,
    openId: user.openId,
    content,
  }, user.token).then(ok);
}

const isLine = (content: string) => (f: Record<string, unknown>) =>
  f.type === "message" &&
  (f.data as { content?: string } | undefined)?.content === content;

Deno.test("a line from A over HTTP reaches B's socket", async () => {
  await using server = await diaryServer();
  const a = await storeUser(server.kv);
  const b = await storeUser(server.kv);
  const pairId = await pairUp(server, a, b);
  await using socket = await roomSocket(server, pairId, b);

  const sent = await sendOverHttp(server, pairId, a, "你好呀");
  const frame = await socket.next(isLine("你好呀"));
  assert.equal(frame.status, "success");
  assert.equal(frame.message, "你好呀");
  const data = frame.data as Record<string, unknown>;
  assert.equal(data.openId, a.openId);
  assert.equal(data.pair_id, pairId);
  assert.equal(data.seq, sent.seq);
  assert.match(String(data.publish_date), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
});

Deno.test("B offline reads A's lines from get_history_action/", async () => {
  await using server = await diaryServer();
  const a = await storeUser(server.kv);
  const b = await storeUser(server.kv);
  const pairId = await pairUp(server, a, b);
  await using socket = await roomSocket(server, pairId, a);
  socket.send({ message: "are you there?", openId: a.openId });
  await socket.next(isLine("are you there?"));
  await sendOverHttp(server, pairId, a, "I'll wait");

  const { messages } = ok(
    await get(server, "/matching/get_history_action/", {
      pair_id: pairId,
      openId: b.openId,
    }, b.token),
  );
  assert.deepEqual(
    messages.map((m: { content: string; openId: string }) => [
      m.openId,
      m.content,
    ]),
    [[a.openId, "are you there?"], [a.openId, "I'll wait"]],
  );
});

Deno.test("a line on the socket is stored, then echoed to the sender and sent to the partner", async () => {
  await using server = await diaryServer();
  const a = await storeUser(server.kv);
  const b = await storeUser(server.kv);
  const pairId = await pairUp(server, a, b);
  await using sa = await roomSocket(server, pairId, a);
  await using sb = await roomSocket(server, pairId, b);

  sa.send({ message: "hello", openId: a.openId });
  const echo = await sa.next(isLine("hello"));
  const got = await sb.next(isLine("hello"));
  assert.deepEqual(echo.data, got.data);
  const { messages } = ok(
    await get(
      server,
      "/matching/get_history_action/",
      { pair_id: pairId },
      a.token,
    ),
  );
  assert.equal(messages.at(-1).content, "hello");
  assert.equal(messages.at(-1).seq, (echo.data as { seq: number }).seq);

  sb.send({ content: "hi back" });
  await sa.next(isLine("hi back"));
  await sb.next(isLine("hi back"));
  await sa.nothing(isLine("hello"), 200);
});

Deno.test("a socket that read history to seq n gets everything after n with ?after=", async () => {
  await using server = await diaryServer();
  const a = await storeUser(server.kv);
  const b = await storeUser(server.kv);
  const pairId = await pairUp(server, a, b);
  for (const line of ["one", "two", "three"]) {
    await sendOverHttp(server, pairId, a, line);
  }
  await using socket = await roomSocket(server, pairId, b, "&after=1");
  await socket.next(isLine("two"));
  await socket.next(isLine("three"));
  await socket.nothing(isLine("one"), 200);
});

Deno.test("a third user's socket to the room is refused; so are no token and unknown rooms", async () => {
  await using server = await diaryServer();
  const a = await storeUser(server.kv);
  const b = await storeUser(server.kv);
  const eve = await storeUser(server.kv);
  const pairId = await pairUp(server, a, b);

  const cases: [string, number][] = [
    [`/matching/chat/${pairId}/?token=${eve.token}`, 403],
    [`/matching/chat/${pairId}/`, 401],
    [`/matching/chat/${pairId}/?token=${"0".repeat(64)}`, 401],
    [`/matching/chat/0123456789abcdef01234567/?token=${a.token}`, 404],
    [`/matching/chat/1/?token=${a.token}`, 400],
  ];
  for (const [path, status] of cases) {
    const { conn, status: got, head } = await rawHandshake(server, path);
    conn.close();
    assert.equal(got, status, `${path}: ${head}`);
  }
  const refused = await fetch(
    `${server.url}/matching/chat/${pairId}/?token=${eve.token}`,
  );
  assert.equal(refused.status, 400, "not an upgrade");
  const body = await refused.json();
  assert.equal(body.status, "error");
  assert.equal(body.data.errcode, "400");

  // Eve's lines never reach the pair.
  await using socket = await roomSocket(server, pairId, a);
  await sendOverHttp(server, pairId, a, "just us");
  await socket.next(isLine("just us"));
  const { messages } = ok(
    await get(
      server,
      "/matching/get_history_action/",
      { pair_id: pairId },
      b.token,
    ),
  );
  assert.deepEqual(messages.map((m: { openId: string }) => m.openId), [
    a.openId,
  ]);
});

Deno.test("bad frames get an error frame in the DiaryU shape; the socket stays open", async () => {
  await using server = await diaryServer();
  const a = await storeUser(server.kv);
  const b = await storeUser(server.kv);
  const pairId = await pairUp(server, a, b);
  await using socket = await roomSocket(server, pairId, a);

  socket.send("not json");
  const notJson = await socket.next((f) => f.type === "error");
  assert.equal(notJson.status, "error");
  assert.equal((notJson.data as { errcode: string }).errcode, "400");
  socket.send({ message: "as b", openId: b.openId });
  const impostor = await socket.next((f) => f.type === "error");
  assert.equal((impostor.data as { errcode: string }).errcode, "403");
  socket.send({ message: "" });
  await socket.next((f) => f.type === "error");
  socket.send({ type: "ping" });
  await socket.next((f) => f.type === "pong");
  const { messages } = ok(
    await get(
      server,
      "/matching/get_history_action/",
      { pair_id: pairId },
      a.token,
    ),
  );
  assert.deepEqual(messages, []);
});

Deno.test("depair ends the room: {type: ended}, then close 4001; the room refuses new sockets", async () => {
  await using server = await diaryServer();
  const a = await storeUser(server.kv);
  const b = await storeUser(server.kv);
  const pairId = await pairUp(server, a, b);
  const { conn, status, rest } = await rawHandshake(
    server,
    `/matching/chat/${pairId}/?token=${b.token}`,
  );
  assert.equal(status, 101);
  try {
    ok(await postForm(server, "/matching/depair_action/", {}, a.token));
    const reader = new RawFrameReader(conn, rest);
    const frames = [];
    for (;;) {
      const frame = await reader.next();
      if (!frame) break;
      frames.push(frame);
      if (frame.opcode === 0x8) break;
    }
    const texts = frames.filter((f) => f.opcode === 0x1).map((f) =>
      JSON.parse(new TextDecoder().decode(f.payload))
    );
    assert.ok(texts.some((t) => t.type === "ended"), JSON.stringify(texts));
    const close = frames.at(-1)!;
    assert.equal(close.opcode, 0x8);
    assert.equal(closeCode(close), 4001);
  } finally {
    conn.close();
  }
  const again = await rawHandshake(
    server,
    `/matching/chat/${pairId}/?token=${a.token}`,
  );
  again.conn.close();
  assert.equal(again.status, 409);
});

Deno.test("a line sent on instance 1 reaches a socket on instance 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble_diaryu_" });
  try {
    const kv = `${dir}/babble.kv`;
    await using one = await startTestServer({ kv, demo: true });
    await using two = await startTestServer({ kv, demo: true });
    const a = await storeUser(one.kv);
    const b = await storeUser(one.kv);
    const pairId = await pairUp(one, a, b);
    await using onTwo = await roomSocket(two, pairId, b);
    await using onOne = await roomSocket(one, pairId, a);

    await sendOverHttp(one, pairId, a, "across instances");
    await onTwo.next(isLine("across instances"));

    onTwo.send({ message: "and back" });
    await onOne.next(isLine("and back"));
    await onTwo.next(isLine("and back"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
