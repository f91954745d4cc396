/**
 * The smart-toy HTTP path under `wrk` (issue 14): `friend_list` (a parent
 * with 50 friends), `add_req` (a write: each request a new pair of toys)
 * and `get_music` (a 64 KiB Range of a 256 KiB file), each against
 *
 * - a bare `Deno.serve` returning the same reply bytes (status, type), and
 * - a plain Hono app doing the same auth + zod pattern with those bytes,
 *
 * every server in its own process pinned to core 0 (`taskset -c 0`) and
 * wrk pinned to core 1, measured back to back in alternating rounds (the
 * machine is shared, so each round's ratio is taken between neighbours
 * and the median round is the headline). `friend_list` also at 10 / 100 /
 * 1,000 friends. Goal: Babble ≥ 0.5 of bare on each route.
 *
 * Run alone: `deno task bench friend_list`.
 */

import type { BabbleTarget, CannedReplies } from "./_http_server.ts";
import { commandExists } from "./_bench_process.ts";

const GOAL = 0.5;
const HEADLINE_FRIENDS = 50;
const FRIEND_SIZES = [10, 100, 1_000];
/** The server whose toys the add_req load pairs up (each pair once). */
const ADD_REQ_FRIENDS = 1_000;
const MUSIC_RANGE = "bytes=65536-131071";

const SERVER = new URL("./_http_server.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** Options of `benchHttp`. */
export interface HttpBenchOptions {
  seconds?: number;
  connections?: number;
  rounds?: number;
}

/** A server process of the bench (`_http_server.ts`), pinned to core 0 when asked. */
export class ServerProcess {
  readonly #proc: Deno.ChildProcess;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(args: string[], pin: boolean) {
    const deno = [
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      CONFIG,
      SERVER,
      ...args,
    ];
    const [cmd, ...rest] = pin ? ["taskset", "-c", "0", ...deno] : deno;
    this.#proc = new Deno.Command(cmd, {
      args: rest,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const stdout = this.#proc.stdout;
    this.ready = (async () => {
      let text = "";
      for await (
        const chunk of stdout.pipeThrough(new TextDecoderStream())
      ) {
        text += chunk;
        const line = text.split("\n").find((l) => l.startsWith("READY "));
        if (line) return JSON.parse(line.slice(6));
      }
      throw new Error(`${args[0]} server exited before READY`);
    })();
  }

  get pid(): number {
    return this.#proc.pid;
  }

  async stop(): Promise<void> {
    try {
      this.#proc.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.#proc.status;
    await this.#proc.stdout.cancel().catch(() => {});
  }
}

/** One request shape for wrk. */
interface Load {
  path: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  /** A Lua `request()` of its own (a body per request), if any. */
  script?: string;
}

/** What one wrk run reports. */
interface WrkResult {
  rps: number;
  /** Replies that were not 2xx/3xx (should be 0). */
  non2xx: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /**
   * The server process's CPU time (all threads) per good reply, in µs:
   * unlike requests/s, not moved by other load on the machine.
   */
  cpuUsPerRequest: number | null;
}

/** CPU seconds (user + system) `pid` has used, or null off Linux. */
async function cpuSeconds(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 (clock ticks, 100 a second).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function luaString(s: string): string {
  return JSON.stringify(s);
}

/** Runs wrk (pinned to core 1 when `pin`) against `base` + `load.path`. */
async function wrk(
  base: string,
  given: Load,
  { seconds, connections, pin, pid }: {
    seconds: number;
    connections: number;
    pin: boolean;
    /** The server's process, for its CPU time. */
    pid?: number;
  },
): Promise<WrkResult> {
  const load = given.script?.startsWith("ROW = 1")
    ? {
      ...given,
      script: given.script.replace(
        "ROW = 1",
        `ROW = ${1 + ADD_REQ_ROWS_PER_RUN * addReqRuns++}`,
      ),
    }
    : given;
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  try {
    const lines = [
      `wrk.method = ${luaString(load.method)}`,
      ...(load.body ? [`wrk.body = ${luaString(load.body)}`] : []),
      ...Object.entries(load.headers).map(([k, v]) =>
        `wrk.headers[${luaString(k)}] = ${luaString(v)}`
      ),
      load.script ?? "",
      `done = function(summary, latency, requests)
  io.write(string.format("P50 %f\\nP99 %f\\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end`,
    ];
    await Deno.writeTextFile(script, lines.join("\n") + "\n");
    const args = [
      "-t1",
      `-c${connections}`,
      `-d${seconds}s`,
      "-s",
      script,
      base + load.path,
    ];
    const [cmd, ...rest] = pin
      ? ["taskset", "-c", "1", "wrk", ...args]
      : ["wrk", ...args];
    const cpuBefore = await cpuSeconds(pid);
    const out = await new Deno.Command(cmd, {
      args: rest,
      stdin: "null",
      stderr: "piped",
    }).output();
    const cpuAfter = await cpuSeconds(pid);
    const text = new TextDecoder().decode(out.stdout);
    const num = (re: RegExp) => {
      const m = re.exec(text);
      return m ? Number(m[1]) : null;
    };
    const requests = num(/(\d+) requests in/) ?? 0;
    const duration = num(/requests in ([\d.]+)s/) ?? seconds;
    const non2xx = num(/Non-2xx or 3xx responses: (\d+)/) ?? 0;
    const round2 = (v: number | null) =>
      v === null ? null : Math.round(v * 100) / 100;
    const good = requests - non2xx;
    return {
      cpuUsPerRequest: cpuBefore !== null && cpuAfter !== null && good > 0
        ? Math.round((cpuAfter - cpuBefore) / good * 1e6)
        : null,
      rps: Math.round(good / duration),
      non2xx,
      p50Ms: round2(num(/P50 ([\d.]+)/)),
      p99Ms: round2(num(/P99 ([\d.]+)/)),
    };
  } finally {
    await Deno.remove(script);
  }
}

function median(values: number[]): number {
  const s = values.toSorted((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function ratio(a: number, b: number): number {
  return b > 0 ? Math.round(a / b * 100) / 100 : 0;
}

async function replyOf(url: string, load: Load): Promise<{
  bytes: Uint8Array;
  status: number;
  type: string;
  headers: Record<string, string>;
}> {
  const res = await fetch(url + load.path, {
    method: load.method,
    headers: load.headers,
    body: load.body,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const range = res.headers.get("content-range");
  return {
    bytes,
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    headers: range ? { "content-range": range } : {},
  };
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function friendListLoad(t: BabbleTarget): Load {
  return {
    path: "/friend_list",
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${t.token}`,
    },
    body: JSON.stringify({ _id: t.userId }),
  };
}

/** Rows of toy pairs (toy i → every other toy) each add_req run may use. */
const ADD_REQ_ROWS_PER_RUN = 40;
let addReqRuns = 0;

/**
 * Each request asks for a new pair of the parent's toys (toy i → toy j),
 * each wrk run starting on rows no earlier run used (a pair can be asked
 * once: a second request would be a 409).
 */
function addReqLoad(t: BabbleTarget): Load {
  const toys = t.toyIds.map(luaString).join(",");
  return {
    path: "/add_req",
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${t.token}`,
    },
    body: JSON.stringify({ req_user: t.toyIds[0], add_user: t.toyIds[1] }),
    script: `ROW = 1
local toys = {${toys}}
local i, j = ROW, 1
request = function()
  j = j + 1
  if j > #toys then i = i + 1; j = 1 end
  if i > #toys then i = 1 end
  if j == i then j = j + 1 end
  if j > #toys then i = i + 1; j = 1 end
  local body = '{"req_user":"' .. toys[i] .. '","add_user":"' .. toys[j] .. '"}'
  return wrk.format(nil, nil, nil, body)
end`,
  };
}

function musicLoad(t: BabbleTarget): Load {
  return {
    path: `/get_music/${t.music}`,
    method: "GET",
    headers: { range: MUSIC_RANGE },
  };
}

/**
 * Measures every route against its references; returns requests/s, the
 * ratios, the rounds and friend_list at each size.
 */
export async function benchHttp(
  { seconds = 4, connections = 32, rounds = 3 }: HttpBenchOptions = {},
): Promise<Record<string, unknown>> {
  if (!(await commandExists("wrk"))) {
    return { error: "wrk not installed (apt-get install wrk) — skipped" };
  }
  const pin = await commandExists("taskset");
  const dir = await Deno.makeTempDir({ prefix: "babble-http-bench-" });
  const servers: ServerProcess[] = [];
  const pids = new Map<string, number>();
  const start = async (args: string[]) => {
    const server = new ServerProcess(args, pin);
    servers.push(server);
    const ready = await server.ready;
    pids.set(ready.url as string, server.pid);
    return ready;
  };
  try {
    const sizes = [...new Set([HEADLINE_FRIENDS, ...FRIEND_SIZES])];
    const babble = new Map<number, BabbleTarget>();
    for (const n of sizes) {
      babble.set(
        n,
        await start([
          "babble",
          `${dir}/babble_${n}.kv`,
          String(n),
        ]) as unknown as BabbleTarget,
      );
    }
    const head = babble.get(HEADLINE_FRIENDS)!;
    const writer = babble.get(ADD_REQ_FRIENDS)!;
    const routes: { name: string; target: BabbleTarget; load: Load }[] = [
      { name: "friend_list", target: head, load: friendListLoad(head) },
      { name: "add_req", target: writer, load: addReqLoad(writer) },
      { name: "get_music", target: head, load: musicLoad(head) },
    ];
    // The references serve Babble's own reply bytes for each path.
    const canned: CannedReplies = {};
    const check: Record<string, unknown> = {};
    for (const { name, target, load } of routes) {
      const reply = await replyOf(target.url, load);
      check[name] = { status: reply.status, bytes: reply.bytes.length };
      canned[load.path] = {
        body: base64(reply.bytes),
        type: reply.type,
        status: reply.status,
        headers: reply.headers,
      };
    }
    const sizeLoads = FRIEND_SIZES.map((n) => {
      const load = friendListLoad(babble.get(n)!);
      return { n, load, refPath: `/friend_list?friends=${n}` };
    });
    for (const { n, load, refPath } of sizeLoads) {
      const reply = await replyOf(babble.get(n)!.url, load);
      canned[refPath] = {
        body: base64(reply.bytes),
        type: reply.type,
        status: reply.status,
      };
    }
    const cannedFile = `${dir}/canned.json`;
    await Deno.writeTextFile(cannedFile, JSON.stringify(canned));
    const bare = (await start(["bare", cannedFile])).url as string;
    const hono = (await start([
      "hono",
      cannedFile,
      `${head.token},${writer.token}`,
    ])).url as string;
    const opts = { seconds, connections, pin };
    const at = (url: string) => ({ ...opts, pid: pids.get(url) });

    // Warm every server's code paths before anything is measured.
    for (const { target, load } of routes) {
      await wrk(target.url, load, { ...opts, seconds: 1 });
      await wrk(bare, load, { ...opts, seconds: 1 });
      await wrk(hono, load, { ...opts, seconds: 1 });
    }

    const results: Record<string, unknown> = {};
    for (const { name, target, load } of routes) {
      const rows = [];
      for (let round = 0; round < rounds; round++) {
        const b = await wrk(target.url, load, at(target.url));
        const bareRun = await wrk(bare, load, at(bare));
        const honoRun = await wrk(hono, load, at(hono));
        rows.push({
          babble: b,
          bare: bareRun,
          hono: honoRun,
          ratio: ratio(b.rps, bareRun.rps),
          honoRatio: ratio(honoRun.rps, bareRun.rps),
          cpuRatio: ratio(bareRun.cpuUsPerRequest ?? 0, b.cpuUsPerRequest ?? 0),
        });
      }
      const headline = median(rows.map((r) => r.ratio));
      results[name] = {
        babbleRps: median(rows.map((r) => r.babble.rps)),
        bareRps: median(rows.map((r) => r.bare.rps)),
        honoRps: median(rows.map((r) => r.hono.rps)),
        ratio: headline,
        honoRatio: median(rows.map((r) => r.honoRatio)),
        babbleCpuUsPerRequest: median(
          rows.map((r) => r.babble.cpuUsPerRequest ?? 0),
        ),
        bareCpuUsPerRequest: median(
          rows.map((r) => r.bare.cpuUsPerRequest ?? 0),
        ),
        honoCpuUsPerRequest: median(
          rows.map((r) => r.hono.cpuUsPerRequest ?? 0),
        ),
        cpuRatio: median(rows.map((r) => r.cpuRatio)),
        babbleNon2xx: rows.reduce((s, r) => s + r.babble.non2xx, 0),
        reply: check[name],
        rounds: rows,
        goal: `≥ ${GOAL} of bare`,
        pass: headline >= GOAL,
      };
    }

    const friendListBySize = [];
    for (const { n, load, refPath } of sizeLoads) {
      const b = await wrk(babble.get(n)!.url, load, at(babble.get(n)!.url));
      const r = await wrk(bare, { ...load, path: refPath }, at(bare));
      friendListBySize.push({
        friends: n,
        babbleRps: b.rps,
        bareRps: r.rps,
        ratio: ratio(b.rps, r.rps),
        babbleCpuUs: b.cpuUsPerRequest,
        bareCpuUs: r.cpuUsPerRequest,
        cpuRatio: ratio(r.cpuUsPerRequest ?? 0, b.cpuUsPerRequest ?? 0),
        babbleP99Ms: b.p99Ms,
      });
    }
    friendListBySize.push({
      friends: HEADLINE_FRIENDS,
      babbleRps: (results.friend_list as { babbleRps: number }).babbleRps,
      bareRps: (results.friend_list as { bareRps: number }).bareRps,
      ratio: (results.friend_list as { ratio: number }).ratio,
      babbleP99Ms: null,
      babbleCpuUs: (results.friend_list as { babbleCpuUsPerRequest: number })
        .babbleCpuUsPerRequest,
      bareCpuUs: (results.friend_list as { bareCpuUsPerRequest: number })
        .bareCpuUsPerRequest,
      cpuRatio: (results.friend_list as { cpuRatio: number }).cpuRatio,
    });
    friendListBySize.sort((a, b) => a.friends - b.friends);
    return {
      what: `wrk -t1 -c${connections} -d${seconds}s, ${rounds} alternating ` +
        `rounds (Babble, bare, Hono); ${
          pin ? "servers on core 0, wrk on core 1" : "unpinned (no taskset)"
        }; rps counts 2xx/3xx replies only; headline = median round; ` +
        `cpuRatio = bare's server CPU per request / Babble's (the same ` +
        `ratio measured in CPU, which other load on the machine does not ` +
        `move). ` +
        `add_req: each request a new pair of the parent's ${ADD_REQ_FRIENDS} ` +
        `toys, its 30/min rate limit lifted in the bench process; get_music: ` +
        `${MUSIC_RANGE} of a 256 KiB file`,
      ...results,
      friendListBySize,
    };
  } finally {
    for (const s of servers) await s.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchHttp(), null, 2));
}
