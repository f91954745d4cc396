/**
 * Benchmark of realtime delivery (issue 4): socket relay throughput against
 * a bare `Deno.upgradeWebSocket` relay, the memory of idle authenticated
 * sockets, and the latency of a 10 s voice message from upload to the
 * recipient's socket. (Durable writes: durable_bench.ts.)
 *
 * Servers and the load generator each run in their own process on
 * 127.0.0.1 (`_babble_server.ts`, `_bare_relay.ts`, `_ws_load.ts`), so a
 * server's CPU and memory are its own. Every loop is bounded in count and
 * time; the whole run takes a few minutes.
 *
 * Run alone: `deno run -A tests/bench/realtime_bench.ts`.
 */

import {
  createAppSession,
  registerUser,
} from "../../domain/smart_toy/accounts.ts";
import { mintDevices } from "../../domain/smart_toy/devices.ts";
import { migrate } from "../../domain/store/kv.ts";
import { SCHEMA_MIGRATIONS } from "../../domain/smart_toy/migrations.ts";
import { bindToy } from "../../domain/smart_toy/toys.ts";
import type { IdleConfig, LoadConfig } from "./_ws_load.ts";
import { commandExists } from "./_bench_process.ts";

const PAIRS = 100;
const IDLE_SOCKETS = 10_000;
/** Coarse at the bottom, ≤ 10 % apart from 30k up, so a ratio resolves. */
const RELAY_RATES = [
  5_000,
  10_000,
  20_000,
  30_000,
  33_000,
  36_000,
  39_000,
  42_000,
  45_000,
  48_000,
  52_000,
  56_000,
  60_000,
  64_000,
  68_000,
  72_000,
  76_000,
  80_000,
  85_000,
  90_000,
  95_000,
  100_000,
];
/** Relay pair counts of the "how cost grows" table. */
const RELAY_SIZES = [100, 1_000];
/** Idle socket counts of the "how cost grows" table. */
const IDLE_SIZES = [1_000, 10_000];
const RELAY_STEP_MS = 3_000;
/**
 * Rounds of each relay (bare, then Babble, alternating);
 * BABBLE_BENCH_RELAY_ROUNDS=1 for a quick look.
 */
const RELAY_ROUNDS = Number(Deno.env.get("BABBLE_BENCH_RELAY_ROUNDS") ?? 3);
const RELAY_P99_GOAL_MS = 100;
const RELAY_RATIO_GOAL = 0.8;
const IDLE_KB_GOAL = 24;
const VOICE_RUNS = 30;
const VOICE_P50_GOAL_MS = 300;

const HERE = new URL(".", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const CLIP = new URL("../fixtures/speech10.amr", import.meta.url).pathname;

const PROFILE_DIR = Deno.env.get("BABBLE_BENCH_CPU_PROF");
/**
 * Servers run on core 0 and load generators on core 1 (`taskset`), as in
 * the HTTP bench: the two never take each other's CPU, which on a 2-core
 * machine otherwise decides who looks faster.
 */
const PIN = await commandExists("taskset");
const SERVER_CORE = 0;
const LOAD_CORE = 1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A script of this folder in its own Deno process, spoken to by lines. */
class Child {
  readonly #proc: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #stderr: string[] = [];
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #wake: (() => void) | null = null;
  #ended = false;
  readonly name: string;

  constructor(script: string, args: string[], core: number) {
    this.name = script;
    const pin = PIN ? ["-c", String(core), Deno.execPath()] : [];
    this.#proc = new Deno.Command(PIN ? "taskset" : Deno.execPath(), {
      args: [
        ...pin,
        "run",
        "-A",
        "--config",
        CONFIG,
        "--v8-flags=--expose-gc",
        // BABBLE_BENCH_CPU_PROF=<dir> profiles the Babble server processes.
        ...(PROFILE_DIR && script === "_babble_server.ts"
          ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`]
          : []),
        new URL(script, HERE).pathname,
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#proc.stdin.getWriter();
    this.#pump(this.#proc.stdout, (line) => this.#lines.push(line));
    this.#pump(this.#proc.stderr, (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 20) this.#stderr.shift();
    });
    this.#proc.status.then(() => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  get pid(): number {
    return this.#proc.pid;
  }

  async #pump(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void) {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      for (const line of parts) onLine(line);
      this.#wake?.();
    }
    if (rest) onLine(rest);
    this.#wake?.();
  }

  /** The rest of the next stdout line that starts with `prefix `. */
  async line(prefix: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#lines.findIndex((l) => l.startsWith(prefix + " "));
      if (i >= 0) return this.#lines.splice(i, 1)[0].slice(prefix.length + 1);
      if (this.#ended) {
        throw new Error(
          `${this.name} exited before "${prefix}": ${this.#stderr.join("\n")}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.name}: no "${prefix}" in ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** Parses the JSON after `prefix`. */
  async json(prefix: string, timeoutMs: number) {
    return JSON.parse(await this.line(prefix, timeoutMs));
  }

  /** Writes one line to the child's stdin. */
  async tell(text: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(text + "\n"));
  }

  /** The child's memory after a full GC (servers only: SIGUSR1). */
  async memory(): Promise<Deno.MemoryUsage> {
    this.#proc.kill("SIGUSR1");
    return await this.json("MEM", 10_000);
  }

  /** SIGTERM, then SIGKILL if it is still running after 10 s. */
  async stop(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    if (!this.#ended) {
      try {
        this.#proc.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
    const killer = setTimeout(() => {
      try {
        this.#proc.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 10_000);
    await this.#proc.status;
    clearTimeout(killer);
  }
}

/** Starts a server script and returns it with its base URL. */
async function startChild(
  script: string,
  args: string[] = [],
): Promise<{ child: Child; url: string }> {
  const child = new Child(script, args, SERVER_CORE);
  try {
    return { child, url: await child.line("READY", 60_000) };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** Runs the load generator with `config`; returns its RESULT. */
async function runLoad(
  dir: string,
  config: LoadConfig,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const file = `${dir}/load_${crypto.randomUUID()}.json`;
  await Deno.writeTextFile(file, JSON.stringify(config));
  const load = new Child("_ws_load.ts", [file], LOAD_CORE);
  try {
    return await load.json("RESULT", timeoutMs);
  } finally {
    await load.stop();
  }
}

/** One family of the prepared store. */
interface Principal {
  userId: string;
  token: string;
  toyId: string;
  deviceKey: string;
}

/** Users (with sessions) and toys written straight into the KV file. */
interface Store {
  families: Principal[];
  toys: { toyId: string; deviceKey: string }[];
  ms: number;
}

/**
 * Prepares a KV file: PAIRS users, each with a session, and IDLE_SOCKETS
 * toys bound round-robin to them (toy i belongs to user i % PAIRS).
 */
async function prepareStore(path: string): Promise<Store> {
  const started = performance.now();
  const kv = await Deno.openKv(path);
  try {
    await migrate(kv, SCHEMA_MIGRATIONS);
    const users = await Promise.all(
      Array.from({ length: PAIRS }, (_, i) =>
        registerUser(kv, {
          username: `bench_${i}`,
          password: "bench-password",
        })),
    );
    const tokens = await Promise.all(
      users.map((u) => createAppSession(kv, { kind: "user", id: u._id })),
    );
    const keys = await mintDevices(kv, IDLE_SOCKETS);
    const toys: Store["toys"] = new Array(keys.length);
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < keys.length) {
        const i = next++;
        const toy = await bindToy(kv, {
          userId: users[i % PAIRS]._id,
          deviceKey: keys[i],
          toyName: `toy ${i}`,
          babyName: "kid",
          remark: "bench",
        });
        toys[i] = { toyId: toy._id, deviceKey: keys[i] };
      }
    }));
    return {
      families: users.map((u, i) => ({
        userId: u._id,
        token: tokens[i],
        toyId: toys[i].toyId,
        deviceKey: toys[i].deviceKey,
      })),
      toys,
      ms: Math.round(performance.now() - started),
    };
  } finally {
    kv.close();
  }
}

function toyPath(toy: { toyId: string; deviceKey: string }): string {
  return `/toy/${toy.toyId}?device_key=${toy.deviceKey}`;
}

/** Relay throughput at each size of RELAY_SIZES; the goal is read at PAIRS. */
async function benchRelay(dir: string, kvPath: string, store: Store) {
  const bySize = [];
  for (const pairs of RELAY_SIZES) {
    bySize.push({ pairs, ...await relayAt(dir, kvPath, store, pairs) });
  }
  const headline = bySize.find((r) => r.pairs === PAIRS)!;
  return {
    ...headline,
    bySize: bySize.map((r) => ({
      pairs: r.pairs,
      babbleMaxHeld: r.babble.maxHeldRate,
      bareMaxHeld: r.bareRelay.maxHeldRate,
      ratio: r.ratio,
    })),
  };
}

/**
 * Relay throughput, app → toy over Babble vs the bare relay, with `pairs`
 * pairs: toy i and its owner's app (users have several toys past PAIRS).
 */
async function relayAt(
  dir: string,
  kvPath: string,
  store: Store,
  pairs: number,
) {
  const common = {
    mode: "relay" as const,
    rates: RELAY_RATES,
    stepMs: RELAY_STEP_MS,
    drainMs: 1_500,
    p99GoalMs: RELAY_P99_GOAL_MS,
  };
  const run = async (
    script: string,
    args: string[],
    pairs: { from: string; to: string; toUser: string }[],
  ) => {
    const { child, url } = await startChild(script, args);
    try {
      return await runLoad(dir, { ...common, url, pairs }, 120_000);
    } finally {
      await child.stop();
    }
  };
  const bareRun = () =>
    run(
      "_bare_relay.ts",
      [],
      Array.from({ length: pairs }, (_, i) => ({
        from: `/ws/a${i}`,
        to: `/ws/b${i}`,
        toUser: `b${i}`,
      })),
    );
  const babbleRun = () =>
    run(
      "_babble_server.ts",
      [kvPath, "1"],
      store.toys.slice(0, pairs).map((toy, i) => {
        const owner = store.families[i % PAIRS];
        return {
          from: `/app/${owner.userId}?token=${owner.token}`,
          to: toyPath(toy),
          toUser: toy.toyId,
        };
      }),
    );
  // Rounds alternate bare and Babble, so a slow spell of the machine
  // falls on both; each side's figure is the median of its rounds.
  const bareRounds = [];
  const babbleRounds = [];
  for (let round = 0; round < RELAY_ROUNDS; round++) {
    bareRounds.push(await bareRun());
    babbleRounds.push(await babbleRun());
  }
  const median = (runs: Record<string, unknown>[]) =>
    runs.map((r) => r.maxHeldRate as number).sort((a, b) => a - b)[
      Math.floor(runs.length / 2)
    ];
  const bareHeld = median(bareRounds);
  const babbleHeld = median(babbleRounds);
  const ratio = bareHeld > 0
    ? Math.round(babbleHeld / bareHeld * 100) / 100
    : null;
  const summary = (runs: Record<string, unknown>[], held: number) => ({
    maxHeldRate: held,
    maxHeldRateEachRound: runs.map((r) => r.maxHeldRate),
    rounds: runs,
  });
  const babble = summary(babbleRounds, babbleHeld);
  const bare = summary(bareRounds, bareHeld);
  return {
    what:
      `${pairs} app→toy pairs; offered ${RELAY_RATES.join(", ")} msg/s for ` +
      `${RELAY_STEP_MS / 1000} s each; held = p99 ≤ ${RELAY_P99_GOAL_MS} ms, ` +
      `nothing lost, rate achieved; median of ${RELAY_ROUNDS} alternating ` +
      `rounds; ${
        PIN ? "servers on core 0, load generator on core 1" : "unpinned"
      }`,
    babble,
    bareRelay: bare,
    ratio,
    goal: `≥ ${RELAY_RATIO_GOAL} of the bare relay`,
    pass: ratio !== null && ratio >= RELAY_RATIO_GOAL,
  };
}

/** Server memory before and after `paths` idle sockets connect. */
async function idleRun(
  dir: string,
  script: string,
  args: string[],
  paths: string[],
) {
  const { child, url } = await startChild(script, args);
  const file = `${dir}/idle_${crypto.randomUUID()}.json`;
  // Warm the server's code paths with a few sockets, then measure.
  const warm: IdleConfig = {
    mode: "idle",
    url,
    paths: paths.slice(0, 200),
    concurrency: 50,
  };
  const config: IdleConfig = { mode: "idle", url, paths, concurrency: 100 };
  try {
    await Deno.writeTextFile(file, JSON.stringify(warm));
    const warmer = new Child("_ws_load.ts", [file], LOAD_CORE);
    await warmer.line("CONNECTED", 60_000);
    await warmer.tell("close");
    await warmer.line("RESULT", 30_000);
    await warmer.stop();
    await sleep(1_000);
    const before = await child.memory();

    await Deno.writeTextFile(file, JSON.stringify(config));
    const load = new Child("_ws_load.ts", [file], LOAD_CORE);
    try {
      const connect = await load.json("CONNECTED", 180_000);
      await sleep(2_000);
      const after = await child.memory();
      await load.tell("close");
      await load.line("RESULT", 60_000);
      const n = connect.sockets as number;
      const kb = (bytes: number) => Math.round(bytes / n / 1024 * 10) / 10;
      return {
        connect,
        rssMiB: {
          before: Math.round(before.rss / 2 ** 20),
          after: Math.round(after.rss / 2 ** 20),
        },
        kbPerSocket: kb(after.rss - before.rss),
        heapKbPerSocket: kb(after.heapUsed - before.heapUsed),
        externalKbPerSocket: kb(after.external - before.external),
      };
    } finally {
      await load.stop();
    }
  } finally {
    await child.stop();
  }
}

/** 10,000 idle sockets: Babble (one principal each, then 100 shared) vs bare. */
async function benchIdle(dir: string, kvPath: string, store: Store) {
  const bare = await idleRun(
    dir,
    "_bare_relay.ts",
    [],
    Array.from({ length: IDLE_SOCKETS }, (_, i) => `/ws/idle${i}`),
  );
  const babble = await idleRun(
    dir,
    "_babble_server.ts",
    [kvPath, "1"],
    store.toys.map(toyPath),
  );
  const shared = await idleRun(
    dir,
    "_babble_server.ts",
    [kvPath, "1"],
    store.toys.map((_, i) => toyPath(store.toys[i % PAIRS])),
  );
  const round = (n: number) => Math.round(n * 10) / 10;
  const bySize = [];
  for (const sockets of IDLE_SIZES) {
    const run = sockets === IDLE_SOCKETS ? babble : await idleRun(
      dir,
      "_babble_server.ts",
      [kvPath, "1"],
      store.toys.slice(0, sockets).map(toyPath),
    );
    bySize.push({
      sockets,
      rssDeltaMiB: run.rssMiB.after - run.rssMiB.before,
      kbPerSocket: run.kbPerSocket,
    });
  }
  return {
    bySize,
    what:
      `${IDLE_SOCKETS} toy sockets authenticated by device key, held idle; ` +
      `server RSS delta / sockets (server in its own process, after GC)`,
    babble,
    babbleSameSocketsOn100Toys: shared,
    bareRelay: bare,
    breakdownKbPerSocket: {
      denoWebSocket: bare.kbPerSocket,
      perPrincipalDelivery: round(babble.kbPerSocket - shared.kbPerSocket),
      restOfBabble: round(shared.kbPerSocket - bare.kbPerSocket),
    },
    goal: `≤ ${IDLE_KB_GOAL} KB per socket`,
    pass: babble.kbPerSocket <= IDLE_KB_GOAL,
  };
}

/** A 10 s AMR voice message: upload → recipient's socket notified. */
async function benchVoice(dir: string, kvPath: string, store: Store) {
  const f = store.families[0];
  const { child, url } = await startChild("_babble_server.ts", [kvPath]);
  try {
    const result = await runLoad(dir, {
      mode: "voice",
      url,
      toyPath: toyPath(f),
      token: f.token,
      userId: f.userId,
      toyId: f.toyId,
      clip: CLIP,
      runs: VOICE_RUNS,
      warmup: 2,
    }, 180_000);
    return {
      what:
        `tests/fixtures/speech10.amr uploaded by the app ${VOICE_RUNS} times ` +
        `in a row (after 2 warm-up runs); time from the request to the toy ` +
        `socket's chat event; ${navigator.hardwareConcurrency} workers`,
      ...result,
      goal: `p50 ≤ ${VOICE_P50_GOAL_MS} ms`,
      pass: (result.notifiedP50Ms as number) <= VOICE_P50_GOAL_MS,
    };
  } finally {
    await child.stop();
  }
}

/** Runs every realtime measurement; returns the figures with goals and pass flags. */
export async function benchRealtime(): Promise<Record<string, unknown>> {
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "babble_realtime_bench_" });
  try {
    const kvPath = `${dir}/bench.kv`;
    // BABBLE_BENCH_ONLY=relay,idle,voice runs a subset.
    const only = Deno.env.get("BABBLE_BENCH_ONLY")?.split(",");
    const want = (name: string) => !only || only.includes(name);
    const store = await prepareStore(kvPath);
    const relay = want("relay")
      ? await benchRelay(dir, kvPath, store)
      : "skipped";
    const idleSockets = want("idle")
      ? await benchIdle(dir, kvPath, store)
      : "skipped";
    const voice = want("voice")
      ? await benchVoice(dir, kvPath, store)
      : "skipped";
    return {
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      setup: { users: PAIRS, toys: IDLE_SOCKETS, ms: store.ms },
      relay,
      idleSockets,
      voice,
      totalSeconds: Math.round((performance.now() - started) / 1000),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchRealtime(), null, 2));
}
