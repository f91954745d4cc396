import { z } from "zod";

/**
 * Server configuration: flags, then BABBLE_* environment variables, then
 * these defaults. One table drives parsing, validation and `--help`.
 */

interface Setting {
  flag: string;
  env: string;
  help: string;
  schema: z.ZodType;
  fallback?: string;
}

const port = z.coerce.number().int().min(0).max(65535);
const optionalPort = port.optional();
const positive = z.coerce.number().int().positive();
const flag = z.enum(["on", "off", "true", "false", "1", "0"]).transform((v) =>
  v === "on" || v === "true" || v === "1"
);

/** Every setting: flag name, environment variable, help text, validation, default. */
export const SETTINGS = {
  port: {
    flag: "port",
    env: "BABBLE_PORT",
    help: "HTTP and WebSocket port",
    schema: port,
    fallback: "8000",
  },
  host: {
    flag: "host",
    env: "BABBLE_HOST",
    help: "address to listen on",
    schema: z.string().min(1),
    fallback: "0.0.0.0",
  },
  kv: {
    flag: "kv",
    env: "BABBLE_KV",
    help: "KV store: a file path, :memory:, or an https:// KV Connect URL",
    schema: z.string().min(1),
    fallback: "./data/babble.kv",
  },
  adminToken: {
    flag: "admin-token",
    env: "BABBLE_ADMIN_TOKEN",
    help: "bearer token for /admin routes (admin API off when unset)",
    schema: z.string().min(16, "admin token must be at least 16 characters")
      .optional(),
  },
  corsOrigins: {
    flag: "cors-origins",
    env: "BABBLE_CORS_ORIGINS",
    help: "comma-separated origins allowed by CORS, or *",
    schema: z.string(),
    fallback: "*",
  },
  maxUploadBytes: {
    flag: "max-upload-bytes",
    env: "BABBLE_MAX_UPLOAD_BYTES",
    help: "largest accepted upload (voice, images, content)",
    schema: positive,
    fallback: String(10 * 1024 * 1024),
  },
  transcodeWorkers: {
    flag: "transcode-workers",
    env: "BABBLE_TRANSCODE_WORKERS",
    help: "ffmpeg.wasm workers (each holds 130-220 MB)",
    schema: positive,
    fallback: String(navigator.hardwareConcurrency || 1),
  },
  lobbyTcpPort: {
    flag: "lobby-tcp-port",
    env: "BABBLE_LOBBY_TCP_PORT",
    help: "raw TCP port for the lobby socket API (off when unset)",
    schema: optionalPort,
  },
  lobbyIdleSeconds: {
    flag: "lobby-idle-seconds",
    env: "BABBLE_LOBBY_IDLE_SECONDS",
    help: "close lobby connections idle this long",
    schema: positive,
    fallback: "300",
  },
  wechatBaseUrl: {
    flag: "wechat-base-url",
    env: "BABBLE_WECHAT_BASE_URL",
    help: "base URL of WeChat's API (jscode2session)",
    schema: z.url(),
    fallback: "https://api.weixin.qq.com",
  },
  wechatAppid: {
    flag: "wechat-appid",
    env: "BABBLE_WECHAT_APPID",
    help: "WeChat mini-program app id (DiaryU sign-in off when unset)",
    schema: z.string().min(1).optional(),
  },
  wechatSecret: {
    flag: "wechat-secret",
    env: "BABBLE_WECHAT_SECRET",
    help: "WeChat mini-program app secret",
    schema: z.string().min(1).optional(),
  },
  emotionLexicon: {
    flag: "emotion-lexicon",
    env: "BABBLE_EMOTION_LEXICON",
    help: "extra emotion lexicon file: word, class 0-7, strength per line",
    schema: z.string().min(1).optional(),
  },
  demo: {
    flag: "demo",
    env: "BABBLE_DEMO",
    help: "try-out sign-ins for the web pages (DiaryU local users): on/off",
    schema: flag,
    fallback: "off",
  },
  sttUrl: {
    flag: "stt-url",
    env: "BABBLE_STT_URL",
    help:
      "speech-to-text base URL (OpenAI-compatible, e.g. http://127.0.0.1:8080/v1)",
    schema: z.url().optional(),
  },
  sttKey: {
    flag: "stt-key",
    env: "BABBLE_STT_KEY",
    help: "speech-to-text API key",
    schema: z.string().min(1).optional(),
  },
  sttModel: {
    flag: "stt-model",
    env: "BABBLE_STT_MODEL",
    help: "speech-to-text model",
    schema: z.string().min(1),
    fallback: "whisper-1",
  },
  sttTimeoutMs: {
    flag: "stt-timeout-ms",
    env: "BABBLE_STT_TIMEOUT_MS",
    help: "speech-to-text time limit",
    schema: positive,
    fallback: "15000",
  },
  chatUrl: {
    flag: "chat-url",
    env: "BABBLE_CHAT_URL",
    help:
      "chat completions base URL (OpenAI-compatible, e.g. http://127.0.0.1:11434/v1)",
    schema: z.url().optional(),
  },
  chatKey: {
    flag: "chat-key",
    env: "BABBLE_CHAT_KEY",
    help: "chat API key",
    schema: z.string().min(1).optional(),
  },
  chatModel: {
    flag: "chat-model",
    env: "BABBLE_CHAT_MODEL",
    help: "chat model",
    schema: z.string().min(1),
    fallback: "gpt-4o-mini",
  },
  chatTimeoutMs: {
    flag: "chat-timeout-ms",
    env: "BABBLE_CHAT_TIMEOUT_MS",
    help: "chat time limit",
    schema: positive,
    fallback: "20000",
  },
  ttsUrl: {
    flag: "tts-url",
    env: "BABBLE_TTS_URL",
    help: "text-to-speech base URL (OpenAI-compatible /v1/audio/speech)",
    schema: z.url().optional(),
  },
  ttsKey: {
    flag: "tts-key",
    env: "BABBLE_TTS_KEY",
    help: "text-to-speech API key",
    schema: z.string().min(1).optional(),
  },
  ttsModel: {
    flag: "tts-model",
    env: "BABBLE_TTS_MODEL",
    help: "text-to-speech model",
    schema: z.string().min(1),
    fallback: "tts-1",
  },
  ttsVoice: {
    flag: "tts-voice",
    env: "BABBLE_TTS_VOICE",
    help: "text-to-speech voice",
    schema: z.string().min(1),
    fallback: "alloy",
  },
  ttsTimeoutMs: {
    flag: "tts-timeout-ms",
    env: "BABBLE_TTS_TIMEOUT_MS",
    help: "text-to-speech time limit",
    schema: positive,
    fallback: "15000",
  },
  aiMemoryTurns: {
    flag: "ai-memory-turns",
    env: "BABBLE_AI_MEMORY_TURNS",
    help: "conversation turns a toy's AI remembers",
    schema: positive,
    fallback: "6",
  },
  aiMemoryMinutes: {
    flag: "ai-memory-minutes",
    env: "BABBLE_AI_MEMORY_MINUTES",
    help: "a toy's AI forgets the conversation after this quiet spell",
    schema: positive,
    fallback: "10",
  },
  aiKeepTranscripts: {
    flag: "ai-keep-transcripts",
    env: "BABBLE_AI_KEEP_TRANSCRIPTS",
    help: "keep the child's transcripts for the parents to read: on/off",
    schema: flag,
    fallback: "off",
  },
  trustedProxies: {
    flag: "trusted-proxies",
    env: "BABBLE_TRUSTED_PROXIES",
    help: "comma-separated CIDRs whose X-Forwarded-For / Forwarded is believed",
    schema: z.string().optional().transform((v) => v ?? ""),
  },
  tlsCert: {
    flag: "tls-cert",
    env: "BABBLE_TLS_CERT",
    help: "PEM certificate file: serve HTTPS and wss:// (with --tls-key)",
    schema: z.string().min(1).optional(),
  },
  tlsKey: {
    flag: "tls-key",
    env: "BABBLE_TLS_KEY",
    help: "PEM private key file for --tls-cert",
    schema: z.string().min(1).optional(),
  },
  uploadBudgetBytes: {
    flag: "upload-budget-bytes",
    env: "BABBLE_UPLOAD_BUDGET_BYTES",
    help: "upload bytes in flight at once, all clients together (past it: 503)",
    schema: positive,
    fallback: String(64 * 1024 * 1024),
  },
  logFormat: {
    flag: "log-format",
    env: "BABBLE_LOG_FORMAT",
    help: "text or json",
    schema: z.enum(["text", "json"]),
    fallback: "text",
  },
  logLevel: {
    flag: "log-level",
    env: "BABBLE_LOG_LEVEL",
    help: "debug, info, warn or error",
    schema: z.enum(["debug", "info", "warn", "error"]),
    fallback: "info",
  },
} satisfies Record<string, Setting>;

/** The parsed configuration. */
export type Config = {
  [K in keyof typeof SETTINGS]: z.infer<(typeof SETTINGS)[K]["schema"]>;
};

/**
 * Builds the configuration from parsed flags and an environment; throws an
 * Error naming the flag, its variable and the bad value.
 */
export function loadConfig(
  flags: Record<string, string | undefined>,
  env: Record<string, string | undefined> = {},
): Config {
  const out: Record<string, unknown> = {};
  for (
    const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]
  ) {
    const raw = flags[setting.flag] ?? env[setting.env] ?? setting.fallback;
    const parsed = setting.schema.safeParse(raw === "" ? undefined : raw);
    if (!parsed.success) {
      throw new Error(
        `--${setting.flag} / ${setting.env} ${
          describeSchema(setting, parsed.error.issues[0]?.message)
        }, got ${JSON.stringify(raw ?? "")}`,
      );
    }
    out[name] = parsed.data;
  }
  return out as Config;
}

// Says what a setting expects, in the words of its error.
function describeSchema(setting: Setting, message = "is invalid"): string {
  if (setting.schema === port || setting.schema === optionalPort) {
    return "must be a port number (0-65535)";
  }
  if (setting.schema === positive) return "must be a positive whole number";
  if (setting.schema === flag) return "must be on or off";
  return `is invalid (${message})`;
}

/** Test and embedding defaults: in-memory KV, ephemeral port. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({ kv: ":memory:", port: "0", host: "127.0.0.1" }),
    ...overrides,
  };
}

/** The `--help` lines for every setting. */
export function settingsHelp(): string {
  return (Object.values(SETTINGS) as Setting[]).map((s) =>
    `  --${s.flag.padEnd(20)} ${s.env.padEnd(26)} ${s.help}${
      s.fallback !== undefined ? ` (default ${s.fallback})` : ""
    }`
  ).join("\n");
}
