import { AppError } from "../platform/errors.ts";
import type { Principal } from "../platform/sessions.ts";
import type { Chat } from "./chats.ts";
import { getFriend } from "./friends.ts";
import { assertActsAs, getToy, mayActAs } from "./toys.ts";

/**
 * Who may do what in the smart-toy system: the rules every transport (HTTP,
 * sockets, the AI path) asks before acting for a caller. No keys of its
 * own: it reads toys (toys.ts) and friendships (friends.ts).
 */

/**
 * Throws 403 unless `id` (a body field such as "user_id") is the caller
 * itself: an id in a body never stands in for the token.
 */
export function assertIsCaller(
  caller: Principal,
  id: string,
  field = "user_id",
): void {
  if (id !== caller.id) {
    throw new AppError(403, `"${field}" ${id} is not the token's user`);
  }
}

/**
 * The member of `chat` the caller reads it as: itself when it is a member,
 * else the member toy it owns (a parent reading its toy's chat). 403 when
 * neither.
 */
export async function chatReaderFor(
  kv: Deno.Kv,
  caller: Principal,
  chat: Chat,
): Promise<string> {
  if (chat.user_list.includes(caller.id)) return caller.id;
  for (const member of chat.user_list) {
    if (await mayActAs(kv, caller, member)) return member;
  }
  throw new AppError(403, "this chat is not yours nor one of your toys'");
}

/**
 * True when `sender` may send to `to` over a socket: they are friends, or
 * `sender` is `to` itself or the parent of toy `to`.
 */
export async function mayReach(
  kv: Deno.Kv,
  sender: Principal,
  to: string,
): Promise<boolean> {
  return (await getFriend(kv, sender.id, to)) !== null ||
    await mayActAs(kv, sender, to);
}

/**
 * Throws unless `toyId` is a toy the caller may act as (the toy itself, or
 * its parent): 403 for someone else's, 400 for an id that is no toy.
 */
export async function assertActsAsToy(
  kv: Deno.Kv,
  caller: Principal,
  toyId: string,
  field = "user_id",
): Promise<void> {
  await assertActsAs(kv, caller, toyId, field);
  if (!(await getToy(kv, toyId))) {
    throw new AppError(400, `"${field}" ${toyId} is not a toy`);
  }
}
