import { AppError } from "../platform/errors.ts";
import { newId } from "../store/ids.ts";
import type { User } from "./accounts.ts";
import type { Principal } from "../platform/sessions.ts";
import { newChat, setChat } from "./chats.ts";
import { addFriendEntry, type FriendEntry, friendKey } from "./friends.ts";
import { deleteKeys } from "../store/kv.ts";
import { touch } from "../store/cache.ts";
import { getToyEntry, type Toy } from "./toys.ts";

/**
 * Friend requests: an app user or a toy asks to befriend a toy; the toy's
 * owner accepts or refuses, once.
 *
 * | key                                                | value          |
 * | -------------------------------------------------- | -------------- |
 * | ["friend_requests", id]                            | FriendRequest  |
 * | ["friend_requests_by_toy", addUser, id]            | true           |
 * | ["friend_requests_by_requester", reqUser, id]      | true           |
 * | ["friend_requests_pending", reqUser, addUser]      | id             |
 */

/** Request status: 0 pending, 1 accepted, 2 refused (seed 002). */
export type RequestStatus = 0 | 1 | 2;

/** A friend request, in the seed's shape. */
export interface FriendRequest {
  _id: string;
  req_user: string;
  add_user: string;
  type: "app" | "toy";
  req_info: string;
  remark: string;
  avatar: string;
  nickname: string;
  status: RequestStatus;
  toy_name: string;
  created_at: number;
}

/** What `addRequest` needs; `req_user` must be the caller or its toy. */
export interface NewRequest {
  req_user: string;
  add_user: string;
  req_info: string;
  remark: string;
}

async function requireToyEntry(
  kv: Deno.Kv,
  id: string,
  field: string,
): Promise<Deno.KvEntry<Toy>> {
  const entry = await getToyEntry(kv, id);
  if (!entry) throw new AppError(404, `"${field}" ${id} is not a toy`);
  return entry;
}

/** Who a principal id is, for the request's nickname and avatar. */
function describe(
  id: string,
  user: User | null,
  toy: Toy | null,
): { type: "app" | "toy"; nickname: string; avatar: string } {
  if (user) {
    return { type: "app", nickname: user.nickname, avatar: user.avatar };
  }
  if (!toy) throw new AppError(404, `"req_user" ${id} is not a toy`);
  return { type: "toy", nickname: toy.baby_name, avatar: toy.avatar };
}

/**
 * Files a request to befriend toy `add_user`. 409 when they are already
 * friends or a request between them is pending.
 */
export async function addRequest(
  kv: Deno.Kv,
  input: NewRequest,
): Promise<FriendRequest> {
  if (input.req_user === input.add_user) {
    throw new AppError(400, "a toy cannot befriend itself");
  }
  // One read for everything the decision needs: the toy asked, who asks
  // (an app user or a toy), and whether they are friends already.
  const [toyEntry, userEntry, requesterToy, friendship] = await kv.getMany<
    [Toy, User, Toy, unknown]
  >([
    ["toys", input.add_user],
    ["users", input.req_user],
    ["toys", input.req_user],
    friendKey(input.req_user, input.add_user),
  ]);
  if (!toyEntry.value) {
    throw new AppError(404, `"add_user" ${input.add_user} is not a toy`);
  }
  const toy = toyEntry.value;
  const who = describe(input.req_user, userEntry.value, requesterToy.value);
  if (friendship.versionstamp !== null) {
    throw new AppError(
      409,
      `${input.req_user} and ${input.add_user} are already friends`,
    );
  }
  const pendingKey = [
    "friend_requests_pending",
    input.req_user,
    input.add_user,
  ];
  const request: FriendRequest = {
    _id: newId(),
    req_user: input.req_user,
    add_user: input.add_user,
    type: who.type,
    req_info: input.req_info,
    remark: input.remark,
    avatar: who.avatar,
    nickname: who.nickname,
    status: 0,
    toy_name: toy.toy_name,
    created_at: Date.now() / 1000,
  };
  const res = await kv.atomic()
    .check({ key: pendingKey, versionstamp: null })
    .check(friendship)
    .set(["friend_requests", request._id], request)
    .set(["friend_requests_by_toy", request.add_user, request._id], true)
    .set(["friend_requests_by_requester", request.req_user, request._id], true)
    .set(pendingKey, request._id)
    .commit();
  if (!res.ok) {
    throw new AppError(
      409,
      `a request from ${input.req_user} to ${input.add_user} is already pending`,
    );
  }
  return request;
}

/** Requests addressed to any of `toyIds`, oldest first. */
export async function listRequestsTo(
  kv: Deno.Kv,
  toyIds: string[],
): Promise<FriendRequest[]> {
  const keys: Deno.KvKey[] = [];
  for (const toyId of toyIds) {
    for await (
      const e of kv.list({ prefix: ["friend_requests_by_toy", toyId] })
    ) {
      keys.push(["friend_requests", e.key[2] as string]);
    }
  }
  const out: FriendRequest[] = [];
  // getMany reads at most 10 keys at a time.
  for (let i = 0; i < keys.length; i += 10) {
    const entries = await kv.getMany<FriendRequest[]>(keys.slice(i, i + 10));
    for (const e of entries) if (e.value) out.push(e.value);
  }
  return out.sort((a, b) => a._id < b._id ? -1 : 1);
}

async function answerable(
  kv: Deno.Kv,
  caller: Principal,
  reqId: string,
): Promise<{
  entry: Deno.KvEntry<FriendRequest>;
  toyEntry: Deno.KvEntry<Toy>;
}> {
  const entry = await kv.get<FriendRequest>(["friend_requests", reqId]);
  if (!entry.value) {
    throw new AppError(404, `no friend request with req_id "${reqId}"`);
  }
  const toyEntry = await requireToyEntry(kv, entry.value.add_user, "add_user");
  if (caller.kind !== "user" || toyEntry.value.bind_user !== caller.id) {
    throw new AppError(
      403,
      `friend request ${reqId} is for a toy that is not yours`,
    );
  }
  if (entry.value.status !== 0) throw answeredAlready(reqId);
  return { entry: entry as Deno.KvEntry<FriendRequest>, toyEntry };
}

function answeredAlready(reqId: string): AppError {
  return new AppError(409, `friend request ${reqId} has already been answered`);
}

/**
 * Accepts a pending request (owner of the requested toy only): status 1,
 * a new chat, and the friendship both ways, in one atomic op. Accepted once:
 * concurrent accepts after the first get 409, as does one that loses a race
 * with the toy's unbinding.
 */
export async function acceptRequest(
  kv: Deno.Kv,
  caller: Principal,
  { reqId, remark }: { reqId: string; remark: string },
): Promise<FriendRequest> {
  const { entry, toyEntry } = await answerable(kv, caller, reqId);
  const toy = toyEntry.value;
  const request = entry.value;
  const chat = newChat(request.req_user, toy._id);
  const toRequester: FriendEntry = {
    friend_id: request.req_user,
    friend_nick: request.nickname,
    friend_remark: remark || request.nickname,
    friend_avatar: request.avatar,
    friend_chat: chat._id,
    friend_type: request.type,
  };
  const toToy: FriendEntry = {
    friend_id: toy._id,
    friend_nick: toy.baby_name,
    friend_remark: request.remark || toy.toy_name,
    friend_avatar: toy.avatar,
    friend_chat: chat._id,
    friend_type: "toy",
  };
  const accepted: FriendRequest = { ...request, status: 1 };
  const op = kv.atomic()
    .check(entry)
    // The toy still exists (unbindToy deletes it before its friendships).
    .check(toyEntry)
    .check({ key: friendKey(toy._id, request.req_user), versionstamp: null })
    .set(["friend_requests", reqId], accepted)
    .delete(["friend_requests_pending", request.req_user, request.add_user]);
  setChat(op, chat);
  addFriendEntry(op, toy._id, toRequester);
  addFriendEntry(op, request.req_user, toToy);
  const res = await op.commit();
  if (!res.ok) throw answeredAlready(reqId);
  await touch(kv, "friends");
  return accepted;
}

/** Refuses a pending request (owner of the requested toy only); once. */
export async function refuseRequest(
  kv: Deno.Kv,
  caller: Principal,
  reqId: string,
): Promise<FriendRequest> {
  const { entry } = await answerable(kv, caller, reqId);
  const refused: FriendRequest = { ...entry.value, status: 2 };
  const res = await kv.atomic()
    .check(entry)
    .set(["friend_requests", reqId], refused)
    .delete(["friend_requests_pending", refused.req_user, refused.add_user])
    .commit();
  if (!res.ok) throw answeredAlready(reqId);
  return refused;
}

/** Deletes every request to or from `principalId` (an unbound toy). */
export async function deleteRequestsOf(
  kv: Deno.Kv,
  principalId: string,
): Promise<void> {
  const keys: Deno.KvKey[] = [];
  for (
    const index of ["friend_requests_by_toy", "friend_requests_by_requester"]
  ) {
    for await (const e of kv.list({ prefix: [index, principalId] })) {
      const id = e.key[2] as string;
      const request =
        (await kv.get<FriendRequest>(["friend_requests", id])).value;
      keys.push(e.key, ["friend_requests", id]);
      if (request) {
        keys.push(
          ["friend_requests_by_toy", request.add_user, id],
          ["friend_requests_by_requester", request.req_user, id],
          ["friend_requests_pending", request.req_user, request.add_user],
        );
      }
    }
  }
  await deleteKeys(kv, keys);
}
