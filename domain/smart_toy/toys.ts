import { AppError } from "../platform/errors.ts";
import { newId } from "../store/ids.ts";
import { requireUser } from "./accounts.ts";
import type { Principal } from "../platform/sessions.ts";
import { getDevice, setDeviceToy } from "./devices.ts";
import { newChat, setChat } from "./chats.ts";
import { addFriendEntry, type FriendEntry, listFriends } from "./friends.ts";
import { touch } from "../store/cache.ts";

/**
 * Toys: created when a parent binds a device, deleted when unbound.
 *
 * | key                          | value  |
 * | ---------------------------- | ------ |
 * | ["toys", id]                 | Toy    |
 * | ["toys_by_user", userId, id] | true   |
 *
 * The device record (devices.ts) points back at its toy. Unbinding, which
 * spans every collection a toy touches, is unbind.ts.
 */

/** A toy, in the seed's shape (friend_list is added when listing). */
export interface Toy {
  _id: string;
  device_key: string;
  bind_user: string;
  toy_name: string;
  baby_name: string;
  remark: string;
  avatar: string;
  gender: string;
  created_at: number;
}

/** A toy with its friends, as `toy_list` returns it. */
export type ToyWithFriends = Toy & {
  friend_list: (FriendEntry & { friend_nickname: string })[];
};

/** Reads a toy, or null. */
export async function getToy(kv: Deno.Kv, id: string): Promise<Toy | null> {
  return (await kv.get<Toy>(["toys", id])).value;
}

/** Reads a toy with its versionstamp (for a checked write), or null. */
export async function getToyEntry(
  kv: Deno.Kv,
  id: string,
): Promise<Deno.KvEntry<Toy> | null> {
  const entry = await kv.get<Toy>(["toys", id]);
  return entry.value ? entry as Deno.KvEntry<Toy> : null;
}

/**
 * Adds to `op` a check that the toy is unchanged since `entry` was read
 * and its deletion with its owner's index entry.
 */
export function deleteToy(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<Toy>,
): Deno.AtomicOperation {
  return op.check(entry)
    .delete(["toys", entry.value._id])
    .delete(["toys_by_user", entry.value.bind_user, entry.value._id]);
}

/** Ids of the toys bound by `userId`. */
export async function toyIdsOf(kv: Deno.Kv, userId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of kv.list({ prefix: ["toys_by_user", userId] })) {
    ids.push(e.key[2] as string);
  }
  return ids;
}

/**
 * True when `principal` may act as `id`: itself, or (for an app user) one
 * of the toys it bound.
 */
export async function mayActAs(
  kv: Deno.Kv,
  principal: Principal,
  id: string,
): Promise<boolean> {
  if (principal.id === id) return true;
  if (principal.kind !== "user") return false;
  return (await kv.get(["toys_by_user", principal.id, id])).versionstamp !==
    null;
}

/** Throws 403 unless `principal` may act as `id`. */
export async function assertActsAs(
  kv: Deno.Kv,
  principal: Principal,
  id: string,
  field = "_id",
): Promise<void> {
  if (!(await mayActAs(kv, principal, id))) {
    throw new AppError(
      403,
      `"${field}" ${id} is neither you nor one of your toys`,
    );
  }
}

/** The result of scanning a QR code, in the seed's three cases. */
export type ScanResult =
  | { code: 0; device_key: string }
  | { code: 1 }
  | { code: 2; toy_id: string };

/** Classifies a scanned device key: free (0), not ours (1), bound (2). */
export async function scanDevice(
  kv: Deno.Kv,
  key: string,
): Promise<ScanResult> {
  const device = await getDevice(kv, key);
  if (!device) return { code: 1 };
  if (device.value.toy_id) return { code: 2, toy_id: device.value.toy_id };
  return { code: 0, device_key: key };
}

/** What `bindToy` needs. */
export interface BindInput {
  userId: string;
  deviceKey: string;
  toyName: string;
  babyName: string;
  remark: string;
  gender?: string;
  avatar?: string;
}

/**
 * Binds a free device to `userId`, creating the toy, their chat and the
 * friendship both ways in one atomic op. Of concurrent binds of one device
 * exactly one succeeds; the others get 409 with code 2 and the toy id.
 */
export async function bindToy(kv: Deno.Kv, input: BindInput): Promise<Toy> {
  const user = await requireUser(kv, input.userId);
  const device = await getDevice(kv, input.deviceKey);
  if (!device) {
    throw new AppError(404, "Please scan the toy two-dimensional code", {
      code: 1,
    });
  }
  if (device.value.toy_id) throw alreadyBound(device.value.toy_id);
  const toy: Toy = {
    _id: newId(),
    device_key: input.deviceKey,
    bind_user: user._id,
    toy_name: input.toyName,
    baby_name: input.babyName,
    remark: input.remark,
    avatar: input.avatar ?? "toy.jpg",
    gender: input.gender ?? "",
    created_at: Date.now() / 1000,
  };
  const chat = newChat(user._id, toy._id);
  const toyToUser: FriendEntry = {
    friend_id: user._id,
    friend_nick: user.nickname,
    friend_remark: input.remark,
    friend_avatar: user.avatar,
    friend_chat: chat._id,
    friend_type: "app",
  };
  const userToToy: FriendEntry = {
    friend_id: toy._id,
    friend_nick: toy.baby_name,
    friend_remark: toy.toy_name,
    friend_avatar: toy.avatar,
    friend_chat: chat._id,
    friend_type: "toy",
  };
  const op = setDeviceToy(kv.atomic(), device, toy._id)
    .set(["toys", toy._id], toy)
    .set(["toys_by_user", user._id, toy._id], true);
  setChat(op, chat);
  addFriendEntry(op, toy._id, toyToUser);
  addFriendEntry(op, user._id, userToToy);
  const res = await op.commit();
  if (!res.ok) {
    const now = await getDevice(kv, input.deviceKey);
    throw alreadyBound(now?.value.toy_id ?? "");
  }
  await touch(kv, "friends");
  return toy;
}

function alreadyBound(toyId: string): AppError {
  return new AppError(409, "Equipment has been bound", {
    code: 2,
    data: { toy_id: toyId },
  });
}

/** The caller's toys with their friend lists, oldest first. */
export async function listToys(
  kv: Deno.Kv,
  userId: string,
): Promise<ToyWithFriends[]> {
  const out: ToyWithFriends[] = [];
  for (const id of await toyIdsOf(kv, userId)) {
    const toy = await getToy(kv, id);
    if (!toy) continue;
    const friends = await listFriends(kv, id);
    out.push({
      ...toy,
      friend_list: friends.map((f) => ({
        ...f,
        friend_nickname: f.friend_nick,
      })),
    });
  }
  return out;
}

/** What a booting toy is told, in the seed's three cases. */
export type OpenResult =
  | { code: 0; toy: Toy }
  | { code: 1 }
  | { code: 2 };

/** Looks up a device key at toy start-up: bound (0), unknown (1), unbound (2). */
export async function openToy(
  kv: Deno.Kv,
  deviceKey: string,
): Promise<OpenResult> {
  const device = await getDevice(kv, deviceKey);
  if (!device) return { code: 1 };
  const toy = device.value.toy_id
    ? await getToy(kv, device.value.toy_id)
    : null;
  return toy ? { code: 0, toy } : { code: 2 };
}
