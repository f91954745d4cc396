import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { AppError, asAppError } from "../domain/platform/errors.ts";
import type { AppDeps } from "../domain/platform/services.ts";
import { createSession, resolveSession } from "../domain/platform/sessions.ts";
import { BUDGETS, takeBudget } from "../domain/diaryu/budgets.ts";
import { blobResponse, isBlobName } from "../domain/store/blobs.ts";
import {
  diaryBody,
  diaryErrorBody,
  retryAfterOf,
} from "../domain/diaryu/envelope.ts";
import {
  BUILTIN_LEXICON,
  type EmotionLexicon,
  loadEmotionLexicon,
  mergeLexicon,
} from "../domain/diaryu/emotion.ts";
import {
  createDemoUser,
  type DiaryUser,
  ensureUser,
  getUser,
  OPEN_ID,
  profileReply,
  requireUser,
  storeProfile,
} from "../domain/diaryu/users.ts";
import {
  assertWechatConfigured,
  jscode2session,
} from "../domain/diaryu/wechat.ts";
import {
  deleteDiary,
  type Diary,
  type DiarySummary,
  listDiaries,
  MAX_CONTENT,
  MAX_TITLE,
  requireOwnDiary,
} from "../domain/diaryu/diaries.ts";
import {
  currentPair,
  depair,
  type MatchOutcome,
  partnerIn,
  requireMemberPair,
} from "../domain/diaryu/matching.ts";
import {
  appendLine,
  history,
  type Line,
  MAX_LINE,
  MAX_PAGE,
} from "../domain/diaryu/pair_chat.ts";
import {
  MAX_IMAGE_BYTES,
  MAX_IMAGE_NAME,
  requireImage,
  requireOwnImageBlob,
  saveImage,
  type StoredImage,
} from "../domain/diaryu/images.ts";
import {
  type Classifier,
  emotionClassifier,
  rewriteDiary,
  writeDiary,
} from "../domain/diaryu/writing.ts";
import { type AppEnv, type Feature, subApp } from "./app.ts";
import {
  api,
  bindRoute,
  clientAddress,
  idField,
  input,
  tokenOf,
  validate,
} from "./_http.ts";

/**
 * The DiaryU contract (seed 001; CONTRACTS.md "DiaryU"): the mini-program's
 * `/matching/*_action/` routes with the seed's paths, fields and reply
 * shapes, every reply in `{status, data}` (domain/diaryu/envelope.ts).
 * Bodies may be urlencoded or multipart forms (as the seed's Django forms
 * post) or JSON; unknown fields are ignored. Every route but sign-in needs
 * the DiaryU token (`Authorization: Bearer`, `?token=` or a `token` field),
 * and an `openId` a request names must be the token's. The pair room
 * socket is realtime/diaryu/room.ts.
 */

const TAG = "diaryu";
/** How long a DiaryU sign-in lasts. */
const DIARYU_SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** "" from a blank form field counts as absent. */
function blankless<S extends z.ZodType>(schema: S) {
  return z.preprocess((v) => (v === "" ? undefined : v), schema.optional());
}

const openIdField = blankless(
  z.string().trim().regex(OPEN_ID, "must be an openId (letters, digits, _ -)"),
);

const profileText = (max: number) =>
  blankless(
    z.string().trim().max(max, `must be at most ${max} characters`),
  );

const gender = blankless(
  z.union([z.string(), z.number()]).transform(Number).pipe(
    z.number().int().min(0).max(2, "must be 0 (unknown), 1 or 2"),
  ),
);

const avatarUrl = blankless(
  z.string().trim().max(1024, "must be at most 1024 characters").refine(
    (v) => /^https?:\/\/\S+$/i.test(v) || v === "None",
    "must be an http(s) URL",
  ),
);

const title = z.string().trim().max(
  MAX_TITLE,
  `must be at most ${MAX_TITLE} characters`,
);
const content = z.string().max(
  MAX_CONTENT,
  `must be at most ${MAX_CONTENT} characters`,
).refine((v) => v.trim().length > 0, "must not be empty");

const limit = (max: number, fallback: number) =>
  blankless(z.coerce.number().int().min(1).max(max)).transform((v) =>
    v ?? fallback
  );
const position = blankless(z.coerce.number().int().min(0));

/** A body: the route's fields, plus `openId` and `token` every route may carry. */
function body<T extends z.ZodRawShape>(shape: T) {
  return z.object({
    openId: openIdField,
    token: z.string().optional(),
    ...shape,
  });
}

/** A query: the route's parameters, plus `openId` and `token`. */
const query = body;

const signInQuery = z.object({ js_code: z.string() });
/** The routes that read the caller's own state take only `openId`. */
const selfQuery = query({});
const diaryQuery = query({
  diaryId: blankless(idField),
  limit: limit(MAX_PAGE, 100),
  before: blankless(idField),
});
const diaryListQuery = query({
  limit: limit(MAX_PAGE, 100),
  before: blankless(idField),
});
const imageQuery = query({ img_name: z.string().max(MAX_IMAGE_NAME) });
const historyQuery = query({
  pair_id: idField,
  limit: limit(MAX_PAGE, 100),
  before: position,
  after: position,
});

const emotionCode = z.string().regex(/^[0-7]$/).describe(
  "0 静 Peaceful, 1 乐 Happy, 2 好 Satisfied, 3 怒 Angry, 4 哀 Sad, " +
    "5 惧 Worried, 6 恶 Disgusted, 7 惊 Surprised",
);
const evidence = z.array(z.object({
  word: z.string(),
  emotion: z.number(),
  weight: z.number(),
  negated: z.boolean().optional(),
  degree: z.number().optional(),
})).describe("the words that decided the class, strongest first");
const profile = z.object({
  openId: z.string(),
  nickName: z.string(),
  avatarUrl: z.string(),
  gender: z.string(),
  province: z.string(),
  city: z.string(),
  country: z.string(),
});
const match = z.object({ user: profile }).optional()
  .describe("present when the user is in a pair: the partner");
const success = z.object({ status: z.literal("success") });
function reply<T extends z.ZodType>(data: T) {
  return z.object({ status: z.literal("success"), data });
}
const signedIn = reply(z.object({ openId: z.string(), token: z.string() }));
const emotionReply = reply(
  z.object({ emotion: emotionCode, evidence, match }),
);
const image = z.object({
  image: z.object({ name: z.string(), photourl: z.string() }),
});
const diaryBrief = z.object({
  diary_id: z.string(),
  title: z.string().optional(),
  content: z.string().optional(),
  emotion: emotionCode,
  publish_date: z.string(),
});
const diaryList = reply(
  z.object({ diaries: z.array(diaryBrief), more: z.boolean() }),
);

function routes(maxImage: number) {
  return {
    signIn: api({
      method: "GET",
      path: "/matching/get_openId_action/",
      tag: TAG,
      summary:
        "Sign in with wx.login's js_code (WeChat jscode2session): openId and token",
      auth: "none",
      query: signInQuery,
      reply: signedIn,
    }),
    demoLogin: api({
      method: "POST",
      path: "/matching/demo_login/",
      tag: TAG,
      summary:
        "A fresh local try-out user (only with --demo; 404 otherwise): openId and token",
      auth: "none",
      reply: signedIn,
    }),
    store: api({
      method: "POST",
      path: "/matching/store_action/",
      tag: TAG,
      summary: "Store the user's WeChat profile",
      auth: "user",
      body: body({
        nickName: profileText(64),
        avatarUrl,
        gender,
        province: profileText(64),
        city: profileText(64),
        country: profileText(64),
      }),
      reply: success,
    }),
    emotion: api({
      method: "POST",
      path: "/matching/emotion/",
      tag: TAG,
      summary:
        "Write a diary: classified into the 8 emotions, then the writer is matched",
      auth: "user",
      body: body({ title: blankless(title), content }),
      reply: emotionReply,
    }),
    depair: api({
      method: "POST",
      path: "/matching/depair_action/",
      tag: TAG,
      summary: "End the user's pair; frees both members",
      auth: "user",
      body: body({}),
      reply: success,
    }),
    getUser: api({
      method: "GET",
      path: "/matching/get_user_action/",
      tag: TAG,
      summary:
        "The user, their ten most recent diaries (brief) and their match",
      auth: "user",
      query: selfQuery,
      reply: reply(z.object({
        user: profile.extend({ gender: z.number() }),
        diaries: z.array(diaryBrief.extend({ evidence })),
        match,
      })),
    }),
    getDiary: api({
      method: "GET",
      path: "/matching/get_diary_action/",
      tag: TAG,
      summary:
        "One of the user's diaries by diaryId; without diaryId, the user's diaries (as get_user_diary_action)",
      auth: "user",
      query: diaryQuery,
      reply: reply(z.object({
        diary: z.object({
          diary_id: z.string(),
          title: z.string(),
          content: z.string(),
          emotion: emotionCode,
          publish_date: z.string(),
          evidence,
        }),
      })).or(diaryList),
    }),
    getUserDiaries: api({
      method: "GET",
      path: "/matching/get_user_diary_action/",
      tag: TAG,
      summary:
        "The user's diaries, brief (title, or the first 100 characters), most recent page",
      auth: "user",
      query: diaryListQuery,
      reply: diaryList,
    }),
    altDiary: api({
      method: "POST",
      path: "/matching/alt_diary_action/",
      tag: TAG,
      summary:
        "Edit a diary (fields left out are kept); classified again, then matched",
      auth: "user",
      body: body({
        diaryId: idField,
        title: title.optional(),
        content: blankless(content),
      }),
      reply: emotionReply,
    }),
    deleteDiary: api({
      method: "POST",
      path: "/matching/delete_diary_action/",
      tag: TAG,
      summary: "Delete one of the user's diaries",
      auth: "user",
      body: body({ diaryId: idField }),
      reply: success,
    }),
    uploadImage: api({
      method: "POST",
      path: "/matching/upload_img_action/",
      tag: TAG,
      summary:
        `Upload an image (PNG, JPEG, GIF or WebP, at most ${maxImage} bytes) as img_name`,
      auth: "user",
      files: ["img"],
      maxBody: maxImage + 64 * 1024,
      body: body({
        img: z.instanceof(File, {
          message: "must be an uploaded file (multipart/form-data)",
        }),
        img_name: blankless(z.string().trim().max(MAX_IMAGE_NAME)),
      }),
      reply: reply(image),
    }),
    showImage: api({
      method: "GET",
      path: "/matching/show_img_action/",
      tag: TAG,
      summary: "Where the user's image img_name is served (photourl)",
      auth: "user",
      query: imageQuery,
      reply: reply(image),
    }),
    imageFile: api({
      method: "GET",
      path: "/matching/show_img_action/:file",
      tag: TAG,
      summary:
        "An image's bytes (the photourl; owner's token; Range supported)",
      auth: "user",
    }),
    getPair: api({
      method: "GET",
      path: "/matching/get_pair_action/",
      tag: TAG,
      summary: "The id of the user's pair (its chat room)",
      auth: "user",
      query: selfQuery,
      reply: reply(z.object({ pair_id: z.string() })),
    }),
    history: api({
      method: "GET",
      path: "/matching/get_history_action/",
      tag: TAG,
      summary:
        "A pair's chat lines, oldest first: the latest page, or before/after a seq",
      auth: "user",
      query: historyQuery,
      reply: reply(z.object({
        messages: z.array(z.object({
          seq: z.number(),
          publish_date: z.string(),
          content: z.string(),
          openId: z.string(),
        })),
        more: z.boolean(),
      })),
    }),
    sendMessage: api({
      method: "POST",
      path: "/matching/send_message_via_http/",
      tag: TAG,
      summary: "Send a line to the user's pair (stored, then delivered)",
      auth: "user",
      body: body({
        pair_id: idField,
        content: z.string().max(
          MAX_LINE,
          `must be at most ${MAX_LINE} characters`,
        )
          .refine((v) => v.trim().length > 0, "must not be empty"),
      }),
      reply: reply(z.object({
        seq: z.number(),
        publish_date: z.string(),
      })),
    }),
  };
}

/** The caller's openId from their DiaryU token; 401 when there is none. */
async function signedInAs(
  c: Context<AppEnv>,
  fields?: Record<string, unknown>,
): Promise<string> {
  const token = tokenOf(c, fields);
  if (!token) {
    throw new AppError(
      401,
      "sign in first (GET /matching/get_openId_action/?js_code=...), then " +
        "send Authorization: Bearer <token>, ?token= or a token field",
    );
  }
  const principal = await resolveSession(c.get("deps").kv, token, ["diaryu"]);
  if (!principal) {
    throw new AppError(401, "token is unknown or expired: sign in again");
  }
  return principal.id;
}

/** 403 unless a request's `openId` (when it names one) is the caller's. */
function assertSelf(me: string, openId: string | undefined): void {
  if (openId !== undefined && openId !== me) {
    throw new AppError(
      403,
      `"openId" ${JSON.stringify(openId)} is not the signed-in user`,
    );
  }
}

/** The emotion as the seed shows it: a string. */
function code(emotion: number): string {
  return String(emotion);
}

/** A brief as get_user_action shows it: title (or the preview) and the preview. */
function userActionBrief(s: DiarySummary) {
  return {
    diary_id: s.diary_id,
    title: s.title || s.preview,
    content: s.preview,
    emotion: code(s.emotion),
    publish_date: s.publish_date,
    evidence: s.evidence,
  };
}

/** A brief as get_user_diary_action shows it: the title, or else the preview as content. */
function listBrief(s: DiarySummary) {
  return {
    diary_id: s.diary_id,
    ...(s.title ? { title: s.title } : { content: s.preview }),
    emotion: code(s.emotion),
    publish_date: s.publish_date,
  };
}

function fullDiary(d: Diary) {
  return {
    diary_id: d.diary_id,
    title: d.title,
    content: d.content,
    emotion: code(d.emotion),
    publish_date: d.publish_date,
    evidence: d.evidence,
  };
}

function historyLine(line: Line) {
  return {
    seq: line.seq,
    publish_date: line.publish_date,
    content: line.content,
    openId: line.openId,
  };
}

/** The `match` block: the partner's profile. */
async function matchBlock(
  kv: Deno.Kv,
  partner: string,
): Promise<{ user: ReturnType<typeof profileReply> }> {
  const user: DiaryUser = await getUser(kv, partner) ?? {
    openId: partner,
    source: "wechat",
    nickName: null,
    avatarUrl: null,
    gender: 0,
    province: null,
    city: null,
    country: null,
    createdAt: 0,
    updatedAt: 0,
  };
  return { user: profileReply(user) };
}

/**
 * The DiaryU routes of one instance. Loads the operator's emotion lexicon
 * (`--emotion-lexicon`) once, before serving, on top of the built-in one.
 */
export async function diaryuFeature(deps: AppDeps): Promise<Feature> {
  const { kv, config, limiter, log } = deps;
  let lexicon: EmotionLexicon | undefined;
  if (config.emotionLexicon) {
    const extra = await loadEmotionLexicon(config.emotionLexicon);
    lexicon = mergeLexicon(BUILTIN_LEXICON, extra);
    log.info("emotion lexicon loaded", {
      file: config.emotionLexicon,
      entries: extra.size,
    });
  }
  if (config.demo) {
    log.warn(
      "--demo is on: anyone may create DiaryU try-out users (POST /matching/demo_login/)",
    );
  }
  const classify: Classifier = emotionClassifier(lexicon);
  const maxImage = Math.min(MAX_IMAGE_BYTES, config.maxUploadBytes);
  const r = routes(maxImage);
  const app = subApp();

  app.onError(function renderDiaryError(err, c) {
    const e = err instanceof HTTPException
      ? new AppError(err.status as AppError["status"], err.message, {
        cause: err,
      })
      : asAppError(err, log);
    const retryAfter = retryAfterOf(e);
    if (retryAfter !== null) c.header("Retry-After", String(retryAfter));
    return c.json(diaryErrorBody(e), e.status as 400);
  });

  async function signedInReply(c: Context<AppEnv>, user: DiaryUser) {
    const token = await createSession(
      kv,
      { kind: "diaryu", id: user.openId },
      { ttlMs: DIARYU_SESSION_TTL_MS },
    );
    return c.json(diaryBody({ openId: user.openId, token }));
  }

  async function emotionReplyOf(
    classification: { emotion: number; evidence: unknown[] },
    outcome: MatchOutcome,
  ) {
    return {
      emotion: code(classification.emotion),
      evidence: classification.evidence,
      ...(outcome.status === "paired"
        ? { match: await matchBlock(kv, outcome.partner) }
        : {}),
    };
  }

  bindRoute(app, r.signIn, async function signIn(c) {
    const q = validate(signInQuery, c.req.query());
    assertWechatConfigured(config);
    const jsCode = q.js_code.trim();
    if (!/^[\x21-\x7e]{1,128}$/.test(jsCode)) {
      throw new AppError(
        400,
        '"js_code" must be the code wx.login returned (1-128 visible ASCII characters)',
      );
    }
    takeBudget(limiter, BUDGETS.signIn, clientAddress(c));
    const { openId } = await jscode2session(config, jsCode);
    return signedInReply(c, await ensureUser(kv, openId, { source: "wechat" }));
  });

  bindRoute(app, r.demoLogin, async function demoLogin(c) {
    if (!config.demo) {
      throw new AppError(
        404,
        "try-out sign-in is off on this server (the operator turns it on with --demo)",
      );
    }
    takeBudget(limiter, BUDGETS.demoSignIn, clientAddress(c));
    return signedInReply(c, await createDemoUser(kv));
  });

  bindRoute(app, r.store, async function store(c) {
    const b = await input(c, r.store);
    const me = await signedInAs(c, b);
    assertSelf(me, b.openId);
    const { openId: _o, token: _t, ...fields } = b;
    await storeProfile(kv, me, fields);
    return c.json(diaryBody());
  });

  bindRoute(app, r.emotion, async function emotion(c) {
    const b = await input(c, r.emotion);
    const me = await signedInAs(c, b);
    assertSelf(me, b.openId);
    takeBudget(limiter, BUDGETS.diaries, me);
    const { diary, match } = await writeDiary(kv, me, {
      title: b.title ?? "",
      content: b.content,
      classify,
    });
    return c.json(diaryBody(await emotionReplyOf(diary, match)));
  });

  bindRoute(app, r.depair, async function depairAction(c) {
    const b = await input(c, r.depair);
    const me = await signedInAs(c, b);
    assertSelf(me, b.openId);
    await depair(kv, me);
    return c.json(diaryBody());
  });

  bindRoute(app, r.getUser, async function getUserAction(c) {
    const q = validate(selfQuery, c.req.query());
    const me = await signedInAs(c);
    assertSelf(me, q.openId);
    const user = await requireUser(kv, me);
    const [{ diaries }, pair] = await Promise.all([
      listDiaries(kv, me, { limit: 10 }),
      currentPair(kv, me),
    ]);
    return c.json(diaryBody({
      user: { ...profileReply(user), gender: user.gender },
      diaries: diaries.map(userActionBrief),
      ...(pair
        ? {
          match: await matchBlock(kv, partnerIn(pair, me)),
        }
        : {}),
    }));
  });

  async function diaryListReply(
    c: Context<AppEnv>,
    me: string,
    q: { limit: number; before?: string },
  ) {
    const page = await listDiaries(kv, me, q);
    return c.json(diaryBody({
      diaries: page.diaries.map(listBrief),
      more: page.more,
    }));
  }

  bindRoute(app, r.getDiary, async function getDiaryAction(c) {
    const q = validate(diaryQuery, c.req.query());
    const me = await signedInAs(c);
    assertSelf(me, q.openId);
    if (q.diaryId === undefined) return diaryListReply(c, me, q);
    const diary = await requireOwnDiary(kv, me, q.diaryId);
    return c.json(diaryBody({ diary: fullDiary(diary) }));
  });

  bindRoute(app, r.getUserDiaries, async function getUserDiaryAction(c) {
    const q = validate(diaryListQuery, c.req.query());
    const me = await signedInAs(c);
    assertSelf(me, q.openId);
    return diaryListReply(c, me, q);
  });

  bindRoute(app, r.altDiary, async function altDiaryAction(c) {
    const b = await input(c, r.altDiary);
    const me = await signedInAs(c, b);
    assertSelf(me, b.openId);
    takeBudget(limiter, BUDGETS.diaries, me);
    const { diary, match } = await rewriteDiary(kv, me, {
      diaryId: b.diaryId,
      title: b.title,
      content: b.content,
      classify,
    });
    return c.json(diaryBody(await emotionReplyOf(diary, match)));
  });

  bindRoute(app, r.deleteDiary, async function deleteDiaryAction(c) {
    const b = await input(c, r.deleteDiary);
    const me = await signedInAs(c, b);
    assertSelf(me, b.openId);
    await deleteDiary(kv, me, b.diaryId);
    return c.json(diaryBody());
  });

  function imageReply(c: Context<AppEnv>, img: StoredImage) {
    const origin = new URL(c.req.url).origin;
    return c.json(diaryBody({
      image: {
        name: img.name,
        photourl: `${origin}/matching/show_img_action/${img.blob}`,
      },
    }));
  }

  bindRoute(app, r.uploadImage, async function uploadImgAction(c) {
    // A header or query token is checked before a large body is read.
    const early = tokenOf(c) ? await signedInAs(c) : null;
    const b = await input(c, r.uploadImage);
    const me = early ?? await signedInAs(c, b);
    assertSelf(me, b.openId);
    takeBudget(limiter, BUDGETS.uploads, me);
    const stored = await saveImage(kv, me, {
      name: b.img_name ?? (b.img.name || "image"),
      bytes: new Uint8Array(await b.img.arrayBuffer()),
      maxBytes: maxImage,
    });
    return imageReply(c, stored);
  });

  bindRoute(app, r.showImage, async function showImgAction(c) {
    const q = validate(imageQuery, c.req.query());
    const me = await signedInAs(c);
    assertSelf(me, q.openId);
    return imageReply(c, await requireImage(kv, me, q.img_name));
  });

  bindRoute(app, r.imageFile, async function imageFile(c) {
    const file = c.req.param("file") ?? "";
    if (!isBlobName(file)) {
      throw new AppError(
        400,
        `"${file.slice(0, 80)}" is not an image file name`,
      );
    }
    const me = await signedInAs(c);
    const meta = await requireOwnImageBlob(kv, me, file);
    return blobResponse(kv, meta, c.req.header("range"), {
      method: c.req.method,
      cacheControl: "private, max-age=3600",
    });
  });

  bindRoute(app, r.getPair, async function getPairAction(c) {
    const q = validate(selfQuery, c.req.query());
    const me = await signedInAs(c);
    assertSelf(me, q.openId);
    const pair = await currentPair(kv, me);
    if (!pair) {
      throw new AppError(
        404,
        "you are not in a pair: write a diary (POST /matching/emotion/) to be matched",
      );
    }
    return c.json(diaryBody({ pair_id: pair.pair_id }));
  });

  bindRoute(app, r.history, async function getHistoryAction(c) {
    const q = validate(historyQuery, c.req.query());
    const me = await signedInAs(c);
    assertSelf(me, q.openId);
    await requireMemberPair(kv, me, q.pair_id);
    const page = await history(kv, q.pair_id, q);
    return c.json(diaryBody({
      messages: page.messages.map(historyLine),
      more: page.more,
    }));
  });

  bindRoute(app, r.sendMessage, async function sendMessageViaHttp(c) {
    const b = await input(c, r.sendMessage);
    const me = await signedInAs(c, b);
    assertSelf(me, b.openId);
    takeBudget(limiter, BUDGETS.lines, me);
    const line = await appendLine(kv, b.pair_id, {
      openId: me,
      content: b.content,
    });
    return c.json(
      diaryBody({ seq: line.seq, publish_date: line.publish_date }),
    );
  });

  return { app };
}
