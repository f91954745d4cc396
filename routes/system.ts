import { z } from "zod";
import { VERSION } from "../domain/platform/version.ts";
import { type Feature, subApp } from "./app.ts";
import type { AppDeps } from "../domain/platform/services.ts";
import { api, type ApiRoute, bindRoute } from "./_http.ts";
import { aiStatus } from "../domain/ai/providers.ts";

const TAG = "system";
const health = api({
  method: "GET",
  path: "/healthz",
  tag: TAG,
  summary: "Liveness and store reachability (503 when the store fails)",
  auth: "none",
});
const metrics = api({
  method: "GET",
  path: "/metrics",
  tag: TAG,
  summary: "Prometheus text metrics",
  auth: "none",
});
const openapi = api({
  method: "GET",
  path: "/openapi.json",
  tag: TAG,
  summary: "This document",
  auth: "none",
});

/** Open sockets by kind, from each endpoint's own gauge. */
const SOCKET_GAUGES = [
  ["smart_toy", "babble_sockets"],
  ["lobby", "babble_lobby_connections"],
  ["diaryu_room", "babble_diaryu_room_sockets"],
] as const;

/** `# HELP` of the metrics /metrics shows. */
const METRIC_HELP: [string, string][] = [
  [
    "babble_http_request_seconds",
    "HTTP latency by route pattern and status class",
  ],
  ["babble_http_responses_total", "HTTP responses by status class"],
  [
    "babble_upload_bytes_in_flight",
    "upload bytes admitted and not yet finished",
  ],
  [
    "babble_transcode_seconds",
    "ffmpeg.wasm job time by input format and outcome",
  ],
  ["babble_transcode_busy", "transcoder workers running a job"],
  ["babble_transcode_queued", "uploads waiting for a transcoder worker"],
  ["babble_ai_stage_seconds", "AI path time by stage"],
  ["babble_open_sockets", "open sockets by kind"],
  ["babble_voice_messages_total", "voice messages committed"],
  ["babble_messages_delivered_total", "durable messages written to sockets"],
  ["babble_delivery_seconds", "durable message: commit to socket write"],
  ["babble_kv_commit_seconds", "KV commit time of message batches"],
  ["babble_uptime_seconds", "seconds since this instance started"],
];

/** The systems this server runs. */
const SYSTEMS = ["smart_toy", "ai", "diaryu", "lobby", "qr_login", "pages"];

/** Operating routes: /healthz, /metrics, /openapi.json. */
export function systemFeature(deps: AppDeps): Feature {
  const app = subApp();
  const started = Date.now();

  const uptime = () => Math.round((Date.now() - started) / 1000);
  // Gauges are registered once; /metrics only reads them.
  deps.metrics.gauge("babble_uptime_seconds", uptime);
  const transcoder = deps.transcoder;
  if (transcoder) {
    deps.metrics.gauge("babble_transcode_busy", () => transcoder.stats().busy);
    deps.metrics.gauge(
      "babble_transcode_queued",
      () => transcoder.stats().queued,
    );
  }

  for (const [name, help] of METRIC_HELP) deps.metrics.describe(name, help);
  for (const [kind, gauge] of SOCKET_GAUGES) {
    deps.metrics.gauge(
      "babble_open_sockets",
      () => deps.metrics.gaugeValue(gauge) ?? 0,
      { kind },
    );
  }

  bindRoute(app, health, async function healthz(c) {
    let kvOk = true;
    try {
      await deps.kv.get(["meta", "schema"]);
    } catch {
      kvOk = false;
    }
    return c.json(
      {
        status: kvOk ? "ok" : "degraded",
        kv: kvOk ? "ok" : "unreachable",
        uptime_s: uptime(),
        version: VERSION,
        systems: SYSTEMS,
        ai: aiStatus(deps.config),
        sockets: {
          smart_toy: deps.metrics.gaugeValue("babble_sockets") ?? 0,
          lobby: deps.metrics.gaugeValue("babble_lobby_connections") ?? 0,
        },
      },
      kvOk ? 200 : 503,
    );
  });

  bindRoute(app, metrics, function metricsText(c) {
    return c.text(deps.metrics.render(), 200, {
      "content-type": "text/plain; version=0.0.4",
    });
  });

  bindRoute(app, openapi, function openapiJson(c) {
    return c.json(
      openApiDocument(c.get("routes"), { server: new URL(c.req.url).origin }),
    );
  });

  return { app };
}

function schemaOf(type: z.ZodType): unknown {
  return z.toJSONSchema(type, { io: "input", unrepresentable: "any" });
}

/** The WebSocket endpoints, which OpenAPI cannot model (`x-websockets`). */
const WEBSOCKETS = [
  {
    path: "/app/{user_id}",
    auth: "?token=<session token>",
    summary:
      "Parents' app socket: relays {to_user, ...} frames; delivers voice messages as {type: 'chat', id, seq, ...}; replays from ?after=<seq> or ?last_id=<id>",
  },
  {
    path: "/toy/{toy_id}",
    auth: "?token=<open_toy token> or ?device_key=<key>",
    summary: "Toy socket: the same frames as /app",
  },
  {
    path: "/api/socket",
    auth: "none (login frame)",
    summary:
      "Lobby socket API (seed 003): register, login, chat, heartbeat; also raw TCP with --lobby-tcp-port",
  },
  {
    path: "/qr_login",
    auth: "none",
    summary:
      "QR login page socket (seed 004): {type: 'key'}, then 'scanned', 'token' or 'expired'",
  },
  {
    path: "/matching/chat/{pair_id}/",
    auth: "?token=<DiaryU token>",
    summary: "DiaryU pair chat room: only the pair's two members",
  },
];

// The error shapes of each contract, by tag.
const ERROR_SCHEMAS: Record<string, unknown> = {
  lobby: {
    type: "object",
    properties: {
      type: { type: "string" },
      status: { type: "string" },
      message: { type: "string" },
    },
  },
  diaryu: {
    type: "object",
    properties: {
      status: { const: "error" },
      data: { type: "object" },
    },
  },
};
const TOY_ERROR = {
  type: "object",
  required: ["code", "msg", "data"],
  properties: {
    code: { type: "integer", description: "the HTTP status" },
    msg: { type: "string", description: "what was wrong, for a person" },
    data: { type: "object" },
  },
};

// A query schema's fields, as OpenAPI query parameters.
function queryParameters(query: z.ZodType): Record<string, unknown>[] {
  const schema = schemaOf(query) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, field]) => ({
    name,
    in: "query",
    required: schema.required?.includes(name) ?? false,
    schema: field,
  }));
}

// Upload fields are files: documented as binary strings.
function withBinaryFiles(schema: unknown, files: string[]): unknown {
  const s = schema as { properties?: Record<string, unknown> };
  if (!s.properties) return schema;
  const properties = { ...s.properties };
  for (const file of files) {
    properties[file] = { type: "string", format: "binary" };
  }
  return { ...s, properties };
}

/**
 * Builds the OpenAPI 3.1 document of the routes an app serves, from the
 * same route descriptions (and zod schemas) that validate requests.
 */
function openApiDocument(
  routes: readonly ApiRoute[],
  { server }: { server?: string } = {},
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z_]+)(\{[^}]*\})?/g, "{$1}");
    const params: Record<string, unknown>[] = [
      ...route.path.matchAll(/:([A-Za-z_]+)/g),
    ].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    if (route.query) params.push(...queryParameters(route.query));
    const errorSchema = ERROR_SCHEMAS[route.tag] ?? TOY_ERROR;
    const op: Record<string, unknown> = {
      tags: [route.tag],
      summary: route.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(route.auth === "none" ? { security: [] } : {
        security: [{ bearer: [] }],
        description: `Caller: ${route.auth.replaceAll("_", " ")} token.`,
      }),
      responses: {
        "200": {
          description: "Success",
          ...(route.reply
            ? {
              content: {
                "application/json": { schema: schemaOf(route.reply) },
              },
            }
            : {}),
        },
        "4XX": {
          description:
            "The contract's error shape with a message naming the problem",
          content: { "application/json": { schema: errorSchema } },
        },
      },
    };
    if (route.body) {
      const schema = schemaOf(route.body);
      op.requestBody = {
        required: true,
        content: route.files
          ? {
            "multipart/form-data": {
              schema: withBinaryFiles(schema, route.files),
            },
          }
          : {
            "application/json": { schema },
            "application/x-www-form-urlencoded": { schema },
            "multipart/form-data": { schema },
          },
      };
    }
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Babble",
      version: VERSION,
      description:
        "Self-hosted backend for talking toys and their families. WebSocket endpoints are listed under x-websockets.",
    },
    ...(server ? { servers: [{ url: server }] } : {}),
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    paths,
    "x-websockets": WEBSOCKETS,
  };
}
