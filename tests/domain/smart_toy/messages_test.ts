import assert from "node:assert/strict";
import {
  advanceDelivered,
  clearUnread,
  deleteConversation,
  deleteInbox,
  deleteMessage,
  deliveredCursor,
  inboxPositionOf,
  listChat,
  type Message,
  MessageWriter,
  migrateToSchema2,
  type NewMessage,
  readInbox,
  replayFloor,
  sendersTo,
  storeHead,
  takeUnread,
  unreadCounts,
  unreadFrom,
  unreadKey,
} from "../../../domain/smart_toy/messages.ts";
import { migrate } from "../../../domain/store/kv.ts";
import { SCHEMA_MIGRATIONS } from "../../../domain/smart_toy/migrations.ts";
import { newId } from "../../../domain/store/ids.ts";
import { AppError } from "../../../domain/platform/errors.ts";

/**
 * Durable messages: group commit, per-recipient inbox positions that are
 * in order even with several writers on one store, unread counters, the
 * delivered cursor, and chat history.
 */

/** An in-memory store that `await using` closes. */
async function memoryKv(): Promise<Deno.Kv & AsyncDisposable> {
  const kv = await Deno.openKv(":memory:");
  return Object.assign(kv, {
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  });
}

/** A store on a fresh temp file, removed on dispose. */
async function fileKv(): Promise<
  { path: string; kv: Deno.Kv } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "babble_messages_" });
  const path = `${dir}/test.kv`;
  const kv = await Deno.openKv(path);
  return {
    path,
    kv,
    async [Symbol.asyncDispose]() {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Counts the atomic commits made through `kv` (a proxy over it). */
function countingCommits(kv: Deno.Kv): { kv: Deno.Kv; commits: () => number } {
  let commits = 0;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            commits++;
            return commit();
          };
          return op;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: proxy, commits: () => commits };
}

function message(to: string, from: string, n: number): NewMessage {
  return {
    chat_id: `chat_${[to, from].sort().join("_")}`.slice(0, 60),
    from_user: from,
    to_user: to,
    chat: `${from.slice(-6)}_${n}.mp3`,
    friend_type: "app",
  };
}

async function inbox(kv: Deno.Kv, recipient: string): Promise<Message[]> {
  return await readInbox(kv, recipient, 0, 10_000);
}

/** A recipient's inbox positions only grow (positions are store-wide, so gaps are expected). */
function assertIncreasing(messages: Message[], recipient: string): void {
  messages.forEach((m, i) => {
    if (i) {
      assert.ok(
        m.seq > messages[i - 1].seq,
        `inbox of ${recipient} is in order`,
      );
    }
    assert.equal(m.to_user, recipient);
  });
}

/** Store-wide positions: every committed message has its own, 1..n without gaps. */
async function assertPositionsDense(
  kv: Deno.Kv,
  recipients: string[],
): Promise<void> {
  const seqs: number[] = [];
  for (const r of recipients) {
    seqs.push(...(await inbox(kv, r)).map((m) => m.seq));
  }
  seqs.sort((a, b) => a - b);
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => i + 1),
    "positions 1..n, each once",
  );
}

Deno.test("500 concurrent sends to 15 recipients: all durable, ordered, counted", async () => {
  await using kv = await memoryKv();
  const counted = countingCommits(kv);
  const writer = new MessageWriter(counted.kv);
  const recipients = Array.from({ length: 15 }, () => newId());
  const senders = Array.from({ length: 4 }, () => newId());
  const inputs = Array.from(
    { length: 500 },
    (_, i) => message(recipients[i % 15], senders[i % 4], i),
  );

  const sent = await Promise.all(inputs.map((m) => writer.send(m)));

  // Every send resolved with its own message.
  assert.equal(new Set(sent.map((m) => m._id)).size, 500);
  sent.forEach((m, i) => assert.equal(m.chat, inputs[i].chat));
  // Grouped: far fewer commits than messages.
  assert.ok(
    counted.commits() < 100,
    `${counted.commits()} commits for 500 messages`,
  );
  for (const r of recipients) {
    const box = await inbox(kv, r);
    assertIncreasing(box, r);
    assert.equal(box.length, inputs.filter((m) => m.to_user === r).length);
    // Unread sums match what each sender sent to r.
    const counts = await unreadCounts(kv, r);
    assert.equal(counts.count, box.length);
    for (const s of senders) {
      const n = box.filter((m) => m.from_user === s).length;
      assert.equal(await unreadFrom(kv, r, s), n);
      if (n) assert.equal(counts[s], n);
    }
  }
  await assertPositionsDense(kv, recipients);
  assert.equal(await storeHead(kv), 500);
  // Each message sits in its chat's history exactly once, in send order
  // per recipient.
  for (const r of recipients) {
    for (const s of senders) {
      const chat = message(r, s, 0).chat_id;
      const history = await listChat(kv, [r, s], { limit: 500 });
      const expected = sent.filter((m) => m.chat_id === chat).sort((x, y) =>
        x.seq - y.seq
      );
      assert.deepEqual(history.map((m) => m._id), expected.map((m) => m._id));
    }
  }
});

Deno.test("two writers on one KV file racing to one recipient: ordered, nothing lost", async () => {
  await using store = await fileKv();
  const second = await Deno.openKv(store.path);
  try {
    const one = new MessageWriter(store.kv);
    const two = new MessageWriter(second);
    const to = newId();
    const [a, b] = [newId(), newId()];
    const sends: Promise<Message>[] = [];
    const track = (p: Promise<Message>) => {
      p.catch(() => {}); // settled below; a rejection fails Promise.all
      sends.push(p);
    };
    for (let i = 0; i < 150; i++) {
      track(one.send(message(to, a, i)));
      track(two.send(message(to, b, i)));
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    const sent = await Promise.all(sends);
    const box = await inbox(store.kv, to);
    assertIncreasing(box, to);
    await assertPositionsDense(store.kv, [to]);
    assert.equal(box.length, 300);
    assert.deepEqual(
      new Set(box.map((m) => m._id)),
      new Set(sent.map((m) => m._id)),
    );
    // Each writer's messages keep their order in the inbox.
    for (const from of [a, b]) {
      const chats = box.filter((m) => m.from_user === from).map((m) => m.chat);
      assert.deepEqual(
        chats,
        Array.from({ length: 150 }, (_, i) => message(to, from, i).chat),
      );
    }
    assert.equal(await unreadFrom(store.kv, to, a), 150);
    assert.equal(await unreadFrom(store.kv, to, b), 150);
  } finally {
    second.close();
  }
});

Deno.test("a writer reads the sequence head only when another writer moved it", async () => {
  await using kv = await memoryKv();
  // Counts the writer's reads of the head: its cached head spares them.
  let headReads = 0;
  const counting = new Proxy(kv, {
    get(target, prop) {
      if (prop === "get") {
        return (key: Deno.KvKey) => {
          if (key[0] === "delivery_seq") headReads++;
          return target.get(key);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const one = new MessageWriter(counting);
  const two = new MessageWriter(kv);
  const to = newId();
  const [a, b] = [newId(), newId()];
  assert.equal((await one.send(message(to, a, 0))).seq, 1);
  assert.equal(headReads, 1, "the first commit reads the head");
  for (let i = 1; i <= 5; i++) {
    assert.equal((await one.send(message(to, a, i))).seq, i + 1);
  }
  assert.equal(headReads, 1, "its own commits move the head it knows");

  assert.equal((await two.send(message(to, b, 0))).seq, 7);
  // The cached head is stale now: the check fails, the head is read again.
  assert.equal((await one.send(message(to, a, 6))).seq, 8);
  assert.equal(headReads, 2);
  const box = await inbox(kv, to);
  assertIncreasing(box, to);
  await assertPositionsDense(kv, [to]);
  assert.deepEqual(box.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("a full queue refuses with 503 instead of growing", async () => {
  await using kv = await memoryKv();
  const writer = new MessageWriter(kv, { maxQueue: 5 });
  const to = newId();
  const from = newId();
  const accepted = Array.from(
    { length: 5 },
    (_, i) => writer.send(message(to, from, i)),
  );
  await assert.rejects(
    writer.send(message(to, from, 99)),
    (err) => err instanceof AppError && err.status === 503,
  );
  assert.equal((await Promise.all(accepted)).length, 5);
  assert.equal(await storeHead(kv), 5);
});

Deno.test("readInbox pages after a cursor; inboxPositionOf finds a message", async () => {
  await using kv = await memoryKv();
  const writer = new MessageWriter(kv);
  const to = newId();
  const from = newId();
  const sent: Message[] = [];
  for (let i = 0; i < 7; i++) {
    sent.push(await writer.send(message(to, from, i)));
  }

  assert.deepEqual((await readInbox(kv, to, 0, 3)).map((m) => m.seq), [
    1,
    2,
    3,
  ]);
  assert.deepEqual((await readInbox(kv, to, 3, 100)).map((m) => m.seq), [
    4,
    5,
    6,
    7,
  ]);
  assert.deepEqual(await readInbox(kv, to, 7), []);
  assert.equal(await inboxPositionOf(kv, to, sent[4]._id), 5);
  assert.equal(await inboxPositionOf(kv, to, newId()), null);
  // Another recipient's id is not a position in this inbox.
  const other = await writer.send(message(from, to, 0));
  assert.equal(await inboxPositionOf(kv, to, other._id), null);
  assert.equal(await inboxPositionOf(kv, from, other._id), other.seq);
});

Deno.test("the delivered cursor only moves forward", async () => {
  await using kv = await memoryKv();
  const who = newId();
  assert.equal(await deliveredCursor(kv, who), 0);
  await advanceDelivered(kv, who, 5);
  await advanceDelivered(kv, who, 3);
  assert.equal(await deliveredCursor(kv, who), 5);
  await Promise.all([8, 6, 7].map((n) => advanceDelivered(kv, who, n)));
  assert.equal(await deliveredCursor(kv, who), 8);
});

Deno.test("takeUnread returns the unread messages from one friend and clears only that count", async () => {
  await using kv = await memoryKv();
  const writer = new MessageWriter(kv);
  const toy = newId();
  const [mum, pal] = [newId(), newId()];
  await writer.send(message(toy, mum, 1));
  await writer.send(message(toy, mum, 2));
  await takeUnread(kv, toy, mum);
  const fresh = [
    await writer.send(message(toy, mum, 3)),
    await writer.send(message(toy, mum, 4)),
  ];
  await writer.send(message(toy, pal, 1));
  await writer.send(message(mum, toy, 1));

  assert.deepEqual(await unreadCounts(kv, toy), {
    count: 3,
    [mum]: 2,
    [pal]: 1,
  });
  const taken = await takeUnread(kv, toy, mum);
  assert.deepEqual(taken.map((m) => m._id), fresh.map((m) => m._id));
  assert.deepEqual(await takeUnread(kv, toy, mum), []);
  assert.deepEqual(await unreadCounts(kv, toy), { count: 1, [pal]: 1 });
  assert.deepEqual(await unreadCounts(kv, mum), { count: 1, [toy]: 1 });
});

Deno.test("clearUnread keeps a count that moved since it was read", async () => {
  await using kv = await memoryKv();
  const writer = new MessageWriter(kv);
  const [toy, mum] = [newId(), newId()];
  await writer.send(message(toy, mum, 1));
  const seen = await kv.get<Deno.KvU64>(unreadKey(toy, mum));
  await writer.send(message(toy, mum, 2));
  assert.equal(await clearUnread(kv, toy, mum, seen), false);
  assert.equal(await unreadFrom(kv, toy, mum), 2);
  assert.equal(await clearUnread(kv, toy, mum), true);
  assert.equal(await unreadFrom(kv, toy, mum), 0);
});

Deno.test("listChat is oldest first and pages back with before", async () => {
  await using kv = await memoryKv();
  const writer = new MessageWriter(kv);
  const [a, b] = [newId(), newId()];
  const sent: Message[] = [];
  for (let i = 0; i < 5; i++) {
    sent.push(await writer.send(message(i % 2 ? a : b, i % 2 ? b : a, i)));
  }
  const pair = [a, b] as const;
  assert.deepEqual(
    (await listChat(kv, pair)).map((m) => m._id),
    sent.map((m) => m._id),
  );
  assert.deepEqual(
    (await listChat(kv, [b, a])).map((m) => m._id),
    sent.map((m) => m._id),
    "either member order",
  );
  assert.deepEqual(
    (await listChat(kv, pair, { limit: 2 })).map((m) => m._id),
    sent.slice(3).map((m) => m._id),
  );
  assert.deepEqual(
    (await listChat(kv, pair, { before: sent[3]._id, limit: 2 })).map((m) =>
      m._id
    ),
    sent.slice(1, 3).map((m) => m._id),
  );
  for (const m of await listChat(kv, pair)) {
    assert.equal(m.message, m.chat);
    assert.equal(typeof m.create_time, "number");
  }
  const files = await deleteConversation(kv, a, b);
  assert.deepEqual(files.sort(), sent.map((m) => m.chat).sort());
  assert.deepEqual(await listChat(kv, pair), []);
  assert.deepEqual(await unreadCounts(kv, a), { count: 0 });
  assert.deepEqual(await sendersTo(kv, b), []);
});

Deno.test("an inbox with a dozen senders reads in order across them", async () => {
  await using kv = await memoryKv();
  const writer = new MessageWriter(kv);
  const to = newId();
  const senders = Array.from({ length: 12 }, () => newId());
  const sent = await Promise.all(
    Array.from(
      { length: 60 },
      (_, i) => writer.send(message(to, senders[(i * 7) % 12], i)),
    ),
  );
  assert.deepEqual(await sendersTo(kv, to), [...senders].sort());
  const paged: Message[] = [];
  for (let after = 0;;) {
    const page = await readInbox(kv, to, after, 7);
    if (!page.length) break;
    paged.push(...page);
    after = page.at(-1)!.seq;
  }
  assert.deepEqual(
    paged.map((m) => m._id),
    [...sent].sort((x, y) => x.seq - y.seq).map((m) => m._id),
  );
  const counts = await unreadCounts(kv, to);
  assert.equal(counts.count, 60);
  for (const s of senders) assert.equal(counts[s], 5);
  const last = sent.find((m) => m.from_user === senders[11])!;
  assert.equal(await inboxPositionOf(kv, to, last._id), last.seq);
  // Ids hold the commit time and sort by it.
  for (const m of sent) {
    assert.match(m._id, /^[0-9a-f]{24}$/);
    assert.equal(
      parseInt(m._id.slice(0, 12), 16),
      Math.round(m.create_time * 1000),
    );
  }
});

Deno.test("replay reaches back 30 days at most", async () => {
  await using kv = await memoryKv();
  const writer = new MessageWriter(kv);
  const [to, from] = [newId(), newId()];
  assert.equal(await replayFloor(kv), 0, "an empty store replays from 0");
  for (let i = 0; i < 3; i++) await writer.send(message(to, from, i));
  assert.equal(await replayFloor(kv), 0, "today's messages all replay");
  const later = Date.now() + 31 * 24 * 3600 * 1000;
  assert.equal(await replayFloor(kv, later), 3, "a month on, none do");
  // History is not the replay window: it keeps everything.
  assert.equal((await listChat(kv, [to, from])).length, 3);
});

/** A schema 1 store: 5 messages between a toy and its parent, with counts. */
async function schema1Store(kv: Deno.Kv) {
  const [toy, mum] = [newId(), newId()];
  const chatId = newId();
  const t0 = Date.now() - 60_000;
  const v1 = Array.from({ length: 5 }, (_, i) => {
    const toToy = i % 2 === 0;
    return {
      _id: newId(t0 + i),
      chat_id: chatId,
      from_user: toToy ? mum : toy,
      to_user: toToy ? toy : mum,
      chat: `v1_${i}.mp3`,
      message: `v1_${i}.mp3`,
      friend_type: toToy ? "app" : "toy",
      create_time: (t0 + i) / 1000,
      seq: i + 1,
    };
  });
  const op = kv.atomic().set(["meta", "schema"], 1).set(["delivery_seq"], 5);
  for (const m of v1) {
    op.set(["messages", chatId, m._id], m).set(["inbox", m.to_user, m.seq], m);
  }
  op.set(["unread", toy, mum], new Deno.KvU64(3n));
  op.set(["unread", mum, toy], new Deno.KvU64(1n));
  await op.commit();

  return { toy, mum, v1 };
}

Deno.test("migrating a schema 1 store keeps every message, order, file and count", async () => {
  await using kv = await memoryKv();
  const { toy, mum, v1 } = await schema1Store(kv);
  assert.equal(await migrate(kv, SCHEMA_MIGRATIONS), 3);

  const history = await listChat(kv, [toy, mum]);
  assert.deepEqual(history.map((m) => m.chat), v1.map((m) => m.chat));
  assert.deepEqual(history.map((m) => m.seq), [1, 2, 3, 4, 5]);
  assert.deepEqual(
    history.map((m) => [m.from_user, m.to_user, m.friend_type, m.create_time]),
    v1.map((m) => [m.from_user, m.to_user, m.friend_type, m.create_time]),
  );
  assert.deepEqual(await unreadCounts(kv, toy), { count: 3, [mum]: 3 });
  assert.deepEqual(await unreadCounts(kv, mum), { count: 1, [toy]: 1 });
  assert.deepEqual(
    (await readInbox(kv, toy, 0)).map((m) => m.chat),
    ["v1_0.mp3", "v1_2.mp3", "v1_4.mp3"],
  );
  for (const prefix of [["messages"], ["unread"]]) {
    for await (const e of kv.list({ prefix })) {
      assert.fail(`old key left: ${JSON.stringify(e.key)}`);
    }
  }
  for await (const e of kv.list({ prefix: ["inbox"] })) {
    assert.equal(
      e.key.length,
      4,
      `old inbox key left: ${JSON.stringify(e.key)}`,
    );
  }
  // New messages continue after the migrated positions.
  const next = await new MessageWriter(kv).send(message(toy, mum, 9));
  assert.equal(next.seq, 6);
  assert.equal(await replayFloor(kv), 0);
  // Running it again finds nothing left to move.
  await migrateToSchema2(kv);
  assert.equal((await listChat(kv, [toy, mum])).length, 6);
});

Deno.test("two instances migrating one schema 1 store at once: each message once, positions kept", async () => {
  // Two instances in one process share the store handle (as openKv does).
  await using kv = await memoryKv();
  const { toy, mum } = await schema1Store(kv);
  const versions = await Promise.all([
    migrate(kv, SCHEMA_MIGRATIONS, { pollMs: 5 }),
    migrate(kv, SCHEMA_MIGRATIONS, { pollMs: 5 }),
  ]);
  assert.deepEqual(versions, [3, 3]);
  const history = await listChat(kv, [toy, mum]);
  assert.deepEqual(history.map((m) => m.seq), [1, 2, 3, 4, 5]);
  assert.equal(await storeHead(kv), 5);
  const next = await new MessageWriter(kv).send(message(mum, toy, 7));
  assert.equal(next.seq, 6);
  assert.equal((await listChat(kv, [toy, mum])).length, 6);
});

Deno.test("a key of the old layout left in an inbox ends the sender scan", async () => {
  await using kv = await memoryKv();
  const [to, from] = [newId(), newId()];
  const sent = await new MessageWriter(kv).send(message(to, from, 1));
  await kv.set(["inbox", to, 99], { stale: true });
  assert.deepEqual(await sendersTo(kv, to), [from]);
  assert.deepEqual(
    (await readInbox(kv, to, 0)).map((m) => m._id),
    [sent._id],
  );
});

Deno.test("listChat refuses a before id that is not a message of the pair", async () => {
  await using kv = await memoryKv();
  const writer = new MessageWriter(kv);
  const [a, b, c] = [newId(), newId(), newId()];
  const ab = await writer.send(message(a, b, 1));
  const ac = await writer.send(message(a, c, 1));
  for (const before of [ac._id, newId(), "0".repeat(24)]) {
    await assert.rejects(
      listChat(kv, [a, b], { before }),
      (err) => err instanceof AppError && err.status === 400,
      before,
    );
  }
  assert.deepEqual(await listChat(kv, [a, b], { before: ab._id }), []);
});

Deno.test("a catch-up reads the recipient's position log: every sender, in order, after the cursor; deleted mail leaves it", async () => {
  await using kv = await memoryKv();
  const toy = newId();
  const senders = Array.from({ length: 30 }, () => newId());
  const writer = new MessageWriter(kv);
  const sent: Message[] = [];
  for (let round = 0; round < 3; round++) {
    sent.push(
      ...await Promise.all(
        senders.map((from, i) =>
          writer.send(message(toy, from, round * 100 + i))
        ),
      ),
    );
  }
  const all = await readInbox(kv, toy, 0, 1000);
  assert.deepEqual(all.map((m) => m._id), sent.map((m) => m._id));
  const cursor = sent[44].seq;
  assert.deepEqual(
    (await readInbox(kv, toy, cursor, 10)).map((m) => m._id),
    sent.slice(45, 55).map((m) => m._id),
  );
  assert.equal(await inboxPositionOf(kv, toy, sent[44]._id), cursor);
  assert.equal(await inboxPositionOf(kv, senders[0], sent[44]._id), null);

  await deleteMessage(kv, sent[0]);
  await deleteConversation(kv, toy, senders[1]);
  const left = (await readInbox(kv, toy, 0, 1000)).map((m) => m._id);
  assert.deepEqual(
    left,
    sent.filter((m, i) => i !== 0 && m.from_user !== senders[1]).map((m) =>
      m._id
    ),
  );
  assert.equal(await inboxPositionOf(kv, toy, sent[0]._id), null);
  await deleteInbox(kv, toy);
  assert.deepEqual(await readInbox(kv, toy, 0, 1000), []);
  for await (const e of kv.list({ prefix: ["inbox_by_seq"] })) {
    assert.fail(`log entry left: ${JSON.stringify(e.key)}`);
  }
});
