import type { Context } from "hono";
import { z } from "zod";
import { toyRequest } from "./_contract.ts";
import { AppError } from "../../domain/platform/errors.ts";
import {
  authenticateUser,
  createAppSession,
  logout,
  publicUser,
  registerUser,
  requireUser,
} from "../../domain/smart_toy/accounts.ts";
import {
  type BlobKind,
  blobResponse,
  getBlobMeta,
  isBlobName,
} from "../../domain/store/blobs.ts";
import { listContent, PROMPTS } from "../../domain/smart_toy/content.ts";
import {
  checkDeviceKey,
  DEVICE_KEY,
  deviceQrPng,
  getDevice,
} from "../../domain/smart_toy/devices.ts";
import { listFriends } from "../../domain/smart_toy/friends.ts";
import { cached } from "../../domain/store/cache.ts";
import {
  acceptRequest,
  addRequest,
  listRequestsTo,
  refuseRequest,
} from "../../domain/smart_toy/friend_requests.ts";
import { unreadCounts } from "../../domain/smart_toy/messages.ts";
import {
  assertActsAs,
  bindToy,
  listToys,
  openToy,
  scanDevice,
  toyIdsOf,
} from "../../domain/smart_toy/toys.ts";
import { unbindToy } from "../../domain/smart_toy/unbind.ts";
import { assertIsCaller } from "../../domain/smart_toy/access.ts";
import { type AppEnv, type Feature, subApp } from "../app.ts";
import { toyBody } from "../../domain/smart_toy/envelope.ts";
import {
  api,
  bindRoute,
  caller,
  clientAddress,
  idField,
  input,
  text,
  tokenOf,
} from "../_http.ts";

/**
 * The smart-toy HTTP contract (seeds 000 and 002; CONTRACTS.md "Smart
 * toy"): envelope {code, msg, data}, every POST in JSON, urlencoded or
 * multipart. Voice messages, sockets and AI live in their own modules.
 */

const TAG = "smart-toy";

const stringish = (max: number) =>
  z.union([z.string(), z.number()]).transform(String).pipe(
    z.string().trim().max(max, `must be at most ${max} characters`),
  );

const fileName = z.string().max(64).regex(
  /^[A-Za-z0-9][A-Za-z0-9_-]*\.(jpg|jpeg|png|gif|webp)$/,
  "must be an image file name like baba.jpg",
);

const deviceKey = z.string().trim().toLowerCase().regex(
  DEVICE_KEY,
  "must be 32 hex characters (the text of the toy's QR code)",
);

const routes = {
  reg: api({
    method: "POST",
    path: "/reg",
    tag: TAG,
    summary: "Register an app user",
    auth: "none",
    body: toyRequest({
      username: z.string().trim().regex(
        /^[\p{L}\p{N}_.@-]{2,32}$/u,
        "must be 2-32 letters, digits or _ . @ -",
      ),
      password: z.string().min(6, "must be at least 6 characters").max(128),
      nickname: text(32).optional(),
      gender: stringish(8).optional(),
      avatar: fileName.optional(),
    }),
  }),
  login: api({
    method: "POST",
    path: "/login",
    tag: TAG,
    summary: "Log in; replies the user and a session token",
    auth: "none",
    body: toyRequest({
      username: z.string().max(64),
      password: z.string().max(128),
    }),
  }),
  autoLogin: api({
    method: "POST",
    path: "/auto_login",
    tag: TAG,
    summary: "Resume a session; replies the user and unread counts",
    auth: "user",
    body: toyRequest({ _id: idField }),
  }),
  logout: api({
    method: "POST",
    path: "/logout",
    tag: TAG,
    summary: "Revoke the caller's token",
    auth: "user_or_toy",
    body: toyRequest({}),
  }),
  contentList: api({
    method: "POST",
    path: "/content_list",
    tag: TAG,
    summary: "The content library",
    auth: "none",
    body: toyRequest({}),
  }),
  scanQr: api({
    method: "POST",
    path: "/scan_qr",
    tag: TAG,
    summary: "Check a scanned device key: 0 free, 1 not ours, 2 bound",
    auth: "user",
    body: toyRequest({ device_key: z.string().max(128) }),
  }),
  bindToy: api({
    method: "POST",
    path: "/bind_toy",
    tag: TAG,
    summary: "Bind a device: creates the toy, its chat and friendship",
    auth: "user",
    body: toyRequest({
      toy_name: text(32),
      baby_name: text(32),
      remark: text(32),
      user_id: idField,
      device_key: deviceKey,
      gender: stringish(8).optional(),
      avatar: fileName.optional(),
    }),
  }),
  unbindToy: api({
    method: "POST",
    path: "/unbind_toy",
    tag: TAG,
    summary: "Unbind one of the caller's toys and free its device",
    auth: "user",
    body: toyRequest({ toy_id: idField }),
  }),
  toyList: api({
    method: "POST",
    path: "/toy_list",
    tag: TAG,
    summary: "The caller's toys",
    auth: "user",
    body: toyRequest({ _id: idField }),
  }),
  openToy: api({
    method: "POST",
    path: "/open_toy",
    tag: TAG,
    summary: "Toy start-up: 0 bound (with token), 1 unknown key, 2 unbound",
    auth: "none",
    body: toyRequest({ device_key: z.string().max(128) }),
  }),
  friendList: api({
    method: "POST",
    path: "/friend_list",
    tag: TAG,
    summary: "Friends of the caller or of one of its toys",
    auth: "user_or_toy",
    body: toyRequest({ _id: idField }),
  }),
  addReq: api({
    method: "POST",
    path: "/add_req",
    tag: TAG,
    summary: "Ask a toy to be friends (as the caller or one of its toys)",
    auth: "user_or_toy",
    body: toyRequest({
      req_user: idField,
      add_user: idField,
      type: z.enum(["app", "toy"]).optional(),
      req_info: text(200, { min: 0 }).default(""),
      remark: text(32, { min: 0 }).default(""),
    }),
  }),
  reqList: api({
    method: "POST",
    path: "/req_list",
    tag: TAG,
    summary: "Friend requests addressed to the caller's toys",
    auth: "user",
    body: toyRequest({ _id: idField }),
  }),
  accReq: api({
    method: "POST",
    path: "/acc_req",
    tag: TAG,
    summary: "Accept a friend request for one of the caller's toys",
    auth: "user",
    body: toyRequest({
      req_id: idField,
      remark: text(32, { min: 0 }).default(""),
    }),
  }),
  refReq: api({
    method: "POST",
    path: "/ref_req",
    tag: TAG,
    summary: "Refuse a friend request for one of the caller's toys",
    auth: "user",
    body: toyRequest({ req_id: idField }),
  }),
  getQr: api({
    method: "GET",
    path: "/get_qr/:file",
    tag: TAG,
    summary: "A device's QR code as PNG (<device_key>.png)",
    auth: "none",
  }),
};

/** Media download routes and the blob kinds each may serve. */
const MEDIA: [string, BlobKind[]][] = [
  ["/get_music/:file", ["music"]],
  ["/get_cover/:file", ["cover"]],
  ["/get_image/:file", ["cover", "image"]],
  ["/get_chat/:file", ["chat"]],
];
const mediaRoutes = MEDIA.map(([path, kinds]) => ({
  kinds,
  route: api({
    method: "GET",
    path,
    tag: TAG,
    summary: "Stream a media file (Range supported; HEAD too)",
    auth: "none",
  }),
}));

function ok(c: Context<AppEnv>, msg: string, data: unknown = {}) {
  return c.json(toyBody(0, msg, data));
}

/** The smart-toy HTTP routes. */
export function toyApiFeature(): Feature {
  const app = subApp();

  bindRoute(app, routes.reg, async function regHandler(c) {
    const { kv, limiter } = c.get("deps");
    limiter.take(`reg:${clientAddress(c)}`, 20, 60_000, "registrations");
    const b = await input(c, routes.reg);
    const user = await registerUser(kv, b);
    return ok(c, "Registration successful", { _id: user._id });
  });

  bindRoute(app, routes.login, async function loginHandler(c) {
    const { kv, limiter } = c.get("deps");
    const b = await input(c, routes.login);
    limiter.take(`login:${clientAddress(c)}`, 30, 60_000, "login attempts");
    limiter.take(`login-user:${b.username}`, 10, 60_000, "login attempts");
    const user = await authenticateUser(kv, b.username, b.password);
    const token = await createAppSession(kv, { kind: "user", id: user._id });
    return ok(c, "Successful login", {
      ...(await userView(kv, user._id)),
      token,
    });
  });

  bindRoute(app, routes.autoLogin, async function autoLoginHandler(c) {
    const { kv } = c.get("deps");
    const b = await input(c, routes.autoLogin);
    const me = await caller(c, ["user"], b);
    assertIsCaller(me, b._id, "_id");
    return ok(c, "Successful login", {
      ...(await userView(kv, me.id)),
      chat: await unreadCounts(kv, me.id),
    });
  });

  bindRoute(app, routes.logout, async function logoutHandler(c) {
    const { kv } = c.get("deps");
    const b = await input(c, routes.logout);
    await caller(c, ["user", "toy"], b);
    await logout(kv, tokenOf(c, b)!);
    return ok(c, "Logged out");
  });

  bindRoute(app, routes.contentList, async function contentListHandler(c) {
    await input(c, routes.contentList);
    const items = await listContent(c.get("deps").kv);
    return ok(
      c,
      "Get a list of content resources",
      items.map(({ digest: _, ...item }) => item),
    );
  });

  bindRoute(app, routes.scanQr, async function scanQrHandler(c) {
    const b = await input(c, routes.scanQr);
    await caller(c, ["user"], b);
    const result = await scanDevice(
      c.get("deps").kv,
      b.device_key.trim().toLowerCase(),
    );
    if (result.code === 0) {
      return ok(c, "Successful Scanning of Two-Dimensional Code", {
        device_key: result.device_key,
      });
    }
    if (result.code === 1) {
      return c.json(toyBody(1, "Please scan the toy two-dimensional code"));
    }
    return c.json(
      toyBody(2, "Equipment has been bound", { toy_id: result.toy_id }),
    );
  });

  bindRoute(app, routes.bindToy, async function bindToyHandler(c) {
    const { kv } = c.get("deps");
    const b = await input(c, routes.bindToy);
    const me = await caller(c, ["user"], b);
    assertIsCaller(me, b.user_id);
    const toy = await bindToy(kv, {
      userId: me.id,
      deviceKey: b.device_key,
      toyName: b.toy_name,
      babyName: b.baby_name,
      remark: b.remark,
      gender: b.gender,
      avatar: b.avatar,
    });
    return ok(c, "Binding Completion", { toy_id: toy._id });
  });

  bindRoute(app, routes.unbindToy, async function unbindToyHandler(c) {
    const b = await input(c, routes.unbindToy);
    const me = await caller(c, ["user"], b);
    await unbindToy(c.get("deps").kv, me.id, b.toy_id);
    return ok(c, "Unbound", {});
  });

  bindRoute(app, routes.toyList, async function toyListHandler(c) {
    const b = await input(c, routes.toyList);
    const me = await caller(c, ["user"], b);
    assertIsCaller(me, b._id, "_id");
    return ok(c, "Obtain Toy list", await listToys(c.get("deps").kv, me.id));
  });

  bindRoute(app, routes.openToy, async function openToyHandler(c) {
    const { kv } = c.get("deps");
    const b = await input(c, routes.openToy);
    const result = await openToy(kv, b.device_key.trim().toLowerCase());
    if (result.code === 1) {
      const data = { music: PROMPTS.unlicensed };
      return c.json(toyBody(1, "Device not authorised", data, { flat: true }));
    }
    if (result.code === 2) {
      const data = { music: PROMPTS.unbound };
      return c.json(toyBody(2, "Device not bound", data, { flat: true }));
    }
    const token = await createAppSession(kv, {
      kind: "toy",
      id: result.toy._id,
    });
    const data = {
      music: PROMPTS.success,
      toy_id: result.toy._id,
      name: result.toy.toy_name,
      token,
    };
    return c.json(toyBody(0, "Toy started", data, { flat: true }));
  });

  bindRoute(app, routes.friendList, async function friendListHandler(c) {
    const { kv } = c.get("deps");
    const b = await input(c, routes.friendList);
    const me = await caller(c, ["user", "toy"], b);
    await assertActsAs(kv, me, b._id);
    // The whole reply is cached as bytes: friend lists are read far more
    // often than they change, and every change clears the cache.
    const reply = await cached(
      kv,
      "friends",
      `reply:${b._id}`,
      async () =>
        new TextEncoder().encode(
          JSON.stringify(
            toyBody(0, "Friends Inquiry", await listFriends(kv, b._id)),
          ),
        ),
    );
    return c.body(reply, 200, { "content-type": "application/json" });
  });

  bindRoute(app, routes.addReq, async function addReqHandler(c) {
    const { kv } = c.get("deps");
    const b = await input(c, routes.addReq);
    const me = await caller(c, ["user", "toy"], b);
    c.get("deps").limiter.take(
      `add_req:${me.id}`,
      30,
      60_000,
      "friend requests",
    );
    await assertActsAs(kv, me, b.req_user, "req_user");
    const request = await addRequest(kv, b);
    return ok(c, "Successful Added Friends Request", { req_id: request._id });
  });

  bindRoute(app, routes.reqList, async function reqListHandler(c) {
    const { kv } = c.get("deps");
    const b = await input(c, routes.reqList);
    const me = await caller(c, ["user"], b);
    assertIsCaller(me, b._id, "_id");
    return ok(
      c,
      "Query Friends Request",
      await listRequestsTo(kv, await toyIdsOf(kv, me.id)),
    );
  });

  bindRoute(app, routes.accReq, async function accReqHandler(c) {
    const b = await input(c, routes.accReq);
    const me = await caller(c, ["user"], b);
    await acceptRequest(c.get("deps").kv, me, {
      reqId: b.req_id,
      remark: b.remark,
    });
    return ok(c, "Agree to add friends");
  });

  bindRoute(app, routes.refReq, async function refReqHandler(c) {
    const b = await input(c, routes.refReq);
    const me = await caller(c, ["user"], b);
    await refuseRequest(c.get("deps").kv, me, b.req_id);
    return ok(c, "Refuse to add friends");
  });

  bindRoute(app, routes.getQr, async function getQrHandler(c) {
    const file = c.req.param("file") ?? "";
    const key = file.endsWith(".png") ? file.slice(0, -4) : file;
    checkDeviceKey(key);
    if (!(await getDevice(c.get("deps").kv, key))) {
      throw new AppError(404, `no device with key "${key}"`);
    }
    return c.body(await deviceQrPng(key), 200, {
      "content-type": "image/png",
      "cache-control": "public, max-age=86400",
    });
  });

  for (const { route, kinds } of mediaRoutes) {
    bindRoute(app, route, async function media(c) {
      const { kv } = c.get("deps");
      const file = c.req.param("file") ?? "";
      if (!isBlobName(file)) {
        throw new AppError(
          400,
          `"${file.slice(0, 80)}" is not a valid file name`,
        );
      }
      const meta = await getBlobMeta(kv, file);
      // Blobs with an owner (DiaryU's private images) are served only by
      // their own system's routes, to their owner.
      if (!meta || !kinds.includes(meta.kind) || meta.owner !== undefined) {
        throw new AppError(404, `no file "${file}"`);
      }
      return blobResponse(kv, meta, c.req.header("range"), {
        method: c.req.method,
      });
    });
  }

  return { app };
}

/** The user as /login and /auto_login show it: friends and toys included. */
async function userView(kv: Deno.Kv, userId: string) {
  const user = await requireUser(kv, userId);
  const bindToys = await toyIdsOf(kv, userId);
  return {
    ...publicUser(user),
    friend_list: await listFriends(kv, userId),
    bind_toys: bindToys,
    bind_toy: bindToys,
  };
}
