import { z } from "zod";
import { toyReply, toyRequest } from "./_contract.ts";
import type {
  Message,
  MessageWriter,
} from "../../domain/smart_toy/messages.ts";
import {
  assertActsAsToy,
  assertIsCaller,
} from "../../domain/smart_toy/access.ts";
import {
  readChat,
  receiveUnread,
  sendVoiceMessage,
  type VoiceDeps,
} from "../../domain/smart_toy/voice.ts";
import { type AppEnv, type Feature, subApp } from "../app.ts";
import type { Context } from "hono";
import { AppError } from "../../domain/platform/errors.ts";
import type { AppDeps } from "../../domain/platform/services.ts";
import {
  api,
  type ApiRoute,
  bindRoute,
  caller,
  idField,
  input,
  tokenOf,
} from "../_http.ts";
import { toyBody } from "../../domain/smart_toy/envelope.ts";

/**
 * Voice messages over HTTP (seeds 000 and 002): uploads from the app and
 * the toy, chat history, and the toy's unread fetch. An upload is
 * transcoded to MP3, stored, committed (message + unread count + delivery
 * key in one atomic op) and only then acknowledged; the recipient's
 * sockets are told by the hub.
 */

const TAG = "voice";

const chatRecord = z.object({
  _id: z.string(),
  from_user: z.string(),
  to_user: z.string(),
  chat: z.string().describe("MP3 file name, under /get_chat/"),
  message: z.string().describe("the same file name (seed 002)"),
  friend_type: z.enum(["app", "toy"]),
  create_time: z.number(),
});

const uploadReply = toyReply(
  z.object({ filename: z.string(), friend_type: z.enum(["app", "toy"]) }),
);

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
      body: toyRequest({ to_user: idField, user_id: idField, reco_file: file }),
      reply: uploadReply,
    }),
    toyUploader: api({
      method: "POST",
      path: "/toy_uploader",
      tag: TAG,
      summary: "Toy uploads a voice message",
      auth: "user_or_toy",
      files: ["reco"],
      maxBody: maxUpload,
      body: toyRequest({
        to_user: idField,
        user_id: idField,
        friend_type: z.enum(["app", "toy"]).optional(),
        reco: file,
      }),
      reply: uploadReply,
    }),
    chatList: api({
      method: "POST",
      path: "/chat_list",
      tag: TAG,
      summary:
        "A chat's history, oldest first; clears the reader's unread count",
      auth: "user_or_toy",
      body: toyRequest({
        chat_id: idField,
        to_user: idField.optional(),
        from_user: idField.optional(),
        before: idField.optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
      reply: toyReply(z.array(chatRecord)),
    }),
    recvMsg: api({
      method: "POST",
      path: "/recv_msg",
      tag: TAG,
      summary:
        "A toy's unread messages from one friend (bare array); clears the count",
      auth: "user_or_toy",
      body: toyRequest({ from_user: idField, to_user: idField }),
      reply: z.array(chatRecord).describe(
        "a bare array, as the seed's toy expects",
      ),
    }),
  };
}

/** What an upload answers: the stored file and the sender's kind. */
function uploaded(m: Message) {
  return { filename: m.chat, friend_type: m.friend_type };
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

  const voice: VoiceDeps = {
    kv: deps.kv,
    transcoder: deps.transcoder,
    metrics: deps.metrics,
    writer,
    maxUploadBytes: deps.config.maxUploadBytes,
  };

  /**
   * Reads an upload's body. The body limit is the configured upload size
   * plus room for the multipart envelope; a 413 quotes the configured size.
   */
  async function uploadInput<S extends z.ZodType>(
    c: Context<AppEnv>,
    route: ApiRoute<S>,
  ): Promise<z.infer<S>> {
    try {
      return await input(c, route);
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 413) throw err;
      throw new AppError(
        413,
        `voice message is larger than ${deps.config.maxUploadBytes} bytes`,
        { cause: err },
      );
    }
  }

  bindRoute(app, r.appUploader, async function appUploadHandler(c) {
    // Check a header or query token before reading a large upload.
    const early = tokenOf(c) ? await caller(c, ["user"]) : null;
    const b = await uploadInput(c, r.appUploader);
    const me = early ?? await caller(c, ["user"], b);
    assertIsCaller(me, b.user_id);
    const message = await sendVoiceMessage(voice, {
      from: me.id,
      fromType: "app",
      to: b.to_user,
      audio: b.reco_file,
    });
    return c.json(toyBody(0, "Upload Success", uploaded(message)));
  });

  bindRoute(app, r.toyUploader, async function toyUploadHandler(c) {
    const early = tokenOf(c) ? await caller(c, ["user", "toy"]) : null;
    const b = await uploadInput(c, r.toyUploader);
    const me = early ?? await caller(c, ["user", "toy"], b);
    await assertActsAsToy(deps.kv, me, b.user_id);
    const message = await sendVoiceMessage(voice, {
      from: b.user_id,
      fromType: "toy",
      to: b.to_user,
      audio: b.reco,
    });
    return c.json(toyBody(0, "Upload Success", uploaded(message)));
  });

  bindRoute(app, r.chatList, async function chatListHandler(c) {
    const b = await input(c, r.chatList);
    const me = await caller(c, ["user", "toy"], b);
    const messages = await readChat(deps.kv, me, b.chat_id, {
      before: b.before,
      limit: b.limit,
    });
    return c.json(toyBody(0, "Query chat records", messages.map(record)));
  });

  bindRoute(app, r.recvMsg, async function recvMsgHandler(c) {
    const b = await input(c, r.recvMsg);
    const me = await caller(c, ["user", "toy"], b);
    const messages = await receiveUnread(deps.kv, me, {
      to: b.to_user,
      from: b.from_user,
    });
    return c.json(messages.map(record));
  });

  return { app };
}
