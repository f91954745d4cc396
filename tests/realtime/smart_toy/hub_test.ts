import assert from "node:assert/strict";
import { silentLogger } from "../../../domain/platform/log.ts";
import { Metrics } from "../../../domain/platform/metrics.ts";
import { newId } from "../../../domain/store/ids.ts";
import {
  deliveredCursor,
  MessageWriter,
  type NewMessage,
} from "../../../domain/smart_toy/messages.ts";
import { type Connection, Hub } from "../../../realtime/smart_toy/hub.ts";
import { CLOSE_SLOW_CONSUMER, Peer } from "../../../realtime/ws.ts";
import { until } from "../../_family.ts";

/**
 * The hub on its own: real KV watches and a real MessageWriter, sockets
 * stood in by a recording fake under a real `Peer` (so the bounded send
 * queue is the production one).
 */

type Frame = Record<string, unknown>;

/** Stands in for a server WebSocket: records frames, can stall. */
class FakeSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  closeCode: number | null = null;
  readonly frames: Frame[] = [];

  send(text: string): void {
    this.frames.push(JSON.parse(text));
  }

  close(code: number): void {
    this.closeCode = code;
    this.readyState = WebSocket.CLOSED;
  }

  chats(): Frame[] {
    return this.frames.filter((f) => f.type === "chat");
  }
}

function connect(
  hub: Hub,
  principalId: string,
  { cursor = 0, maxBuffered = 1 << 20 } = {},
): { conn: Connection; socket: FakeSocket } {
  const socket = new FakeSocket();
  const peer = new Peer(socket as unknown as WebSocket, maxBuffered);
  const conn: Connection = { principalId, peer, cursor, since: Date.now() };
  hub.attach(conn);
  return { conn, socket };
}

function note(to: string, from: string, n: number): NewMessage {
  return {
    chat_id: "chat_" + from,
    from_user: from,
    to_user: to,
    chat: `${n}.mp3`,
    friend_type: "app",
  };
}

/** A hub on an in-memory store; `await using` closes both. */
async function openHub(): Promise<
  { hub: Hub; kv: Deno.Kv; metrics: Metrics } & AsyncDisposable
> {
  const kv = await Deno.openKv(":memory:");
  const metrics = new Metrics();
  const hub = new Hub(kv, silentLogger, metrics);
  return {
    hub,
    kv,
    metrics,
    async [Symbol.asyncDispose]() {
      await hub.close();
      kv.close();
    },
  };
}

function seqs(frames: Frame[]): number[] {
  return frames.map((f) => f.seq as number);
}

Deno.test("attach replays the inbox after the cursor, then pushes new messages", async () => {
  await using h = await openHub();
  const writer = new MessageWriter(h.kv);
  const [toy, mum] = [newId(), newId()];
  for (let i = 1; i <= 3; i++) await writer.send(note(toy, mum, i));

  const { socket } = connect(h.hub, toy, { cursor: 1 });
  await until(() => socket.chats().length === 2, "replay of 2 and 3");
  assert.deepEqual(seqs(socket.chats()), [2, 3]);
  const [first] = socket.chats();
  assert.equal(first.from_user, mum);
  assert.equal(first.to_user, toy);
  assert.equal(first.chat, "2.mp3");
  assert.equal(first.chat_id, "chat_" + mum);
  assert.match(first.id as string, /^[0-9a-f]{24}$/);

  await writer.send(note(toy, mum, 4));
  await until(() => socket.chats().length === 3, "live message 4");
  assert.deepEqual(seqs(socket.chats()), [2, 3, 4]);
  await until(
    async () => (await deliveredCursor(h.kv, toy)) === 4,
    "delivered cursor at 4",
  );
  assert.ok(h.hub.isLocal(toy));
  assert.equal(h.hub.socketCount(), 1);
});

Deno.test("a burst of 300 messages arrives complete, in order, once each", async () => {
  await using h = await openHub();
  const writer = new MessageWriter(h.kv);
  const [toy, mum] = [newId(), newId()];
  const { socket } = connect(h.hub, toy);
  await Promise.all(
    Array.from({ length: 300 }, (_, i) => writer.send(note(toy, mum, i))),
  );
  await until(() => socket.chats().length >= 300, "300 messages");
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(
    seqs(socket.chats()),
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
});

Deno.test("two sockets of one principal each get what they miss", async () => {
  await using h = await openHub();
  const writer = new MessageWriter(h.kv);
  const [toy, mum] = [newId(), newId()];
  for (let i = 1; i <= 4; i++) await writer.send(note(toy, mum, i));
  const one = connect(h.hub, toy, { cursor: 4 });
  const two = connect(h.hub, toy, { cursor: 2 });
  await until(() => two.socket.chats().length === 2, "two catches up");
  await writer.send(note(toy, mum, 5));
  await until(
    () => one.socket.chats().length === 1 && two.socket.chats().length === 3,
    "both get 5",
  );
  assert.deepEqual(seqs(one.socket.chats()), [5]);
  assert.deepEqual(seqs(two.socket.chats()), [3, 4, 5]);
  assert.equal(h.hub.socketCount(), 2);
  h.hub.detach(one.conn);
  h.hub.detach(one.conn);
  assert.equal(h.hub.socketCount(), 1);
});

Deno.test("a signal to a local principal goes straight to its sockets", async () => {
  await using h = await openHub();
  const toy = newId();
  const { socket } = connect(h.hub, toy);
  await h.hub.signal(toy, { type: "music", music: "a.mp3" });
  assert.deepEqual(socket.frames, [{ type: "music", music: "a.mp3" }]);
  assert.equal(h.metrics.value("babble_signals_total", { path: "local" }), 1);
});

Deno.test("signals cross hubs on one KV file and are never replayed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble_hub_" });
  const kvA = await Deno.openKv(`${dir}/hub.kv`);
  const kvB = await Deno.openKv(`${dir}/hub.kv`);
  const metricsA = new Metrics();
  const a = new Hub(kvA, silentLogger, metricsA);
  const b = new Hub(kvB, silentLogger, new Metrics());
  try {
    const toy = newId();
    // Sent while the toy is connected nowhere: kept only briefly, for no one.
    await a.signal(toy, { type: "music", music: "before.mp3" });
    await new Promise((r) => setTimeout(r, 1_100));

    const { socket } = connect(b, toy);
    await new Promise((r) => setTimeout(r, 50)); // the watch starts
    assert.equal(a.isLocal(toy), false);
    await a.signal(toy, { type: "music", music: "first.mp3" });
    await until(() => socket.frames.length >= 1, "first signal on B");
    await a.signal(toy, { type: "music", music: "second.mp3" });
    await until(() => socket.frames.length >= 2, "second signal on B");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(socket.frames.map((f) => f.music), [
      "first.mp3",
      "second.mp3",
    ]);
    assert.equal(metricsA.value("babble_signals_total", { path: "kv" }), 3);

    // A second socket of the toy joins later: the old signals stay past.
    const late = connect(b, toy);
    await a.signal(toy, { type: "music", music: "third.mp3" });
    await until(
      () => late.socket.frames.length >= 1,
      "third on the late socket",
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(late.socket.frames.map((f) => f.music), ["third.mp3"]);
  } finally {
    await a.close();
    await b.close();
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a signal sent while the recipient's watch is starting is not lost", async () => {
  const dir = await Deno.makeTempDir({ prefix: "babble_hub_" });
  const kvA = await Deno.openKv(`${dir}/hub.kv`);
  const kvB = await Deno.openKv(`${dir}/hub.kv`);
  const a = new Hub(kvA, silentLogger, new Metrics());
  const b = new Hub(kvB, silentLogger, new Metrics());
  try {
    for (let i = 0; i < 5; i++) {
      const toy = newId();
      const { conn, socket } = connect(b, toy);
      await a.signal(toy, { type: "music", music: `${i}.mp3` });
      await until(() => socket.frames.length === 1, `signal ${i} arrives`);
      b.detach(conn);
    }
  } finally {
    await a.close();
    await b.close();
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a socket past its send queue is closed with 4008 and leaves the registry", async () => {
  await using h = await openHub();
  const writer = new MessageWriter(h.kv);
  const [toy, mum] = [newId(), newId()];
  const stalled = connect(h.hub, toy, { maxBuffered: 1000 });
  const healthy = connect(h.hub, toy);
  stalled.socket.bufferedAmount = 5000; // the client stopped reading
  await writer.send(note(toy, mum, 1));
  await until(
    () =>
      healthy.socket.chats().length === 1 && stalled.socket.closeCode !== null,
    "healthy gets it, stalled is closed",
  );
  assert.equal(stalled.socket.closeCode, CLOSE_SLOW_CONSUMER);
  assert.equal(stalled.socket.chats().length, 0);
  // Gone at once, without waiting for a close the client will never send.
  assert.equal(h.hub.socketCount(), 1);

  healthy.socket.bufferedAmount = 5 << 20;
  await h.hub.signal(toy, { type: "music", music: "x.mp3" });
  assert.equal(healthy.socket.closeCode, CLOSE_SLOW_CONSUMER);
  assert.equal(h.hub.socketCount(), 0);
  assert.equal(h.hub.isLocal(toy), false);
});

Deno.test("close() closes every socket with 1001 and stops every watch", async () => {
  const kv = await Deno.openKv(":memory:");
  const hub = new Hub(kv, silentLogger, new Metrics());
  const sockets = [newId(), newId(), newId()].map((id) =>
    connect(hub, id).socket
  );
  await hub.close();
  assert.deepEqual(sockets.map((s) => s.closeCode), [1001, 1001, 1001]);
  // A socket arriving during shutdown is turned away.
  const late = connect(hub, newId()).socket;
  assert.equal(late.closeCode, 1001);
  assert.equal(hub.socketCount(), 0);
  kv.close();
});
