import { newId } from "../store/ids.ts";
import { deleteKeys } from "../store/kv.ts";

/**
 * Chat windows: one per pair of friends.
 *
 * | key                        | value  |
 * | -------------------------- | ------ |
 * | ["chats", id]              | Chat   |
 *
 * Creating a chat is always part of a larger atomic op (bind, accepted
 * friend request), so this module hands out the mutation, not a commit.
 */

/** A chat window between two principals. */
export interface Chat {
  _id: string;
  user_list: [string, string];
  created_at: number;
}

/** A new chat value for two members (not yet stored). */
export function newChat(a: string, b: string): Chat {
  return { _id: newId(), user_list: [a, b], created_at: Date.now() / 1000 };
}

/** Adds the chat's set to an atomic op. */
export function setChat(
  op: Deno.AtomicOperation,
  chat: Chat,
): Deno.AtomicOperation {
  return op.set(["chats", chat._id], chat);
}

/** Reads a chat, or null. */
export async function getChat(kv: Deno.Kv, id: string): Promise<Chat | null> {
  return (await kv.get<Chat>(["chats", id])).value;
}

/** Deletes chat windows (their history is messages.ts's); idempotent. */
export async function deleteChats(kv: Deno.Kv, ids: string[]): Promise<void> {
  await deleteKeys(kv, ids.map((id) => ["chats", id]));
}
