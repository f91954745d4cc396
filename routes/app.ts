import { Hono } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { AppError } from "../domain/platform/errors.ts";
import type { Config } from "../domain/platform/config.ts";
import type { Logger } from "../domain/platform/log.ts";
import type { Metrics } from "../domain/platform/metrics.ts";
import type { RateLimiter } from "../domain/platform/rate_limit.ts";
import type { Transcoder } from "../domain/audio/transcoder.ts";

/** What every sub-app may use; built once per server instance. */
export interface AppDeps {
  kv: Deno.Kv;
  config: Config;
  log: Logger;
  metrics: Metrics;
  limiter: RateLimiter;
  /** The ffmpeg.wasm pool; null where a server runs without audio. */
  transcoder: Transcoder | null;
}

/** The Hono environment of every Babble sub-app. */
export type AppEnv = {
  Variables: { deps: AppDeps };
};

/** A piece of the server: its routes and what must stop with it. */
export interface Feature {
  app: Hono<AppEnv>;
  close?: () => Promise<void> | void;
  /** Requests this feature answers before the HTTP middleware, or null. */
  fastPath?: (req: Request) => Promise<Response> | null;
}

/** Renders an error in the smart-toy envelope: {code, msg, data}. */
export function toyErrorBody(err: AppError): Record<string, unknown> {
  return {
    code: err.code ?? err.status,
    msg: err.message,
    data: err.data ?? {},
  };
}

/** Maps anything thrown to an AppError; unknown errors become a logged 500. */
export function asAppError(err: unknown, log?: Logger): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    return new AppError(err.status as AppError["status"], err.message);
  }
  log?.error("unhandled error", {
    error: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
  return new AppError(500, "internal error; it has been logged");
}

/** A new sub-app with the shared environment type. */
export function subApp(): Hono<AppEnv> {
  return new Hono<AppEnv>();
}

/**
 * The server's Hono app: CORS, deps, metrics, the default error envelope,
 * then every feature's routes. Tests build exactly what the server runs.
 */
export function createApp(deps: AppDeps, features: Feature[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const origins = deps.config.corsOrigins.split(",").map((o) => o.trim());
  const corsHandler = cors({
    origin: origins.includes("*") ? "*" : origins,
    allowHeaders: ["Authorization", "Content-Type", "Range"],
    exposeHeaders: ["Content-Range", "Content-Length", "Accept-Ranges"],
  });
  // Only browsers send Origin; apps, toys and servers skip the CORS work.
  app.use("*", function corsForBrowsers(c, next) {
    return c.req.raw.headers.has("origin") ? corsHandler(c, next) : next();
  });
  const responseSeries = ["1xx", "2xx", "3xx", "4xx", "5xx"].map((status) =>
    deps.metrics.series("babble_http_responses_total", { status })
  );
  app.use("*", async function withDeps(c, next) {
    c.set("deps", deps);
    await next();
    deps.metrics.incSeries(
      responseSeries[Math.floor(c.res.status / 100) - 1] ?? "",
    );
  });
  app.onError(function renderError(err, c) {
    const e = asAppError(err, deps.log);
    return c.json(toyErrorBody(e), e.status);
  });
  app.notFound(function renderNotFound(c) {
    return c.json(
      { code: 404, msg: `no route ${c.req.method} ${c.req.path}`, data: {} },
      404,
    );
  });
  for (const feature of features) app.route("/", feature.app);
  return app;
}
