import assert from "node:assert/strict";
import { startTestServer } from "../../_server.ts";
import {
  assertError,
  type Encoding,
  type Family,
  jsonOf,
  newDevice,
  newFamily,
  ok,
  type Reply,
  send,
  UNKNOWN_ID,
  UNKNOWN_KEY,
} from "../../_family.ts";

/**
 * Bad input on every smart-toy route: missing, extra and wrong-typed
 * fields, malformed and oversized bodies, unknown ids. Each gets the
 * envelope {code, msg, data} with an honest 4xx and a message naming the
 * problem; never a 5xx.
 */

/** Every smart-toy POST route. */
const POST_ROUTES = [
  "/reg",
  "/login",
  "/auto_login",
  "/logout",
  "/content_list",
  "/scan_qr",
  "/bind_toy",
  "/unbind_toy",
  "/toy_list",
  "/open_toy",
  "/friend_list",
  "/add_req",
  "/req_list",
  "/acc_req",
  "/ref_req",
  "/admin/devices",
];

const ADMIN_TOKEN = "admin-token-0123456789";

/** What the cases may refer to. */
interface World {
  a: Family;
  b: Family;
  freeDevice: string;
  /** A request from b's toy to a's toy, answered already (accepted). */
  answeredReq: string;
  /** A request from b's parent to a's toy, still pending. */
  pendingReq: string;
}

interface Case {
  name: string;
  path: string;
  fields: (w: World) => Record<string, unknown>;
  /** Whose token is sent: a's parent (default), the admin, or none. */
  as?: "a" | "admin" | "none";
  encoding?: Encoding;
  status: number;
  pattern: RegExp;
  /** A business code shown instead of the status. */
  code?: number;
}

const bind = (w: World) => ({
  toy_name: "very",
  baby_name: "Bad",
  remark: "Dad",
  user_id: w.a.userId,
  device_key: w.freeDevice,
});

const CASES: Case[] = [
  // /reg
  {
    name: "reg without password",
    path: "/reg",
    fields: () => ({ username: "newbie" }),
    as: "none",
    status: 400,
    pattern: /"password" is required/,
  },
  {
    name: "reg with a numeric password",
    path: "/reg",
    fields: () => ({ username: "newbie", password: 12345678 }),
    as: "none",
    status: 400,
    pattern: /"password": .*expected string, received number/,
  },
  {
    name: "reg with a too short password",
    path: "/reg",
    fields: () => ({ username: "newbie", password: "abc" }),
    as: "none",
    status: 400,
    pattern: /"password": must be at least 6 characters/,
  },
  {
    name: "reg with a username of spaces and slashes",
    path: "/reg",
    fields: () => ({ username: "a b/c", password: "hunter22" }),
    as: "none",
    status: 400,
    pattern: /"username": must be 2-32/,
  },
  {
    name: "reg with an avatar path",
    path: "/reg",
    fields: () => ({
      username: "newbie",
      password: "hunter22",
      avatar: "../../etc/passwd",
    }),
    as: "none",
    status: 400,
    pattern: /"avatar": must be an image file name/,
  },
  {
    name: "reg with a taken username",
    path: "/reg",
    fields: (w) => ({ username: w.a.username, password: "hunter22" }),
    as: "none",
    status: 409,
    pattern: /already taken/,
  },
  // /login
  {
    name: "login without username",
    path: "/login",
    fields: () => ({ password: "hunter22" }),
    as: "none",
    status: 400,
    pattern: /"username" is required/,
  },
  {
    name: "login with a wrong password",
    path: "/login",
    fields: (w) => ({ username: w.a.username, password: "wrong-one" }),
    as: "none",
    status: 401,
    pattern: /wrong username or password/,
  },
  {
    name: "login as nobody",
    path: "/login",
    fields: () => ({ username: "nobody_here", password: "hunter22" }),
    as: "none",
    status: 401,
    pattern: /wrong username or password/,
  },
  {
    name: "login with an object password",
    path: "/login",
    fields: (w) => ({ username: w.a.username, password: { $ne: "" } }),
    as: "none",
    status: 400,
    pattern: /"password": .*expected string, received object/,
  },
  // /auto_login
  {
    name: "auto_login without _id",
    path: "/auto_login",
    fields: () => ({}),
    status: 400,
    pattern: /"_id" is required/,
  },
  {
    name: "auto_login with a malformed _id",
    path: "/auto_login",
    fields: () => ({ _id: "5c8f582f268d" }),
    status: 400,
    pattern: /"_id": must be a 24-character hex id/,
  },
  {
    name: "auto_login with a numeric _id",
    path: "/auto_login",
    fields: () => ({ _id: 12345 }),
    status: 400,
    pattern: /"_id": .*expected string, received number/,
  },
  {
    name: "auto_login with an unknown _id",
    path: "/auto_login",
    fields: () => ({ _id: UNKNOWN_ID }),
    status: 403,
    pattern: /not the token's user/,
  },
  // /logout, /content_list
  // /scan_qr
  {
    name: "scan_qr without device_key",
    path: "/scan_qr",
    fields: () => ({}),
    status: 400,
    pattern: /"device_key" is required/,
  },
  {
    name: "scan_qr with a list for device_key",
    path: "/scan_qr",
    fields: (w) => ({ device_key: [w.freeDevice] }),
    status: 400,
    pattern: /"device_key": .*expected string, received array/,
  },
  {
    name: "scan_qr with a huge device_key",
    path: "/scan_qr",
    fields: () => ({ device_key: "f".repeat(500) }),
    status: 400,
    pattern: /"device_key"/,
  },
  // /bind_toy
  {
    name: "bind_toy without toy_name",
    path: "/bind_toy",
    fields: (w) => ({ ...bind(w), toy_name: undefined }),
    status: 400,
    pattern: /"toy_name" is required/,
  },
  {
    name: "bind_toy with a malformed device_key",
    path: "/bind_toy",
    fields: (w) => ({ ...bind(w), device_key: "xyz" }),
    status: 400,
    pattern: /"device_key": must be 32 hex characters/,
  },
  {
    name: "bind_toy with an unknown device",
    path: "/bind_toy",
    fields: (w) => ({ ...bind(w), device_key: UNKNOWN_KEY }),
    status: 404,
    code: 1,
    pattern: /scan the toy two-dimensional code/,
  },
  {
    name: "bind_toy of a bound device",
    path: "/bind_toy",
    fields: (w) => ({ ...bind(w), device_key: w.a.deviceKey }),
    status: 409,
    code: 2,
    pattern: /already been bound|has been bound/,
  },
  {
    name: "bind_toy with a 33-character toy_name",
    path: "/bind_toy",
    fields: (w) => ({ ...bind(w), toy_name: "x".repeat(33) }),
    status: 400,
    pattern: /"toy_name": must be at most 32 characters/,
  },
  {
    name: "bind_toy with an empty baby_name",
    path: "/bind_toy",
    fields: (w) => ({ ...bind(w), baby_name: "  " }),
    status: 400,
    pattern: /"baby_name": must not be empty/,
  },
  {
    name: "bind_toy with a numeric user_id",
    path: "/bind_toy",
    fields: (w) => ({ ...bind(w), user_id: 5 }),
    status: 400,
    pattern: /"user_id"/,
  },
  // /unbind_toy
  {
    name: "unbind_toy without toy_id",
    path: "/unbind_toy",
    fields: () => ({}),
    status: 400,
    pattern: /"toy_id" is required/,
  },
  {
    name: "unbind_toy of an unknown toy",
    path: "/unbind_toy",
    fields: () => ({ toy_id: UNKNOWN_ID }),
    status: 404,
    pattern: /no toy with toy_id/,
  },
  // /toy_list
  {
    name: "toy_list with a boolean _id",
    path: "/toy_list",
    fields: () => ({ _id: true }),
    status: 400,
    pattern: /"_id": .*expected string, received boolean/,
  },
  {
    name: "toy_list of an unknown user",
    path: "/toy_list",
    fields: () => ({ _id: UNKNOWN_ID }),
    status: 403,
    pattern: /not the token's user/,
  },
  // /open_toy
  {
    name: "open_toy without device_key",
    path: "/open_toy",
    fields: () => ({}),
    as: "none",
    status: 400,
    pattern: /"device_key" is required/,
  },
  {
    name: "open_toy with a numeric device_key",
    path: "/open_toy",
    fields: () => ({ device_key: 1234 }),
    as: "none",
    status: 400,
    pattern: /"device_key": .*expected string, received number/,
  },
  // /friend_list
  {
    name: "friend_list without _id",
    path: "/friend_list",
    fields: () => ({}),
    status: 400,
    pattern: /"_id" is required/,
  },
  {
    name: "friend_list of an unknown id",
    path: "/friend_list",
    fields: () => ({ _id: UNKNOWN_ID }),
    status: 403,
    pattern: /neither you nor one of your toys/,
  },
  // /add_req
  {
    name: "add_req without add_user",
    path: "/add_req",
    fields: (w) => ({ req_user: w.a.userId }),
    status: 400,
    pattern: /"add_user" is required/,
  },
  {
    name: "add_req with an unknown type",
    path: "/add_req",
    fields: (w) => ({ req_user: w.a.userId, add_user: w.b.toyId, type: "cat" }),
    status: 400,
    pattern: /"type"/,
  },
  {
    name: "add_req to an unknown toy",
    path: "/add_req",
    fields: (w) => ({ req_user: w.a.userId, add_user: UNKNOWN_ID }),
    status: 404,
    pattern: /"add_user" .* is not a toy/,
  },
  {
    name: "add_req to a parent instead of a toy",
    path: "/add_req",
    fields: (w) => ({ req_user: w.a.toyId, add_user: w.b.userId }),
    status: 404,
    pattern: /"add_user" .* is not a toy/,
  },
  {
    name: "add_req of a toy to itself",
    path: "/add_req",
    fields: (w) => ({ req_user: w.a.toyId, add_user: w.a.toyId }),
    status: 400,
    pattern: /cannot befriend itself/,
  },
  {
    name: "add_req to its own toy (already friends)",
    path: "/add_req",
    fields: (w) => ({ req_user: w.a.userId, add_user: w.a.toyId }),
    status: 409,
    pattern: /already friends/,
  },
  {
    name: "add_req with a 201-character req_info",
    path: "/add_req",
    fields: (w) => ({
      req_user: w.a.userId,
      add_user: w.b.toyId,
      req_info: "x".repeat(201),
    }),
    status: 400,
    pattern: /"req_info": must be at most 200 characters/,
  },
  // /req_list
  {
    name: "req_list without _id",
    path: "/req_list",
    fields: () => ({}),
    status: 400,
    pattern: /"_id" is required/,
  },
  // /acc_req, /ref_req
  {
    name: "acc_req without req_id",
    path: "/acc_req",
    fields: () => ({ remark: "x" }),
    status: 400,
    pattern: /"req_id" is required/,
  },
  {
    name: "acc_req of an unknown request",
    path: "/acc_req",
    fields: () => ({ req_id: UNKNOWN_ID }),
    status: 404,
    pattern: /no friend request with req_id/,
  },
  {
    name: "acc_req of an answered request",
    path: "/acc_req",
    fields: (w) => ({ req_id: w.answeredReq }),
    status: 409,
    pattern: /already been answered/,
  },
  {
    name: "ref_req with a numeric req_id",
    path: "/ref_req",
    fields: () => ({ req_id: 7 }),
    status: 400,
    pattern: /"req_id": .*expected string, received number/,
  },
  {
    name: "ref_req of an unknown request",
    path: "/ref_req",
    fields: () => ({ req_id: UNKNOWN_ID }),
    status: 404,
    pattern: /no friend request with req_id/,
  },
  {
    name: "ref_req of an answered request",
    path: "/ref_req",
    fields: (w) => ({ req_id: w.answeredReq }),
    status: 409,
    pattern: /already been answered/,
  },
  // /admin/devices
  {
    name: "admin/devices without count",
    path: "/admin/devices",
    fields: () => ({}),
    as: "admin",
    status: 400,
    pattern: /"count" is required/,
  },
  {
    name: "admin/devices with a boolean count",
    path: "/admin/devices",
    fields: () => ({ count: true }),
    as: "admin",
    status: 400,
    pattern: /"count": must be a whole number/,
  },
  {
    name: "admin/devices with count text",
    path: "/admin/devices",
    fields: () => ({ count: "three" }),
    as: "admin",
    encoding: "form",
    status: 400,
    pattern: /"count": must be a whole number/,
  },
  {
    name: "admin/devices with count 0",
    path: "/admin/devices",
    fields: () => ({ count: 0 }),
    as: "admin",
    status: 400,
    pattern: /"count": must be at least 1/,
  },
  {
    name: "admin/devices with count 1001",
    path: "/admin/devices",
    fields: () => ({ count: 1001 }),
    as: "admin",
    status: 400,
    pattern: /"count": must be at most 1000/,
  },
  {
    name: "admin/devices with an extra field",
    path: "/admin/devices",
    fields: () => ({ count: 1, prefix: "ab" }),
    as: "admin",
    status: 400,
    pattern: /unknown field\(s\) "prefix"/,
  },
];

async function world(
  server: Awaited<ReturnType<typeof startTestServer>>,
): Promise<World> {
  const a = await newFamily(server);
  const b = await newFamily(server);
  const answered = ok(
    await send(server, "/add_req", {
      req_user: b.toyId,
      add_user: a.toyId,
    }, { token: b.token }),
  );
  ok(
    await send(server, "/acc_req", { req_id: answered.req_id }, {
      token: a.token,
    }),
  );
  const pending = ok(
    await send(server, "/add_req", {
      req_user: b.userId,
      add_user: a.toyId,
    }, { token: b.token }),
  );
  return {
    a,
    b,
    freeDevice: await newDevice(server),
    answeredReq: answered.req_id,
    pendingReq: pending.req_id,
  };
}

function tokenFor(w: World, as: Case["as"]): string | undefined {
  if (as === "none") return undefined;
  if (as === "admin") return ADMIN_TOKEN;
  return w.a.token;
}

function withoutUndefined(
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, v]) => v !== undefined),
  );
}

Deno.test("bad fields on every route: a 4xx envelope naming the problem", async (t) => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const w = await world(server);
  for (const c of CASES) {
    await t.step(c.name, async () => {
      const reply = await send(server, c.path, withoutUndefined(c.fields(w)), {
        token: tokenFor(w, c.as),
        encoding: c.encoding ?? "json",
      });
      assertError(reply, c.status, c.pattern, c.code);
    });
  }
  await t.step(
    "nothing changed: a's toy, friends and requests as before",
    async () => {
      const toys = ok(
        await send(server, "/toy_list", { _id: w.a.userId }, {
          token: w.a.token,
        }),
      );
      assert.deepEqual(toys.map((toy: { _id: string }) => toy._id), [
        w.a.toyId,
      ]);
      assert.equal(toys[0].friend_list.length, 2);
      const requests = ok(
        await send(server, "/req_list", { _id: w.a.userId }, {
          token: w.a.token,
        }),
      );
      assert.deepEqual(
        requests.map((r: { _id: string; status: number }) => [r._id, r.status]),
        [[w.answeredReq, 1], [w.pendingReq, 0]],
      );
      const scan = await send(
        server,
        "/scan_qr",
        { device_key: w.freeDevice },
        {
          token: w.a.token,
        },
      );
      assert.equal(scan.body.code, 0);
    },
  );
});

Deno.test("form-encoded bad fields are named too (every value is text)", async () => {
  await using server = await startTestServer();
  const a = await newFamily(server);
  assertError(
    await send(server, "/toy_list", { _id: "12" }, {
      token: a.token,
      encoding: "form",
    }),
    400,
    /"_id": must be a 24-character hex id/,
  );
  assertError(
    await send(server, "/bind_toy", {
      toy_name: "t",
      user_id: a.userId,
    }, { token: a.token, encoding: "multipart" }),
    400,
    /"baby_name" is required; "remark" is required; "device_key" is required/,
  );
});

/** Sends a raw body to `path` with a content type, as `a` when given. */
async function post(
  url: string,
  path: string,
  body: BodyInit,
  type: string | null,
  token?: string,
): Promise<Reply> {
  const headers = new Headers();
  if (type) headers.set("content-type", type);
  if (token) headers.set("authorization", `Bearer ${token}`);
  const res = await fetch(url + path, { method: "POST", headers, body });
  return { status: res.status, body: await jsonOf(res), headers: res.headers };
}

Deno.test("malformed bodies on every POST route: 400, 413, never a 5xx", async (t) => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const a = await newFamily(server);
  const big = JSON.stringify({ _id: "x".repeat(65 * 1024) });
  for (const path of POST_ROUTES) {
    const token = path.startsWith("/admin") ? ADMIN_TOKEN : a.token;
    await t.step(path, async () => {
      assertError(
        await post(server.url, path, '{"_id": "', "application/json", token),
        400,
        /body is not valid JSON/,
      );
      assertError(
        await post(server.url, path, "[1, 2]", "application/json", token),
        400,
        /body must be a JSON object/,
      );
      assertError(
        await post(server.url, path, "null", "application/json", token),
        400,
        /body must be a JSON object/,
      );
      assertError(
        await post(
          server.url,
          path,
          "--x\r\nContent-Disposition: form-data\r\n\r\nbroken",
          "multipart/form-data; boundary=zzz",
          token,
        ),
        400,
        /not valid multipart\/form-data/,
      );
      assertError(
        await post(server.url, path, big, "application/json", token),
        413,
        /body is larger than 65536 bytes/,
      );
    });
  }
});

Deno.test("an oversized body without Content-Length is cut off at 64 KiB: 413", async () => {
  await using server = await startTestServer();
  const a = await newFamily(server);
  const chunk = new Uint8Array(16 * 1024).fill(0x20);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      // Bounded: 5 chunks of 16 KiB, 80 KiB in all.
      if (sent++ < 5) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const reply = await post(
    server.url,
    "/friend_list",
    body,
    "application/json",
    a.token,
  );
  assertError(reply, 413, /larger than 65536 bytes/);
  // The server is still fine.
  ok(
    await send(server, "/friend_list", { _id: a.userId }, { token: a.token }),
  );
});

Deno.test("a body just under the limit is read", async () => {
  await using server = await startTestServer();
  const a = await newFamily(server);
  const padding = " ".repeat(64 * 1024 - 100);
  const reply = await post(
    server.url,
    "/friend_list",
    `{"_id": "${a.userId}"}${padding}`,
    "application/json",
    a.token,
  );
  ok(reply);
});

Deno.test("a body with no content type is read as JSON", async () => {
  await using server = await startTestServer();
  const a = await newFamily(server);
  const reply = await post(
    server.url,
    "/toy_list",
    new TextEncoder().encode(JSON.stringify({ _id: a.userId })),
    null,
    a.token,
  );
  assert.equal(ok(reply).length, 1);
});

Deno.test("media routes: bad names 400, unknown files 404, wrong kind 404", async () => {
  await using server = await startTestServer();
  const cases: [string, number, RegExp][] = [
    ["/get_music/nope.mp3", 404, /no file "nope.mp3"/],
    ["/get_music/bad%20name.mp3", 400, /is not a valid file name/],
    ["/get_music/.hidden", 400, /is not a valid file name/],
    ["/get_cover/Success.mp3", 404, /no file/],
    ["/get_image/Success.mp3", 404, /no file/],
    ["/get_chat/Success.mp3", 404, /no file/],
    ["/get_qr/xyz.png", 400, /"device_key" must be 32 hex characters/],
    [`/get_qr/${UNKNOWN_KEY}.png`, 404, /no device/],
  ];
  for (const [path, status, pattern] of cases) {
    const res = await fetch(server.url + path);
    const body = await jsonOf(res);
    assert.equal(res.status, status, path);
    assert.match(body.msg, pattern, path);
    assert.deepEqual(Object.keys(body).sort(), ["code", "data", "msg"]);
  }
});

Deno.test("fields a route does not know are ignored; known ones still checked", async () => {
  await using server = await startTestServer();
  const reg = await send(server, "/reg", {
    username: "extra_fields",
    password: "hunter22",
    admin: true,
  });
  assert.equal(reg.status, 200);
  assert.equal(reg.body.code, 0);
  const login = await send(server, "/login", {
    username: "extra_fields",
    password: "hunter22",
    device_key: "ignored",
  });
  assert.equal(login.body.code, 0);
  const list = await send(server, "/content_list", { page: 2 });
  assert.equal(list.body.code, 0);
  const bad = await send(server, "/reg", {
    username: 5,
    password: "hunter22",
    extra: "x",
  });
  assert.equal(bad.status, 400);
  assert.match(String(bad.body.msg), /"username"/);
});
