/**
 * The realtime benchmark's load generator, run in its own process so the
 * server under test has its CPU to itself. Reads a JSON config file named
 * by the first argument and prints `RESULT <json>` when done.
 *
 * - `relay`: opens `pairs` (a sender and a receiver socket each), then
 *   offers each rate in `rates` for `stepMs`, spread over the pairs; every
 *   frame carries its send time, so the receiver measures latency. A rate
 *   is held when p99 is within the goal, nothing is lost and the rate was
 *   offered. Stops once saturated (a frame lost, the rate not offered, or
 *   p50 over the goal) or after two rates in a row not held: one p99
 *   spike of this shared machine does not end the ladder.
 * - `idle`: opens `paths` with bounded concurrency, prints
 *   `CONNECTED <json>`, holds them until a line arrives on stdin, closes.
 * - `voice`: one recipient socket; uploads `clip` `runs` times in a row
 *   and times each from the request to the recipient's `chat` event.
 *
 * Usage: deno run -A _ws_load.ts <config.json>
 */

/** Relay mode: sender and receiver socket paths and the recipient id. */
export interface RelayConfig {
  mode: "relay";
  url: string;
  pairs: { from: string; to: string; toUser: string }[];
  rates: number[];
  stepMs: number;
  drainMs: number;
  p99GoalMs: number;
}

/** Idle mode: socket paths to open and hold. */
export interface IdleConfig {
  mode: "idle";
  url: string;
  paths: string[];
  concurrency: number;
}

/** Voice mode: the recipient's socket and an uploader's credentials. */
export interface VoiceConfig {
  mode: "voice";
  url: string;
  toyPath: string;
  token: string;
  userId: string;
  toyId: string;
  clip: string;
  runs: number;
  warmup: number;
}

/** Any load generator config. */
export type LoadConfig = RelayConfig | IdleConfig | VoiceConfig;

type Frame = Record<string, unknown>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The `p`th percentile (nearest rank) of `samples`, or null when empty. */
function percentile(samples: number[], p: number): number | null {
  if (!samples.length) return null;
  const sorted = samples.toSorted((a, b) => a - b);
  const value = sorted[Math.max(0, Math.ceil(p / 100 * sorted.length) - 1)];
  return Math.round(value * 10) / 10;
}

function wsUrl(base: string, path: string): string {
  return base.replace(/^http/, "ws") + path;
}

/** Opens a socket; resolves when open, rejects when it closes first. */
function open(url: string, timeoutMs = 30_000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`timed out opening ${url}`));
    }, timeoutMs);
    ws.onopen = () => {
      clearTimeout(timer);
      resolve(ws);
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      reject(new Error(`socket closed before open (${e.code}) ${url}`));
    };
  });
}

/** Runs `task` over `items` with at most `limit` at a time. */
async function pool<T, R>(
  items: T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i], i);
      }
    }),
  );
  return out;
}

async function closeAll(sockets: WebSocket[], timeoutMs = 10_000) {
  const closed = sockets.map((ws) =>
    ws.readyState === WebSocket.CLOSED
      ? Promise.resolve()
      : new Promise<void>((r) => ws.addEventListener("close", () => r()))
  );
  for (const ws of sockets) ws.close();
  await Promise.race([Promise.all(closed), sleep(timeoutMs)]);
}

async function relay(cfg: RelayConfig): Promise<Frame> {
  let step = 0;
  let received = 0;
  let unexpectedCloses = 0;
  const latencies: number[] = [];
  const receivers = await pool(cfg.pairs, 50, async (pair) => {
    const ws = await open(wsUrl(cfg.url, pair.to));
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.s !== step) return;
      latencies.push(performance.now() - frame.t);
      received++;
    };
    ws.onclose = () => unexpectedCloses++;
    return ws;
  });
  const senders = await pool(cfg.pairs, 50, async (pair) => {
    const ws = await open(wsUrl(cfg.url, pair.from));
    ws.onclose = () => unexpectedCloses++;
    return ws;
  });
  const send = (i: number) => {
    const pair = cfg.pairs[i % cfg.pairs.length];
    senders[i % senders.length].send(JSON.stringify({
      to_user: pair.toUser,
      type: "music",
      music: "bench.mp3",
      t: performance.now(),
      s: step,
    }));
  };

  // Warm up every pair (and the server's caches) before the clock runs.
  for (let i = 0; i < cfg.pairs.length * 5; i++) send(i);
  const warmEnd = performance.now() + 10_000;
  while (received < cfg.pairs.length * 5 && performance.now() < warmEnd) {
    await sleep(10);
  }

  const steps: Frame[] = [];
  let misses = 0;
  for (const rate of cfg.rates) {
    step++;
    latencies.length = 0;
    received = 0;
    let sent = 0;
    const started = performance.now();
    for (;;) {
      const elapsed = performance.now() - started;
      if (elapsed >= cfg.stepMs) break;
      const due = Math.floor(elapsed * rate / 1000);
      while (sent < due) send(sent++);
      await sleep(1);
    }
    const offeredFor = (performance.now() - started) / 1000;
    const drainEnd = performance.now() + cfg.drainMs;
    while (received < sent && performance.now() < drainEnd) await sleep(5);
    const p99 = percentile(latencies, 99);
    const achieved = Math.round(sent / offeredFor);
    const lost = sent - received;
    const held = lost === 0 && unexpectedCloses === 0 &&
      p99 !== null && p99 <= cfg.p99GoalMs && achieved >= 0.95 * rate;
    steps.push({
      rate,
      sent,
      achievedRate: achieved,
      lost,
      p50Ms: percentile(latencies, 50),
      p99Ms: p99,
      maxMs: percentile(latencies, 100),
      held,
    });
    const saturated = lost > 0 || unexpectedCloses > 0 ||
      achieved < 0.95 * rate || (percentile(latencies, 50) ?? Infinity) >
        cfg.p99GoalMs;
    misses = held ? 0 : misses + 1;
    if (saturated || misses >= 2) break;
  }
  const heldRates = steps.filter((s) => s.held).map((s) => s.rate as number);
  for (const ws of [...senders, ...receivers]) ws.onclose = null;
  await closeAll([...senders, ...receivers]);
  return {
    pairs: cfg.pairs.length,
    maxHeldRate: heldRates.length ? Math.max(...heldRates) : 0,
    steps,
  };
}

async function idle(cfg: IdleConfig): Promise<Frame> {
  const connectMs: number[] = [];
  let failed = 0;
  const started = performance.now();
  const sockets = (await pool(cfg.paths, cfg.concurrency, async (path) => {
    const t0 = performance.now();
    try {
      const ws = await open(wsUrl(cfg.url, path));
      connectMs.push(performance.now() - t0);
      return ws;
    } catch {
      failed++;
      return null;
    }
  })).filter((ws): ws is WebSocket => ws !== null);
  const totalMs = performance.now() - started;
  console.log(`CONNECTED ${
    JSON.stringify({
      sockets: sockets.length,
      failed,
      totalMs: Math.round(totalMs),
      perSecond: Math.round(sockets.length / totalMs * 1000),
      p50Ms: percentile(connectMs, 50),
      p99Ms: percentile(connectMs, 99),
    })
  }`);
  // Hold until told to close.
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
  const stillOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN)
    .length;
  await closeAll(sockets);
  return { stillOpenAtEnd: stillOpen };
}

async function voice(cfg: VoiceConfig): Promise<Frame> {
  const clip = await Deno.readFile(cfg.clip);
  const arrived = new Map<string, number>();
  let wake: (() => void) | null = null;
  const toy = await open(wsUrl(cfg.url, cfg.toyPath));
  toy.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type !== "chat") return;
    arrived.set(frame.chat, performance.now());
    wake?.();
  };
  const notified: number[] = [];
  const replied: number[] = [];
  for (let run = 0; run < cfg.warmup + cfg.runs; run++) {
    const form = new FormData();
    form.append("to_user", cfg.toyId);
    form.append("user_id", cfg.userId);
    form.append("reco_file", new Blob([clip]), "voice.amr");
    const t0 = performance.now();
    const res = await fetch(cfg.url + "/app_uploader", {
      method: "POST",
      headers: { authorization: `Bearer ${cfg.token}` },
      body: form,
    });
    const body = await res.json();
    const tReply = performance.now();
    if (res.status !== 200) throw new Error(`upload: ${JSON.stringify(body)}`);
    const deadline = performance.now() + 10_000;
    while (!arrived.has(body.data.filename) && performance.now() < deadline) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
    const tEvent = arrived.get(body.data.filename);
    if (tEvent === undefined) throw new Error("the chat event never came");
    if (run >= cfg.warmup) {
      notified.push(tEvent - t0);
      replied.push(tReply - t0);
    }
  }
  await closeAll([toy]);
  return {
    runs: cfg.runs,
    clipBytes: clip.length,
    notifiedP50Ms: percentile(notified, 50),
    notifiedP99Ms: percentile(notified, 99),
    replyP50Ms: percentile(replied, 50),
    replyP99Ms: percentile(replied, 99),
  };
}

if (import.meta.main) {
  const cfg: LoadConfig = JSON.parse(await Deno.readTextFile(Deno.args[0]));
  const result = cfg.mode === "relay"
    ? await relay(cfg)
    : cfg.mode === "idle"
    ? await idle(cfg)
    : await voice(cfg);
  console.log(`RESULT ${JSON.stringify(result)}`);
  Deno.exit(0);
}
