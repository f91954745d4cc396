import { deleteKeys } from "../store/kv.ts";
import { touch } from "../store/cache.ts";

/**
 * Friend lists: each principal (app user or toy) has entries for the
 * principals it may talk to.
 *
 * | key                           | value        |
 * | ----------------------------- | ------------ |
 * | ["friends", ownerId, friendId] | FriendEntry |
 *
 * Friendships are always made in pairs inside a larger atomic op (bind,
 * accepted request), so this module adds its sets to the caller's atomic
op (`addFriendEntry`), and offers the keys, the reads and the unfriending.
 */

/** One friend, in the seed's shape. */
export interface FriendEntry {
  friend_id: string;
  friend_nick: string;
  friend_remark: string;
  friend_avatar: string;
  friend_chat: string;
  friend_type: "app" | "toy";
}

/** The key of `owner`'s entry for `friend`. */
export function friendKey(owner: string, friend: string): Deno.KvKey {
  return ["friends", owner, friend];
}

/** Every friend of `owner`. */
export async function listFriends(
  kv: Deno.Kv,
  owner: string,
): Promise<FriendEntry[]> {
  const out: FriendEntry[] = [];
  for await (const e of kv.list<FriendEntry>({ prefix: ["friends", owner] })) {
    out.push(e.value);
  }
  return out;
}

/** `owner`'s entry for `friend`, or null when they are not friends. */
export async function getFriend(
  kv: Deno.Kv,
  owner: string,
  friend: string,
): Promise<FriendEntry | null> {
  return (await kv.get<FriendEntry>(friendKey(owner, friend))).value;
}

/** Adds to `op` `owner`'s entry for `entry.friend_id` (one side of a pair). */
export function addFriendEntry(
  op: Deno.AtomicOperation,
  owner: string,
  entry: FriendEntry,
): Deno.AtomicOperation {
  return op.set(friendKey(owner, entry.friend_id), entry);
}

/**
 * Ends every friendship of `owner`, both sides, and returns the friends it
 * had. Safe to repeat; readers' caches are cleared.
 */
export async function unfriendAll(
  kv: Deno.Kv,
  owner: string,
): Promise<FriendEntry[]> {
  const friends = await listFriends(kv, owner);
  await deleteKeys(
    kv,
    friends.flatMap((f) => [
      friendKey(owner, f.friend_id),
      friendKey(f.friend_id, owner),
    ]),
  );
  await touch(kv, "friends");
  return friends;
}
