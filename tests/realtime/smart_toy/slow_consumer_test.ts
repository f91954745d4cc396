import assert from "node:assert/strict";
import { startTestServer } from "../../_server.ts";
import {
  appSocket,
  closeCode,
  newFamily,
  RawFrameReader,
  rawHandshake,
  until,
} from "../../_family.ts";

/**
 * A toy socket that never reads while its parent pushes 10,000 frames of
 * about 1 KB at it: the server's per-socket send queue is bounded (1 MiB by
 * default), so the socket is closed (4008) and dropped from the registry,
 * the process's memory stays bounded, and everyone else carries on.
 */

const FRAMES = 10_000;
const HEAP_BOUND = 64 * 1024 * 1024;

async function socketGauge(url: string): Promise<number> {
  const text = await (await fetch(url + "/metrics")).text();
  const match = /^babble_sockets (\d+)$/m.exec(text);
  assert.ok(match, "/metrics has babble_sockets");
  return Number(match[1]);
}

Deno.test("a socket that never reads is closed and memory stays bounded", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  // The toy: a hand-made handshake on raw TCP, then never a read.
  const toy = await rawHandshake(
    server,
    `/toy/${family.toyId}?token=${family.toyToken}`,
  );
  try {
    assert.equal(toy.status, 101, toy.head);
    await using app = await appSocket(server, family);
    await until(
      async () => (await socketGauge(server.url)) === 2,
      "both sockets registered",
    );

    const heapBefore = Deno.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const pad = "x".repeat(1000);
    for (let i = 0; i < FRAMES; i++) {
      app.send({
        to_user: family.toyId,
        type: "music",
        music: `${i}.mp3`,
        pad,
      });
      if (i % 500 === 499) {
        heapPeak = Math.max(heapPeak, Deno.memoryUsage().heapUsed);
        await new Promise((r) => setTimeout(r, 0));
      }
    }
    await until(
      async () => {
        heapPeak = Math.max(heapPeak, Deno.memoryUsage().heapUsed);
        return (await socketGauge(server.url)) === 1;
      },
      "the server dropped the toy socket that does not read",
      20_000,
    );
    const growth = heapPeak - heapBefore;
    assert.ok(
      growth < HEAP_BOUND,
      `heap grew by ${(growth / 1e6).toFixed(1)} MB while flooding`,
    );

    // The sender and the server are fine.
    app.send({ type: "ping" });
    assert.equal((await app.next((f) => f.type === "pong")).type, "pong");
    assert.equal(
      (await fetch(server.url + "/healthz").then((r) => r.json()))
        .status,
      "ok",
    );

    // Draining the stalled socket now shows what the server queued for it:
    // far fewer than the frames sent, then a close frame with 4008.
    const reader = new RawFrameReader(toy.conn, toy.rest);
    const timer = setTimeout(() => toy.conn.close(), 20_000);
    let texts = 0;
    let close: number | null = null;
    try {
      for (;;) {
        const frame = await reader.next();
        if (!frame) break;
        if (frame.opcode === 1) texts++;
        if (frame.opcode === 8) {
          close = closeCode(frame);
          break;
        }
      }
    } finally {
      clearTimeout(timer);
    }
    assert.equal(close, 4008, `close frame after ${texts} text frames`);
    assert.ok(texts > 0 && texts < FRAMES, `${texts} frames were queued`);
  } finally {
    try {
      toy.conn.close();
    } catch {
      // closed by the deadline
    }
  }
  await until(
    async () => (await socketGauge(server.url)) === 0,
    "every socket is gone",
  );
});
