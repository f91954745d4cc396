import { AppError } from "./errors.ts";
import { newId } from "./ids.ts";
import { deleteKeys } from "./kv.ts";

/**
 * Voice messages, per-recipient inboxes, unread counters and delivery keys.
 *
 * | key                            | value                                  |
 * | ------------------------------ | -------------------------------------- |
 * | ["messages", chatId, msgId]    | Message (the chat's history)           |
 * | ["inbox", recipientId, seq]    | Message (delivery log, kept 30 days)   |
 * | ["delivery", recipientId]      | Deno.KvU64: bumped by every message and signal to it |
 * | ["delivery_bell", shard]       | Deno.KvU64: bumped with the delivery key of any principal in the shard |
 * | ["delivery_seq"]               | number: the last inbox position given out |
 * | ["delivered", recipientId]     | number: last seq sent to a socket      |
 * | ["unread", ownerId, fromId]    | Deno.KvU64, bumped with `sum`          |
 *
 * A message is committed in one atomic op with its inbox entry, the
 * unread `sum` and a `sum` on the recipient's delivery key. Inbox positions
 * come from one store-wide sequence whose versionstamp every commit checks,
 * so positions grow in commit order even with several instances writing
 * (a recipient's positions have gaps; they never go back). One check per
 * commit lets a commit carry messages to any number of recipients.
 * Instances `watch` delivery keys and read "everything after my cursor".
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
  /** Position in the recipient's inbox. */
  seq: number;
}

/** What a sender supplies; ids, time and seq are assigned here. */
export type NewMessage = Pick<
  Message,
  "chat_id" | "from_user" | "to_user" | "chat" | "friend_type"
>;

const INBOX_TTL_MS = 30 * 24 * 3600 * 1000;
/** Messages per commit: 4 mutations each, well under 1000 and 800 KiB. */
const MAX_MESSAGES_PER_COMMIT = 150;

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

  constructor(kv: Deno.Kv, { maxQueue = 20_000 }: { maxQueue?: number } = {}) {
    this.#kv = kv;
    this.#maxQueue = maxQueue;
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
          const messages = await commitBatch(
            this.#kv,
            batch.map((p) => p.input),
          );
          batch.forEach((p, i) => p.resolve(messages[i]));
        } catch (err) {
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
export const BELL_SHARDS = 1024;

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

/**
 * Commits a batch of messages in one atomic op, retrying when another
 * writer took inbox positions meanwhile.
 */
async function commitBatch(
  kv: Deno.Kv,
  inputs: NewMessage[],
): Promise<Message[]> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const head = await kv.get<number>(SEQ_KEY);
    let seq = head.value ?? 0;
    const op = kv.atomic().check(head);
    const now = Date.now();
    const unread = new Map<string, [string, string, number]>();
    const messages = inputs.map((input) => {
      const message: Message = {
        _id: newId(now),
        ...input,
        message: input.chat,
        create_time: now / 1000,
        seq: ++seq,
      };
      op.set(["messages", input.chat_id, message._id], message)
        .set(["inbox", input.to_user, seq], message, {
          expireIn: INBOX_TTL_MS,
        });
      const pair = `${input.to_user}/${input.from_user}`;
      const counted = unread.get(pair);
      if (counted) counted[2]++;
      else unread.set(pair, [input.to_user, input.from_user, 1]);
      return message;
    });
    for (const [to, from, n] of unread.values()) {
      op.sum(["unread", to, from], BigInt(n));
    }
    // One sum per recipient and one per bell shard, however many messages.
    const shards = new Set<number>();
    for (const to of new Set(inputs.map((m) => m.to_user))) {
      op.sum(deliveryKey(to), 1n);
      shards.add(shardOf(to));
    }
    for (const shard of shards) op.sum(bellKey(shard), 1n);
    op.set(SEQ_KEY, seq);
    const res = await op.commit().catch((err) => {
      if (isStoreLocked(err)) return { ok: false as const };
      throw err;
    });
    if (res.ok) return messages;
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

/** The last inbox position of a recipient (0 when it has none). */
export async function inboxHead(
  kv: Deno.Kv,
  recipient: string,
): Promise<number> {
  const iter = kv.list<Message>({ prefix: ["inbox", recipient] }, {
    reverse: true,
    limit: 1,
  });
  for await (const e of iter) return e.value.seq;
  return 0;
}

/** Up to `limit` inbox messages of `recipient` after position `after`. */
export async function readInbox(
  kv: Deno.Kv,
  recipient: string,
  after: number,
  limit = 100,
): Promise<Message[]> {
  const out: Message[] = [];
  const iter = kv.list<Message>({
    start: ["inbox", recipient, after + 1],
    end: ["inbox", recipient, Number.MAX_SAFE_INTEGER],
  }, { limit });
  for await (const e of iter) out.push(e.value);
  return out;
}

/** The inbox position of message `id` of `recipient`, searching recent entries. */
export async function inboxPositionOf(
  kv: Deno.Kv,
  recipient: string,
  id: string,
): Promise<number | null> {
  const iter = kv.list<Message>({ prefix: ["inbox", recipient] }, {
    reverse: true,
    limit: 1000,
  });
  for await (const e of iter) if (e.value._id === id) return e.value.seq;
  return null;
}

/** The last inbox position handed to one of the recipient's sockets. */
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

/** A chat's history, oldest first; `before` (a message id) pages backwards. */
export async function listChat(
  kv: Deno.Kv,
  chatId: string,
  { before, limit = 100 }: { before?: string; limit?: number } = {},
): Promise<Message[]> {
  const out: Message[] = [];
  const selector = before
    ? { prefix: ["messages", chatId], end: ["messages", chatId, before] }
    : { prefix: ["messages", chatId] };
  for await (const e of kv.list<Message>(selector, { reverse: true, limit })) {
    out.push(e.value);
  }
  return out.reverse();
}

/** The latest `limit` messages of a chat sent by `from` to `to`, oldest first. */
export async function latestFrom(
  kv: Deno.Kv,
  chatId: string,
  from: string,
  limit: number,
): Promise<Message[]> {
  const out: Message[] = [];
  if (limit <= 0) return out;
  for await (
    const e of kv.list<Message>({ prefix: ["messages", chatId] }, {
      reverse: true,
    })
  ) {
    if (e.value.from_user === from) out.push(e.value);
    if (out.length >= limit) break;
  }
  return out.reverse();
}

/** Unread messages of `owner` from `from`. */
export async function unreadFrom(
  kv: Deno.Kv,
  owner: string,
  from: string,
): Promise<number> {
  const v = (await kv.get<Deno.KvU64>(["unread", owner, from])).value;
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
  const current = entry ?? await kv.get<Deno.KvU64>(["unread", owner, from]);
  if (current.versionstamp === null) return true;
  const res = await kv.atomic().check(current).delete(["unread", owner, from])
    .commit();
  return res.ok;
}

/**
 * Reads the unread messages of `owner` from `from` in chat `chatId` and
 * clears the count, atomically with respect to new messages: a message
 * that lands meanwhile is returned next time, never lost.
 */
export async function takeUnread(
  kv: Deno.Kv,
  chatId: string,
  owner: string,
  from: string,
): Promise<Message[]> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get<Deno.KvU64>(["unread", owner, from]);
    const n = entry.value ? Number(entry.value.value) : 0;
    const messages = await latestFrom(kv, chatId, from, n);
    if (await clearUnread(kv, owner, from, entry)) return messages;
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
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["unread", ownerId] })) {
    const n = Number(e.value.value);
    if (n === 0) continue;
    out[e.key[2] as string] = n;
    out.count += n;
  }
  return out;
}

/** Deletes a chat's whole history (the blobs stay to the caller). */
export async function deleteChatHistory(
  kv: Deno.Kv,
  chatId: string,
): Promise<string[]> {
  const keys: Deno.KvKey[] = [];
  const files: string[] = [];
  for await (const e of kv.list<Message>({ prefix: ["messages", chatId] })) {
    keys.push(e.key);
    files.push(e.value.chat);
  }
  await deleteKeys(kv, keys);
  return files;
}

/** Keys of `recipient`'s inbox entries sent by `from` (to forget an unbound toy). */
export async function inboxEntriesFrom(
  kv: Deno.Kv,
  recipient: string,
  from: string,
): Promise<Deno.KvKey[]> {
  const keys: Deno.KvKey[] = [];
  for await (const e of kv.list<Message>({ prefix: ["inbox", recipient] })) {
    if (e.value.from_user === from) keys.push(e.key);
  }
  return keys;
}

/** Deletes one message from its chat's history and the recipient's inbox. */
export async function deleteMessage(
  kv: Deno.Kv,
  message: Message,
): Promise<void> {
  await kv.atomic()
    .delete(["messages", message.chat_id, message._id])
    .delete(["inbox", message.to_user, message.seq])
    .commit();
}
