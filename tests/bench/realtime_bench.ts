/**
 * Benchmark of realtime delivery (issue 4): socket relay throughput against
 * a bare `Deno.upgradeWebSocket` relay, durable message throughput on a
 * local KV file, the memory of 10,000 idle authenticated sockets, and the
 * latency of a 10 s voice message from upload to the recipient's socket.
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
import { newId } from "../../domain/store/ids.ts";
import { migrate } from "../../domain/store/kv.ts";
import { SCHEMA_MIGRATIONS } from "../../domain/smart_toy/migrations.ts";
import {
  type Message,
  MessageWriter,
  readInbox,
} from "../../domain/smart_toy/messages.ts";
import { bindToy } from "../../domain/smart_toy/toys.ts";
import type { IdleConfig, LoadConfig } from "./_ws_load.ts";

const PAIRS = 100;
const IDLE_SOCKETS = 10_000;
const RELAY_RATES = [
  2_000,
  5_000,
  10_000,
  15_000,
  20_000,
  30_000,
  40_000,
  50_000,
  60_000,
  80_000,
];
const RELAY_STEP_MS = 3_000;
const RELAY_P99_GOAL_MS = 100;
const RELAY_RATIO_GOAL = 0.5;
const DURABLE_RATES = [1_000, 2_000, 5_000, 7_500, 10_000, 15_000, 20_000];
const DURABLE_STEP_MS = 2_000;
const DURABLE_P99_GOAL_MS = 50;
const DURABLE_GOAL = 5_000;
const DURABLE_RECIPIENTS = 1_000;
const DURABLE_DISK_RUNS = 3;
const IDLE_KB_GOAL = 24;
const VOICE_RUNS = 30;
const VOICE_P50_GOAL_MS = 300;

const HERE = new URL(".", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const CLIP = new URL("../fixtures/speech10.amr", import.meta.url).pathname;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The `p`th percentile (nearest rank) of `samples`, to 0.1. */
function percentile(samples: number[], p: number): number | null {
  if (!samples.length) return null;
  const sorted = samples.toSorted((a, b) => a - b);
  const value = sorted[Math.max(0, Math.ceil(p / 100 * sorted.length) - 1)];
  return Math.round(value * 10) / 10;
}

/** A script of this folder in its own Deno process, spoken to by lines. */
class Child {
  readonly #proc: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #stderr: string[] = [];
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #wake: (() => void) | null = null;
  #ended = false;
  readonly name: string;

  constructor(script: string, args: string[]) {
    this.name = script;
    this.#proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        CONFIG,
        "--v8-flags=--expose-gc",
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
  const child = new Child(script, args);
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
  const load = new Child("_ws_load.ts", [file]);
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

/** Relay throughput, app → own toy over Babble vs the bare relay. */
async function benchRelay(dir: string, kvPath: string, store: Store) {
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
  const bare = await run(
    "_bare_relay.ts",
    [],
    store.families.map((_, i) => ({
      from: `/ws/a${i}`,
      to: `/ws/b${i}`,
      toUser: `b${i}`,
    })),
  );
  const babble = await run(
    "_babble_server.ts",
    [kvPath, "1"],
    store.families.map((f) => ({
      from: `/app/${f.userId}?token=${f.token}`,
      to: toyPath(f),
      toUser: f.toyId,
    })),
  );
  const ratio = (bare.maxHeldRate as number) > 0
    ? Math.round(
      (babble.maxHeldRate as number) / (bare.maxHeldRate as number) * 100,
    ) / 100
    : null;
  return {
    what:
      `${PAIRS} app→toy pairs; offered ${RELAY_RATES.join(", ")} msg/s for ` +
      `${RELAY_STEP_MS / 1000} s each; held = p99 ≤ ${RELAY_P99_GOAL_MS} ms, ` +
      `nothing lost, rate achieved`,
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
    const warmer = new Child("_ws_load.ts", [file]);
    await warmer.line("CONNECTED", 60_000);
    await warmer.tell("close");
    await warmer.line("RESULT", 30_000);
    await warmer.stop();
    await sleep(1_000);
    const before = await child.memory();

    await Deno.writeTextFile(file, JSON.stringify(config));
    const load = new Child("_ws_load.ts", [file]);
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
  return {
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

/**
 * Durable messages straight through MessageWriter on a fresh KV file in
 * `dir`: offered rates step up; held = p99 commit latency ≤ 50 ms and every
 * acknowledged message present, gap-free, in its recipient's inbox. Steps
 * stop once the writer cannot keep up (rate not achieved or p50 over the
 * goal); a p99 miss alone does not stop them (disk stalls come and go).
 */
async function durableRun(dir: string, recipientCount: number) {
  const kv = await Deno.openKv(`${dir}/durable_${crypto.randomUUID()}.kv`);
  try {
    const writer = new MessageWriter(kv);
    const recipients = Array.from({ length: recipientCount }, () => newId());
    const senders = Array.from({ length: 50 }, () => newId());
    const expected = new Map<string, number>();
    let total = 0;

    const offer = async (rate: number, ms: number) => {
      const latencies: number[] = [];
      const pending: Promise<Message | null>[] = [];
      const started = performance.now();
      let sent = 0;
      for (;;) {
        const elapsed = performance.now() - started;
        if (elapsed >= ms) break;
        const due = Math.floor(elapsed * rate / 1000);
        while (sent < due) {
          const to = recipients[Math.floor(Math.random() * recipients.length)];
          const from = senders[sent % senders.length];
          const t0 = performance.now();
          pending.push(
            writer.send({
              chat_id: `chat_${from}_${to}`,
              from_user: from,
              to_user: to,
              chat: `${newId()}.mp3`,
              friend_type: "app",
            }).then((m) => {
              latencies.push(performance.now() - t0);
              return m;
            }, () => null),
          );
          sent++;
        }
        await sleep(1);
      }
      const offeredFor = (performance.now() - started) / 1000;
      const done = await Promise.all(pending);
      const failed = done.filter((m) => m === null).length;
      for (const m of done) {
        if (m) expected.set(m.to_user, (expected.get(m.to_user) ?? 0) + 1);
      }
      total += sent - failed;
      return {
        sent,
        failed,
        achievedRate: Math.round(sent / offeredFor),
        latencies,
      };
    };

    // Zero loss: every recipient's inbox holds exactly what it was sent.
    const lost = async () => {
      let missing = 0;
      let inbox = 0;
      for (const r of recipients) {
        let n = 0;
        let after = 0;
        for (;;) {
          const page = await readInbox(kv, r, after, 1000);
          if (!page.length) break;
          n += page.length;
          after = page.at(-1)!.seq;
        }
        missing += Math.abs((expected.get(r) ?? 0) - n);
        inbox += n;
      }
      return missing + Math.abs(total - inbox);
    };

    await offer(1_000, 1_000); // warm up
    const steps = [];
    for (const rate of DURABLE_RATES) {
      const r = await offer(rate, DURABLE_STEP_MS);
      const p50 = percentile(r.latencies, 50);
      const p99 = percentile(r.latencies, 99);
      const missing = await lost();
      const keptUp = r.achievedRate >= 0.95 * rate && p50 !== null &&
        p50 <= DURABLE_P99_GOAL_MS;
      const held = keptUp && r.failed === 0 && missing === 0 &&
        p99 !== null && p99 <= DURABLE_P99_GOAL_MS;
      steps.push({
        rate,
        sent: r.sent,
        achievedRate: r.achievedRate,
        failed: r.failed,
        lost: missing,
        p50Ms: p50,
        p99Ms: p99,
        maxMs: percentile(r.latencies, 100),
        held,
      });
      if (!keptUp) break;
    }
    const heldRates = steps.filter((s) => s.held).map((s) => s.rate);
    return {
      recipients: recipientCount,
      maxHeldRate: heldRates.length ? Math.max(...heldRates) : 0,
      steps,
    };
  } finally {
    kv.close();
  }
}

/**
 * The storage under the writer, without it: 3,000 commits in a row of 10
 * messages' worth of keys each, on a KV file in `dir`.
 */
async function commitProbe(dir: string) {
  const kv = await Deno.openKv(`${dir}/probe_${crypto.randomUUID()}.kv`);
  try {
    const value = { chat: "0".repeat(36), from_user: "0".repeat(24), n: 0 };
    const times: number[] = [];
    for (let i = 0; i < 3_000; i++) {
      const op = kv.atomic();
      for (let m = 0; m < 10; m++) {
        op.set(["inbox", `r${m}`, "s", i], value)
          .sum(["inbox", `r${m}`, "s", true], 1n)
          .sum(["delivery", `r${m}`], 1n);
      }
      const t0 = performance.now();
      await op.commit();
      times.push(performance.now() - t0);
    }
    return {
      commits: times.length,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      maxMs: percentile(times, 100),
      over50Ms: times.filter((t) => t > 50).length,
    };
  } finally {
    kv.close();
  }
}

/**
 * Durable throughput on the temp dir's disk (1,000 and 100 recipients),
 * the disk's own commit latency, and tmpfs for contrast.
 */
async function benchDurable(dir: string) {
  // The disk stalls now and then (a 100 ms fsync fails a whole step's
  // p99), so the headline is the median of three runs, each one reported.
  const diskRuns = [];
  for (let i = 0; i < DURABLE_DISK_RUNS; i++) {
    diskRuns.push(await durableRun(dir, DURABLE_RECIPIENTS));
  }
  const medianHeld =
    [...diskRuns.map((r) => r.maxHeldRate)].sort((a, b) =>
      a - b
    )[Math.floor(diskRuns.length / 2)];
  const onDiskFewRecipients = await durableRun(dir, 100);
  const diskCommits = await commitProbe(dir);
  let onTmpfs = null;
  const shm = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "babble_" })
    .catch(() => null);
  if (shm) {
    try {
      onTmpfs = await durableRun(shm, DURABLE_RECIPIENTS);
    } finally {
      await Deno.remove(shm, { recursive: true });
    }
  }
  return {
    what: `MessageWriter.send in process on a local KV file, messages to ` +
      `random recipients from 50 senders; offered rates for ` +
      `${DURABLE_STEP_MS / 1000} s each; latency = send() until durable; ` +
      `held = p99 ≤ ${DURABLE_P99_GOAL_MS} ms and zero loss; on disk the ` +
      `median of ${DURABLE_DISK_RUNS} runs`,
    onDisk: {
      dir,
      recipients: DURABLE_RECIPIENTS,
      maxHeldRate: medianHeld,
      maxHeldRateEachRun: diskRuns.map((r) => r.maxHeldRate),
      runs: diskRuns,
    },
    onDiskFewRecipients,
    diskCommitsWithoutWriter: diskCommits,
    onTmpfs,
    goal: `≥ ${DURABLE_GOAL} msg/s on the local KV file`,
    pass: medianHeld >= DURABLE_GOAL,
  };
}

/** Runs every realtime measurement; returns the figures with goals and pass flags. */
export async function benchRealtime(): Promise<Record<string, unknown>> {
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "babble_realtime_bench_" });
  try {
    const kvPath = `${dir}/bench.kv`;
    // BABBLE_BENCH_ONLY=relay,idle,voice,durable runs a subset.
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
    const durable = want("durable") ? await benchDurable(dir) : "skipped";
    return {
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      setup: { users: PAIRS, toys: IDLE_SOCKETS, ms: store.ms },
      relay,
      durable,
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
