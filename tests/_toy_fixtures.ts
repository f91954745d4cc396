import assert from "node:assert/strict";
import { mintDevices } from "../domain/smart_toy/devices.ts";

/**
 * Test helpers for the smart-toy contract: POST a body in any of the three
 * encodings the seed's clients use, and build a "family" (a registered,
 * logged-in parent with one bound toy) through the real HTTP routes.
 */

/** How a POST body is encoded. */
export type Encoding = "json" | "form" | "multipart";

/** Every encoding a smart-toy POST accepts (CONTRACTS.md). */
export const ENCODINGS: readonly Encoding[] = ["json", "form", "multipart"];

/** The smart-toy envelope; open_toy also repeats `data` at the top level. */
export interface Envelope {
  code: number;
  msg: string;
  // deno-lint-ignore no-explicit-any
  data: any;
  [key: string]: unknown;
}

/** A reply: status, parsed envelope and headers. */
export interface Reply {
  status: number;
  body: Envelope;
  headers: Headers;
}

/** Anything with the base URL of a running server. */
export interface HasUrl {
  url: string;
}

/** Options of `send`. */
export interface SendOptions {
  token?: string;
  encoding?: Encoding;
}

function encode(
  fields: Record<string, unknown>,
  encoding: Encoding,
): { body: BodyInit; type?: string } {
  if (encoding === "json") {
    return { body: JSON.stringify(fields), type: "application/json" };
  }
  const entries = Object.entries(fields).map(([k, v]) => [k, String(v)]);
  if (encoding === "form") return { body: new URLSearchParams(entries) };
  const form = new FormData();
  for (const [k, v] of entries) form.append(k, v);
  return { body: form };
}

/**
 * POSTs `fields` to `path` encoded as asked (JSON by default) and parses
 * the reply; fails the test when the reply is not JSON.
 */
export async function send(
  server: HasUrl,
  path: string,
  fields: Record<string, unknown> = {},
  { token, encoding = "json" }: SendOptions = {},
): Promise<Reply> {
  const { body, type } = encode(fields, encoding);
  const headers = new Headers();
  if (type) headers.set("content-type", type);
  if (token) headers.set("authorization", `Bearer ${token}`);
  const res = await fetch(server.url + path, {
    method: "POST",
    headers,
    body,
  });
  return { status: res.status, body: await jsonOf(res), headers: res.headers };
}

/** Parses a reply body as the JSON envelope; fails with the text otherwise. */
export async function jsonOf(res: Response): Promise<Envelope> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new assert.AssertionError({
      message: `expected JSON from ${res.url} (${res.status}), got: ${
        text.slice(0, 200)
      }`,
    });
  }
}

/** Asserts a success envelope (HTTP 200, code 0) and returns its data. */
// deno-lint-ignore no-explicit-any
export function okData(reply: Reply): any {
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.body.code, 0, JSON.stringify(reply.body));
  assert.equal(typeof reply.body.msg, "string");
  return reply.body.data;
}

/**
 * Asserts an error envelope: the given HTTP status, `code` (the status
 * unless a business code is given), a message matching `pattern`.
 */
export function assertError(
  reply: Reply,
  status: number,
  pattern?: RegExp,
  code: number = status,
): void {
  const shown = JSON.stringify(reply.body);
  assert.equal(reply.status, status, shown);
  assert.deepEqual(Object.keys(reply.body).sort(), ["code", "data", "msg"]);
  assert.equal(reply.body.code, code, shown);
  assert.equal(typeof reply.body.msg, "string");
  assert.ok(reply.body.msg.length > 0, shown);
  if (pattern) assert.match(reply.body.msg, pattern);
}

let serial = 0;

/** A username no other test uses. */
export function uniqueName(prefix = "parent"): string {
  serial++;
  return `${prefix}_${serial}_${crypto.randomUUID().slice(0, 6)}`;
}

/** A registered, logged-in parent with one bound toy. */
export interface Family {
  userId: string;
  username: string;
  password: string;
  nickname: string;
  token: string;
  toyId: string;
  deviceKey: string;
  /** The chat between the parent and the toy. */
  chatId: string;
}

/** Registers and logs in a parent; returns its id and token. */
export async function newParent(
  server: HasUrl,
  { username = uniqueName(), password = "secret-pass", nickname = "Dad" } = {},
): Promise<
  { userId: string; username: string; password: string; token: string }
> {
  okData(
    await send(server, "/reg", {
      username,
      password,
      nickname,
      gender: "2",
      avatar: "baba.jpg",
    }),
  );
  const login = okData(await send(server, "/login", { username, password }));
  return { userId: login._id, username, password, token: login.token };
}

/** Mints one device key straight in the store (as `devices mint` does). */
export async function newDevice(server: { kv: Deno.Kv }): Promise<string> {
  const [key] = await mintDevices(server.kv, 1);
  return key;
}

/**
 * A parent registered through /reg and /login, with one device minted in
 * the store and bound through /bind_toy.
 */
export async function newFamily(
  server: HasUrl & { kv: Deno.Kv },
  { nickname = "Dad", toyName = "Ball ball", babyName = "Small dung ball" } =
    {},
): Promise<Family> {
  const parent = await newParent(server, { nickname });
  const deviceKey = await newDevice(server);
  const bound = okData(
    await send(server, "/bind_toy", {
      toy_name: toyName,
      baby_name: babyName,
      remark: nickname,
      user_id: parent.userId,
      device_key: deviceKey,
    }, { token: parent.token }),
  );
  const friends = okData(
    await send(server, "/friend_list", { _id: parent.userId }, {
      token: parent.token,
    }),
  );
  const entry = friends.find((f: { friend_id: string }) =>
    f.friend_id === bound.toy_id
  );
  return {
    ...parent,
    nickname,
    toyId: bound.toy_id,
    deviceKey,
    chatId: entry.friend_chat,
  };
}

/**
 * Makes `a`'s toy and `b`'s toy friends: a's parent files the request for
 * its toy, b's parent accepts it. Returns the request id.
 */
export async function befriendToys(
  server: HasUrl,
  a: Family,
  b: Family,
): Promise<string> {
  const { req_id } = okData(
    await send(server, "/add_req", {
      req_user: a.toyId,
      add_user: b.toyId,
      type: "toy",
      req_info: "I am " + a.toyId,
      remark: "pal",
    }, { token: a.token }),
  );
  okData(
    await send(server, "/acc_req", { req_id, remark: "buddy" }, {
      token: b.token,
    }),
  );
  return req_id;
}

/** An id that is well-formed but names nothing. */
export const UNKNOWN_ID = "0123456789abcdef01234567";
/** A device key that is well-formed but was never minted. */
export const UNKNOWN_KEY = "0123456789abcdef0123456789abcdef";
