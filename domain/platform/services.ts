import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { RateLimiter } from "./rate_limit.ts";
import type { Transcoder } from "../audio/transcoder.ts";

/**
 * What every transport of one server instance uses, built once by
 * `main.ts`: routes and realtime endpoints receive it, the domain takes
 * the pieces it needs as arguments.
 */
export interface AppDeps {
  kv: Deno.Kv;
  config: Config;
  log: Logger;
  metrics: Metrics;
  limiter: RateLimiter;
  /** The ffmpeg.wasm pool; null where a server runs without audio. */
  transcoder: Transcoder | null;
}
