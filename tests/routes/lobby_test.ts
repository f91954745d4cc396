import assert from "node:assert/strict";
import { issueLobbyToken } from "../../domain/lobby/lobby.ts";
import { postForm, postJson, startTestServer } from "../_server.ts";
import { ReplyQueue } from "../_replies.ts";

/**
 * The ChatServer lobby (seed 003, API3.1.3.md) over HTTP and WebSocket,
 * spoken to as the seed's clients do: every reply shape and status.
 */

const USERNAME_RULE =
  "Invalid username. Must be 2-20 characters, start with a letter or symbol, and contain only letters, numbers, or symbols: _!@#$%^&+-~?";
const AVATAR_RULE = "Invalid avatar format. Only .png or .jpg allowed";
const REGISTERED = {
  type: "register_1",
  error: false,
  message: "User registered successfully",
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A WebSocket client of `/api/socket` with a queue of received objects. */
class SocketClient {
  readonly ws: WebSocket;
  #frames = new ReplyQueue();
  readonly closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.onmessage = (event) => this.#frames.push(JSON.parse(event.data));
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", () => {
        this.#frames.end();
        resolve();
      });
    });
  }

  static async open(baseUrl: string): Promise<SocketClient> {
    const ws = new WebSocket(`${baseUrl.replace("http", "ws")}/api/socket`);
    const client = new SocketClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("WebSocket failed to open"));
    });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(
      typeof message === "string" ? message : JSON.stringify(message),
    );
  }

  /** The next frame (pings skipped unless asked for). */
  next(
    options: { pings?: boolean; timeoutMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    return this.#frames.next({ ...options, what: "frame" });
  }

  async ask(message: unknown): Promise<Record<string, unknown>> {
    this.send(message);
    return await this.next();
  }

  /** Logs in and returns the token. */
  async login(username: string, password = "pw1"): Promise<string> {
    const reply = await this.ask({ type: "login", username, password });
    assert.equal(reply.status, "success", JSON.stringify(reply));
    return String(reply.token);
  }

  get isClosed(): boolean {
    return this.#frames.ended;
  }

  async close(): Promise<void> {
    if (!this.#frames.ended) this.ws.close();
    await this.closed;
  }

  async [Symbol.asyncDispose]() {
    await this.close();
  }
}

async function register(
  url: string,
  username: string,
  extra: Record<string, unknown> = {},
) {
  const res = await postJson(`${url}/api/register`, {
    username,
    password: "pw1",
    ...extra,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

async function chatHttp(
  url: string,
  authorization: string | null,
  body: unknown,
) {
  const res = await fetch(`${url}/api/chat`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(authorization === null ? {} : { authorization }),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Polls HTTP login until it gets `status` (a socket closing takes a moment). */
async function loginUntil(url: string, username: string, status: number) {
  let res = await postJson(`${url}/api/login`, { username, password: "pw1" });
  for (let i = 0; i < 100 && res.status !== status; i++) {
    await sleep(20);
    res = await postJson(`${url}/api/login`, { username, password: "pw1" });
  }
  assert.equal(res.status, status, JSON.stringify(res.body));
  return res;
}

Deno.test("HTTP register: success, taken name, seed shapes", async () => {
  await using server = await startTestServer();
  const url = `${server.url}/api/register`;
  assert.deepEqual(await postJson(url, { username: "ann", password: "pw1" }), {
    status: 200,
    body: REGISTERED,
  });
  assert.deepEqual(
    await postJson(url, { username: "ann", password: "other" }),
    {
      status: 403,
      body: {
        type: "register_0",
        success: false,
        message: "Username already exists",
      },
    },
  );
  // The seed's Flask clients send forms; those work too.
  assert.deepEqual(await postForm(url, { username: "bob", password: "pw1" }), {
    status: 200,
    body: REGISTERED,
  });
});

Deno.test("HTTP register: username rule at its edges", async () => {
  await using server = await startTestServer();
  const url = `${server.url}/api/register`;
  const bad = {
    status: 400,
    body: { type: "register_-2", success: false, message: USERNAME_RULE },
  };
  for (
    const username of [
      "a",
      "a".repeat(21),
      "1ab",
      "a b",
      "a.b",
      "\u00e9t\u00e9",
      "ab/c",
      "",
    ]
  ) {
    assert.deepEqual(
      await postJson(url, { username, password: "pw1" }),
      bad,
      username,
    );
  }
  assert.deepEqual(await postJson(url, { password: "pw1" }), bad, "missing");
  assert.deepEqual(
    await postJson(url, { username: 42, password: "pw1" }),
    bad,
    "number",
  );
  for (const username of ["ab", "b".repeat(20), "_!@#$%^&+-~?", "?9", "x1"]) {
    assert.deepEqual(await postJson(url, { username, password: "pw1" }), {
      status: 200,
      body: REGISTERED,
    }, username);
  }
});

Deno.test("HTTP register: avatar rule, default avatar, other errors", async () => {
  await using server = await startTestServer();
  const url = `${server.url}/api/register`;
  const badAvatar = {
    status: 400,
    body: { type: "register_0", success: false, message: AVATAR_RULE },
  };
  for (const avatar of ["me.gif", "me", "me.PNG", "a/b.png", 7]) {
    assert.deepEqual(
      await postJson(url, { username: "ann", password: "p", avatar }),
      badAvatar,
    );
  }
  await register(server.url, "png", { avatar: "me.png" });
  await register(server.url, "jpg", { avatar: "me.jpg" });
  await register(server.url, "none");
  const avatarOf = async (username: string) =>
    (await postJson(`${server.url}/api/login`, { username, password: "pw1" }))
      .body.avatar;
  assert.equal(await avatarOf("png"), "/avatar/png/me.png");
  assert.equal(await avatarOf("jpg"), "/avatar/jpg/me.jpg");
  assert.equal(await avatarOf("none"), "/avatar/none/default_avatar.png");

  assert.deepEqual(await postJson(url, { username: "zed" }), {
    status: 400,
    body: {
      type: "register_-1",
      error: true,
      message: '"password" is required',
    },
  });
  const notJson = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{nope",
  });
  assert.equal(notJson.status, 400);
  const body = await notJson.json();
  assert.equal(body.type, "register_-1");
  assert.equal(body.error, true);
  assert.match(body.message, /not valid JSON/);
});

Deno.test("HTTP login: token and avatar, bad credentials, bad input, rate limit", async () => {
  await using server = await startTestServer();
  await register(server.url, "ann");
  const url = `${server.url}/api/login`;
  const ok = await postJson(url, { username: "ann", password: "pw1" });
  assert.equal(ok.status, 200);
  assert.deepEqual(Object.keys(ok.body).sort(), [
    "avatar",
    "status",
    "token",
    "type",
  ]);
  assert.equal(ok.body.type, "login_1");
  assert.equal(ok.body.status, "success");
  assert.match(String(ok.body.token), /^[0-9a-f]{64}$/);
  assert.equal(ok.body.avatar, "/avatar/ann/default_avatar.png");
  const invalid = {
    status: 401,
    body: { type: "login_0", status: "error", message: "Invalid credentials" },
  };
  assert.deepEqual(
    await postJson(url, { username: "ann", password: "nope" }),
    invalid,
  );
  assert.deepEqual(
    await postJson(url, { username: "nobody", password: "pw1" }),
    invalid,
  );
  assert.deepEqual(await postJson(url, { username: "ann" }), {
    status: 400,
    body: {
      type: "login_0",
      status: "error",
      message: '"password" is required',
    },
  });
  let limited = await postJson(url, { username: "ann", password: "nope" });
  for (let i = 0; i < 12 && limited.status !== 429; i++) {
    limited = await postJson(url, { username: "ann", password: "nope" });
  }
  assert.equal(limited.status, 429);
  assert.equal(limited.body.type, "login");
  assert.equal(limited.body.status, "error");
  assert.match(String(limited.body.message), /^too many login attempts/);
});

Deno.test("HTTP chat: raw and Bearer tokens, 401 and 400 shapes, broadcast", async () => {
  await using server = await startTestServer();
  await register(server.url, "ann");
  await register(server.url, "bob");
  const token = String(
    (await postJson(`${server.url}/api/login`, {
      username: "ann",
      password: "pw1",
    })).body.token,
  );
  await using listener = await SocketClient.open(server.url);
  await listener.login("bob");

  assert.deepEqual(await chatHttp(server.url, token, { message: "raw" }), {
    status: 200,
    body: { type: "chat", status: "success" },
  });
  assert.deepEqual(await listener.next(), {
    type: "chat",
    user: "ann",
    message: "raw",
    avatar: "/avatar/ann/default_avatar.png",
  });
  assert.equal(
    (await chatHttp(server.url, `Bearer ${token}`, { message: "bearer" }))
      .status,
    200,
  );
  assert.equal((await listener.next()).message, "bearer");

  const missing = await chatHttp(server.url, null, { message: "x" });
  assert.equal(missing.status, 401);
  assert.equal(missing.body.type, "chat");
  assert.equal(missing.body.status, "error");
  const wrong = await chatHttp(server.url, "f".repeat(64), { message: "x" });
  assert.equal(wrong.status, 401);
  assert.deepEqual([wrong.body.type, wrong.body.status], ["chat", "error"]);
  assert.deepEqual(await chatHttp(server.url, token, {}), {
    status: 400,
    body: { type: "chat", status: "error", message: '"message" is required' },
  });
  const long = await chatHttp(server.url, token, { message: "x".repeat(5000) });
  assert.equal(long.status, 400);
});

Deno.test("tokens: expired ones fail; each use refreshes", async () => {
  await using server = await startTestServer();
  await register(server.url, "ann");
  const expired = await issueLobbyToken(server.kv, "ann", { ttlMs: 1 });
  await sleep(10);
  assert.equal(
    (await chatHttp(server.url, expired, { message: "x" })).status,
    401,
  );
  await using socket = await SocketClient.open(server.url);
  assert.deepEqual(
    await socket.ask({ type: "chat", token: expired, message: "x" }),
    {
      type: "chat",
      status: "error_It",
      message: "Invalid token",
    },
  );
  // Valid 300 ms after its last use: used every 200 ms it stays live past
  // its first 300 ms; left unused longer, it expires.
  const short = await issueLobbyToken(server.kv, "ann", { ttlMs: 300 });
  for (const message of ["a", "b", "c"]) {
    assert.equal((await chatHttp(server.url, short, { message })).status, 200);
    await sleep(200);
  }
  await sleep(300);
  assert.equal(
    (await chatHttp(server.url, short, { message: "d" })).status,
    401,
  );
});

Deno.test("GET /avatar: the default avatar for any name; no path reaches a file", async () => {
  await using server = await startTestServer();
  const png = await Deno.readFile(
    new URL("../../static/avatar/default_avatar.png", import.meta.url),
  );
  for (
    const path of [
      "/avatar/ann/default_avatar.png",
      "/avatar/default/default_avatar.png",
      "/avatar/nobody/me.jpg",
      "/avatar/ann/..%2F..%2Fdeno.json",
      "/avatar/..%2F..%2Fmain.ts/x.png",
    ]
  ) {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), png);
  }
});

Deno.test("socket register: every seed reply", async () => {
  await using server = await startTestServer();
  await using s = await SocketClient.open(server.url);
  assert.deepEqual(
    await s.ask({ type: "register", username: "ann", password: "pw1" }),
    REGISTERED,
  );
  assert.deepEqual(
    await s.ask({ type: "register", username: "ann", password: "pw1" }),
    {
      type: "register_0",
      success: false,
      message: "Username already exists",
    },
  );
  const badName = {
    type: "register_-2",
    success: false,
    message: "Invalid username format",
  };
  for (const username of ["a", "a".repeat(21), "1ab", "a b", "a,b", null]) {
    assert.deepEqual(
      await s.ask({ type: "register", username, password: "p" }),
      badName,
    );
  }
  for (const username of ["ab", "c".repeat(20), "~!@#$%^&+-_?"]) {
    assert.deepEqual(
      await s.ask({ type: "register", username, password: "p" }),
      REGISTERED,
    );
  }
  const badAvatar = {
    type: "register_-3",
    success: false,
    message: AVATAR_RULE,
  };
  for (const avatar of ["x.gif", "x", 3]) {
    assert.deepEqual(
      await s.ask({ type: "register", username: "gif", password: "p", avatar }),
      badAvatar,
    );
  }
  assert.deepEqual(
    await s.ask({
      type: "register",
      username: "pic",
      password: "p",
      avatar: "me.jpg",
    }),
    REGISTERED,
  );
  assert.deepEqual(await s.ask({ type: "register", username: "nopw" }), {
    type: "register_-1",
    error: true,
    message: '"password" is required',
  });
});

Deno.test("socket login, chat, heartbeat and errors: every seed reply", async () => {
  await using server = await startTestServer();
  await register(server.url, "ann", { avatar: "ann.png" });
  await register(server.url, "bob");
  await using a = await SocketClient.open(server.url);
  await using b = await SocketClient.open(server.url);
  assert.deepEqual(
    await a.ask({ type: "login", username: "ann", password: "bad" }),
    {
      type: "login",
      status: "error_0",
      message: "Invalid credentials",
    },
  );
  assert.deepEqual(await a.ask({ type: "login", username: "ann" }), {
    type: "login",
    status: "error",
    message: '"password" is required',
  });
  const login = await a.ask({
    type: "login",
    username: "ann",
    password: "pw1",
  });
  assert.deepEqual({ ...login, token: "-" }, {
    type: "login",
    status: "success",
    message: "Login successful",
    token: "-",
    username: "ann",
    avatar: "/avatar/ann/ann.png",
  });
  const token = String(login.token);
  await b.login("bob");

  assert.deepEqual(await a.ask({ type: "chat", message: "hi" }), {
    type: "chat",
    status: "error_Mt",
    message: "Missing token",
  });
  assert.deepEqual(await a.ask({ type: "chat", token: "abc", message: "hi" }), {
    type: "chat",
    status: "error_It",
    message: "Invalid token",
  });
  assert.deepEqual(await a.ask({ type: "chat", token: 12, message: "hi" }), {
    type: "chat",
    status: "error_It",
    message: "Invalid token",
  });
  assert.deepEqual(await a.ask({ type: "chat", token }), {
    type: "chat",
    status: "error",
    message: '"message" is required',
  });

  a.send({ type: "chat", token, message: "hello all" });
  const line = {
    type: "chat",
    user: "ann",
    message: "hello all",
    avatar: "/avatar/ann/ann.png",
  };
  const mine = [await a.next(), await a.next()];
  assert.ok(mine.some((f) => f.status === "success" && f.type === "chat"));
  assert.ok(mine.some((f) => f.user === "ann" && f.message === "hello all"));
  assert.deepEqual(await b.next(), line);

  assert.deepEqual(await a.ask({ type: "heartbeat", token }), {
    type: "heartbeat",
    status: "success",
  });
  assert.deepEqual(await a.ask({ type: "heartbeat", token: "x" }), {
    type: "heartbeat",
    status: "error",
    message: "Invalid token",
  });

  // A user with a token but no connection is "not logged in" on sockets.
  await register(server.url, "cat");
  const catToken = String(
    (await postJson(`${server.url}/api/login`, {
      username: "cat",
      password: "pw1",
    })).body.token,
  );
  assert.deepEqual(
    await a.ask({ type: "chat", token: catToken, message: "x" }),
    {
      type: "chat",
      status: "error_Nli",
      message: "Not logged in",
    },
  );
  assert.deepEqual(await a.ask({ type: "heartbeat", token: catToken }), {
    type: "heartbeat",
    status: "error",
    message: "Not logged in",
  });

  assert.deepEqual(await a.ask("{not json"), {
    type: "error",
    status: "error",
    message: "Invalid JSON",
  });
  assert.deepEqual(await a.ask("[1]"), {
    type: "error",
    status: "error",
    message: 'a message must be a JSON object with a "type"',
  });
  assert.deepEqual(await a.ask({ type: "dance" }), {
    type: "error",
    status: "error",
    message:
      'unknown type "dance": expected "register", "login", "chat" or "heartbeat"',
  });
});

Deno.test("one connection per user: 409 / error_-1 until the socket dies", async () => {
  await using server = await startTestServer();
  await register(server.url, "ann");
  const first = await SocketClient.open(server.url);
  await first.login("ann");
  // Logging in again on the same socket is refused as well (seed behaviour).
  assert.equal(
    (await first.ask({ type: "login", username: "ann", password: "pw1" }))
      .status,
    "error_-1",
  );
  await using second = await SocketClient.open(server.url);
  assert.deepEqual(
    await second.ask({ type: "login", username: "ann", password: "pw1" }),
    {
      type: "login",
      status: "error_-1",
      message: "Account already logged in",
    },
  );
  assert.deepEqual(
    await postJson(`${server.url}/api/login`, {
      username: "ann",
      password: "pw1",
    }),
    {
      status: 409,
      body: {
        type: "login",
        status: "error_0",
        message: "Account already logged in",
      },
    },
  );
  await first.close();
  await loginUntil(server.url, "ann", 200);
  await second.login("ann");
});

Deno.test("idle connections are closed and free their user", async () => {
  await using server = await startTestServer({ lobbyIdleSeconds: 1 });
  await register(server.url, "ann");
  await using socket = await SocketClient.open(server.url);
  const token = await socket.login("ann");
  // Heartbeats keep it open past the idle limit.
  for (let i = 0; i < 6; i++) {
    await sleep(250);
    assert.equal(
      (await socket.ask({ type: "heartbeat", token })).status,
      "success",
    );
  }
  assert.equal(socket.isClosed, false);
  assert.equal(
    (await postJson(`${server.url}/api/login`, {
      username: "ann",
      password: "pw1",
    })).status,
    409,
  );
  // Then silence: closed, and the user may log in again.
  await socket.closed;
  await loginUntil(server.url, "ann", 200);
});

Deno.test("two instances on one KV: chat crosses, presence is shared", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/lobby.kv`);
  try {
    await using a = await startTestServer({}, { kv });
    await using b = await startTestServer({}, { kv });
    await register(a.url, "ann");
    await register(a.url, "bob");
    await using onB = await SocketClient.open(b.url);
    await onB.login("bob");
    await using onA = await SocketClient.open(a.url);
    const annToken = await onA.login("ann");

    // A chat line sent on A reaches the socket logged in on B.
    assert.equal(
      (await chatHttp(a.url, annToken, { message: "over there" })).status,
      200,
    );
    assert.deepEqual(await onB.next(), {
      type: "chat",
      user: "ann",
      message: "over there",
      avatar: "/avatar/ann/default_avatar.png",
    });
    assert.equal((await onA.next()).message, "over there");

    // Bob is online on B: A refuses a second login for him.
    assert.equal(
      (await postJson(`${a.url}/api/login`, {
        username: "bob",
        password: "pw1",
      })).status,
      409,
    );
    await using again = await SocketClient.open(a.url);
    assert.equal(
      (await again.ask({ type: "login", username: "bob", password: "pw1" }))
        .status,
      "error_-1",
    );
    // Ann is online on A, so B refuses her an HTTP login too.
    assert.equal(
      (await postJson(`${b.url}/api/login`, {
        username: "ann",
        password: "pw1",
      })).status,
      409,
    );
    // Ann's token (issued on A) works on B's sockets; A's sockets hear it.
    onB.send({ type: "chat", token: annToken, message: "from B" });
    const replies = [await onB.next(), await onB.next()];
    assert.ok(
      replies.some((r) => r.status === "success"),
      JSON.stringify(replies),
    );
    assert.equal((await onA.next()).message, "from B");

    await onB.close();
    await loginUntil(a.url, "bob", 200);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
