import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  createAppSession,
  registerUser,
  resolveAppSession,
} from "../../domain/smart_toy/accounts.ts";
import { testConfig } from "../../domain/platform/config.ts";
import { silentLogger } from "../../domain/platform/log.ts";
import { Metrics } from "../../domain/platform/metrics.ts";
import { RateLimiter } from "../../domain/platform/rate_limit.ts";
import { createApp } from "../../routes/app.ts";
import type { AppDeps } from "../../domain/platform/services.ts";
import { qrLoginFeature } from "../../routes/qr_login.ts";
import {
  qrLoginEndpoint,
  type QrLoginOptions,
} from "../../realtime/qr_login/page_socket.ts";
import { postForm, postJson, startTestServer } from "../_server.ts";

/**
 * QR-code login end to end: a real server, a real WebSocket page, the app's
 * HTTP calls, a real KV. Most tests use the whole server (main.ts); those
 * that need a short TTL or a small rate limit serve just this feature,
 * built the way main.ts builds it.
 */

type Frame = Record<string, unknown>;

/** A web page's socket: frames queued in order, `next()` waits for one. */
class Page {
  readonly ws: WebSocket;
  readonly closed: Promise<CloseEvent>;
  readonly #frames: Frame[] = [];
  #waiter: (() => void) | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) =>
      ws.addEventListener("close", resolve)
    );
    ws.addEventListener("message", (event) => {
      this.#frames.push(JSON.parse(event.data));
      this.#waiter?.();
    });
    ws.addEventListener("close", () => this.#waiter?.());
  }

  /** Opens `/qr_login` on `baseUrl` and waits for the socket to open. */
  static async open(baseUrl: string): Promise<Page> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/qr_login`);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener(
        "error",
        () => reject(new Error("socket failed to open")),
      );
    });
    return new Page(ws);
  }

  /** The next frame; fails after `timeoutMs` or when the socket closed first. */
  async next(timeoutMs = 5_000): Promise<Frame> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (this.#frames.length === 0) {
        if (this.ws.readyState === WebSocket.CLOSED) {
          throw new Error("socket closed");
        }
        await new Promise<void>((resolve, reject) => {
          this.#waiter = resolve;
          timer = setTimeout(
            () => reject(new Error("no frame in time")),
            timeoutMs,
          );
        });
        clearTimeout(timer);
      }
      return this.#frames.shift()!;
    } finally {
      clearTimeout(timer);
      this.#waiter = null;
    }
  }

  /** Frames received and not yet taken. */
  get pending(): Frame[] {
    return [...this.#frames];
  }

  /** The key frame every page gets first; returns the key. */
  async key(): Promise<string> {
    const frame = await this.next();
    assert.equal(frame.type, "key");
    return frame.key as string;
  }

  /** Closes from the client side (if still open) and waits for the close. */
  async close(): Promise<CloseEvent> {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close();
    return await this.closed;
  }
}

/** Serves only the QR login feature (with `options`) on `kv`, as main.ts would. */
function serveQrLogin(
  kv: Deno.Kv,
  options: QrLoginOptions,
): { url: string } & AsyncDisposable {
  const deps: AppDeps = {
    kv,
    config: testConfig(),
    log: silentLogger,
    metrics: new Metrics(),
    limiter: new RateLimiter(),
    transcoder: null,
  };
  const pages = qrLoginEndpoint(deps, options);
  const app = createApp(deps, [qrLoginFeature(deps)]);
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req, info) => pages.handle(req, info) ?? app.fetch(req, info),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await pages.close();
      await server.shutdown();
    },
  };
}

let userCount = 0;

/** A registered user and an app session token. */
async function appUser(kv: Deno.Kv): Promise<{ id: string; token: string }> {
  const user = await registerUser(kv, {
    username: `qr_user_${++userCount}`,
    password: "correct horse battery",
  });
  return {
    id: user._id,
    token: await createAppSession(kv, { kind: "user", id: user._id }),
  };
}

async function sessionCount(kv: Deno.Kv, userId: string): Promise<number> {
  return (await Array.fromAsync(
    kv.list({ prefix: ["sessions_by_principal", userId] }),
  ))
    .length;
}

/** Waits until the key's record is gone (the page's instance deletes it on close). */
async function recordGone(kv: Deno.Kv, key: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await kv.get(["qr_logins", key])).versionstamp === null) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`record of ${key} still there`);
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

Deno.test("full flow: key with a PNG QR code, scan, confirm, token for the scanner", async () => {
  await using server = await startTestServer();
  const alice = await appUser(server.kv);
  const page = await Page.open(server.url);

  const first = await page.next();
  assert.deepEqual(Object.keys(first).sort(), [
    "expires_in",
    "key",
    "qr",
    "type",
  ]);
  assert.equal(first.type, "key");
  assert.match(first.key as string, /^[0-9a-f]{32}$/);
  assert.equal(first.expires_in, 120);
  const qr = first.qr as string;
  assert.ok(qr.startsWith("data:image/png;base64,"), qr.slice(0, 40));
  const png = Buffer.from(qr.slice("data:image/png;base64,".length), "base64");
  assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE);
  const key = first.key as string;

  const scan = await postJson(
    `${server.url}/qr_login/scan`,
    { key },
    alice.token,
  );
  assert.equal(scan.status, 200);
  assert.deepEqual(scan.body, {
    code: 0,
    msg: "scanned: confirm on the phone",
    data: { key, state: "scanned" },
  });
  assert.deepEqual(await page.next(), { type: "scanned" });

  // The seed's clients send forms; the token may come as a body field too.
  const confirm = await postForm(`${server.url}/qr_login/confirm`, {
    key,
    token: alice.token,
  });
  assert.equal(confirm.status, 200);
  assert.equal(confirm.body.code, 0);
  assert.deepEqual(confirm.body.data, { key, state: "confirmed" });

  const tokenFrame = await page.next();
  assert.equal(tokenFrame.type, "token");
  const webToken = tokenFrame.token as string;
  assert.notEqual(webToken, alice.token);
  assert.deepEqual(await resolveAppSession(server.kv, webToken), {
    kind: "user",
    id: alice.id,
  });
  const closed = await page.closed;
  assert.equal(
    closed.code,
    1000,
    "the server closes the socket after the token",
  );
  assert.deepEqual(page.pending, []);

  await recordGone(server.kv, key);
  for (const action of ["confirm", "scan", "cancel"]) {
    const replay = await postJson(
      `${server.url}/qr_login/${action}`,
      { key },
      alice.token,
    );
    assert.equal(replay.status, 404, action);
    assert.equal(replay.body.code, 404);
    assert.deepEqual(replay.body.data, {});
    assert.match(replay.body.msg as string, /unknown, expired or already used/);
  }
});

Deno.test("confirm without a scan is 409 and the page waits on", async () => {
  await using server = await startTestServer();
  const alice = await appUser(server.kv);
  const page = await Page.open(server.url);
  const key = await page.key();

  const res = await postJson(
    `${server.url}/qr_login/confirm`,
    { key },
    alice.token,
  );
  assert.equal(res.status, 409);
  assert.equal(res.body.code, 409);
  assert.match(res.body.msg as string, /has not been scanned/);
  assert.equal(await sessionCount(server.kv, alice.id), 1);
  await page.close();
  assert.deepEqual(page.pending, []);
});

Deno.test("a second user cannot take over a scanned key; the scanner still can", async () => {
  await using server = await startTestServer();
  const alice = await appUser(server.kv);
  const mallory = await appUser(server.kv);
  const page = await Page.open(server.url);
  const key = await page.key();

  assert.equal(
    (await postJson(`${server.url}/qr_login/scan`, { key }, alice.token))
      .status,
    200,
  );
  assert.deepEqual(await page.next(), { type: "scanned" });
  for (const action of ["scan", "confirm", "cancel"]) {
    const res = await postJson(
      `${server.url}/qr_login/${action}`,
      { key },
      mallory.token,
    );
    assert.equal(res.status, 409, action);
    assert.match(res.body.msg as string, /scanned by another account/);
  }
  assert.equal(
    await sessionCount(server.kv, mallory.id),
    1,
    "no web session for mallory",
  );
  assert.deepEqual(
    page.pending,
    [],
    "the page got nothing from mallory's calls",
  );

  await postJson(`${server.url}/qr_login/confirm`, { key }, alice.token);
  const frame = await page.next();
  assert.equal(frame.type, "token");
  assert.deepEqual(await resolveAppSession(server.kv, frame.token as string), {
    kind: "user",
    id: alice.id,
  });
  await page.closed;
});

Deno.test("cancel tells the page, closes it, and kills the key", async () => {
  await using server = await startTestServer();
  const alice = await appUser(server.kv);
  const page = await Page.open(server.url);
  const key = await page.key();

  await postJson(`${server.url}/qr_login/scan`, { key }, alice.token);
  assert.deepEqual(await page.next(), { type: "scanned" });
  const form = new FormData();
  form.set("key", key);
  const res = await fetch(`${server.url}/qr_login/cancel`, {
    method: "POST",
    headers: { authorization: `Bearer ${alice.token}` },
    body: form,
  });
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).data, { key, state: "cancelled" });

  assert.deepEqual(await page.next(), { type: "cancelled" });
  assert.equal((await page.closed).code, 1000);
  await recordGone(server.kv, key);
  const confirm = await postJson(
    `${server.url}/qr_login/confirm`,
    { key },
    alice.token,
  );
  assert.equal(confirm.status, 404);
  assert.equal(await sessionCount(server.kv, alice.id), 1);
});

Deno.test("a page that left takes its key along: confirm fails, no session", async () => {
  await using server = await startTestServer();
  const alice = await appUser(server.kv);
  const page = await Page.open(server.url);
  const key = await page.key();
  await postJson(`${server.url}/qr_login/scan`, { key }, alice.token);
  assert.deepEqual(await page.next(), { type: "scanned" });

  await page.close();
  await recordGone(server.kv, key);
  const confirm = await postJson(
    `${server.url}/qr_login/confirm`,
    { key },
    alice.token,
  );
  assert.equal(confirm.status, 404);
  assert.equal(
    await sessionCount(server.kv, alice.id),
    1,
    "only the app's own session",
  );
});

Deno.test("the app must be signed in as a user; keys must be well-formed", async () => {
  await using server = await startTestServer();
  const alice = await appUser(server.kv);
  const toyToken = await createAppSession(server.kv, {
    kind: "toy",
    id: "0".repeat(24),
  });
  const page = await Page.open(server.url);
  const key = await page.key();
  const url = `${server.url}/qr_login/scan`;

  const none = await postJson(url, { key });
  assert.equal(none.status, 401);
  assert.deepEqual({ ...none.body, msg: "" }, { code: 401, msg: "", data: {} });
  assert.equal((await postJson(url, { key }, "f".repeat(64))).status, 401);
  assert.equal((await postJson(url, { key }, toyToken)).status, 403);

  const bad = await postJson(url, { key: "not-a-key" }, alice.token);
  assert.equal(bad.status, 400);
  assert.match(
    bad.body.msg as string,
    /"key": must be the 32 hex characters .*"not-a-key"/,
  );
  assert.equal((await postJson(url, {}, alice.token)).status, 400);

  // Upper case is the same key.
  const upper = await postJson(url, { key: key.toUpperCase() }, alice.token);
  assert.equal(upper.status, 200);
  assert.deepEqual(await page.next(), { type: "scanned" });

  const plain = await fetch(`${server.url}/qr_login`);
  assert.equal(plain.status, 400);
  assert.equal((await plain.json()).code, 400);
  await page.close();
});

Deno.test("a key expires: the page hears it, the socket closes, the key is dead", async () => {
  await using kv = await Deno.openKv(":memory:");
  await using server = serveQrLogin(kv, { ttlMs: 300 });
  const alice = await appUser(kv);
  const page = await Page.open(server.url);
  const first = await page.next();
  assert.equal(first.expires_in, 0.3);
  const key = first.key as string;

  assert.deepEqual(await page.next(), { type: "expired" });
  assert.equal((await page.closed).code, 1000);
  const scan = await postJson(
    `${server.url}/qr_login/scan`,
    { key },
    alice.token,
  );
  assert.equal(scan.status, 404);
});

Deno.test("key creation is rate-limited per address, before the upgrade", async () => {
  await using kv = await Deno.openKv(":memory:");
  await using server = serveQrLogin(kv, { keysPerWindow: 2 });
  const pages = [await Page.open(server.url), await Page.open(server.url)];
  for (const page of pages) await page.key();

  const refused = await fetch(`${server.url}/qr_login`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  assert.equal(refused.status, 429);
  const body = await refused.json();
  assert.equal(body.code, 429);
  assert.match(body.msg, /too many QR login keys/);
  await assert.rejects(Page.open(server.url), /failed to open/);
  for (const page of pages) await page.close();
});

Deno.test("cross-instance: page on A, the app's calls on B, one KV file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble_qr_" });
  try {
    const path = `${dir}/babble.kv`;
    await using a = await startTestServer({ kv: path });
    await using b = await startTestServer({ kv: path });
    const alice = await appUser(b.kv);
    const page = await Page.open(a.url);
    const key = await page.key();

    assert.equal(
      (await postJson(`${b.url}/qr_login/scan`, { key }, alice.token)).status,
      200,
    );
    assert.deepEqual(await page.next(), { type: "scanned" });
    assert.equal(
      (await postJson(`${b.url}/qr_login/confirm`, { key }, alice.token))
        .status,
      200,
    );
    const frame = await page.next();
    assert.equal(frame.type, "token");
    assert.deepEqual(await resolveAppSession(b.kv, frame.token as string), {
      kind: "user",
      id: alice.id,
    });
    await page.closed;
    await recordGone(b.kv, key);
    assert.equal(
      (await postJson(`${b.url}/qr_login/confirm`, { key }, alice.token))
        .status,
      404,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one instance holds a bounded number of pages: past it, 503", async () => {
  await using kv = await Deno.openKv(":memory:");
  await using server = serveQrLogin(kv, { maxPages: 1 });
  const page = await Page.open(server.url);
  await page.key();
  await assert.rejects(Page.open(server.url), /failed to open/);
  await page.close();
});

Deno.test("shutdown closes open pages with 1001 and deletes their keys", async () => {
  await using kv = await Deno.openKv(":memory:");
  const server = serveQrLogin(kv, {});
  const page = await Page.open(server.url);
  const key = await page.key();
  await server[Symbol.asyncDispose]();
  assert.equal((await page.closed).code, 1001);
  assert.equal((await kv.get(["qr_logins", key])).versionstamp, null);
});
