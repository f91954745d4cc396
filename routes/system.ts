import { z } from "zod";
import { type AppDeps, type Feature, subApp } from "./app.ts";
import { api, type ApiRoute, registeredRoutes } from "./_http.ts";

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

/** Operating routes: /healthz, /metrics, /openapi.json. */
export function systemFeature(deps: AppDeps): Feature {
  const app = subApp();
  const started = Date.now();

  app.get(health.path, async (c) => {
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
        uptime_s: Math.round((Date.now() - started) / 1000),
      },
      kvOk ? 200 : 503,
    );
  });

  app.get(metrics.path, (c) => {
    const pool = deps.transcoder?.stats();
    if (pool) {
      deps.metrics.gauge(
        "babble_transcode_busy",
        () => deps.transcoder!.stats().busy,
      );
      deps.metrics.gauge(
        "babble_transcode_queued",
        () => deps.transcoder!.stats().queued,
      );
    }
    deps.metrics.gauge(
      "babble_uptime_seconds",
      () => Math.round((Date.now() - started) / 1000),
    );
    return c.text(deps.metrics.render(), 200, {
      "content-type": "text/plain; version=0.0.4",
    });
  });

  app.get(
    openapi.path,
    (c) => c.json(openApiDocument(registeredRoutes())),
  );

  return { app };
}

function schemaOf(type: z.ZodType): unknown {
  return z.toJSONSchema(type, { io: "input", unrepresentable: "any" });
}

/**
 * Builds the OpenAPI 3.1 document from the same route descriptions (and
 * zod schemas) that validate requests.
 */
export function openApiDocument(
  routes: readonly ApiRoute[],
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z_]+)(\{[^}]*\})?/g, "{$1}");
    const params = [...route.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
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
        },
      },
    };
    if (route.body) {
      const schema = schemaOf(route.body);
      op.requestBody = {
        required: true,
        content: route.files ? { "multipart/form-data": { schema } } : {
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
      version: "1.0.0",
      description: "Self-hosted backend for talking toys and their families.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    paths,
  };
}
