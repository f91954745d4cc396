import assert from "node:assert/strict";
import type { Config } from "../../../domain/platform/config.ts";
import { createSession } from "../../../domain/platform/sessions.ts";
import { ensureUser } from "../../../domain/diaryu/users.ts";
import { startTestServer } from "../../_server.ts";

/**
 * Shared helpers of the DiaryU tests (domain, routes, pair room): servers
 * with try-out sign-in on, users signed in the way a client signs in,
 * requests as the seed's mini-program sends them (GET queries,
 * urlencoded and multipart forms), a fake WeChat on 127.0.0.1, and small
 * real images.
 */

/** A reply: status, headers and the parsed JSON body. */
export interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** A signed-in DiaryU user. */
export interface DiaryClient {
  openId: string;
  token: string;
}

/** A server with `--demo` on (try-out users), closed by `await using`. */
export function diaryServer(overrides: Partial<Config> = {}) {
  return startTestServer({ demo: true, ...overrides });
}

async function replyOf(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new assert.AssertionError({
      message: `expected JSON from ${res.url} (${res.status}): ${
        text.slice(0, 200)
      }`,
    });
  }
  return { status: res.status, headers: res.headers, body };
}

function authHeaders(token?: string): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** GET `path` with query parameters (the seed's GET routes). */
export async function get(
  server: { url: string },
  path: string,
  params: Record<string, string> = {},
  token?: string,
): Promise<Reply> {
  const query = new URLSearchParams(params).toString();
  const res = await fetch(`${server.url}${path}${query ? `?${query}` : ""}`, {
    headers: authHeaders(token),
  });
  return replyOf(res);
}

/** POSTs a urlencoded form, as the seed's Django forms do. */
export async function postForm(
  server: { url: string },
  path: string,
  fields: Record<string, string> = {},
  token?: string,
): Promise<Reply> {
  const res = await fetch(server.url + path, {
    method: "POST",
    headers: authHeaders(token),
    body: new URLSearchParams(fields),
  });
  return replyOf(res);
}

/** POSTs multipart/form-data: text fields and, optionally, one file. */
export async function postMultipart(
  server: { url: string },
  path: string,
  fields: Record<string, string>,
  file?: { field: string; bytes: Uint8Array<ArrayBuffer>; name?: string },
  token?: string,
): Promise<Reply> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) {
    form.append(
      file.field,
      new Blob([file.bytes], { type: "application/octet-stream" }),
      file.name ?? "upload.bin",
    );
  }
  const res = await fetch(server.url + path, {
    method: "POST",
    headers: authHeaders(token),
    body: form,
  });
  return replyOf(res);
}

/** POSTs JSON. */
export async function postJson(
  server: { url: string },
  path: string,
  body: Record<string, unknown>,
  token?: string,
): Promise<Reply> {
  const res = await fetch(server.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeaders(token) },
    body: JSON.stringify(body),
  });
  return replyOf(res);
}

/** Asserts a `{status: "success"}` reply and returns its data. */
// deno-lint-ignore no-explicit-any
export function ok(reply: Reply): any {
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.body.status, "success", JSON.stringify(reply.body));
  return reply.body.data;
}

/** Asserts an error in the DiaryU shape `{status: "error", data: {errcode, errmsg}}`. */
export function assertDiaryError(
  reply: Reply,
  status: number,
  errcode = String(status),
): void {
  const shown = JSON.stringify(reply.body);
  assert.equal(reply.status, status, shown);
  assert.equal(reply.body.status, "error", shown);
  assert.equal(reply.body.data.errcode, errcode, shown);
  assert.equal(typeof reply.body.data.errmsg, "string", shown);
  assert.ok(reply.body.data.errmsg.length > 0, shown);
}

/** A fresh try-out user, signed in over HTTP (`POST /matching/demo_login/`). */
export async function signIn(server: { url: string }): Promise<DiaryClient> {
  const data = ok(await postForm(server, "/matching/demo_login/"));
  return { openId: data.openId, token: data.token };
}

let serial = 0;

/**
 * A user and token made in the store directly, for tests that need more
 * users than the sign-in budget of one address allows.
 */
export async function storeUser(kv: Deno.Kv): Promise<DiaryClient> {
  const openId = `oTest${++serial}_${crypto.randomUUID().slice(0, 8)}`;
  await ensureUser(kv, openId, { source: "wechat" });
  const token = await createSession(kv, { kind: "diaryu", id: openId }, {
    ttlMs: 3600_000,
  });
  return { openId, token };
}

/** Writes a diary through `emotion/` (form body); returns the reply's data. */
export function writeDiary(
  server: { url: string },
  user: DiaryClient,
  content: string,
  title = "",
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  return postForm(server, "/matching/emotion/", {
    openId: user.openId,
    title,
    content,
  }, user.token).then(ok);
}

/** Pairs two users who are both unpaired (a writes, then b); returns the pair_id. */
export async function pairUp(
  server: { url: string },
  a: DiaryClient,
  b: DiaryClient,
): Promise<string> {
  const first = await writeDiary(server, a, "今天平平常常。");
  assert.equal(first.match, undefined, "a waits");
  const second = await writeDiary(server, b, "今天也平平常常。");
  assert.equal(second.match?.user?.openId, a.openId, "b is matched with a");
  const mine = ok(
    await get(server, "/matching/get_pair_action/", {
      openId: a.openId,
    }, a.token),
  );
  const theirs = ok(
    await get(server, "/matching/get_pair_action/", {
      openId: b.openId,
    }, b.token),
  );
  assert.equal(mine.pair_id, theirs.pair_id);
  return mine.pair_id;
}

/**
 * A fake WeChat API on 127.0.0.1: `handler` answers every request;
 * `closing` settles when the test ends (a reply held until then is one
 * the caller never gets in time).
 */
export function fakeWechat(
  handler: (url: URL, closing: Promise<void>) => Response | Promise<Response>,
) {
  const requests: URL[] = [];
  const { promise: closing, resolve: close } = Promise.withResolvers<void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const url = new URL(req.url);
      requests.push(url);
      return handler(url, closing);
    },
  );
  return {
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      close();
      await server.shutdown();
    },
  };
}

/**
 * The fake WeChat's usual behaviour: each js_code below yields that
 * errcode (or a reply that is not JSON, or no reply until the caller gives
 * up); any other code signs in as `o` + the code.
 */
export function wechatScript(
  url: URL,
  closing: Promise<void>,
): Response | Promise<Response> {
  const code = url.searchParams.get("js_code") ?? "";
  const errors: Record<string, [number, string]> = {
    invalid: [40029, "invalid code, rid: 1"],
    used: [40163, "code been used, rid: 2"],
    quota: [45011, "api minute-quota reach limit mustslower retry next minute"],
    busy: [-1, "system error"],
    risky: [40226, "high risk user"],
  };
  if (errors[code]) {
    const [errcode, errmsg] = errors[code];
    return Response.json({ errcode, errmsg });
  }
  if (code === "html") {
    return new Response("<html>502 Bad Gateway</html>", {
      headers: { "content-type": "text/html" },
    });
  }
  if (code === "hang") {
    // Answers only when the test ends, long after the caller gave up.
    return closing.then(() => new Response("too late"));
  }
  return Response.json({
    openid: `o${code}`,
    session_key: "SECRET-SESSION-KEY",
  });
}

/** Small real images of each accepted format. */
export const IMAGES = {
  png: Uint8Array.from(
    atob(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    ),
    (c) => c.charCodeAt(0),
  ),
  gif: Uint8Array.from(
    atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"),
    (c) => c.charCodeAt(0),
  ),
  jpg: Uint8Array.from(
    [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01],
  ),
  webp: new TextEncoder().encode("RIFF\x1a\x00\x00\x00WEBPVP8L\r\x00\x00\x00"),
};
