/**
 * Friend lists: each principal (app user or toy) has entries for the
 * principals it may talk to.
 *
 * | key                           | value        |
 * | ----------------------------- | ------------ |
 * | ["friends", ownerId, friendId] | FriendEntry |
 *
 * Friendships are always made in pairs inside a larger atomic op (bind,
 * accepted request), so this module offers the keys and the reads.
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
