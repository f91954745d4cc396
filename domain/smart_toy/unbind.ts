import { AppError } from "../platform/errors.ts";
import { deleteBlob } from "../store/blobs.ts";
import { logoutEverywhere } from "./accounts.ts";
import { deleteChats } from "./chats.ts";
import { getDevice, setDeviceToy } from "./devices.ts";
import { deleteRequestsOf } from "./friend_requests.ts";
import { unfriendAll } from "./friends.ts";
import {
  deleteConversation,
  deleteInbox,
  forgetDelivered,
} from "./messages.ts";
import { deleteToy, getToyEntry } from "./toys.ts";
import { deleteToyAiData } from "../ai/profile.ts";
import { sweepAnswerAudio } from "../ai/answer.ts";

/**
 * Unbinding a toy: the one operation that spans every collection a toy
 * touches. It writes no keys itself; each owner deletes its own (toys,
 * devices, sessions, friends, chats, messages, blobs, friend requests).
 */

/**
 * Unbinds a toy (owner only): frees the device and deletes the toy, its
 * friendships both ways, its chats with their history, voice files and
 * unread counts, its friend requests and its sessions. The toy and its
 * device change in one atomic op first (of concurrent unbinds one wins, the
 * others get 409 or 404); the rest is cleanup that is safe to repeat.
 */
export async function unbindToy(
  kv: Deno.Kv,
  userId: string,
  toyId: string,
): Promise<void> {
  const toyEntry = await getToyEntry(kv, toyId);
  if (!toyEntry) throw new AppError(404, `no toy with toy_id "${toyId}"`);
  const toy = toyEntry.value;
  if (toy.bind_user !== userId) {
    throw new AppError(403, `toy ${toyId} is not bound to you`);
  }
  const device = await getDevice(kv, toy.device_key);
  const op = deleteToy(kv.atomic(), toyEntry);
  if (device) setDeviceToy(op, device, null);
  if (!(await op.commit()).ok) {
    throw new AppError(409, `toy ${toyId} changed meanwhile; try again`);
  }
  // The toy's tokens die first, so its sockets and uploads stop at once.
  await logoutEverywhere(kv, toyId);
  // Listed after the commit: an accept that committed before it is seen
  // here, and one after it fails its check on the toy (acceptRequest).
  // Friendships go before messages: an upload racing this unbind re-checks
  // the friendship after its commit and removes what it wrote (voice.ts).
  const friends = await unfriendAll(kv, toyId);
  for (const friend of friends) {
    // Both directions with their unread counts, so auto_login stops
    // counting the toy.
    const files = await deleteConversation(kv, toyId, friend.friend_id);
    for (const file of files) await deleteBlob(kv, file);
  }
  await deleteChats(kv, friends.map((f) => f.friend_chat));
  for (const file of await deleteInbox(kv, toyId)) await deleteBlob(kv, file);
  await forgetDelivered(kv, toyId);
  await deleteRequestsOf(kv, toyId);
  await deleteToyAiData(kv, toyId);
  await sweepAnswerAudio(kv, { toyId, all: true });
}
