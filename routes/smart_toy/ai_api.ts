import type { Context } from "hono";
import { z } from "zod";
import { toyReply, toyRequest } from "./_contract.ts";
import { AppError, asAppError } from "../../domain/platform/errors.ts";
import type { Principal } from "../../domain/platform/sessions.ts";
import type { AppDeps } from "../../domain/platform/services.ts";
import { toyBody, toyErrorBody } from "../../domain/smart_toy/envelope.ts";
import { DEVICE_KEY } from "../../domain/smart_toy/devices.ts";
import { assertActsAs, getToy, openToy } from "../../domain/smart_toy/toys.ts";
import {
  AnswerTasks,
  CUT_SHORT_METRIC,
  replyToRecording,
} from "../../domain/ai/pipeline.ts";
import { sweepAnswerAudio } from "../../domain/ai/answer.ts";
import {
  aiStatus,
  describeAiSetup,
  ProviderError,
} from "../../domain/ai/providers.ts";
import {
  clearMemory,
  clearTranscripts,
  getProfile,
  listTranscripts,
  setProfile,
} from "../../domain/ai/profile.ts";
import { type AppEnv, type Feature, subApp } from "../app.ts";
import {
  api,
  bindRoute,
  caller,
  idField,
  input,
  text,
  tokenOf,
} from "../_http.ts";

/**
 * The AI path of the smart-toy contract (seed 002 `/ai_uploader`;
 * CONTRACTS.md) and the parents' per-toy AI settings.
 *
 * `/ai_uploader` answers one of seed 002's three BARE objects (no
 * envelope). Its failures, like every other smart-toy route's, come in the
 * `{code, msg, data}` envelope with an honest status: 401/403 who may ask,
 * 413/415 the recording, 429 too many requests (Retry-After), 503 a
 * provider not configured (msg names it and its flag) or unreachable,
 * 502 a provider's answer was not what its API promises, 504 too slow.
 * The profile routes reply in the envelope and are for the toy's owner.
 */

const TAG = "ai";
/** Recordings a toy may send a minute: a child talks, a loop does not. */
const AI_REQUESTS_PER_MINUTE = 20;
/** How often expired answer audio is swept. */
const SWEEP_EVERY_MS = 10 * 60 * 1000;

const file = z.instanceof(File, {
  message: "must be an uploaded file (multipart/form-data)",
});

const deviceKey = z.string().trim().toLowerCase().regex(
  DEVICE_KEY,
  "must be 32 hex characters (the toy's device key)",
);

const topics = z.array(text(40)).max(20, "at most 20 topics");

const profileShape = z.object({
  toy_id: z.string(),
  persona_name: z.string(),
  child_age: z.number(),
  language: z.enum(["auto", "zh", "en"]),
  avoid_topics: z.array(z.string()),
  updated_at: z.number(),
  providers: z.object({ stt: z.boolean(), chat: z.boolean(), tts: z.boolean() })
    .describe("which AI steps this server has a provider for"),
  keep_transcripts: z.boolean(),
});

const transcriptShape = z.object({
  _id: z.string(),
  toy_id: z.string(),
  heard: z.string(),
  intent: z.enum(["play", "message", "answer"]),
  reply: z.string(),
  create_time: z.number(),
});

const aiReply = z.union([
  z.object({ from_user: z.literal("ai"), music: z.string() }).describe(
    "play: a content file under /get_music/",
  ),
  z.object({ from_user: z.literal("ai"), chat: z.string() }).describe(
    "answer: a spoken answer under /get_chat/",
  ),
  z.object({
    from_user: z.string(),
    chat: z.string(),
    friend_type: z.enum(["app", "toy"]),
  }).describe(
    "message: a spoken prompt under /get_chat/; record the next /toy_uploader for from_user",
  ),
]).describe("bare, as seed 002 documents (no envelope)");

function routes(maxUpload: number) {
  return {
    aiUploader: api({
      method: "POST",
      path: "/ai_uploader",
      tag: TAG,
      summary:
        "The toy's recording -> play content, message a friend, or a spoken answer. " +
        "Replies bare ({from_user, music} | {from_user, chat} | {from_user, chat, friend_type}); " +
        "errors in the {code, msg, data} envelope with the HTTP status " +
        "(503 names a provider that is not configured). Toy token, or device_key.",
      auth: "toy",
      files: ["reco"],
      maxBody: maxUpload,
      body: toyRequest({
        toy_id: idField,
        reco: file,
        device_key: deviceKey.optional(),
      }),
      reply: aiReply,
    }),
    profile: api({
      method: "POST",
      path: "/ai_profile",
      tag: TAG,
      summary: "A toy's AI profile (owner only) and which providers are set",
      auth: "user",
      body: toyRequest({ toy_id: idField }),
      reply: toyReply(profileShape),
    }),
    setProfile: api({
      method: "POST",
      path: "/ai_profile/set",
      tag: TAG,
      summary:
        "Set a toy's AI persona, child's age, language (auto follows the child) and topics to avoid (owner only)",
      auth: "user",
      body: toyRequest({
        toy_id: idField,
        persona_name: text(32).optional(),
        child_age: z.coerce.number().int().min(1).max(17).optional(),
        language: z.enum(["auto", "zh", "en"]).optional(),
        avoid_topics: z.union([
          topics,
          z.string().max(1000).transform((s) =>
            s.split(/[,，、;；\n]/).map((t) => t.trim()).filter(Boolean)
          ).pipe(topics),
        ]).optional().describe(
          "an array, or one string separated by commas; empty clears",
        ),
      }),
      reply: toyReply(profileShape),
    }),
    clearMemory: api({
      method: "POST",
      path: "/ai_memory/clear",
      tag: TAG,
      summary: "Make a toy's AI forget the conversation (owner only)",
      auth: "user",
      body: toyRequest({ toy_id: idField }),
      reply: toyReply(z.object({})),
    }),
    transcripts: api({
      method: "POST",
      path: "/ai_transcripts",
      tag: TAG,
      summary:
        "What the child said to the AI, newest first (owner only; kept only when the operator turns on --ai-keep-transcripts)",
      auth: "user",
      body: toyRequest({
        toy_id: idField,
        before: idField.optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
      }),
      reply: toyReply(z.array(transcriptShape)),
    }),
    clearTranscripts: api({
      method: "POST",
      path: "/ai_transcripts/clear",
      tag: TAG,
      summary: "Delete a toy's kept transcripts (owner only)",
      auth: "user",
      body: toyRequest({ toy_id: idField }),
      reply: toyReply(z.object({ deleted: z.number() })),
    }),
  };
}

/** The AI routes of one instance. */
export function aiFeature(deps: AppDeps): Feature {
  const app = subApp();
  const { kv, config } = deps;
  const r = routes(config.maxUploadBytes + 64 * 1024);
  // The start-up line saying which AI steps this server can do.
  deps.log.info(describeAiSetup(config));
  deps.metrics.describe(
    "babble_ai_stage_seconds",
    "Time per AI stage (transcode, stt, intent, chat, tts, store)",
  );
  deps.metrics.describe(
    "babble_ai_replies_total",
    "AI replies by intent (play, message, answer, unheard)",
  );
  deps.metrics.describe(
    "babble_ai_provider_failures_total",
    "AI provider failures by step and status",
  );
  deps.metrics.describe(
    CUT_SHORT_METRIC,
    "AI answers a failure cut short after the reply left, by step",
  );
  // Answers still being spoken after their reply; closing waits for them.
  const answers = new AnswerTasks();

  app.onError(function renderAiError(err, c) {
    const e = asAppError(err, deps.log);
    const headers: Record<string, string> = {};
    if (e.status === 429) headers["retry-after"] = retryAfterOf(e);
    if (err instanceof ProviderError && e.status === 503) {
      headers["retry-after"] = "5";
    }
    return c.json(toyErrorBody(e), e.status, headers);
  });

  /** The toy (owned by the caller) a profile route names; 403/404 otherwise. */
  async function ownedToy(
    c: Context<AppEnv>,
    b: { toy_id: string; token?: string },
  ): Promise<string> {
    const me = await caller(c, ["user"], b);
    await assertActsAs(kv, me, b.toy_id, "toy_id");
    if (!(await getToy(kv, b.toy_id))) {
      throw new AppError(404, `no toy with toy_id "${b.toy_id}"`);
    }
    return b.toy_id;
  }

  async function profileView(toyId: string) {
    return {
      ...(await getProfile(kv, toyId)),
      providers: aiStatus(config),
      keep_transcripts: config.aiKeepTranscripts,
    };
  }

  bindRoute(app, r.aiUploader, async function aiUploadHandler(c) {
    // Check a header or query credential before reading a large upload.
    const early = await earlyToy(c, deps);
    const b = await input(c, r.aiUploader);
    const me = early ?? await bodyToy(c, deps, b);
    if (b.toy_id !== me.id) {
      throw new AppError(403, `"toy_id" ${b.toy_id} is not the calling toy`);
    }
    deps.limiter.take(
      `ai:${me.id}`,
      AI_REQUESTS_PER_MINUTE,
      60_000,
      "AI requests from this toy",
    );
    if (b.reco.size > config.maxUploadBytes) {
      throw new AppError(
        413,
        `the recording is larger than ${config.maxUploadBytes} bytes`,
      );
    }
    // Each provider call has its own time limit; a toy that hangs up does
    // not cancel them (Deno's request.signal also fires on success).
    const outcome = await replyToRecording(
      deps,
      me.id,
      new Uint8Array(await b.reco.arrayBuffer()),
      { tasks: answers },
    );
    const timing = Object.entries(outcome.stages)
      .map(([stage, ms]) => `${stage};dur=${ms}`);
    if (outcome.firstAudioMs !== undefined) {
      timing.push(`first_audio;dur=${outcome.firstAudioMs}`);
    }
    timing.push(`total;dur=${outcome.totalMs}`);
    return c.json(outcome.reply, 200, { "server-timing": timing.join(", ") });
  });

  bindRoute(app, r.profile, async function aiProfileHandler(c) {
    const b = await input(c, r.profile);
    const toyId = await ownedToy(c, b);
    return c.json(toyBody(0, "AI profile", await profileView(toyId)));
  });

  bindRoute(app, r.setProfile, async function aiProfileSetHandler(c) {
    const b = await input(c, r.setProfile);
    const toyId = await ownedToy(c, b);
    await setProfile(kv, toyId, {
      persona_name: b.persona_name,
      child_age: b.child_age,
      language: b.language,
      avoid_topics: b.avoid_topics,
    });
    return c.json(toyBody(0, "AI profile saved", await profileView(toyId)));
  });

  bindRoute(app, r.clearMemory, async function aiMemoryClearHandler(c) {
    const b = await input(c, r.clearMemory);
    await clearMemory(kv, await ownedToy(c, b));
    return c.json(toyBody(0, "AI memory cleared"));
  });

  bindRoute(app, r.transcripts, async function aiTranscriptsHandler(c) {
    const b = await input(c, r.transcripts);
    const toyId = await ownedToy(c, b);
    const list = await listTranscripts(kv, toyId, {
      before: b.before,
      limit: b.limit,
    });
    return c.json(
      toyBody(
        0,
        config.aiKeepTranscripts
          ? "AI transcripts"
          : "transcripts are not kept on this server (--ai-keep-transcripts is off)",
        list,
      ),
    );
  });

  bindRoute(app, r.clearTranscripts, async function aiTranscriptsClear(c) {
    const b = await input(c, r.clearTranscripts);
    const deleted = await clearTranscripts(kv, await ownedToy(c, b));
    return c.json(toyBody(0, "AI transcripts deleted", { deleted }));
  });

  const sweeper = setInterval(function sweepAiAnswers() {
    sweepAnswerAudio(kv).catch((err) =>
      deps.log.warn("AI answer sweep failed", { error: String(err) })
    );
  }, SWEEP_EVERY_MS);

  return {
    app,
    async close() {
      clearInterval(sweeper);
      await answers.settle();
    },
  };
}

/** The toy a header/query token or `?device_key=` names, or null for none. */
async function earlyToy(
  c: Context<AppEnv>,
  deps: AppDeps,
): Promise<Principal | null> {
  if (tokenOf(c)) return await caller(c, ["toy"]);
  const key = c.req.query("device_key");
  return key ? await deviceToy(deps, key) : null;
}

/** The toy a body `token` or `device_key` names; 401 without either. */
async function bodyToy(
  c: Context<AppEnv>,
  deps: AppDeps,
  b: { token?: string; device_key?: string },
): Promise<Principal> {
  if (b.token) return await caller(c, ["toy"], b);
  if (b.device_key) return await deviceToy(deps, b.device_key);
  throw new AppError(
    401,
    "sign in first: the toy's token (Authorization: Bearer <token> from /open_toy) or its device_key",
  );
}

/** The bound toy of a device key; 401 when the key opens no toy. */
async function deviceToy(deps: AppDeps, raw: string): Promise<Principal> {
  const key = deviceKey.safeParse(raw);
  const opened = key.success ? await openToy(deps.kv, key.data) : null;
  if (opened?.code !== 0) {
    throw new AppError(401, "device_key is not the key of a bound toy");
  }
  return { kind: "toy", id: opened.toy._id };
}

/** Seconds until a rate limit lets the caller in again, from its message. */
function retryAfterOf(err: AppError): string {
  return /in (\d+) s/.exec(err.message)?.[1] ?? "60";
}
