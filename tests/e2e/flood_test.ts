import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";
import { fixture, newFamily, post } from "../_family.ts";
import { MAX_QR_PAGES } from "../../realtime/qr_login/page_socket.ts";
import {
  MAX_LOBBY_SOCKETS,
  MAX_LOBBY_SOCKETS_PER_ADDRESS,
} from "../../realtime/lobby/endpoint.ts";
import { MAX_TCP_PER_ADDRESS } from "../../realtime/lobby/tcp.ts";

/**
 * Floods, as issue 13 found them: concurrent large uploads past the upload
 * budget, thousands of QR-login pages, thousands of unauthenticated lobby
 * sockets. During each, `/healthz` keeps answering within a second, and
 * the process's resident memory stays under a stated bound (the test
 * process holds the clients too, so the bound covers both sides). The
 * server trusts 127.0.0.1 as a proxy, so each client names its own address
 * in X-Forwarded-For and per-address limits do not hide the global caps.
 */

const MiB = 1024 * 1024;

/** Polls /healthz until stopped; returns the slowest answer in ms. */
function watchHealth(url: string) {
  let running = true;
  let slowest = 0;
  let failures = 0;
  const done = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/healthz`, {
          signal: AbortSignal.timeout(5_000),
        });
        await res.body?.cancel();
        if (res.status !== 200) failures++;
      } catch {
        failures++;
      }
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { slowest, failures };
    },
  };
}

/** Samples the process's resident memory until stopped; returns the peak. */
function watchMemory() {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, Deno.memoryUsage().rss);
    },
  };
}

/** A mono MP3 of about `bytes` (the fixture's frames repeated): stored as uploaded. */
async function bigMp3(bytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const mp3 = await fixture("speech10.mp3");
  let start = 0;
  if (mp3[0] === 0x49 && mp3[1] === 0x44 && mp3[2] === 0x33) {
    start = 10 +
      ((mp3[6] << 21) | (mp3[7] << 14) | (mp3[8] << 7) | mp3[9]);
  }
  let end = mp3.length;
  if (
    mp3[end - 128] === 0x54 && mp3[end - 127] === 0x41 &&
    mp3[end - 126] === 0x47
  ) end -= 128;
  const frames = mp3.subarray(start, end);
  const copies = Math.max(1, Math.floor(bytes / frames.length));
  const out = new Uint8Array(frames.length * copies);
  for (let i = 0; i < copies; i++) out.set(frames, i * frames.length);
  return out;
}

/** A raw WebSocket client: handshake (with X-Forwarded-For), then frames. */
interface RawSocket {
  conn: Deno.TcpConn;
  status: number;
  head: string;
  body: string;
  /** The first text frame (when `firstFrame` was asked), else "". */
  frame: string;
}

async function openRaw(
  url: string,
  path: string,
  forwardedFor: string,
  { firstFrame = false }: { firstFrame?: boolean } = {},
): Promise<RawSocket> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        `X-Forwarded-For: ${forwardedFor}\r\n\r\n`,
    ),
  );
  let bytes = new Uint8Array();
  const read = async () => {
    const chunk = new Uint8Array(8192);
    const n = await conn.read(chunk);
    if (n === null) return false;
    const joined = new Uint8Array(bytes.length + n);
    joined.set(bytes);
    joined.set(chunk.subarray(0, n), bytes.length);
    bytes = joined;
    return true;
  };
  let end = -1;
  while (end < 0 && await read()) {
    end = new TextDecoder().decode(bytes).indexOf("\r\n\r\n");
  }
  const text = new TextDecoder().decode(bytes);
  const head = text.slice(0, end < 0 ? text.length : end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const headBytes = new TextEncoder().encode(head).length + 4;
  if (status !== 101) {
    const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    while (bytes.length < headBytes + length && await read());
    return {
      conn,
      status,
      head,
      body: new TextDecoder().decode(bytes.subarray(headBytes)),
      frame: "",
    };
  }
  let frame = "";
  if (firstFrame) {
    // Server frames are unmasked: FIN/opcode, length (7, 16 or 64 bit), payload.
    const frameAt = () => {
      const f = bytes.subarray(headBytes);
      if (f.length < 2) return null;
      let len = f[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (f.length < 4) return null;
        len = (f[2] << 8) | f[3];
        at = 4;
      } else if (len === 127) return null;
      return f.length >= at + len
        ? new TextDecoder().decode(f.subarray(at, at + len))
        : null;
    };
    while (frameAt() === null && await read());
    frame = frameAt() ?? "";
  }
  return { conn, status, head, body: "", frame };
}

function closeAll(sockets: RawSocket[]): void {
  for (const s of sockets) {
    try {
      s.conn.close();
    } catch {
      // already closed by the server
    }
  }
}

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(
  count: number,
  limit: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

async function settle(): Promise<void> {
  // Let the server see the closes before the sanitizers look.
  await new Promise((r) => setTimeout(r, 300));
}

Deno.test("flood: concurrent large uploads past the budget get 503 + Retry-After; every accepted one is stored", async () => {
  const budget = 12 * MiB;
  await using server = await startTestServer({
    maxUploadBytes: 3 * MiB,
    uploadBudgetBytes: budget,
    transcodeWorkers: 1,
  });
  const family = await newFamily(server);
  const audio = await bigMp3(2.5 * MiB);
  const uploads = 40;
  const before = Deno.memoryUsage().rss;
  const memory = watchMemory();
  const health = watchHealth(server.url);
  const replies = await Promise.all(
    Array.from({ length: uploads }, async () => {
      const form = new FormData();
      form.append("to_user", family.toyId);
      form.append("user_id", family.userId);
      form.append("reco_file", new Blob([audio]), "big.mp3");
      const res = await fetch(`${server.url}/app_uploader`, {
        method: "POST",
        headers: { authorization: `Bearer ${family.token}` },
        body: form,
      });
      return {
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        body: await res.json(),
      };
    }),
  );
  const { slowest, failures } = await health.stop();
  const peak = memory.stop();

  const accepted = replies.filter((r) => r.status === 200);
  const refused = replies.filter((r) => r.status === 503);
  assert.equal(
    accepted.length + refused.length,
    uploads,
    JSON.stringify(replies.filter((r) => ![200, 503].includes(r.status))),
  );
  assert.ok(refused.length > 0, "some uploads are past the budget");
  assert.ok(accepted.length > 0, "uploads within the budget are accepted");
  for (const r of refused) {
    assert.ok(Number(r.retryAfter) >= 1, "503 carries Retry-After");
    assert.equal(r.body.code, 503);
    assert.match(r.body.msg, /retry/);
  }
  const stored = await post(
    server,
    "/chat_list",
    { chat_id: family.chatId, limit: 100 },
    family.token,
  );
  const files = new Set(
    (stored.body.data as { chat: string }[]).map((m) => m.chat),
  );
  for (const r of accepted) {
    assert.ok(files.has(r.body.data.filename), "accepted upload is stored");
  }
  assert.equal(failures, 0, "/healthz answered 200 throughout");
  assert.ok(slowest < 1_000, `/healthz took ${slowest.toFixed(0)} ms`);
  // 40 × 2.5 MiB would be 100 MiB on the wire; the client holds its forms,
  // the server at most the 12 MiB budget (plus what parsing copies).
  const bound = 400 * MiB;
  assert.ok(
    peak - before < bound,
    `resident memory grew ${((peak - before) / MiB).toFixed(0)} MiB`,
  );
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /babble_upload_bytes_in_flight 0\b/);
});

Deno.test("flood: QR-login pages from many addresses: global cap with 503 + Retry-After, keys on time", async () => {
  await using server = await startTestServer({
    trustedProxies: "127.0.0.1/32",
  });
  const pages = MAX_QR_PAGES + 100;
  const perAddress = 20; // the per-address limit: every page here is within it
  const before = Deno.memoryUsage().rss;
  const memory = watchMemory();
  const health = watchHealth(server.url);
  const sockets = await pool(pages, 50, (i) =>
    openRaw(
      server.url,
      "/qr_login",
      `198.18.${Math.floor(i / perAddress) >> 8}.${
        Math.floor(i / perAddress) & 255
      }`,
      { firstFrame: true },
    ));
  const { slowest, failures } = await health.stop();
  const peak = memory.stop();
  try {
    const open = sockets.filter((s) => s.status === 101);
    const full = sockets.filter((s) => s.status === 503);
    assert.equal(open.length, MAX_QR_PAGES, "the global cap holds");
    assert.equal(full.length, pages - MAX_QR_PAGES);
    for (const s of full) {
      assert.match(s.head, /retry-after: \d+/i);
      assert.equal(JSON.parse(s.body).code, 503);
    }
    for (const s of open) {
      const frame = JSON.parse(s.frame);
      assert.equal(frame.type, "key");
      assert.match(frame.qr, /^data:image\/png;base64,/);
    }
    assert.equal(failures, 0);
    assert.ok(slowest < 1_000, `/healthz took ${slowest.toFixed(0)} ms`);
    const bound = 600 * MiB;
    assert.ok(
      peak - before < bound,
      `resident memory grew ${((peak - before) / MiB).toFixed(0)} MiB`,
    );
  } finally {
    closeAll(sockets);
    await settle();
  }
});

Deno.test("flood: unauthenticated lobby sockets: per-address and global caps with 503 + Retry-After", async () => {
  await using server = await startTestServer({
    trustedProxies: "127.0.0.1/32",
  });
  const sockets: RawSocket[] = [];
  try {
    // One address: its cap, then refusals.
    const one = await pool(
      MAX_LOBBY_SOCKETS_PER_ADDRESS + 5,
      20,
      () => openRaw(server.url, "/api/socket", "203.0.113.7"),
    );
    sockets.push(...one);
    assert.equal(
      one.filter((s) => s.status === 101).length,
      MAX_LOBBY_SOCKETS_PER_ADDRESS,
    );
    const refused = one.filter((s) => s.status === 503);
    assert.equal(refused.length, 5);
    for (const s of refused) {
      assert.match(s.head, /retry-after: \d+/i);
      const body = JSON.parse(s.body);
      assert.equal(body.type, "error");
      assert.match(body.message, /too many lobby connections/);
    }
    // Many addresses, each under its cap, up to the global cap and past it.
    const before = Deno.memoryUsage().rss;
    const memory = watchMemory();
    const health = watchHealth(server.url);
    const rest = MAX_LOBBY_SOCKETS - MAX_LOBBY_SOCKETS_PER_ADDRESS + 20;
    const many = await pool(rest, 50, (i) =>
      openRaw(
        server.url,
        "/api/socket",
        `198.19.${Math.floor(i / 40) >> 8}.${Math.floor(i / 40) & 255}`,
      ));
    sockets.push(...many);
    const { slowest, failures } = await health.stop();
    const peak = memory.stop();
    assert.equal(
      many.filter((s) => s.status === 101).length,
      MAX_LOBBY_SOCKETS - MAX_LOBBY_SOCKETS_PER_ADDRESS,
    );
    const full = many.filter((s) => s.status === 503);
    assert.equal(full.length, 20);
    assert.match(JSON.parse(full[0].body).message, /this server/);
    assert.equal(failures, 0);
    assert.ok(slowest < 1_000, `/healthz took ${slowest.toFixed(0)} ms`);
    const bound = 600 * MiB;
    assert.ok(
      peak - before < bound,
      `resident memory grew ${((peak - before) / MiB).toFixed(0)} MiB`,
    );
  } finally {
    closeAll(sockets);
    await settle();
  }
});

Deno.test("flood: lobby TCP connections past the per-address cap get an error line and are closed", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await using server = await startTestServer({ lobbyTcpPort: port });
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < MAX_TCP_PER_ADDRESS; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    // The first connections are served: a heartbeat gets a reply line.
    const first = conns[0];
    await first.write(new TextEncoder().encode('{"type":"heartbeat"}\n'));
    const buf = new Uint8Array(4096);
    assert.ok((await first.read(buf)) !== null, "a served connection answers");
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(extra);
    let text = "";
    for (;;) {
      const n = await extra.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const reply = JSON.parse(text.trim());
    assert.equal(reply.type, "error");
    assert.match(reply.message, /too many lobby connections on your address/);
    assert.ok(server.url);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed by the server
      }
    }
    await settle();
  }
});
