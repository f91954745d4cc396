import { AppError } from "../platform/errors.ts";
import type { Metrics } from "../platform/metrics.ts";
import type { Transcoder } from "../audio/transcoder.ts";
import { deleteBlob, putBlob } from "../store/blobs.ts";
import { randomHex } from "../store/ids.ts";
import type { Principal } from "../platform/sessions.ts";
import { chatReaderFor } from "./access.ts";
import { getChat } from "./chats.ts";
import { getFriend } from "./friends.ts";
import {
  clearUnread,
  deleteMessage,
  listChat,
  type Message,
  type MessageWriter,
  takeUnread,
} from "./messages.ts";
import { assertActsAs } from "./toys.ts";

/**
 * Voice messages as their senders and readers use them. Sending: check the
 * pair are friends, transcode the upload to MP3, store it as a chat blob,
 * commit the message (with the unread count and the delivery ring), then
 * re-check the friendship and take everything back if an unbind won the
 * race. Reading: a chat's history, and a recipient's unread messages. No
 * keys of its own (messages.ts, blobs.ts and friends.ts hold them).
 */

/** What `sendVoiceMessage` needs of the running instance. */
export interface VoiceDeps {
  kv: Deno.Kv;
  transcoder: Transcoder | null;
  metrics: Metrics;
  writer: MessageWriter;
  /** The configured upload limit, in bytes. */
  maxUploadBytes: number;
}

/** One voice message to send. */
export interface VoiceInput {
  /** The sending app user or toy (already authenticated and authorised). */
  from: string;
  fromType: "app" | "toy";
  to: string;
  audio: Uint8Array | Blob;
}

/**
 * Sends one voice message from `from` to its friend `to`. Resolves with the
 * message once it is durable; 403 when they are not (or no longer) friends,
 * 413 past the upload limit, 503 without a transcoder. A message whose
 * friendship ended while it was transcoding is deleted with its file and
 * unread count before the 403.
 */
export async function sendVoiceMessage(
  deps: VoiceDeps,
  { from, fromType, to, audio }: VoiceInput,
): Promise<Message> {
  const { kv } = deps;
  const friendship = await getFriend(kv, from, to);
  if (!friendship) throw new AppError(403, `${from} and ${to} are not friends`);
  const size = audio instanceof Blob ? audio.size : audio.byteLength;
  if (size > deps.maxUploadBytes) {
    throw new AppError(
      413,
      `voice message is larger than ${deps.maxUploadBytes} bytes`,
    );
  }
  if (!deps.transcoder) {
    throw new AppError(503, "voice messages are off on this server");
  }
  const bytes = audio instanceof Blob
    ? new Uint8Array(await audio.arrayBuffer())
    : audio;
  const { mp3 } = await deps.transcoder.toMp3(bytes);
  const filename = `${randomHex(16)}.mp3`;
  await putBlob(kv, filename, mp3, { kind: "chat" });
  let message: Message;
  try {
    message = await deps.writer.send({
      chat_id: friendship.friend_chat,
      from_user: from,
      to_user: to,
      chat: filename,
      friend_type: fromType,
    });
  } catch (err) {
    await deleteBlob(kv, filename);
    throw err;
  }
  // The friendship may have ended (an unbind) while this upload was
  // transcoding: then take back what was written.
  if (!(await getFriend(kv, from, to))) {
    await deleteMessage(kv, message);
    await deleteBlob(kv, filename);
    await clearUnread(kv, to, from);
    throw new AppError(403, `${from} and ${to} are no longer friends`);
  }
  deps.metrics.inc("babble_voice_messages_total", { from: fromType });
  return message;
}

/**
 * A chat's history, oldest first, for a member or the parent of a member
 * toy (403 otherwise, 404 for no chat). A member reading its own chat has
 * its unread count from the other member cleared.
 */
export async function readChat(
  kv: Deno.Kv,
  caller: Principal,
  chatId: string,
  { before, limit = 100 }: { before?: string; limit?: number } = {},
): Promise<Message[]> {
  const chat = await getChat(kv, chatId);
  if (!chat) throw new AppError(404, `no chat with chat_id "${chatId}"`);
  const reader = await chatReaderFor(kv, caller, chat);
  const messages = await listChat(kv, chat.user_list, { before, limit });
  if (reader === caller.id) {
    const [a, b] = chat.user_list;
    await takeUnread(kv, caller.id, reader === a ? b : a);
  }
  return messages;
}

/**
 * The unread messages of `to` (the caller or its toy) from friend `from`,
 * oldest first; clears the count. 403 when the caller may not act as `to`,
 * 404 when `from` is not its friend.
 */
export async function receiveUnread(
  kv: Deno.Kv,
  caller: Principal,
  { to, from }: { to: string; from: string },
): Promise<Message[]> {
  await assertActsAs(kv, caller, to, "to_user");
  if (!(await getFriend(kv, to, from))) {
    throw new AppError(404, `${from} is not a friend of ${to}`);
  }
  return await takeUnread(kv, to, from);
}
