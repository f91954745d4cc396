import { randomHex } from "../domain/store/ids.ts";
import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { AppError, asAppError } from "../domain/platform/errors.ts";
import type { AppDeps } from "../domain/platform/services.ts";
import { toyBody, toyErrorBody } from "../domain/smart_toy/envelope.ts";
import { diaryErrorBody } from "../domain/diaryu/envelope.ts";
import { lobbyErrorReply } from "../domain/lobby/envelope.ts";
import { retryAfterOf } from "../domain/platform/rate_limit.ts";
import { uploadBudgetOf } from "../domain/platform/upload_budget.ts";
import { withFields } from "../domain/platform/log.ts";
import { type AppEnv, clientAddress, routesOf } from "./_http.ts";

export type { AppEnv };

const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/** The HTTP latency histogram. */
const HTTP_SECONDS = "babble_http_request_seconds";

/** Sets a response header, copying a response whose headers are immutable. */
function setHeader(c: Context<AppEnv>, name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set(name, value);
  }
}

const GIVEN_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/**
 * Request ids of this process: a random 8-hex prefix, then a counter. As
 * unique per process as random ids, without a CSPRNG read per request
 * (the profile of `friend_list` under load showed one).
 */
const processPrefix = randomHex(4);
let requestCounter = 0;

/**
 * A request id: a proxy's `X-Request-Id` when it is a short token (so logs
 * join across hops), else 16 hex characters.
 */
function requestIdOf(given: string | undefined): string {
  if (given && GIVEN_REQUEST_ID.test(given)) return given;
  requestCounter = (requestCounter + 1) >>> 0;
  return processPrefix + requestCounter.toString(16).padStart(8, "0");
}

/** A contract's HTTP routes and what must stop with them. */
export interface Feature {
  app: Hono<AppEnv>;
  close?: () => Promise<void> | void;
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
  const responseSeries = STATUS_CLASSES.map((status) =>
    deps.metrics.series("babble_http_responses_total", { status })
  );
  const routes = features.flatMap((feature) => routesOf(feature.app));
  const budget = uploadBudgetOf(deps);
  // The debug line of every request is built only when it will be written.
  const logsRequests = deps.config.logLevel === "debug";
  // Histogram labels per route and status class, made once, not per request.
  const labelsByRoute = new Map<string, Record<string, string>>();
  const labelsOf = (route: string, statusClass: string) => {
    const key = `${statusClass} ${route}`;
    let labels = labelsByRoute.get(key);
    if (!labels) {
      labels = { route, status: statusClass };
      // Route patterns are a fixed set; the bound only guards against bugs.
      if (labelsByRoute.size < 10_000) labelsByRoute.set(key, labels);
    }
    return labels;
  };
  deps.metrics.describe(
    HTTP_SECONDS,
    "HTTP request latency by route pattern and status class",
  );
  app.use("*", async function withDeps(c, next) {
    const started = performance.now();
    const requestId = requestIdOf(c.req.header("x-request-id"));
    c.set("deps", deps);
    c.set("routes", routes);
    c.set("requestId", requestId);
    try {
      await next();
    } finally {
      // Only an upload that `readBody` admitted holds budget bytes.
      if (c.get("uploadAdmitted")) budget.release(c.req.raw);
    }
    const status = c.res.status;
    // An upgrade must return the runtime's own 101 response, untouched.
    if (status === 101) return;
    const statusClass = STATUS_CLASSES[Math.floor(status / 100) - 1] ?? "5xx";
    deps.metrics.incSeries(
      responseSeries[Math.floor(status / 100) - 1] ?? "",
    );
    // Whichever contract rendered the error, a 429/503 says when to retry.
    const retryAfter = retryAfterOf(c.error);
    if (retryAfter !== null && !c.res.headers.has("retry-after")) {
      setHeader(c, "retry-after", String(retryAfter));
    }
    setHeader(c, "x-request-id", requestId);
    const seconds = (performance.now() - started) / 1000;
    // The route pattern, never the raw path: label values stay a fixed set.
    const route = status === 404 && c.req.routePath === "*"
      ? "unmatched"
      : c.req.routePath;
    deps.metrics.observe(HTTP_SECONDS, labelsOf(route, statusClass), seconds);
    if (status < 500 && !logsRequests) return;
    const line = {
      request_id: requestId,
      method: c.req.method,
      route,
      status,
      ms: Math.round(seconds * 1000),
      client: clientAddress(c),
    };
    if (status >= 500) deps.log.error("request failed", line);
    else deps.log.debug("request", line);
  });
  app.onError(function renderError(err, c) {
    const e = err instanceof HTTPException
      ? new AppError(err.status as AppError["status"], err.message, {
        cause: err,
      })
      : asAppError(
        err,
        withFields(deps.log, { request_id: c.get("requestId") }),
      );
    return c.json(toyErrorBody(e), e.status);
  });
  // A path no route matched still gets the envelope of the contract whose
  // prefix it is under (a client of that contract reads only that shape).
  app.notFound(function renderNotFound(c) {
    const msg = `no route ${c.req.method} ${c.req.path.slice(0, 200)}`;
    const path = c.req.path;
    if (path === "/matching" || path.startsWith("/matching/")) {
      return c.json(diaryErrorBody(new AppError(404, msg)), 404);
    }
    if (
      path === "/api" || path.startsWith("/api/") || path === "/avatar" ||
      path.startsWith("/avatar/")
    ) {
      return c.json(lobbyErrorReply(msg), 404);
    }
    return c.json(toyBody(404, msg), 404);
  });
  for (const feature of features) app.route("/", feature.app);
  return app;
}
