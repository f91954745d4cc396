import assert from "node:assert/strict";
import {
  JsonObjectSplitter,
  type SplitItem,
  TcpPeer,
} from "../../../realtime/lobby/tcp.ts";
import { postJson, startTestServer } from "../../_server.ts";
import { ReplyQueue } from "../../_replies.ts";

/**
 * The lobby over raw TCP: the incremental JSON splitter on its own, then a
 * real server on 127.0.0.1 spoken to as the seed's socket clients do.
 */

const encoder = new TextEncoder();

function split(
  splitter: JsonObjectSplitter,
  ...chunks: (string | Uint8Array)[]
): SplitItem[] {
  return chunks.flatMap((chunk) =>
    splitter.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk)
  );
}

function objects(items: SplitItem[]): unknown[] {
  return items.map((item) =>
    item.kind === "object" ? JSON.parse(item.text) : item.kind
  );
}

Deno.test("splitter: objects back to back, with or without newlines", () => {
  const s = new JsonObjectSplitter();
  assert.deepEqual(
    objects(split(s, '{"a":1}{"b":2}\n  {"c":3}\r\n\t{"d":{"e":[4]}}')),
    [{ a: 1 }, { b: 2 }, { c: 3 }, { d: { e: [4] } }],
  );
});

Deno.test("splitter: an object cut anywhere, even inside a UTF-8 character", () => {
  const bytes = encoder.encode(
    '{"type":"chat","message":"h\u00e9 \ud83d\udc4b {\\"}"}',
  );
  const emoji = bytes.indexOf(0xf0);
  const s = new JsonObjectSplitter();
  assert.deepEqual(
    split(s, bytes.subarray(0, 5), bytes.subarray(5, emoji + 2)),
    [],
  );
  assert.deepEqual(objects(split(s, bytes.subarray(emoji + 2))), [
    { type: "chat", message: 'h\u00e9 \ud83d\udc4b {"}' },
  ]);
});

Deno.test("splitter: braces and escapes inside strings do not count", () => {
  const s = new JsonObjectSplitter();
  assert.deepEqual(objects(split(s, '{"a":"}}\\\\"}', '{"b":"\\"{"}')), [
    { a: "}}\\" },
    { b: '"{' },
  ]);
});

Deno.test("splitter: a pretty-printed object spans lines", () => {
  const s = new JsonObjectSplitter();
  assert.deepEqual(
    objects(split(s, '{\n  "type": "heartbeat",\n', '  "token": "t"\n}\n')),
    [{ type: "heartbeat", token: "t" }],
  );
});

Deno.test("splitter: text outside objects is invalid, once per run", () => {
  const s = new JsonObjectSplitter();
  assert.deepEqual(objects(split(s, "hello world\n[1,2]\n", 'oops{"a":1}')), [
    "invalid",
    "invalid",
    "invalid",
    { a: 1 },
  ]);
});

Deno.test("splitter: a raw newline inside a string ends the object as invalid", () => {
  const s = new JsonObjectSplitter();
  assert.deepEqual(objects(split(s, '{"a":"oops\n{"b":1}')), ["invalid", {
    b: 1,
  }]);
});

Deno.test("splitter: an oversized object is reported once and skipped", () => {
  const s = new JsonObjectSplitter({ maxObjectBytes: 100 });
  const big = `{"message":"${"x".repeat(500)}"}`;
  assert.deepEqual(
    objects(split(s, big.slice(0, 50), big.slice(50), '{"ok":1}')),
    [
      "too_large",
      { ok: 1 },
    ],
  );
  // Unbalanced and oversized: skipped to the next newline.
  assert.deepEqual(objects(split(s, `{{{{${"y".repeat(300)}\n{"ok":2}`)), [
    "too_large",
    { ok: 2 },
  ]);
  // Multi-byte characters count as their UTF-8 length.
  const wide = new JsonObjectSplitter({ maxObjectBytes: 20 });
  assert.deepEqual(objects(split(wide, `{"m":"${"\u00e9".repeat(9)}"}`)), [
    "too_large",
  ]);
});

Deno.test("splitter: a 1 MB line in 16 KiB segments costs one error", () => {
  const s = new JsonObjectSplitter();
  const line = encoder.encode(
    `{"type":"chat","message":"${"z".repeat(1024 * 1024)}"}\n`,
  );
  const items: SplitItem[] = [];
  for (let at = 0; at < line.length; at += 16 * 1024) {
    items.push(...s.push(line.subarray(at, at + 16 * 1024)));
  }
  items.push(...split(s, '{"type":"heartbeat"}'));
  assert.deepEqual(objects(items), ["too_large", { type: "heartbeat" }]);
});

Deno.test("TcpPeer: a client that does not read is cut off at the bound", () => {
  let closed = false;
  const stuck = {
    write: () => new Promise<number>(() => {}),
    close: () => closed = true,
  } as unknown as Deno.Conn;
  const peer = new TcpPeer(stuck, 1000);
  let sent = 0;
  while (peer.send({ pad: "x".repeat(90) })) sent++;
  assert.equal(sent, 9, "101-byte lines, 1000 bytes queued at most");
  assert.equal(closed, true);
  assert.equal(peer.open, false);
  assert.equal(peer.send({}), false);
});

/** A TCP client that reads newline-delimited JSON replies. */
class LineClient {
  readonly conn: Deno.TcpConn;
  #replies = new ReplyQueue();
  #reading: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#reading = this.#read();
  }

  static async connect(port: number): Promise<LineClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new LineClient(conn);
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let text = "";
    try {
      for (;;) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
        let newline;
        while ((newline = text.indexOf("\n")) >= 0) {
          this.#replies.push(JSON.parse(text.slice(0, newline)));
          text = text.slice(newline + 1);
        }
      }
    } catch {
      // closed
    }
    this.#replies.end();
  }

  async write(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    while (bytes.length) bytes = bytes.subarray(await this.conn.write(bytes));
  }

  send(message: unknown): Promise<void> {
    return this.write(JSON.stringify(message));
  }

  /** The next reply (pings skipped unless asked for). */
  next(
    options: { pings?: boolean; timeoutMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    return this.#replies.next(options);
  }

  /** Resolves once the server has closed the connection. */
  async ended(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#replies.ended) {
      if (Date.now() > deadline) throw new Error("still open");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.#reading;
  }

  async [Symbol.asyncDispose]() {
    await this.close();
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function tcpServer(overrides: Record<string, unknown> = {}) {
  const lobbyTcpPort = freePort();
  const server = await startTestServer({ lobbyTcpPort, ...overrides });
  return Object.assign(server, { tcpPort: lobbyTcpPort });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("tcp: register and login in one segment, replies one per line", async () => {
  await using server = await tcpServer();
  await using client = await LineClient.connect(server.tcpPort);
  await client.write(
    JSON.stringify({ type: "register", username: "ann", password: "pw1" }) +
      JSON.stringify({ type: "login", username: "ann", password: "pw1" }),
  );
  assert.deepEqual(await client.next(), {
    type: "register_1",
    error: false,
    message: "User registered successfully",
  });
  const login = await client.next();
  assert.equal(login.type, "login");
  assert.equal(login.status, "success");
  assert.equal(login.message, "Login successful");
  assert.equal(login.username, "ann");
  assert.equal(login.avatar, "/avatar/ann/default_avatar.png");
  assert.match(String(login.token), /^[0-9a-f]{64}$/);
});

Deno.test("tcp: a client that half-closes still gets every reply", async () => {
  await using server = await tcpServer();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.tcpPort,
  });
  await conn.write(encoder.encode(
    '{"type":"register","username":"ann","password":"x"}\n{"type":"heartbeat"}',
  ));
  await conn.closeWrite();
  const lines = (await new Response(conn.readable).text()).trim().split("\n");
  assert.deepEqual(lines.map((line) => JSON.parse(line)), [
    {
      type: "register_1",
      error: false,
      message: "User registered successfully",
    },
    { type: "heartbeat", status: "error", message: "Missing token" },
  ]);
});

Deno.test("tcp: one chat split across three segments arrives whole", async () => {
  await using server = await tcpServer();
  await using client = await LineClient.connect(server.tcpPort);
  await client.send({ type: "register", username: "ann", password: "pw1" });
  await client.next();
  await client.send({ type: "login", username: "ann", password: "pw1" });
  const { token } = await client.next();
  const text = 'h\u00e9llo \ud83d\udc4b {braces} "quoted"';
  const bytes = encoder.encode(
    JSON.stringify({ type: "chat", token, message: text }),
  );
  const emoji = bytes.indexOf(0xf0);
  for (
    const [from, to] of [[0, 7], [7, emoji + 1], [emoji + 1, bytes.length]]
  ) {
    await client.write(bytes.subarray(from, to));
    await sleep(30);
  }
  const replies = [await client.next(), await client.next()];
  assert.deepEqual(
    replies.find((r) => r.status === "success"),
    { type: "chat", status: "success" },
  );
  assert.deepEqual(replies.find((r) => r.user), {
    type: "chat",
    user: "ann",
    message: text,
    avatar: "/avatar/ann/default_avatar.png",
  });
});

Deno.test("tcp: invalid JSON gets the seed's error; the connection lives on", async () => {
  await using server = await tcpServer();
  await using client = await LineClient.connect(server.tcpPort);
  const invalid = { type: "error", status: "error", message: "Invalid JSON" };
  await client.write('{"type": nope}\n');
  assert.deepEqual(await client.next(), invalid);
  await client.write("hello\n");
  assert.deepEqual(await client.next(), invalid);
  await client.write('{"type":"login","password":"oops\n');
  assert.deepEqual(await client.next(), invalid);
  await client.write("[1, 2]\n");
  assert.deepEqual(await client.next(), invalid);
  await client.write("42{}");
  assert.deepEqual(await client.next(), invalid);
  assert.deepEqual(await client.next(), {
    type: "error",
    status: "error",
    message:
      'unknown type null: expected "register", "login", "chat" or "heartbeat"',
  });
  await client.send({ type: "heartbeat" });
  assert.deepEqual(await client.next(), {
    type: "heartbeat",
    status: "error",
    message: "Missing token",
  });
});

Deno.test("tcp: a 1 MB line gets an error; connection and server survive", async () => {
  await using server = await tcpServer();
  await using client = await LineClient.connect(server.tcpPort);
  await client.send({ type: "register", username: "ann", password: "pw1" });
  await client.next();
  await client.send({ type: "login", username: "ann", password: "pw1" });
  const { token } = await client.next();
  await client.write(
    JSON.stringify({ type: "chat", token, message: "x".repeat(1024 * 1024) }) +
      "\n",
  );
  const tooBig = await client.next();
  assert.equal(tooBig.type, "error");
  assert.equal(tooBig.status, "error");
  assert.match(String(tooBig.message), /larger than 65536 bytes/);
  await client.write("y".repeat(1024 * 1024) + "\n");
  assert.deepEqual(await client.next(), {
    type: "error",
    status: "error",
    message: "Invalid JSON",
  });
  await client.send({ type: "heartbeat", token });
  assert.deepEqual(await client.next(), {
    type: "heartbeat",
    status: "success",
  });
  await client.send({ type: "chat", token, message: "still here" });
  const replies = [await client.next(), await client.next()];
  assert.ok(replies.some((r) => r.message === "still here"));
  // The server as a whole is fine too.
  await using other = await LineClient.connect(server.tcpPort);
  await other.send({ type: "heartbeat", token });
  assert.equal((await other.next()).status, "success");
});

Deno.test("tcp: the seed's socket errors", async () => {
  await using server = await tcpServer();
  await using client = await LineClient.connect(server.tcpPort);
  const ask = async (message: unknown) => {
    await client.send(message);
    return await client.next();
  };
  assert.deepEqual(
    await ask({ type: "register", username: "1ann", password: "p" }),
    {
      type: "register_-2",
      success: false,
      message: "Invalid username format",
    },
  );
  assert.deepEqual(
    await ask({
      type: "register",
      username: "ann",
      password: "p",
      avatar: "a.gif",
    }),
    {
      type: "register_-3",
      success: false,
      message: "Invalid avatar format. Only .png or .jpg allowed",
    },
  );
  assert.equal(
    (await ask({ type: "register", username: "ann", password: "p" })).type,
    "register_1",
  );
  assert.deepEqual(
    await ask({ type: "register", username: "ann", password: "p" }),
    {
      type: "register_0",
      success: false,
      message: "Username already exists",
    },
  );
  assert.deepEqual(
    await ask({ type: "login", username: "ann", password: "bad" }),
    {
      type: "login",
      status: "error_0",
      message: "Invalid credentials",
    },
  );
  assert.deepEqual(await ask({ type: "chat", message: "hi" }), {
    type: "chat",
    status: "error_Mt",
    message: "Missing token",
  });
  assert.deepEqual(
    await ask({ type: "chat", token: "f".repeat(64), message: "hi" }),
    {
      type: "chat",
      status: "error_It",
      message: "Invalid token",
    },
  );
  const http = await postJson(`${server.url}/api/login`, {
    username: "ann",
    password: "p",
  });
  assert.equal(http.status, 200);
  assert.deepEqual(
    await ask({ type: "chat", token: http.body.token, message: "hi" }),
    {
      type: "chat",
      status: "error_Nli",
      message: "Not logged in",
    },
  );
});

Deno.test("tcp: one connection per user; a closed one frees the account", async () => {
  await using server = await tcpServer();
  await using first = await LineClient.connect(server.tcpPort);
  await first.send({ type: "register", username: "ann", password: "pw1" });
  await first.next();
  await first.send({ type: "login", username: "ann", password: "pw1" });
  assert.equal((await first.next()).status, "success");

  await using second = await LineClient.connect(server.tcpPort);
  await second.send({ type: "login", username: "ann", password: "pw1" });
  assert.deepEqual(await second.next(), {
    type: "login",
    status: "error_-1",
    message: "Account already logged in",
  });
  // The holder is pinged to check it is alive.
  assert.deepEqual(await first.next({ pings: true }), { type: "ping" });
  const http = await postJson(`${server.url}/api/login`, {
    username: "ann",
    password: "pw1",
  });
  // The HTTP API reads the holder's presence record (kept fresh by its hub).
  assert.equal(http.status, 409);

  await first.close();
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    await sleep(20);
    status = (await postJson(`${server.url}/api/login`, {
      username: "ann",
      password: "pw1",
    }))
      .status;
  }
  assert.equal(status, 200);
  await second.send({ type: "login", username: "ann", password: "pw1" });
  assert.equal((await second.next()).status, "success");
});

Deno.test("tcp: idle connections are closed", async () => {
  await using server = await tcpServer({ lobbyIdleSeconds: 1 });
  await using client = await LineClient.connect(server.tcpPort);
  await client.send({ type: "heartbeat" });
  await client.next();
  await client.ended(3000);
});
