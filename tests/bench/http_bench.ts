/**
 * Benchmark of the smart-toy HTTP path: `POST /friend_list` for a parent
 * with 50 friends, against a bare `Deno.serve` hello-world measured in the
 * same run, both on 127.0.0.1 and loaded from a separate process (this
 * file, run as `http_bench.ts load <json>`). Goal: Babble ≥ 50% of hello.
 *
 * Run alone: `deno run -A tests/bench/http_bench.ts`.
 */

const FRIENDS = 50;
const GOAL = 0.5;

/** What one load run is told (passed as JSON on the command line). */
interface LoadSpec {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Concurrent keep-alive request loops. */
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

/** What one load run reports. */
interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** Bytes of the last good reply body: a check the right thing was served. */
  reply_bytes: number;
}

/** Upper bound on requests per loop, so a loop ends even if the clock stalls. */
const MAX_PER_LOOP = 5_000_000;
/** Latency samples kept (the first ones of the measured window). */
const MAX_SAMPLES = 200_000;

/**
 * The load generator: `connections` loops, each sending the request again
 * as soon as the previous reply was read, first for the warm-up, then for
 * the measured window. Runs in its own process.
 */
async function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies = new Float64Array(MAX_SAMPLES);
  let samples = 0;
  let requests = 0;
  let errors = 0;
  let replyBytes = 0;
  let measuring = false;
  const warmupEnd = performance.now() + spec.warmupSeconds * 1000;
  const end = warmupEnd + spec.seconds * 1000;

  async function loop(): Promise<void> {
    for (let i = 0; i < MAX_PER_LOOP; i++) {
      const started = performance.now();
      if (started >= end) return;
      try {
        const res = await fetch(spec.url, {
          method: "POST",
          headers: spec.headers,
          body: spec.body,
        });
        const bytes = await res.arrayBuffer();
        if (!measuring) continue;
        if (res.status === 200) {
          requests++;
          replyBytes = bytes.byteLength;
          if (samples < MAX_SAMPLES) {
            latencies[samples++] = performance.now() - started;
          }
        } else {
          errors++;
        }
      } catch {
        if (measuring) errors++;
      }
    }
  }

  const loops = Array.from({ length: spec.connections }, loop);
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, warmupEnd - performance.now()))
  );
  measuring = true;
  const measuredFrom = performance.now();
  await Promise.all(loops);
  const seconds = (performance.now() - measuredFrom) / 1000;
  const sorted = latencies.subarray(0, samples).sort();
  const pick = (p: number) =>
    samples ? round(sorted[Math.min(samples - 1, Math.floor(p * samples))]) : 0;
  return {
    requests,
    errors,
    seconds: round(seconds),
    rps: Math.round(requests / seconds),
    p50_ms: pick(0.5),
    p99_ms: pick(0.99),
    reply_bytes: replyBytes,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Runs the load generator in a child process and reads its JSON report. */
async function loadFromChild(spec: LoadSpec): Promise<LoadResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      import.meta.filename!,
      "load",
      JSON.stringify(spec),
    ],
    stdin: "null",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`load generator failed: ${text}`);
  return JSON.parse(text);
}

/**
 * The same load from wrk (Debian's `wrk`), when installed: a far lighter
 * client than fetch, so it shows the server's own ceiling. Null without wrk.
 */
async function loadFromWrk(
  spec: LoadSpec,
): Promise<{ rps: number } | null> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  try {
    const lines = [
      `wrk.method = "${spec.body ? "POST" : "GET"}"`,
      ...(spec.body ? [`wrk.body = ${JSON.stringify(spec.body)}`] : []),
      ...Object.entries(spec.headers ?? {}).map(([k, v]) =>
        `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`
      ),
    ];
    await Deno.writeTextFile(script, lines.join("\n") + "\n");
    const out = await new Deno.Command("wrk", {
      args: [
        "-t1",
        `-c${spec.connections}`,
        `-d${spec.seconds}s`,
        "-s",
        script,
        spec.url,
      ],
      stdin: "null",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const match = /Requests\/sec:\s+([\d.]+)/.exec(text);
    return match ? { rps: Math.round(Number(match[1])) } : null;
  } catch {
    return null;
  } finally {
    await Deno.remove(script);
  }
}

/** Options of `benchFriendList`. */
export interface HttpBenchOptions {
  seconds?: number;
  warmupSeconds?: number;
  connections?: number;
  /** Alternating rounds (hello, Babble); the best of each is reported. */
  rounds?: number;
}

/**
 * Measures `POST /friend_list` (a parent with 50 friends, file KV, one
 * transcode worker) and a bare hello-world, each loaded from a separate
 * process over keep-alive connections. Returns requests/s and the ratio.
 */
export async function benchFriendList(
  { seconds = 5, warmupSeconds = 1, connections = 32, rounds = 2 }:
    HttpBenchOptions = {},
): Promise<Record<string, unknown>> {
  // Imported here, not at the top: the load generator child runs this file
  // with only --allow-net and must not load the server.
  const { testConfig } = await import("../../domain/platform/config.ts");
  const { createAppSession, registerUser } = await import(
    "../../domain/smart_toy/accounts.ts"
  );
  const { mintDevices } = await import("../../domain/smart_toy/devices.ts");
  const { bindToy } = await import("../../domain/smart_toy/toys.ts");
  const { startServer } = await import("../../main.ts");
  const dir = await Deno.makeTempDir({ prefix: "babble-bench-" });
  const hello = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("Hello, world!"),
  );
  const babble = await startServer(
    testConfig({ kv: `${dir}/babble.kv`, transcodeWorkers: 1 }),
    { quiet: true },
  );
  try {
    const user = await registerUser(babble.kv, {
      username: "bench_parent",
      password: "bench-password",
    });
    const token = await createAppSession(babble.kv, {
      kind: "user",
      id: user._id,
    });
    const keys = await mintDevices(babble.kv, FRIENDS);
    for (const [i, deviceKey] of keys.entries()) {
      await bindToy(babble.kv, {
        userId: user._id,
        deviceKey,
        toyName: `Toy ${i}`,
        babyName: `Child ${i}`,
        remark: "Dad",
      });
    }
    const body = JSON.stringify({ _id: user._id });
    const headers = {
      "content-type": "application/json",
      authorization: `Bearer ${token}`,
    };
    const check = await fetch(`${babble.url}/friend_list`, {
      method: "POST",
      headers,
      body,
    });
    const friends = (await check.json()).data?.length;
    if (friends !== FRIENDS) {
      throw new Error(
        `friend_list returned ${friends} friends, not ${FRIENDS}`,
      );
    }

    const helloUrl = `http://127.0.0.1:${(hello.addr as Deno.NetAddr).port}/`;
    const spec = { body, headers, connections, warmupSeconds, seconds };
    const helloRuns: LoadResult[] = [];
    const babbleRuns: LoadResult[] = [];
    for (let round = 0; round < rounds; round++) {
      helloRuns.push(await loadFromChild({ ...spec, url: helloUrl }));
      babbleRuns.push(
        await loadFromChild({ ...spec, url: `${babble.url}/friend_list` }),
      );
    }
    const helloWrk = await loadFromWrk({
      ...spec,
      url: helloUrl,
      body: "",
      headers: {},
    });
    const babbleWrk = await loadFromWrk({
      ...spec,
      url: `${babble.url}/friend_list`,
    });
    const best = (runs: LoadResult[]) =>
      runs.reduce((a, b) => (b.rps > a.rps ? b : a));
    const friendList = best(babbleRuns);
    const helloBest = best(helloRuns);
    const ratio = round(friendList.rps / helloBest.rps);
    return {
      friend_list_rps: friendList.rps,
      hello_rps: helloBest.rps,
      ratio,
      goal: GOAL,
      met: ratio >= GOAL,
      friends: FRIENDS,
      connections,
      seconds,
      rounds,
      friend_list: friendList,
      hello: helloBest,
      friend_list_rounds_rps: babbleRuns.map((r) => r.rps),
      hello_rounds_rps: helloRuns.map((r) => r.rps),
      cores: navigator.hardwareConcurrency,
      wrk: helloWrk && babbleWrk
        ? {
          note: "same requests from wrk: the server's own ceiling",
          friend_list_rps: babbleWrk.rps,
          hello_rps: helloWrk.rps,
          ratio: round(babbleWrk.rps / helloWrk.rps),
        }
        : "wrk not installed (apt-get install wrk) — skipped",
    };
  } finally {
    await babble.close();
    await hello.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "load") {
    const result = await generateLoad(JSON.parse(Deno.args[1]));
    console.log(JSON.stringify(result));
  } else {
    console.log(JSON.stringify(await benchFriendList(), null, 2));
  }
}
