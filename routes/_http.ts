import { ID_PATTERN } from "../domain/store/ids.ts";
import { bearerToken } from "../domain/platform/sessions.ts";
import type { Context, Hono } from "hono";
import { z } from "zod";
import { AppError } from "../domain/platform/errors.ts";
import {
  clientAddressOf,
  trustedProxiesOf,
} from "../domain/platform/client_address.ts";
import { uploadBudgetOf } from "../domain/platform/upload_budget.ts";
import { resolveAppSession } from "../domain/smart_toy/accounts.ts";
import type { Principal } from "../domain/platform/sessions.ts";
import type { AppDeps } from "../domain/platform/services.ts";

/**
 * What every HTTP contract shares: reading a body in any of the three
 * encodings, validating it with the route's zod schema, finding the caller,
 * and the registry /openapi.json is built from.
 */

/** The Hono environment of every Babble sub-app. */
export type AppEnv = {
  Variables: {
    deps: AppDeps;
    routes: readonly ApiRoute[];
    /** This request's id: the client's X-Request-Id if sane, else a new one. */
    requestId: string;
    /** Set once `readBody` admitted this upload's bytes against the budget. */
    uploadAdmitted?: boolean;
  };
};

/** Who may call a route. */
export type Auth = "none" | "user" | "toy" | "user_or_toy" | "admin";

/** A described route: its schema validates requests and documents them. */
export interface ApiRoute<S extends z.ZodType = z.ZodType> {
  method: "GET" | "POST";
  /** Hono path, e.g. "/get_music/:file". */
  path: string;
  tag: string;
  summary: string;
  auth: Auth;
  body?: S;
  query?: z.ZodType;
  /** What a success reply carries, for the documentation. */
  reply?: z.ZodType;
  /** Largest accepted body in bytes (default 64 KiB). */
  maxBody?: number;
  /** A multipart upload with these file fields. */
  files?: string[];
}

/** Describes a route (typed); `bindRoute` serves it. */
export function api<S extends z.ZodType>(route: ApiRoute<S>): ApiRoute<S> {
  return route;
}

// The contracts each sub-app serves, for the serving app's /openapi.json.
const described = new WeakMap<Hono<AppEnv>, ApiRoute[]>();

/**
 * Binds a route's contract and its handler on `app` in one call: the path,
 * method and schemas that document the route are the ones that serve it.
 */
export function bindRoute<S extends z.ZodType>(
  app: Hono<AppEnv>,
  route: ApiRoute<S>,
  handler: (c: Context<AppEnv>) => Response | Promise<Response>,
): void {
  app.on(route.method, route.path, handler);
  const routes = described.get(app) ?? [];
  routes.push(route as unknown as ApiRoute);
  described.set(app, routes);
}

/** The contracts bound on `app`, in binding order. */
export function routesOf(app: Hono<AppEnv>): readonly ApiRoute[] {
  return described.get(app) ?? [];
}

/** Default limit on non-upload bodies. */
export const MAX_JSON_BODY = 64 * 1024;

/** A body field: text from forms, any JSON value, or an uploaded file. */
export type BodyValue = unknown;

/**
 * Reads a POST body as an object, whatever its encoding: JSON,
 * application/x-www-form-urlencoded or multipart/form-data. An empty body
 * is `{}`. Malformed JSON and non-object JSON are 400; a body above `limit`
 * bytes is 413 (checked on Content-Length and again while reading).
 *
 * An upload (a limit above `MAX_JSON_BODY`) is first admitted against the
 * server's upload budget by its Content-Length (without one, by `limit`):
 * past the budget it is a 503 with `Retry-After` and the body is not read.
 * The bytes are released when the request finishes (createApp's
 * middleware). The body is parsed from the stream once, never copied first.
 */
export async function readBody(
  c: Context,
  limit = MAX_JSON_BODY,
): Promise<Record<string, BodyValue>> {
  const lengthHeader = c.req.header("content-length");
  const declared = lengthHeader === undefined ? NaN : Number(lengthHeader);
  if (declared > limit) throw tooLarge(limit);
  const raw = c.req.raw;
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  // The hot path (a small JSON or form body with a Content-Length): read it
  // whole without touching `raw.body`, whose getter builds a stream.
  if (
    Number.isFinite(declared) && limit <= MAX_JSON_BODY &&
    !type.startsWith("multipart/form-data")
  ) {
    return parseText(await raw.text().catch(bodyEndedEarly), type);
  }
  if (!raw.body) return {};
  if (limit > MAX_JSON_BODY) admitUpload(c, raw, declared, limit);
  // With a Content-Length the runtime stops the body at that length, so the
  // built-in readers are bounded; without one, a counting stream stops it.
  const source = Number.isFinite(declared) ? raw : new Response(
    raw.body.pipeThrough(limitStream(limit)),
    { headers: raw.headers },
  );
  if (type.startsWith("multipart/form-data")) {
    let form: FormData;
    try {
      form = await source.formData();
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError(400, "body is not valid multipart/form-data");
    }
    return formToObject(form);
  }
  return parseText(await source.text().catch(bodyEndedEarly), type);
}

/** A read body's object, by its content type (empty is `{}`). */
function parseText(text: string, type: string): Record<string, BodyValue> {
  if (text.length === 0) return {};
  if (type.startsWith("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError(
      400,
      "body is not valid JSON (send JSON, a urlencoded form or multipart/form-data)",
    );
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new AppError(400, "body must be a JSON object");
  }
  return json as Record<string, BodyValue>;
}

/** Admits an upload's bytes against the server's budget (or throws 503). */
function admitUpload(
  c: Context,
  raw: Request,
  declared: number,
  limit: number,
): void {
  const deps = (c as Context<AppEnv>).get("deps") as
    | AppEnv["Variables"][
      "deps"
    ]
    | undefined;
  if (!deps) return;
  uploadBudgetOf(deps).admit(raw, Number.isFinite(declared) ? declared : limit);
  (c as Context<AppEnv>).set("uploadAdmitted", true);
}

/** A body the client cut short (or the connection dropped) is its fault: 400. */
function bodyEndedEarly(err: unknown): never {
  if (err instanceof AppError) throw err;
  throw new AppError(400, "request body ended early or could not be read");
}

function tooLarge(limit: number): AppError {
  return new AppError(413, `body is larger than ${limit} bytes`);
}

/** Passes bytes through, failing with a 413 once more than `limit` pass. */
function limitStream(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let size = 0;
  return new TransformStream({
    transform(chunk, controller) {
      size += chunk.length;
      if (size > limit) controller.error(tooLarge(limit));
      else controller.enqueue(chunk);
    },
  });
}

function formToObject(form: FormData): Record<string, BodyValue> {
  const out: Record<string, BodyValue> = {};
  for (const [key, value] of form.entries()) out[key] = value;
  return out;
}

/** Turns zod issues into one sentence naming each bad field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => {
    const field = issue.path.length ? `"${issue.path.join(".")}"` : "body";
    if (issue.code === "unrecognized_keys") {
      return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    }
    if (issue.path.length && "input" in issue && issue.input === undefined) {
      return `${field} is required`;
    }
    return `${field}: ${issue.message}`;
  }).join("; ");
}

/** Validates `value` with `schema`; 400 naming every bad field. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
): z.infer<S> {
  // reportInput keeps each issue's input, so describeIssues can tell a
  // missing field from a wrong-typed one (zod 4 drops it by default).
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success) throw new AppError(400, describeIssues(parsed.error));
  return parsed.data;
}

/** Reads and validates the body of a described route. */
export async function input<S extends z.ZodType>(
  c: Context<AppEnv>,
  route: ApiRoute<S>,
): Promise<z.infer<S>> {
  const body = await readBody(c, route.maxBody ?? MAX_JSON_BODY);
  return validate((route.body ?? z.object({})) as S, body);
}

/** The token a request carries: Bearer header, `?token=`, or a body field. */
export function tokenOf(
  c: Context,
  body?: Record<string, unknown>,
): string | null {
  const header = bearerToken(c.req.header("authorization"));
  if (header) return header;
  const query = c.req.query("token");
  if (query) return query;
  const field = body?.token;
  return typeof field === "string" && field ? field : null;
}

/** The caller's principal; 401 when the token is missing, unknown or revoked. */
export async function caller(
  c: Context<AppEnv>,
  kinds: Principal["kind"][],
  body?: Record<string, unknown>,
): Promise<Principal> {
  const token = tokenOf(c, body);
  if (!token) {
    throw new AppError(
      401,
      "sign in first: send Authorization: Bearer <token>",
    );
  }
  const principal = await resolveAppSession(c.get("deps").kv, token);
  if (!principal) {
    throw new AppError(401, "token is unknown, expired or logged out");
  }
  if (!kinds.includes(principal.kind)) {
    throw new AppError(403, `this route is for a ${kinds.join(" or ")} token`);
  }
  return principal;
}

/**
 * The client's address, for rate limits and logs: the peer, or — when the
 * peer is one of `--trusted-proxies` — the client it forwards for.
 */
export function clientAddress(c: Context<AppEnv>): string {
  const info = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  const peer = info?.remoteAddr?.hostname ?? "unknown";
  const config = c.get("deps")?.config;
  if (!config) return peer;
  return clientAddressOf(peer, c.req.raw.headers, trustedProxiesOf(config));
}

/** A zod string field that trims and bounds length, with a clear message. */
export function text(max: number, { min = 1 }: { min?: number } = {}) {
  return z.string().trim().min(min, `must not be empty`).max(
    max,
    `must be at most ${max} characters`,
  );
}

/** A 24-hex id field. */
export const idField = z.string().regex(
  ID_PATTERN,
  "must be a 24-character hex id",
);
