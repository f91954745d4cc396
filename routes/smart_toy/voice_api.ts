import { z } from "zod";
import { AppError } from "../../domain/platform/errors.ts";
import type { Principal } from "../../domain/platform/sessions.ts";
import { deleteBlob, putBlob } from "../../domain/store/blobs.ts";
import { getChat } from "../../domain/smart_toy/chats.ts";
import { getFriend } from "../../domain/smart_toy/friends.ts";
import { randomHex } from "../../domain/store/ids.ts";
import {
  clearUnread,
  deleteMessage,
  listChat,
  type Message,
  type MessageWriter,
  takeUnread,
} from "../../domain/smart_toy/messages.ts";
import { assertActsAs, getToy, mayActAs } from "../../domain/smart_toy/toys.ts";
import { type AppDeps, type Feature, subApp } from "../app.ts";
import { api, caller, idField, input, tokenOf } from "../_http.ts";

/**
 * Voice messages over HTTP (seeds 000 and 002): uploads from the app and
 * the toy, chat history, and the toy's unread fetch. An upload is
 * transcoded to MP3, stored, committed (message + unread count + delivery
 * key in one atomic op) and only then acknowledged; the recipient's
 * sockets are told by the hub.
 */

const TAG = "voice";

function body<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject({ ...shape, token: z.string().optional() });
}

const file = z.instanceof(File, {
  message: "must be an uploaded file (multipart/form-data)",
});

function routes(maxUpload: number) {
  return {
    appUploader: api({
      method: "POST",
      path: "/app_uploader",
      tag: TAG,
      summary: "App uploads a voice message (AMR, WAV, WebM/Opus or MP3)",
      auth: "user",
      files: ["reco_file"],
      maxBody: maxUpload,
      body: body({ to_user: idField, user_id: idField, reco_file: file }),
    }),
    toyUploader: api({
      method: "POST",
      path: "/toy_uploader",
      tag: TAG,
      summary: "Toy uploads a voice message",
      auth: "user_or_toy",
      files: ["reco"],
      maxBody: maxUpload,
      body: body({
        to_user: idField,
        user_id: idField,
        friend_type: z.enum(["app", "toy"]).optional(),
        reco: file,
      }),
    }),
    chatList: api({
      method: "POST",
      path: "/chat_list",
      tag: TAG,
      summary:
        "A chat's history, oldest first; clears the reader's unread count",
      auth: "user_or_toy",
      body: body({
        chat_id: idField,
        to_user: idField.optional(),
        from_user: idField.optional(),
        before: idField.optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
    }),
    recvMsg: api({
      method: "POST",
      path: "/recv_msg",
      tag: TAG,
      summary:
        "A toy's unread messages from one friend (bare array); clears the count",
      auth: "user_or_toy",
      body: body({ from_user: idField, to_user: idField }),
    }),
  };
}

/** The seed's chat record, with both file-name keys. */
function record(m: Message) {
  return {
    _id: m._id,
    from_user: m.from_user,
    to_user: m.to_user,
    chat: m.chat,
    message: m.chat,
    friend_type: m.friend_type,
    create_time: m.create_time,
  };
}

/** The voice-message routes of one instance. */
export function voiceFeature(
  deps: AppDeps,
  writer: MessageWriter,
): Feature {
  const app = subApp();
  const r = routes(deps.config.maxUploadBytes + 64 * 1024);

  async function upload(
    sender: Principal,
    senderType: "app" | "toy",
    to: string,
    audio: File,
  ): Promise<{ filename: string; friend_type: "app" | "toy" }> {
    const friendship = await getFriend(deps.kv, sender.id, to);
    if (!friendship) {
      throw new AppError(403, `${sender.id} and ${to} are not friends`);
    }
    if (audio.size > deps.config.maxUploadBytes) {
      throw new AppError(
        413,
        `voice message is larger than ${deps.config.maxUploadBytes} bytes`,
      );
    }
    if (!deps.transcoder) {
      throw new AppError(503, "voice messages are off on this server");
    }
    const { mp3 } = await deps.transcoder.toMp3(
      new Uint8Array(await audio.arrayBuffer()),
    );
    const filename = `${randomHex(16)}.mp3`;
    await putBlob(deps.kv, filename, mp3, { kind: "chat" });
    let message: Message;
    try {
      message = await writer.send({
        chat_id: friendship.friend_chat,
        from_user: sender.id,
        to_user: to,
        chat: filename,
        friend_type: senderType,
      });
    } catch (err) {
      await deleteBlob(deps.kv, filename);
      throw err;
    }
    // The friendship may have ended (an unbind) while this upload was
    // transcoding: then take back what was written.
    if (!(await getFriend(deps.kv, sender.id, to))) {
      await deleteMessage(deps.kv, message);
      await deleteBlob(deps.kv, filename);
      await clearUnread(deps.kv, to, sender.id);
      throw new AppError(403, `${sender.id} and ${to} are no longer friends`);
    }
    deps.metrics.inc("babble_voice_messages_total", { from: senderType });
    return { filename: message.chat, friend_type: senderType };
  }

  app.post(r.appUploader.path, async (c) => {
    // Check a header or query token before reading a large upload.
    const early = tokenOf(c) ? await caller(c, ["user"]) : null;
    const b = await input(c, r.appUploader);
    const me = early ?? await caller(c, ["user"], b);
    if (b.user_id !== me.id) {
      throw new AppError(403, `"user_id" ${b.user_id} is not the token's user`);
    }
    const data = await upload(me, "app", b.to_user, b.reco_file);
    return c.json({ code: 0, msg: "Upload Success", data });
  });

  app.post(r.toyUploader.path, async (c) => {
    const early = tokenOf(c) ? await caller(c, ["user", "toy"]) : null;
    const b = await input(c, r.toyUploader);
    const me = early ?? await caller(c, ["user", "toy"], b);
    await assertActsAs(deps.kv, me, b.user_id, "user_id");
    if (!(await getToy(deps.kv, b.user_id))) {
      throw new AppError(
        400,
        `"user_id" ${b.user_id} is not a toy: the app uses /app_uploader`,
      );
    }
    const data = await upload(
      { kind: "toy", id: b.user_id },
      "toy",
      b.to_user,
      b.reco,
    );
    return c.json({ code: 0, msg: "Upload Success", data });
  });

  app.post(r.chatList.path, async (c) => {
    const b = await input(c, r.chatList);
    const me = await caller(c, ["user", "toy"], b);
    const chat = await getChat(deps.kv, b.chat_id);
    if (!chat) throw new AppError(404, `no chat with chat_id "${b.chat_id}"`);
    const [a, z2] = chat.user_list;
    const member = me.id === a || me.id === z2
      ? me.id
      : (await allowedMember(deps.kv, me, chat.user_list));
    const messages = await listChat(deps.kv, chat.user_list, {
      before: b.before,
      limit: b.limit,
    });
    if (member === me.id) {
      const friend = member === a ? z2 : a;
      await takeUnread(deps.kv, me.id, friend);
    }
    return c.json({
      code: 0,
      msg: "Query chat records",
      data: messages.map(record),
    });
  });

  app.post(r.recvMsg.path, async (c) => {
    const b = await input(c, r.recvMsg);
    const me = await caller(c, ["user", "toy"], b);
    await assertActsAs(deps.kv, me, b.to_user, "to_user");
    const friendship = await getFriend(deps.kv, b.to_user, b.from_user);
    if (!friendship) {
      throw new AppError(404, `${b.from_user} is not a friend of ${b.to_user}`);
    }
    const messages = await takeUnread(deps.kv, b.to_user, b.from_user);
    return c.json(messages.map(record));
  });

  return { app };
}

/** The member of `members` the caller owns (a parent reading its toy's chat); 403 otherwise. */
async function allowedMember(
  kv: Deno.Kv,
  me: Principal,
  members: [string, string],
): Promise<string> {
  for (const m of members) if (await mayActAs(kv, me, m)) return m;
  throw new AppError(403, "this chat is not yours nor one of your toys'");
}
