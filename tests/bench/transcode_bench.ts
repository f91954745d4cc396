/**
 * Benchmark of the ffmpeg.wasm transcoder pool (domain/transcoder.ts):
 * latency of one 10 s AMR clip on a warm worker, and throughput of a pool
 * of two workers against one over the same bounded batch of jobs.
 *
 * Run alone: `deno run -A tests/bench/transcode_bench.ts`.
 */

import { createTranscoder } from "../../domain/audio/transcoder.ts";

const CLIP_URL = new URL("../fixtures/speech10.amr", import.meta.url);
const LATENCY_RUNS = 40;
const THROUGHPUT_JOBS = 16;
const THROUGHPUT_ROUNDS = 3;
const SPEEDUP_GOAL = 1.6;

/** The `p`th percentile (nearest rank) of `samples`. */
function percentile(samples: number[], p: number): number {
  const sorted = samples.toSorted((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p / 100 * sorted.length) - 1)];
}

/** Milliseconds rounded to 0.1 ms, for a readable report. */
function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Resident memory of this process in MiB. */
function rssMiB(): number {
  return Math.round(Deno.memoryUsage().rss / 2 ** 20);
}

/** One timed batch of conversions. */
interface BatchTiming {
  ms: number;
  jobsPerSec: number;
  rssMiB: number;
}

/** The batch that finished soonest. */
function fastest(timings: BatchTiming[]): BatchTiming {
  return timings.reduce((best, timing) => timing.ms < best.ms ? timing : best);
}

/** Times `jobs` conversions of `clip` on a warm pool of `workers` workers. */
async function timeBatch(
  clip: Uint8Array,
  workers: number,
  jobs: number,
): Promise<BatchTiming> {
  const transcoder = createTranscoder({ workers, maxQueue: jobs });
  try {
    // Warm up: start every worker before the clock runs.
    await Promise.all(
      Array.from({ length: workers }, () => transcoder.toMp3(clip)),
    );
    const started = performance.now();
    await Promise.all(
      Array.from({ length: jobs }, () => transcoder.toMp3(clip)),
    );
    const elapsed = performance.now() - started;
    return {
      ms: ms(elapsed),
      jobsPerSec: Math.round(jobs / elapsed * 1000 * 100) / 100,
      rssMiB: rssMiB(),
    };
  } finally {
    await transcoder.close();
  }
}

/** The 10 s clip in each upload format (a mono MP3 is stored as uploaded). */
const FORMAT_CLIPS = [
  "speech10.amr",
  "speech10.wav",
  "speech10.webm",
  "speech10.m4a",
  "speech10.ogg",
  "speech10_stereo.mp3",
  "speech10.mp3",
];
const FORMAT_JOBS = 8;

/** Uploads per second one warm worker takes, for the 10 s clip in each format. */
async function perFormat(): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const name of FORMAT_CLIPS) {
    const clip = await Deno.readFile(new URL(`../fixtures/${name}`, CLIP_URL));
    const timing = await timeBatch(clip, 1, FORMAT_JOBS);
    rows.push({ clip: name, bytes: clip.length, ...timing });
  }
  return rows;
}

/**
 * Measures the transcoder pool: p50/p99 latency of the 10 s AMR clip on one
 * warm worker, and the throughput of 2 workers vs 1 over 16 jobs, best of 3
 * rounds each (goal: a speed-up of at least 1.6 on 2 or more idle cores).
 */
export async function benchTranscode(): Promise<Record<string, unknown>> {
  const clip = await Deno.readFile(CLIP_URL);
  const rssBefore = rssMiB();

  const latencies: number[] = [];
  let clipSeconds = 0;
  const transcoder = createTranscoder({ workers: 1 });
  try {
    await transcoder.toMp3(clip); // the first run also compiles lazily
    for (let i = 0; i < LATENCY_RUNS; i++) {
      const started = performance.now();
      clipSeconds = (await transcoder.toMp3(clip)).durationSec;
      latencies.push(performance.now() - started);
    }
  } finally {
    await transcoder.close();
  }

  // Alternate the two pool sizes and keep each one's best round, so a burst
  // of other load on the machine skews neither side alone.
  const rounds: { one: BatchTiming; two: BatchTiming }[] = [];
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    rounds.push({
      one: await timeBatch(clip, 1, THROUGHPUT_JOBS),
      two: await timeBatch(clip, 2, THROUGHPUT_JOBS),
    });
  }
  const one = fastest(rounds.map((r) => r.one));
  const two = fastest(rounds.map((r) => r.two));
  const speedup = Math.round(two.jobsPerSec / one.jobsPerSec * 100) / 100;

  return {
    perFormat: await perFormat(),
    clip: "tests/fixtures/speech10.amr",
    clipBytes: clip.length,
    clipSeconds,
    cpus: navigator.hardwareConcurrency,
    latency: {
      runs: LATENCY_RUNS,
      p50Ms: ms(percentile(latencies, 50)),
      p99Ms: ms(percentile(latencies, 99)),
      meanMs: ms(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    },
    throughput: {
      jobs: THROUGHPUT_JOBS,
      rounds: THROUGHPUT_ROUNDS,
      roundsMs: rounds.map((r) => ({ one: r.one.ms, two: r.two.ms })),
      oneWorker: one,
      twoWorkers: two,
      speedup,
      goal: SPEEDUP_GOAL,
      meetsGoal: speedup >= SPEEDUP_GOAL,
    },
    rssMiBBefore: rssBefore,
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchTranscode(), null, 2));
}
