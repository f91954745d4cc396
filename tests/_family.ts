import assert from "node:assert/strict";
import { mintDevices } from "../domain/smart_toy/devices.ts";

/**
 * The test helpers for the smart-toy contract and its sockets, one set:
 * POST a body in any of the three encodings the seed's clients use,
 * uploads as they send them, families (a registered, logged-in parent with
 * one bound, started toy) built through the real HTTP routes, WebSocket
 * clients that queue frames, and a raw TCP WebSocket handshake for what a
 * browser client cannot do (see a refusal's status, never read).
 */

/** Anything with the base URL and the store of a running server. */
export interface ServerLike {
  url: string;
  kv: Deno.Kv;
}

/** A reply: HTTP status, the parsed JSON body and the headers. */
export interface Reply {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  headers: Headers;
}

/** A parent (registered, logged in) with one bound toy that has started. */
export interface Family {
  userId: string;
  username: string;
  password: string;
  nickname: string;
  /** The parent's session token. */
  token: string;
  toyId: string;
  /** The token /open_toy gave the toy. */
  toyToken: string;
  deviceKey: string;
  /** The chat between parent and toy. */
  chatId: string;
}

/** A fixture's bytes (tests/fixtures). */
export function fixture(name: string): Promise<Uint8Array<ArrayBuffer>> {
  return Deno.readFile(new URL(`./fixtures/${name}`, import.meta.url));
}

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
  server: { url: string },
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

/** POSTs a JSON body, with the parent's or toy's token when given. */
export function post(
  server: { url: string },
  path: string,
  body: Record<string, unknown>,
  token?: string,
): Promise<Reply> {
  return send(server, path, body, { token });
}

/** POSTs multipart/form-data: text fields plus one file field. */
export async function upload(
  server: { url: string },
  path: string,
  fields: Record<string, string>,
  file: { field: string; bytes: Uint8Array<ArrayBuffer>; name?: string },
  token?: string,
): Promise<Reply> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append(
    file.field,
    new Blob([file.bytes], { type: "application/octet-stream" }),
    file.name ?? "voice.bin",
  );
  const res = await fetch(server.url + path, {
    method: "POST",
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: form,
  });
  return { status: res.status, body: await jsonOf(res), headers: res.headers };
}

/** Asserts a smart-toy success envelope (HTTP 200, code 0) and returns its data. */
// deno-lint-ignore no-explicit-any
export function ok(reply: Reply): any {
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
  server: { url: string },
  { username = uniqueName(), password = "secret-pass", nickname = "Dad" } = {},
): Promise<
  { userId: string; username: string; password: string; token: string }
> {
  ok(
    await send(server, "/reg", {
      username,
      password,
      nickname,
      gender: "2",
      avatar: "baba.jpg",
    }),
  );
  const login = ok(await send(server, "/login", { username, password }));
  return { userId: login._id, username, password, token: login.token };
}

/** Mints one device key straight in the store (as `devices mint` does). */
export async function newDevice(server: { kv: Deno.Kv }): Promise<string> {
  const [key] = await mintDevices(server.kv, 1);
  return key;
}

/**
 * A parent registered through /reg and /login, a device minted in the
 * store, bound through /bind_toy (remark: the nickname), and started
 * through /open_toy.
 */
export async function newFamily(
  server: ServerLike,
  { nickname = "Dad", toyName = "Ball ball", babyName = "Small dung ball" } =
    {},
): Promise<Family> {
  const parent = await newParent(server, { nickname });
  const deviceKey = await newDevice(server);
  const bound = ok(
    await post(server, "/bind_toy", {
      toy_name: toyName,
      baby_name: babyName,
      remark: nickname,
      user_id: parent.userId,
      device_key: deviceKey,
    }, parent.token),
  );
  const started = ok(
    await post(server, "/open_toy", { device_key: deviceKey }),
  );
  assert.equal(started.toy_id, bound.toy_id);
  const friends = ok(
    await post(server, "/friend_list", { _id: parent.userId }, parent.token),
  );
  const entry = friends.find((f: { friend_id: string }) =>
    f.friend_id === bound.toy_id
  );
  assert.ok(entry, "the bound toy is in the parent's friend list");
  return {
    ...parent,
    nickname,
    toyId: bound.toy_id,
    toyToken: started.token,
    deviceKey,
    chatId: entry.friend_chat,
  };
}

/**
 * Makes the toys of `a` and `b` friends (a's parent asks, b's parent
 * accepts); returns the chat id of the two toys.
 */
export async function befriendToys(
  server: { url: string },
  a: Family,
  b: Family,
): Promise<string> {
  const { req_id } = ok(
    await post(server, "/add_req", {
      req_user: a.toyId,
      add_user: b.toyId,
      type: "toy",
      req_info: "I am " + a.toyId,
      remark: "pal",
    }, a.token),
  );
  ok(await post(server, "/acc_req", { req_id, remark: "buddy" }, b.token));
  const friends = ok(
    await post(server, "/friend_list", { _id: a.toyId }, a.token),
  );
  const entry = friends.find((f: { friend_id: string }) =>
    f.friend_id === b.toyId
  );
  assert.ok(entry, "the toys are friends");
  return entry.friend_chat;
}

/** An id that is well-formed but names nothing. */
export const UNKNOWN_ID = "0123456789abcdef01234567";
/** A device key that is well-formed but was never minted. */
export const UNKNOWN_KEY = "0123456789abcdef0123456789abcdef";

/** A server frame. */
export type Frame = Record<string, unknown>;

/** A WebSocket client: frames queue in order; `next()` waits for a match. */
export class TestSocket implements AsyncDisposable {
  readonly ws: WebSocket;
  readonly closed: Promise<CloseEvent>;
  readonly frames: Frame[] = [];
  #wake: (() => void) | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) =>
      ws.addEventListener("close", (e) => {
        resolve(e);
        this.#wake?.();
      })
    );
    ws.addEventListener("message", (event) => {
      this.frames.push(JSON.parse(event.data));
      this.#wake?.();
    });
  }

  /** Opens `path` on the server (http URL) and waits until it is open. */
  static async open(baseUrl: string, path: string): Promise<TestSocket> {
    const ws = new WebSocket(baseUrl.replace(/^http/, "ws") + path);
    const socket = new TestSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve());
      ws.addEventListener("error", () => {
        socket.closed.then(() =>
          reject(new Error(`socket ${path} failed to open`))
        );
      });
    });
    return socket;
  }

  /** Sends a JSON frame (or raw text). */
  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /**
   * The first queued or coming frame matching `match` (removed from the
   * queue); fails after `timeoutMs` or when the socket closes first.
   */
  async next(
    match: (f: Frame) => boolean = () => true,
    timeoutMs = 5_000,
  ): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      for (;;) {
        const i = this.frames.findIndex(match);
        if (i >= 0) return this.frames.splice(i, 1)[0];
        if (this.ws.readyState === WebSocket.CLOSED) {
          throw new Error(
            `socket closed while waiting; queued: ${
              JSON.stringify(this.frames).slice(0, 300)
            }`,
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `no matching frame in ${timeoutMs} ms; queued: ${
              JSON.stringify(this.frames).slice(0, 300)
            }`,
          );
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
    } finally {
      clearTimeout(timer);
      this.#wake = null;
    }
  }

  /** Asserts no frame matching `match` arrives within `ms`. */
  async nothing(match: (f: Frame) => boolean, ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const got = this.frames.find(match);
    assert.equal(got, undefined, `unexpected frame ${JSON.stringify(got)}`);
  }

  /** Closes (if still open) and waits for the close to finish. */
  async close(): Promise<CloseEvent> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    return await this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close().then(() => {});
  }
}

/** The app socket of a family's parent. */
export function appSocket(
  server: { url: string },
  f: Family,
  query = "",
): Promise<TestSocket> {
  return TestSocket.open(
    server.url,
    `/app/${f.userId}?token=${f.token}${query}`,
  );
}

/** The toy socket of a family's toy, with its /open_toy token. */
export function toySocket(
  server: { url: string },
  f: Family,
  query = "",
): Promise<TestSocket> {
  return TestSocket.open(
    server.url,
    `/toy/${f.toyId}?token=${f.toyToken}${query}`,
  );
}

/** A raw TCP connection that did a WebSocket handshake by hand. */
export interface RawHandshake {
  conn: Deno.TcpConn;
  /** The HTTP status of the handshake reply (101 when upgraded). */
  status: number;
  /** The reply's head. */
  head: string;
  /** Bytes that arrived after the head (a body, or the first frames). */
  rest: Uint8Array;
}

/**
 * Opens TCP to the server and sends a WebSocket upgrade request for
 * `path`; reads only the reply head. The caller closes `conn`.
 */
export async function rawHandshake(
  server: { url: string },
  path: string,
): Promise<RawHandshake> {
  const { hostname, port } = new URL(server.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  const request = `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
    `Upgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  await conn.write(new TextEncoder().encode(request));
  let bytes = new Uint8Array();
  let end = -1;
  while (end < 0) {
    const chunk = new Uint8Array(4096);
    const n = await conn.read(chunk);
    if (n === null) break;
    const joined = new Uint8Array(bytes.length + n);
    joined.set(bytes);
    joined.set(chunk.subarray(0, n), bytes.length);
    bytes = joined;
    end = headEnd(bytes);
  }
  const head = new TextDecoder().decode(
    bytes.subarray(0, end < 0 ? bytes.length : end),
  );
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return {
    conn,
    status,
    head,
    rest: end < 0 ? new Uint8Array() : bytes.slice(end + 4),
  };
}

function headEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** Polls `check` every 20 ms until it holds; fails after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Counts the keys under a prefix. */
export async function countKeys(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

/** A frame the server sent on a raw connection (server frames are unmasked). */
export interface RawFrame {
  opcode: number;
  payload: Uint8Array;
}

/** Reads server WebSocket frames from a raw connection after `rawHandshake`. */
export class RawFrameReader {
  readonly #conn: Deno.Conn;
  #buf: Uint8Array;

  /** `rest` is what arrived after the handshake head. */
  constructor(conn: Deno.Conn, rest: Uint8Array = new Uint8Array()) {
    this.#conn = conn;
    this.#buf = rest;
  }

  /** The next frame, or null at end of stream. */
  async next(): Promise<RawFrame | null> {
    for (;;) {
      const frame = this.#parse();
      if (frame) return frame;
      const chunk = new Uint8Array(64 * 1024);
      const n = await this.#conn.read(chunk);
      if (n === null) return null;
      const joined = new Uint8Array(this.#buf.length + n);
      joined.set(this.#buf);
      joined.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = joined;
    }
  }

  #parse(): RawFrame | null {
    const b = this.#buf;
    if (b.length < 2) return null;
    let len = b[1] & 0x7f;
    let at = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = (b[2] << 8) | b[3];
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
      at = 10;
    }
    if (b.length < at + len) return null;
    const frame = { opcode: b[0] & 0x0f, payload: b.slice(at, at + len) };
    this.#buf = b.slice(at + len);
    return frame;
  }
}

/** The status code of a close frame's payload. */
export function closeCode(frame: RawFrame): number {
  return frame.payload.length >= 2
    ? (frame.payload[0] << 8) | frame.payload[1]
    : 1005;
}
