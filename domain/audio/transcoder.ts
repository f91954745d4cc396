/**
 * Audio transcoding: turns uploads (AMR from phones, WAV from toys, WebM/Opus
 * from browsers, MP3) into mono MP3 for playback, on a fixed pool of
 * ffmpeg.wasm module Workers so ffmpeg never runs on the event loop.
 *
 * - Inputs are size-checked and sniffed by magic bytes first; what is not
 *   audio is refused (415) without touching a worker.
 * - Workers start lazily. Each is replaced after `maxJobsPerWorker` jobs (one
 *   ffmpeg.wasm instance fails with "memory access out of bounds" after
 *   roughly 60 runs) and at once after any failed job, timeout or crash.
 * - Each job has a time limit (504); the queue is bounded (503).
 * - Output is checked: a result always holds at least one MPEG audio frame,
 *   else the input was undecodable (415). A truncated upload that still
 *   decodes yields the audio that is there.
 *
 * The ffmpeg core (`@ffmpeg/core`, GPL-2.0-or-later) is compiled once per
 * process and the compiled `WebAssembly.Module` is posted to each worker, so
 * workers share its code and start in milliseconds. Each live worker holds
 * its own wasm memory (tens of MB, more for long inputs); the pool size
 * bounds memory.
 */

import { toHex } from "../store/ids.ts";
import type { Metrics } from "../platform/metrics.ts";
import { AppError } from "../platform/errors.ts";

/** Upload formats the transcoder accepts. */
export type AudioFormat = "amr" | "wav" | "webm" | "mp3" | "m4a" | "ogg";

/** Statuses a transcoding failure maps to. */
export type TranscodeStatus = 413 | 415 | 503 | 504;

/**
 * A transcoding failure with the HTTP status it deserves: 413 too large,
 * 415 not audio or undecodable, 503 busy, closed or worker crashed,
 * 504 timed out. It is an `AppError`, so every contract renders it.
 */
export class TranscodeError extends AppError {
  declare readonly status: TranscodeStatus;

  constructor(status: TranscodeStatus, message: string) {
    super(status, message);
    this.name = "TranscodeError";
  }
}

/** Pool settings; every field has a default. */
export interface TranscoderOptions {
  /** Number of ffmpeg workers; default `navigator.hardwareConcurrency`. */
  workers?: number;
  /** Time limit of one conversion once a worker has it; default 20000. */
  jobTimeoutMs?: number;
  /** Jobs a worker runs before it is replaced; default 40. */
  maxJobsPerWorker?: number;
  /** Largest accepted upload; default 10 MiB. */
  maxInputBytes?: number;
  /** Jobs allowed to wait for a worker; one more is refused (503). Default 256. */
  maxQueue?: number;
  /**
   * The worker module (default: transcoder_worker.ts beside this file). It
   * speaks the `ToWorker`/`JobReply` messages; an embedder may wrap it.
   */
  workerUrl?: URL;
  /** Where to record each job's time (`babble_transcode_seconds`). */
  metrics?: Metrics;
}

/** A finished conversion. */
export interface TranscodeResult {
  /** Mono MPEG-2 layer III, 22.05 kHz, 48 kbit/s CBR, no ID3 tag. */
  mp3: Uint8Array;
  /** Length of the audio, in seconds (to 0.01 s). */
  durationSec: number;
  /** What the upload was, by its magic bytes. */
  inputFormat: AudioFormat;
}

/** A pool of ffmpeg.wasm workers that converts uploads to MP3. */
export interface Transcoder {
  /** Converts an upload to mono MP3; rejects only with `TranscodeError`. */
  toMp3(input: Uint8Array): Promise<TranscodeResult>;
  /**
   * Counters for /metrics: live workers, running and waiting jobs; jobs that
   * reached a worker and succeeded or failed; workers replaced so far.
   */
  stats(): {
    workers: number;
    busy: number;
    queued: number;
    completed: number;
    failed: number;
    recycled: number;
  };
  /** Terminates all workers and rejects running and queued jobs (503). */
  close(): Promise<void>;
}

/** Messages the pool posts to a transcoder worker. */
export type ToWorker =
  | { type: "init"; module: WebAssembly.Module }
  | { type: "job"; id: number; input: Uint8Array; format: AudioFormat };

/** A worker's answer to one job. */
export type JobReply =
  | { id: number; ok: true; mp3: Uint8Array<ArrayBuffer>; durationSec: number }
  | {
    id: number;
    ok: false;
    kind: "undecodable" | "trapped";
    message: string;
  };

const WORKER_URL = new URL("./transcoder_worker.ts", import.meta.url);
const CORE_WASM_URL = new URL(
  "../../node_modules/@ffmpeg/core/dist/esm/ffmpeg-core.wasm",
  import.meta.url,
);

const FORMAT_NAMES: Record<AudioFormat, string> = {
  amr: "AMR",
  wav: "WAV",
  webm: "WebM",
  mp3: "MP3",
  m4a: "M4A (AAC)",
  ogg: "OGG (Opus)",
};

const AMR_MAGIC = [...new TextEncoder().encode("#!AMR\n")];

let compiledCore: Promise<WebAssembly.Module> | undefined;

/** Compiles the ffmpeg core once per process; a failed attempt is retried next call. */
function loadCore(): Promise<WebAssembly.Module> {
  compiledCore ??= Deno.readFile(CORE_WASM_URL)
    .then(WebAssembly.compile)
    .catch(function forgetFailure(error) {
      compiledCore = undefined;
      throw error;
    });
  return compiledCore;
}

/** True when `bytes` begins with `prefix` at `offset`. */
function hasBytes(bytes: Uint8Array, prefix: number[], offset = 0): boolean {
  return bytes.length >= offset + prefix.length &&
    prefix.every((byte, i) => bytes[offset + i] === byte);
}

/** True when `text` (ASCII) appears in `bytes` at `offset`. */
function hasAscii(bytes: Uint8Array, text: string, offset = 0): boolean {
  return hasBytes(bytes, [...text].map((c) => c.charCodeAt(0)), offset);
}

/** One MPEG audio frame header, decoded. */
interface MpegFrame {
  length: number;
  samples: number;
  sampleRate: number;
  kbps: number;
  layer3: boolean;
  mono: boolean;
}

const MPEG1_KBPS = [
  [],
  [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320], // III
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], // II
  [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], // I
];
const MPEG2_KBPS = [
  [],
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], // II, III
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256], // I
];
const MPEG1_RATES = [44100, 48000, 32000];

/** Decodes the MPEG audio frame header at `offset`, or null if there is none. */
function mpegFrameAt(bytes: Uint8Array, offset: number): MpegFrame | null {
  if (offset + 4 > bytes.length) return null;
  const [b0, b1, b2, b3] = bytes.subarray(offset, offset + 4);
  if (b0 !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const version = (b1 >> 3) & 3; // 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
  const layer = (b1 >> 1) & 3; // 1: III, 2: II, 3: I
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (version === 1 || layer === 0) return null;
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const mpeg1 = version === 3;
  const kbps = (mpeg1 ? MPEG1_KBPS : MPEG2_KBPS)[layer][bitrateIndex];
  const sampleRate = MPEG1_RATES[rateIndex] >>
    (mpeg1 ? 0 : version === 2 ? 1 : 2);
  const padding = (b2 >> 1) & 1;
  const shape = { sampleRate, kbps, layer3: layer === 1, mono: b3 >> 6 === 3 };
  if (layer === 3) {
    return {
      length: (Math.floor(12000 * kbps / sampleRate) + padding) * 4,
      samples: 384,
      ...shape,
    };
  }
  const samples = layer === 1 && !mpeg1 ? 576 : 1152;
  return {
    length: Math.floor(samples / 8 * 1000 * kbps / sampleRate) + padding,
    samples,
    ...shape,
  };
}

/** Offset just past an ID3v2 tag at the start of `bytes`, or 0 when none. */
function id3v2End(bytes: Uint8Array): number {
  if (!hasAscii(bytes, "ID3") || bytes.length < 10) return 0;
  const size = (bytes[6] << 21) | (bytes[7] << 14) | (bytes[8] << 7) |
    bytes[9];
  const footer = bytes[5] & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/**
 * Names the audio format of an upload by its magic bytes: `#!AMR\n`,
 * `RIFF....WAVE`, EBML `1A 45 DF A3`, an MP4 `ftyp` box (M4A/AAC), `OggS`
 * (OGG/Opus), or an ID3v2 tag or MPEG audio frame
 * header. Returns null for anything else; decodability is not checked.
 */
export function sniffAudioFormat(bytes: Uint8Array): AudioFormat | null {
  if (hasBytes(bytes, AMR_MAGIC)) return "amr";
  if (hasAscii(bytes, "RIFF") && hasAscii(bytes, "WAVE", 8)) return "wav";
  if (hasBytes(bytes, [0x1a, 0x45, 0xdf, 0xa3])) return "webm";
  if (hasAscii(bytes, "ftyp", 4)) return "m4a";
  if (hasAscii(bytes, "OggS")) return "ogg";
  if (hasAscii(bytes, "ID3") && bytes.length >= 10 && bytes[3] < 0xff) {
    return "mp3";
  }
  const frame = mpegFrameAt(bytes, 0);
  if (!frame) return null;
  // Random bytes start with a plausible header often enough; a second frame
  // where the first says it ends settles it (unless the upload ends first).
  const next = frame.length;
  return next + 4 > bytes.length || mpegFrameAt(bytes, next) ? "mp3" : null;
}

// An MP3 stored as uploaded must play on a toy's simple decoder: mono,
// layer III, at most this bitrate.
const PASS_THROUGH_MAX_KBPS = 128;

/**
 * The upload itself (tags removed) when it is already a mono layer III MP3
 * at a sane bitrate made of whole frames, so it needs no re-encoding;
 * otherwise null.
 */
function playableAsIs(bytes: Uint8Array): TranscodeResult | null {
  const start = id3v2End(bytes);
  let end = bytes.length;
  if (end - start >= 128 && hasAscii(bytes, "TAG", end - 128)) end -= 128;
  const audio = bytes.subarray(start, end);
  let offset = 0;
  let seconds = 0;
  while (offset < audio.length) {
    const frame = mpegFrameAt(audio, offset);
    if (
      !frame || !frame.layer3 || !frame.mono ||
      frame.kbps > PASS_THROUGH_MAX_KBPS || offset + frame.length > audio.length
    ) {
      return null;
    }
    seconds += frame.samples / frame.sampleRate;
    offset += frame.length;
  }
  if (seconds === 0) return null;
  return {
    mp3: audio.slice(),
    durationSec: Math.round(seconds * 100) / 100,
    inputFormat: "mp3",
  };
}

/**
 * Counts the audio frames of an MP3 and the seconds they hold, skipping an
 * ID3v2 tag and a Xing/Info/VBRI header frame; stops at the first gap.
 */
export function mp3AudioFrames(
  bytes: Uint8Array,
): { frames: number; seconds: number } {
  let offset = id3v2End(bytes);
  let frames = 0;
  let seconds = 0;
  let frame = mpegFrameAt(bytes, offset);
  while (frame) {
    const body = bytes.subarray(offset, offset + Math.min(frame.length, 64));
    const isHeaderFrame = frames === 0 &&
      ["Xing", "Info", "VBRI"].some((tag) =>
        body.some((_, i) => hasAscii(body, tag, i))
      );
    if (!isHeaderFrame) {
      frames++;
      seconds += frame.samples / frame.sampleRate;
    }
    offset += frame.length;
    frame = mpegFrameAt(bytes, offset);
  }
  return { frames, seconds };
}

/** Hex of the first bytes of an upload, for error messages. */
function leadingHex(bytes: Uint8Array): string {
  return toHex(bytes.subarray(0, 8));
}

/** Checks `value` is an integer of at least `min`, naming the option if not. */
function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `"${name}" must be an integer of at least ${min}, got ${value}`,
    );
  }
}

/** A job accepted by the pool, waiting or running. */
interface Job {
  id: number;
  /** performance.now() when a worker took it. */
  startedAt?: number;
  input: Uint8Array;
  format: AudioFormat;
  resolve(result: TranscodeResult): void;
  reject(error: TranscodeError): void;
}

/** One place in the pool: a worker (started lazily) and the job it runs. */
interface Slot {
  worker: Worker | null;
  jobsRun: number;
  job: Job | null;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Starts a transcoder pool. Workers start on first use; call `close()` to
 * stop them. Throws RangeError for an option that is not a sensible integer.
 */
export function createTranscoder({
  workers = navigator.hardwareConcurrency,
  jobTimeoutMs = 20_000,
  maxJobsPerWorker = 40,
  maxInputBytes = 10 * 1024 * 1024,
  maxQueue = 256,
  workerUrl = WORKER_URL,
  metrics,
}: TranscoderOptions = {}): Transcoder {
  requireInteger("workers", workers, 1);
  requireInteger("jobTimeoutMs", jobTimeoutMs, 1);
  requireInteger("maxJobsPerWorker", maxJobsPerWorker, 1);
  requireInteger("maxInputBytes", maxInputBytes, 1);
  requireInteger("maxQueue", maxQueue, 0);

  const slots: Slot[] = Array.from({ length: workers }, () => ({
    worker: null,
    jobsRun: 0,
    job: null,
    timer: undefined,
  }));
  const queue: Job[] = [];
  let core: WebAssembly.Module | undefined;
  let nextJobId = 1;
  let completed = 0;
  let failed = 0;
  let recycled = 0;
  let closed = false;

  async function toMp3(input: Uint8Array): Promise<TranscodeResult> {
    if (closed) throw new TranscodeError(503, "the transcoder is closed");
    if (input.byteLength > maxInputBytes) {
      throw new TranscodeError(
        413,
        `audio uploads are limited to ${maxInputBytes} bytes, ` +
          `got ${input.byteLength}`,
      );
    }
    const format = sniffAudioFormat(input);
    if (!format) {
      throw new TranscodeError(
        415,
        `expected AMR, WAV, WebM, M4A, OGG or MP3 audio, got ${input.byteLength} ` +
          `bytes starting "${leadingHex(input)}"`,
      );
    }
    const ready = format === "mp3" ? playableAsIs(input) : null;
    if (ready) return ready;
    try {
      core ??= await loadCore();
    } catch (error) {
      throw new TranscodeError(
        503,
        `the ffmpeg core could not be loaded from ${CORE_WASM_URL}: ` +
          (error instanceof Error ? error.message : String(error)),
      );
    }
    if (closed) throw new TranscodeError(503, "the transcoder is closed");
    if (queue.length >= maxQueue) {
      throw new TranscodeError(
        503,
        `all ${workers} transcoder workers are busy and ${queue.length} ` +
          `uploads are waiting; try again shortly`,
      );
    }
    return new Promise<TranscodeResult>(function enqueue(resolve, reject) {
      queue.push({ id: nextJobId++, input, format, resolve, reject });
      pump();
    });
  }

  /** Hands waiting jobs to idle slots; after it, jobs wait only if all are busy. */
  function pump(): void {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.job) run(slot, queue.shift()!);
    }
  }

  function run(slot: Slot, job: Job): void {
    slot.job = job;
    job.startedAt = performance.now();
    const worker = slot.worker ?? startWorker(slot);
    slot.timer = setTimeout(function jobTimedOut() {
      fail(
        slot,
        new TranscodeError(
          504,
          `converting the ${FORMAT_NAMES[job.format]} upload took longer ` +
            `than ${jobTimeoutMs} ms`,
        ),
      );
    }, jobTimeoutMs);
    const message: ToWorker = {
      type: "job",
      id: job.id,
      input: job.input,
      format: job.format,
    };
    worker.postMessage(message);
  }

  function startWorker(slot: Slot): Worker {
    const worker = new Worker(workerUrl, { type: "module" });
    worker.onmessage = function onReply(event: MessageEvent<JobReply>) {
      if (slot.worker === worker) settle(slot, event.data);
    };
    worker.onerror = function onCrash(event: ErrorEvent) {
      event.preventDefault();
      if (slot.worker === worker) fail(slot, crashError(event.message));
    };
    worker.onmessageerror = function onBadReply() {
      if (slot.worker === worker) {
        fail(slot, crashError("its reply could not be read"));
      }
    };
    const init: ToWorker = { type: "init", module: core! };
    worker.postMessage(init);
    slot.worker = worker;
    slot.jobsRun = 0;
    return worker;
  }

  function crashError(reason: string): TranscodeError {
    return new TranscodeError(
      503,
      `the transcoder worker stopped mid-job (${reason}); try again`,
    );
  }

  function settle(slot: Slot, reply: JobReply): void {
    const job = slot.job;
    if (!job || reply.id !== job.id) return;
    clearTimeout(slot.timer);
    slot.job = null;
    slot.jobsRun++;
    const outcome = reply.ok
      ? checkOutput(reply, job.format)
      : new TranscodeError(
        415,
        `could not decode the ${FORMAT_NAMES[job.format]} upload: ` +
          reply.message,
      );
    observe(job, outcome instanceof TranscodeError ? "undecodable" : "ok");
    if (outcome instanceof TranscodeError) {
      failed++;
      retire(slot);
      job.reject(outcome);
    } else {
      completed++;
      if (slot.jobsRun >= maxJobsPerWorker) retire(slot);
      job.resolve(outcome);
    }
    pump();
  }

  function fail(slot: Slot, error: TranscodeError): void {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = null;
    retire(slot);
    if (job) {
      observe(job, error.status === 504 ? "timeout" : "crashed");
      failed++;
      job.reject(error);
    }
    pump();
  }

  function observe(job: Job, outcome: string): void {
    if (!metrics || job.startedAt === undefined) return;
    metrics.observe(
      "babble_transcode_seconds",
      { format: job.format, outcome },
      (performance.now() - job.startedAt) / 1000,
    );
  }

  function retire(slot: Slot): void {
    if (slot.worker) {
      slot.worker.terminate();
      slot.worker = null;
      recycled++;
    }
    slot.jobsRun = 0;
  }

  function stats(): ReturnType<Transcoder["stats"]> {
    return {
      workers: slots.filter((slot) => slot.worker).length,
      busy: slots.filter((slot) => slot.job).length,
      queued: queue.length,
      completed,
      failed,
      recycled,
    };
  }

  function close(): Promise<void> {
    if (closed) return Promise.resolve();
    closed = true;
    const error = new TranscodeError(503, "the transcoder is closed");
    for (const slot of slots) {
      clearTimeout(slot.timer);
      slot.worker?.terminate();
      slot.worker = null;
      slot.job?.reject(error);
      slot.job = null;
    }
    for (const job of queue.splice(0)) job.reject(error);
    return Promise.resolve();
  }

  const transcoder: Transcoder = { toMp3, stats, close };
  return transcoder;
}

/** Checks a worker's MP3 holds audio and settles its duration; else a 415. */
function checkOutput(
  reply: Extract<JobReply, { ok: true }>,
  format: AudioFormat,
): TranscodeResult | TranscodeError {
  const { frames, seconds } = mp3AudioFrames(reply.mp3);
  if (frames === 0) {
    return new TranscodeError(
      415,
      `the ${FORMAT_NAMES[format]} upload holds no audio that could be decoded`,
    );
  }
  const durationSec = reply.durationSec > 0 ? reply.durationSec : seconds;
  return {
    mp3: reply.mp3,
    durationSec: Math.round(durationSec * 100) / 100,
    inputFormat: format,
  };
}
