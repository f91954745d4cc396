import type { Metrics } from "../platform/metrics.ts";
import { AppError } from "../platform/errors.ts";
import { deleteKeys } from "../store/kv.ts";
import { ID_PATTERN } from "../store/ids.ts";

/**
 * Voice messages, unread counters and delivery keys.
 *
 * | key                              | value                                  |
 * | -------------------------------- | -------------------------------------- |
 * | ["inbox", toId, fromId, seq]     | StoredMessage: one message, kept as history |
 * | ["inbox", toId, fromId, true]    | Deno.KvU64: unread messages from `fromId`, bumped with `sum` |
 * | ["inbox_by_seq", toId, seq]      | LoggedMessage: the same message in the recipient's position log |
 * | ["delivery", recipientId]        | Deno.KvU64: bumped by every message and signal to it |
 * | ["delivery_bell", shard]         | Deno.KvU64: bumped with the delivery key of any principal in the shard |
 * | ["delivery_seq"]                 | number: the last message position given out |
 * | ["seq_floor", day]               | Deno.KvU64: the first position given out that day (UTC) |
 * | ["delivered", recipientId]       | number: last seq sent to a socket      |
 *
 * Each message is stored once, under its recipient and sender: that range
 * is the recipient's mail from one friend, in order, and the two ranges of
 * a pair are the pair's chat history. The unread counter (`true` sorts
 * after every number) sits right after the newest message, so a message
 * and its count land on the same storage page: on a SQLite file the cost
 * of a commit follows the number of pages it touches, and this layout
 * touches one random page per message where a separate history, inbox
 * and counter touched three.
 *
 * The position log (`inbox_by_seq`) is the recipient's mail from everyone
 * in position order, written in the same commit as the message: a
 * catch-up ("everything after my position") is one `kv.list` whose cost
 * follows what is new, not how many correspondents the recipient has
 * (one list per sender cost 37 ms at 200 senders).
 *
 * Positions (`seq`) come from one store-wide sequence whose versionstamp
 * every commit checks, so they grow in commit order even with several
 * instances writing. One check per commit lets a commit carry messages to
 * any number of recipients (group commit). A message id is its commit
 * time (12 hex of ms) followed by its position (12 hex), so ids sort by
 * time and an id alone finds its place. Instances `watch` delivery keys
 * and read "everything after my cursor" (`readInbox`).
 */

/** A voice message, in the seed's chat-record shape plus ids. */
export interface Message {
  _id: string;
  chat_id: string;
  from_user: string;
  to_user: string;
  /** The MP3 file name, under /get_chat/. */
  chat: string;
  /** Same file name under seed 002's key. */
  message: string;
  /** The sender's kind. */
  friend_type: "app" | "toy";
  /** Seconds since the epoch (float), as the seed. */
  create_time: number;
  /** Position in the store-wide message sequence. */
  seq: number;
}

/** What a sender supplies; ids, time and seq are assigned here. */
export type NewMessage = Pick<
  Message,
  "chat_id" | "from_user" | "to_user" | "chat" | "friend_type"
>;

/**
 * What is stored: the rest is in the key (recipient, sender, seq) or
 * follows from it (the id). Compact, because bytes written cost time.
 */
type StoredMessage = [
  chatId: string,
  file: string,
  kind: 0 | 1,
  createdMs: number,
];

/** A message in the position log: its sender, then the stored fields. */
type LoggedMessage = [from: string, ...StoredMessage];

/** Where the unread counter sits in a sender's range. */
const UNREAD = true;
/** Reconnect replay reaches back at most this far. */
const REPLAY_WINDOW_MS = 30 * 24 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;
/**
 * Messages per commit: at most 5 mutations each (message, log entry,
 * unread, delivery and bell sums), so under 1000 mutations and 800 KiB.
 */
const MAX_MESSAGES_PER_COMMIT = 180;

function messageKey(to: string, from: string, seq: number): Deno.KvKey {
  return ["inbox", to, from, seq];
}

/** The entry of the message at `seq` in `to`'s position log. */
function logKey(to: string, seq: number): Deno.KvKey {
  return ["inbox_by_seq", to, seq];
}

/** The unread counter of `owner` for messages from `from`. */
export function unreadKey(owner: string, from: string): Deno.KvKey {
  return ["inbox", owner, from, UNREAD];
}

/** The id of the message at `seq`, committed at `ms`. */
function messageId(ms: number, seq: number): string {
  return ms.toString(16).padStart(12, "0") +
    seq.toString(16).padStart(12, "0");
}

/** The position encoded in a message id (NaN for a malformed id). */
function seqOfId(id: string): number {
  return ID_PATTERN.test(id) ? parseInt(id.slice(12), 16) : NaN;
}

function toStored(m: Message): StoredMessage {
  return [
    m.chat_id,
    m.chat,
    m.friend_type === "toy" ? 1 : 0,
    Math.round(m.create_time * 1000),
  ];
}

function fromEntry(key: Deno.KvKey, v: StoredMessage): Message {
  const [, to, from, seq] = key as [string, string, string, number];
  const [chatId, file, kind, ms] = v;
  return {
    _id: messageId(ms, seq),
    chat_id: chatId,
    from_user: from,
    to_user: to,
    chat: file,
    message: file,
    friend_type: kind === 1 ? "toy" : "app",
    create_time: ms / 1000,
    seq,
  };
}

function fromLogEntry(key: Deno.KvKey, v: LoggedMessage): Message {
  const [, to, seq] = key as [string, string, number];
  const [from, ...stored] = v;
  return fromEntry(["inbox", to, from, seq], stored);
}

/** Every message of a sender's range (not its counter). */
function messageRange(to: string, from: string, after = 0, upTo?: number) {
  return {
    start: messageKey(to, from, after + 1),
    end: messageKey(to, from, (upTo ?? Number.MAX_SAFE_INTEGER - 1) + 1),
  };
}
interface Pending {
  input: NewMessage;
  resolve: (m: Message) => void;
  reject: (e: unknown) => void;
}

/**
 * Commits messages, grouping those that arrive together into one atomic
 * op (group commit). Each `send` resolves only after its commit: a resolved
 * message is durable.
 */
export class MessageWriter {
  #kv: Deno.Kv;
  #queue: Pending[] = [];
  #flushing = false;
  #maxQueue: number;
  #metrics: Metrics | undefined;
  /** The sequence head as this writer's last commit left it. */
  #head: Head | null = null;

  constructor(
    kv: Deno.Kv,
    { maxQueue = 20_000, metrics }: { maxQueue?: number; metrics?: Metrics } =
      {},
  ) {
    this.#kv = kv;
    this.#maxQueue = maxQueue;
    this.#metrics = metrics;
  }

  /** Queues a message for the next commit; resolves once it is durable. */
  send(input: NewMessage): Promise<Message> {
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new AppError(503, "too many messages in flight; retry"),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length) {
        const batch = this.#takeBatch();
        try {
          const { messages, head } = await commitBatch(
            this.#kv,
            batch.map((p) => p.input),
            this.#head,
            this.#metrics,
          );
          this.#head = head;
          batch.forEach((p, i) => p.resolve(messages[i]));
        } catch (err) {
          this.#head = null;
          batch.forEach((p) => p.reject(err));
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #takeBatch(): Pending[] {
    return this.#queue.splice(0, MAX_MESSAGES_PER_COMMIT);
  }
}

/** The delivery key of a principal: bumped by everything sent to it. */
export function deliveryKey(principalId: string): Deno.KvKey {
  return ["delivery", principalId];
}

/** Bell shards: instances watch these, not one key per principal. */
const BELL_SHARDS = 1024;

/** The bell shard of a principal (FNV-1a of its id). */
export function shardOf(principalId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < principalId.length; i++) {
    hash = Math.imul(hash ^ principalId.charCodeAt(i), 0x01000193);
  }
  return (hash >>> 0) % BELL_SHARDS;
}

/** The bell key of a shard. */
export function bellKey(shard: number): Deno.KvKey {
  return ["delivery_bell", shard];
}

/**
 * Adds to `op` what tells instances that `principalId` has something new:
 * a `sum` on its delivery key and on its shard's bell.
 */
export function ringDelivery(
  op: Deno.AtomicOperation,
  principalId: string,
): Deno.AtomicOperation {
  return op.sum(deliveryKey(principalId), 1n).sum(
    bellKey(shardOf(principalId)),
    1n,
  );
}

const SEQ_KEY: Deno.KvKey = ["delivery_seq"];

function floorKey(ms: number): Deno.KvKey {
  return ["seq_floor", Math.floor(ms / DAY_MS)];
}

/** The last position given out, and the versionstamp that wrote it. */
interface Head {
  seq: number;
  versionstamp: string | null;
}

async function readHead(kv: Deno.Kv): Promise<Head> {
  const entry = await kv.get<number>(SEQ_KEY);
  return { seq: entry.value ?? 0, versionstamp: entry.versionstamp };
}

/**
 * Commits a batch of messages in one atomic op, retrying when another
 * writer took positions meanwhile. `known` is the head this writer's last
 * commit left: when nobody wrote since, the commit needs no read first
 * (its check fails otherwise, and the head is read again).
 */
async function commitBatch(
  kv: Deno.Kv,
  inputs: NewMessage[],
  known: Head | null,
  metrics?: Metrics,
): Promise<{ messages: Message[]; head: Head }> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const head = attempt === 0 && known ? known : await readHead(kv);
    let seq = head.seq;
    const op = kv.atomic().check({
      key: SEQ_KEY,
      versionstamp: head.versionstamp,
    });
    const now = Date.now();
    op.min(floorKey(now), BigInt(seq + 1));
    const unread = new Map<string, [string, string, number]>();
    const messages = inputs.map((input) => {
      seq++;
      const message: Message = {
        _id: messageId(now, seq),
        ...input,
        message: input.chat,
        create_time: now / 1000,
        seq,
      };
      const stored = toStored(message);
      op.set(messageKey(input.to_user, input.from_user, seq), stored);
      op.set(logKey(input.to_user, seq), [input.from_user, ...stored]);
      const pair = `${input.to_user}/${input.from_user}`;
      const counted = unread.get(pair);
      if (counted) counted[2]++;
      else unread.set(pair, [input.to_user, input.from_user, 1]);
      return message;
    });
    for (const [to, from, n] of unread.values()) {
      op.sum(unreadKey(to, from), BigInt(n));
    }
    // One sum per recipient and one per bell shard, however many messages.
    const shards = new Set<number>();
    for (const to of new Set(inputs.map((m) => m.to_user))) {
      op.sum(deliveryKey(to), 1n);
      shards.add(shardOf(to));
    }
    for (const shard of shards) op.sum(bellKey(shard), 1n);
    op.set(SEQ_KEY, seq);
    const started = performance.now();
    const res = await op.commit().catch((err) => {
      if (isStoreLocked(err)) return { ok: false as const };
      throw err;
    });
    metrics?.observe(
      "babble_kv_commit_seconds",
      { what: "messages", outcome: res.ok ? "ok" : "retry" },
      (performance.now() - started) / 1000,
    );
    if (res.ok) {
      return { messages, head: { seq, versionstamp: res.versionstamp } };
    }
    // Another writer took positions: read the head again, after a pause
    // (none before the first re-read: a cached head was merely stale).
    if (attempt === 0 && known) continue;
    await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
  }
  throw new AppError(503, "message store is busy; retry");
}

/**
 * True for SQLite's "database is locked": another handle on the same KV
 * file (a second instance) held the write lock. Worth a retry, like a
 * failed check.
 */
function isStoreLocked(err: unknown): boolean {
  return err instanceof Error && /database is locked/i.test(err.message);
}

/** The last position given out in the whole store (0 when none). */
export async function storeHead(kv: Deno.Kv): Promise<number> {
  return (await kv.get<number>(SEQ_KEY)).value ?? 0;
}

/**
 * The position before the oldest message a reconnect replays: messages
 * older than the replay window stay in history but are not pushed again.
 */
export async function replayFloor(
  kv: Deno.Kv,
  now = Date.now(),
): Promise<number> {
  const iter = kv.list<Deno.KvU64>({
    start: floorKey(now - REPLAY_WINDOW_MS),
    end: ["seq_floor", Number.MAX_SAFE_INTEGER],
  }, { limit: 1 });
  for await (const e of iter) return Number(e.value.value) - 1;
  return await storeHead(kv);
}

/**
 * Everyone with mail in `owner`'s inbox, in id order: one read per
 * sender, jumping over each sender's messages (a skip scan).
 */
export async function sendersTo(
  kv: Deno.Kv,
  owner: string,
): Promise<string[]> {
  const out: string[] = [];
  let start: Deno.KvKey | undefined;
  for (;;) {
    const iter = kv.list(
      start
        ? { prefix: ["inbox", owner], start }
        : { prefix: ["inbox", owner] },
      { limit: 1 },
    );
    let next: unknown;
    for await (const e of iter) next = e.key[2];
    // Senders are strings; anything else (a key of an older layout) ends
    // the scan instead of looping on it.
    if (typeof next !== "string") return out;
    out.push(next);
    // "\0" appended sorts after every key whose third part is `next`.
    start = ["inbox", owner, `${next}\0`];
  }
}

/**
 * Up to `limit` messages of `recipient` after position `after`, in order.
 * Reads the store head first and nothing past it: every message at or
 * below the head is committed, so a reader never skips one that commits
 * while it reads.
 */
export async function readInbox(
  kv: Deno.Kv,
  recipient: string,
  after: number,
  limit = 100,
): Promise<Message[]> {
  const head = await storeHead(kv);
  if (head <= after) return [];
  const out: Message[] = [];
  const iter = kv.list<LoggedMessage>({
    start: logKey(recipient, after + 1),
    end: logKey(recipient, head + 1),
  }, { limit, batchSize: Math.min(limit, 500) });
  for await (const e of iter) out.push(fromLogEntry(e.key, e.value));
  return out;
}

/**
 * The position of message `id` in `recipient`'s inbox, or null when the
 * recipient has no such message.
 */
export async function inboxPositionOf(
  kv: Deno.Kv,
  recipient: string,
  id: string,
): Promise<number | null> {
  const seq = seqOfId(id);
  if (!Number.isSafeInteger(seq) || seq < 1) return null;
  const e = await kv.get<LoggedMessage>(logKey(recipient, seq));
  return e.value && fromLogEntry(e.key, e.value)._id === id ? seq : null;
}

/** The last position handed to one of the recipient's sockets. */
export async function deliveredCursor(
  kv: Deno.Kv,
  recipient: string,
): Promise<number> {
  return (await kv.get<number>(["delivered", recipient])).value ?? 0;
}

/** Moves the delivered cursor forward (never back). */
export async function advanceDelivered(
  kv: Deno.Kv,
  recipient: string,
  seq: number,
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await kv.get<number>(["delivered", recipient]);
    if ((entry.value ?? 0) >= seq) return;
    const res = await kv.atomic().check(entry).set(
      ["delivered", recipient],
      seq,
    ).commit().catch((err) => {
      if (isStoreLocked(err)) return { ok: false as const };
      throw err;
    });
    if (res.ok) return;
  }
}

/** Forgets a recipient's delivered cursor (a toy being unbound). */
export async function forgetDelivered(
  kv: Deno.Kv,
  recipient: string,
): Promise<void> {
  await kv.delete(["delivered", recipient]);
}

/** The latest `limit` messages one way (`from` to `to`) before `before`, newest first. */
async function latestOneWay(
  kv: Deno.Kv,
  to: string,
  from: string,
  limit: number,
  before = Number.MAX_SAFE_INTEGER,
): Promise<Message[]> {
  const out: Message[] = [];
  if (limit <= 0) return out;
  const iter = kv.list<StoredMessage>(
    messageRange(to, from, 0, before - 1),
    { reverse: true, limit },
  );
  for await (const e of iter) out.push(fromEntry(e.key, e.value));
  return out;
}

/**
 * The chat history of a pair, oldest first; `before` (a message id)
 * pages backwards.
 */
export async function listChat(
  kv: Deno.Kv,
  [a, b]: readonly [string, string],
  { before, limit = 100 }: { before?: string; limit?: number } = {},
): Promise<Message[]> {
  let beforeSeq: number | undefined;
  if (before !== undefined) {
    // The id must name a message of this pair: an id from elsewhere (or
    // from before schema 2) is refused, not read as some position.
    beforeSeq = seqOfId(before);
    const found = beforeSeq >= 1 && (await kv.getMany<StoredMessage[]>([
      messageKey(a, b, beforeSeq),
      messageKey(b, a, beforeSeq),
    ])).some((e) => e.value && fromEntry(e.key, e.value)._id === before);
    if (!found) {
      throw new AppError(
        400,
        `"before" ${before} is not a message of this chat`,
      );
    }
  }
  const [toA, toB] = await Promise.all([
    latestOneWay(kv, a, b, limit, beforeSeq),
    latestOneWay(kv, b, a, limit, beforeSeq),
  ]);
  return [...toA, ...toB].sort((x, y) => y.seq - x.seq).slice(0, limit)
    .reverse();
}

/** Unread messages of `owner` from `from`. */
export async function unreadFrom(
  kv: Deno.Kv,
  owner: string,
  from: string,
): Promise<number> {
  const v = (await kv.get<Deno.KvU64>(unreadKey(owner, from))).value;
  return v ? Number(v.value) : 0;
}

/**
 * Clears `owner`'s unread count for `from`, only if it still holds
 * `expected` (so a message committed meanwhile stays counted).
 * Returns false when the count moved.
 */
export async function clearUnread(
  kv: Deno.Kv,
  owner: string,
  from: string,
  entry?: Deno.KvEntryMaybe<Deno.KvU64>,
): Promise<boolean> {
  const current = entry ?? await kv.get<Deno.KvU64>(unreadKey(owner, from));
  if (current.versionstamp === null) return true;
  const res = await kv.atomic().check(current).delete(unreadKey(owner, from))
    .commit();
  return res.ok;
}

/**
 * Reads the unread messages of `owner` from `from` and clears the count,
 * atomically with respect to new messages: a message that lands meanwhile
 * is returned next time, never lost.
 */
export async function takeUnread(
  kv: Deno.Kv,
  owner: string,
  from: string,
): Promise<Message[]> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get<Deno.KvU64>(unreadKey(owner, from));
    const n = entry.value ? Number(entry.value.value) : 0;
    const messages = await latestOneWay(kv, owner, from, n);
    if (await clearUnread(kv, owner, from, entry)) return messages.reverse();
  }
  throw new AppError(503, "unread counter is busy; retry");
}

/**
 * Unread counters of `ownerId`: `{count: total, <fromId>: n, ...}`, as
 * /auto_login's `data.chat`.
 */
export async function unreadCounts(
  kv: Deno.Kv,
  ownerId: string,
): Promise<Record<string, number> & { count: number }> {
  const out: Record<string, number> & { count: number } = { count: 0 };
  const keys = (await sendersTo(kv, ownerId)).map((from) =>
    unreadKey(ownerId, from)
  );
  for (let i = 0; i < keys.length; i += 10) {
    const entries = await kv.getMany<Deno.KvU64[]>(keys.slice(i, i + 10));
    for (const e of entries) {
      const n = e.value ? Number(e.value.value) : 0;
      if (n === 0) continue;
      out[e.key[2] as string] = n;
      out.count += n;
    }
  }
  return out;
}

/**
 * Deletes everything `a` and `b` sent each other: both ranges with their
 * unread counters. Returns the voice files, for the caller to delete.
 */
export async function deleteConversation(
  kv: Deno.Kv,
  a: string,
  b: string,
): Promise<string[]> {
  return await deleteRanges(kv, [["inbox", a, b], ["inbox", b, a]]);
}

/** Deletes everything sent to `owner` (a toy being unbound). Returns the files. */
export async function deleteInbox(
  kv: Deno.Kv,
  owner: string,
): Promise<string[]> {
  return await deleteRanges(kv, [["inbox", owner], ["inbox_by_seq", owner]]);
}

/**
 * Deletes every key under `prefixes`, with each message's log entry;
 * returns the messages' voice files.
 */
async function deleteRanges(
  kv: Deno.Kv,
  prefixes: Deno.KvKey[],
): Promise<string[]> {
  const keys: Deno.KvKey[] = [];
  const files: string[] = [];
  for (const prefix of prefixes) {
    for await (const e of kv.list({ prefix })) {
      keys.push(e.key);
      if (e.key[0] === "inbox" && typeof e.key[3] === "number") {
        files.push((e.value as StoredMessage)[1]);
        keys.push(logKey(e.key[1] as string, e.key[3]));
      }
    }
  }
  await deleteKeys(kv, [
    ...new Map(keys.map((k) => [JSON.stringify(k), k])).values(),
  ]);
  return files;
}

/** Deletes one message (its unread count stays to the caller). */
export async function deleteMessage(
  kv: Deno.Kv,
  message: Message,
): Promise<void> {
  await kv.atomic()
    .delete(messageKey(message.to_user, message.from_user, message.seq))
    .delete(logKey(message.to_user, message.seq))
    .commit();
}

/**
 * Schema 2 → 3: the position log. Writes each message's log entry (set
 * only: a run cut short is simply run again), 100 per commit.
 */
export async function migrateToSchema3(kv: Deno.Kv): Promise<void> {
  let op = kv.atomic();
  let n = 0;
  for await (const e of kv.list<StoredMessage>({ prefix: ["inbox"] })) {
    const [, to, from, seq] = e.key;
    if (typeof seq !== "number") continue;
    op.set(logKey(to as string, seq), [from as string, ...e.value]);
    if (++n % 100 === 0) {
      await op.commit();
      op = kv.atomic();
    }
  }
  if (n % 100) await op.commit();
}

/** A message as schema 1 stored it (history and inbox copies). */
interface MessageV1 extends Omit<Message, "seq"> {
  seq?: number;
}

/**
 * Schema 1 → 2: one copy per message under ["inbox", to, from, seq] with
 * the unread counter beside it, replacing ["messages", chat, id] (history),
 * ["inbox", to, seq] (a 30-day copy) and ["unread", owner, from]. Each
 * step writes the new keys and deletes the old in one commit, so a run
 * cut short resumes where it stopped. Message ids change (an id now holds
 * its position); files, times and order stay.
 */
export async function migrateToSchema2(kv: Deno.Kv): Promise<void> {
  const batch: Deno.KvEntry<MessageV1>[] = [];
  const flush = async () => {
    for (;;) {
      // The head only grows: checked, and never set below what it holds.
      const headEntry = await kv.get<number>(SEQ_KEY);
      let head = headEntry.value ?? 0;
      const op = kv.atomic().check(headEntry);
      for (const e of batch) {
        const m = e.value;
        const known = Number.isSafeInteger(m.seq) && m.seq! > 0;
        const seq = known ? m.seq! : ++head;
        head = Math.max(head, seq);
        op.set(
          messageKey(m.to_user, m.from_user, seq),
          toStored({ ...m, seq }),
        ).delete(e.key);
        // A message that had no position gets a new one at the end; its
        // old day must not become that position's floor.
        if (known) {
          op.min(floorKey(Math.round(m.create_time * 1000)), BigInt(seq));
        }
      }
      op.set(SEQ_KEY, head);
      if ((await op.commit()).ok) break;
    }
    batch.length = 0;
  };
  for await (const e of kv.list<MessageV1>({ prefix: ["messages"] })) {
    batch.push(e);
    if (batch.length >= 200) await flush();
  }
  if (batch.length) await flush();
  const old: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: ["inbox"] })) {
    if (e.key.length === 3) old.push(e.key);
  }
  await deleteKeys(kv, old);
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["unread"] })) {
    const [, owner, from] = e.key as [string, string, string];
    // Checked: a count that moved meanwhile is read again on the next run.
    await kv.atomic().check(e).set(unreadKey(owner, from), e.value).delete(
      e.key,
    ).commit();
  }
}
