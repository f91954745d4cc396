/**
 * One HTTP server of the HTTP benchmark in its own process (so it can be
 * pinned to a core with `taskset`): prints `READY <json>` once it serves.
 *
 * - `babble <kv> <friends>`: Babble on a KV file, seeded with a parent who
 *   has `<friends>` toys (so `friend_list` returns that many friends), a
 *   256 KiB music blob, and the targets of `add_req`. The add_req rate
 *   limit (30/min per caller) is lifted in this process only, so the load
 *   measures the route's work, not its 429.
 * - `bare <file>`: a bare `Deno.serve` answering each path (with its query)
 *   with the canned reply `<file>` holds for it (JSON: path -> CannedReply).
 * - `hono <file> <tokens>`: a plain Hono app doing what a smart-toy route
 *   does (Bearer lookup in a Map, JSON body, zod, reply) with those bytes.
 * - `diaryu <kv>`: Babble with `--demo` (try-out users), the DiaryU
 *   sign-in and chat-line budgets lifted in this process only, so the
 *   load measures delivery, not the per-user typing limit.
 *
 * SIGTERM ends it.
 */

import { testConfig } from "../../domain/platform/config.ts";
import { RateLimiter } from "../../domain/platform/rate_limit.ts";
import {
  createAppSession,
  registerUser,
} from "../../domain/smart_toy/accounts.ts";
import { mintDevices } from "../../domain/smart_toy/devices.ts";
import { bindToy } from "../../domain/smart_toy/toys.ts";
import { putBlob } from "../../domain/store/blobs.ts";
import { startServer } from "../../main.ts";

/** What the bench needs to aim its load at a Babble server. */
export interface BabbleTarget {
  url: string;
  token: string;
  userId: string;
  toyIds: string[];
  music: string;
}

/** A canned reply of the reference servers. */
export interface CannedReply {
  /** The body, base64. */
  body: string;
  type: string;
  status: number;
  /** Extra headers (Content-Range of a 206). */
  headers?: Record<string, string>;
}

/** Canned replies by path and query. */
export type CannedReplies = Record<string, CannedReply>;

/** Responses made from canned replies, by path and query. */
async function loadCanned(file: string) {
  const replies: CannedReplies = JSON.parse(await Deno.readTextFile(file));
  const out = new Map<
    string,
    {
      bytes: Uint8Array<ArrayBuffer>;
      status: number;
      headers: Record<string, string>;
    }
  >();
  for (const [path, r] of Object.entries(replies)) {
    out.set(path, {
      bytes: Uint8Array.from(atob(r.body), (ch) => ch.charCodeAt(0)),
      status: r.status,
      headers: { "content-type": r.type, ...r.headers },
    });
  }
  return out;
}

function pathOf(url: string): string {
  const at = url.indexOf("/", url.indexOf("//") + 2);
  return url.slice(at);
}

const MUSIC_BYTES = 256 * 1024;

async function serveBabble(kvPath: string, friends: number) {
  RateLimiter.prototype.take = function unlimited() {};
  const server = await startServer(
    testConfig({ kv: kvPath, transcodeWorkers: 1 }),
    { quiet: true },
  );
  const user = await registerUser(server.kv, {
    username: "bench_parent",
    password: "bench-password",
  });
  const token = await createAppSession(server.kv, {
    kind: "user",
    id: user._id,
  });
  const toyIds: string[] = [];
  const keys = await mintDevices(server.kv, friends);
  for (const [i, deviceKey] of keys.entries()) {
    const toy = await bindToy(server.kv, {
      userId: user._id,
      deviceKey,
      toyName: `Toy ${i}`,
      babyName: `Child ${i}`,
      remark: "Dad",
    });
    toyIds.push(toy._id);
  }
  const music = "bench_music.mp3";
  const bytes = new Uint8Array(MUSIC_BYTES).map((_, i) => i & 0xff);
  await putBlob(server.kv, music, bytes, { kind: "music" });
  const target: BabbleTarget = {
    url: server.url,
    token,
    userId: user._id,
    toyIds,
    music,
  };
  console.log(`READY ${JSON.stringify(target)}`);
  return () => server.close();
}

async function serveBare(file: string) {
  const canned = await loadCanned(file);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async function bare(req) {
      if (req.method === "POST") await req.arrayBuffer();
      const reply = canned.get(pathOf(req.url));
      if (!reply) return new Response("no such path", { status: 404 });
      return new Response(reply.bytes, reply);
    },
  );
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  console.log(`READY ${JSON.stringify({ url })}`);
  return () => server.shutdown();
}

/** The 40-line reference: what a smart-toy route does, in plain Hono. */
async function serveHono(file: string, token: string) {
  const { Hono } = await import("hono");
  const { z } = await import("zod");
  const canned = await loadCanned(file);
  const sessions = new Map(
    token.split(",").map((t) => [t, { kind: "user", id: "x" }]),
  );
  const schema = z.object({
    _id: z.string().regex(/^[0-9a-f]{24}$/).optional(),
    req_user: z.string().regex(/^[0-9a-f]{24}$/).optional(),
    add_user: z.string().regex(/^[0-9a-f]{24}$/).optional(),
  });
  const app = new Hono();
  app.all("*", async function reference(c) {
    if (c.req.method === "POST") {
      const auth = c.req.header("authorization") ?? "";
      const who = sessions.get(auth.slice(7));
      if (!who) return c.json({ code: 401, msg: "sign in", data: {} }, 401);
      const parsed = schema.safeParse(await c.req.json());
      if (!parsed.success) return c.json({ code: 400, msg: "bad" }, 400);
    }
    const reply = canned.get(pathOf(c.req.url));
    if (!reply) return c.text("no such path", 404);
    return c.body(
      reply.bytes,
      reply.status as 200,
      reply.headers,
    );
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  console.log(`READY ${JSON.stringify({ url })}`);
  return () => server.shutdown();
}

async function serveDiaryu(kvPath: string) {
  RateLimiter.prototype.take = function unlimited() {};
  const server = await startServer(
    testConfig({ kv: kvPath, transcodeWorkers: 1, demo: true }),
    { quiet: true },
  );
  console.log(`READY ${JSON.stringify({ url: server.url })}`);
  return () => server.close();
}

if (import.meta.main) {
  const [mode, a, b] = Deno.args;
  const close = mode === "babble"
    ? await serveBabble(a, Number(b))
    : mode === "diaryu"
    ? await serveDiaryu(a)
    : mode === "bare"
    ? await serveBare(a)
    : await serveHono(a, b);
  Deno.addSignalListener("SIGTERM", async () => {
    await close();
    Deno.exit(0);
  });
}
