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
const positive = z.coerce.number().int().positive();

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
    schema: port.optional(),
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
        `--${setting.flag} (${setting.env}) got ${JSON.stringify(raw)}: ${
          parsed.error.issues[0]?.message
        }`,
      );
    }
    out[name] = parsed.data;
  }
  return out as Config;
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
