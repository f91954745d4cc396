import { deleteKeys } from "./kv.ts";

/**
 * Voice messages of a chat.
 *
 * | key                          | value    |
 * | ---------------------------- | -------- |
 * | ["messages", chatId, msgId]  | Message  |
 */

/** Deletes a chat's whole history. */
export async function deleteChatHistory(
  kv: Deno.Kv,
  chatId: string,
): Promise<void> {
  const keys: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: ["messages", chatId] })) {
    keys.push(e.key);
  }
  await deleteKeys(kv, keys);
}

/**
 * Unread counters: `["unread", ownerId, fromId]` holds a Deno.KvU64 that
 * message commits bump with `sum` and readers reset.
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
