/**
 * Module Worker that runs one ffmpeg.wasm instance for domain/transcoder.ts,
 * so decoding and encoding never block the server's event loop.
 *
 * Protocol: the pool posts one `init` carrying the compiled core (a
 * `WebAssembly.Module`, compiled once per process and shared), then `job`
 * messages one at a time; the worker answers each job with one `JobReply`.
 * The pool terminates the worker after a bounded number of jobs or after any
 * failure, so this module keeps no state worth saving.
 */

import createFFmpegCore from "../../node_modules/@ffmpeg/core/dist/esm/ffmpeg-core.js";
import type { JobReply, ToWorker } from "./transcoder.ts";

/** The part of the Emscripten module of @ffmpeg/core 0.12 this worker uses. */
interface FFmpegCore {
  FS: {
    writeFile(path: string, data: Uint8Array): void;
    readFile(path: string): Uint8Array<ArrayBuffer>;
    unlink(path: string): void;
  };
  exec(...args: string[]): number;
  reset(): void;
  setLogger(logger: (log: { type: string; message: string }) => void): void;
}

/** Emscripten options: instantiate from the pool's precompiled module. */
interface CoreOptions {
  instantiateWasm(
    imports: WebAssembly.Imports,
    receive: (instance: WebAssembly.Instance) => void,
  ): Record<string, never>;
}

const createCore = createFFmpegCore as unknown as (
  options: CoreOptions,
) => Promise<FFmpegCore>;

/** ffmpeg's demuxer for each sniffed format: never let ffmpeg guess. */
const DEMUXERS = {
  amr: "amr",
  wav: "wav",
  webm: "matroska",
  mp3: "mp3",
  m4a: "mov",
  ogg: "ogg",
} as const;

/**
 * The first audio stream only, tags dropped (they may hold locations or
 * names), as mono 22.05 kHz 48 kbit/s MP3 without an ID3 tag, which the
 * simplest decoders on toys play.
 */
const MP3_OUTPUT = [
  ...["-map", "0:a:0", "-map_metadata", "-1"],
  ...["-ac", "1", "-ar", "22050", "-c:a", "libmp3lame", "-b:a", "48k"],
  ...["-id3v2_version", "0", "-f", "mp3"],
];

const INPUT = "upload";
const OUTPUT = "output.mp3";
const LOG_LINES_KEPT = 30;

/** This worker's global scope, typed for the messages it exchanges. */
const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: JobReply, transfer: Transferable[]): void;
};

let core: Promise<FFmpegCore> | undefined;
let log: string[] = [];

/** Starts the Emscripten runtime on the precompiled ffmpeg core. */
function startCore(module: WebAssembly.Module): Promise<FFmpegCore> {
  return createCore({
    instantiateWasm: function instantiateCore(imports, receive) {
      WebAssembly.instantiate(module, imports).then(receive);
      return {};
    },
  }).then(function keepLog(started) {
    started.setLogger(function collect({ message }) {
      log.push(message);
      if (log.length > LOG_LINES_KEPT) log.shift();
    });
    return started;
  });
}

/** Seconds of the last `time=HH:MM:SS.cc` in ffmpeg's log, or 0 when none. */
function encodedSeconds(lines: string[]): number {
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = /time=(\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(lines[i]);
    if (match) {
      return Number(match[1]) * 3600 + Number(match[2]) * 60 +
        Number(match[3]);
    }
  }
  return 0;
}

/** The last log line that explains a failure, without Emscripten's exit note. */
function lastProblem(lines: string[]): string {
  const meaningful = lines.filter((line) =>
    line.trim() !== "" && !line.startsWith("Aborted(")
  );
  return meaningful.at(-1)?.trim() ?? "no log output";
}

/** Removes a file from ffmpeg's in-memory file system if it is there. */
function removeFile(ffmpeg: FFmpegCore, path: string): void {
  try {
    ffmpeg.FS.unlink(path);
  } catch {
    // Not there: ffmpeg failed before creating it.
  }
}

/** Converts one upload to mono MP3 and answers; a core that failed to start throws, which the pool sees as a crash. */
async function runJob(
  message: Extract<ToWorker, { type: "job" }>,
): Promise<void> {
  const { id, input, format } = message;
  if (!core) throw new Error(`job ${id} arrived before "init"`);
  const ffmpeg = await core;
  let reply: JobReply;
  log = [];
  try {
    ffmpeg.FS.writeFile(INPUT, input);
    const code = ffmpeg.exec(
      ...["-hide_banner", "-nostats", "-f", DEMUXERS[format], "-i", INPUT],
      ...MP3_OUTPUT,
      OUTPUT,
    );
    if (code !== 0) {
      reply = {
        id,
        ok: false,
        kind: "undecodable",
        message: `ffmpeg exited with ${code}: ${lastProblem(log)}`,
      };
    } else {
      const mp3 = ffmpeg.FS.readFile(OUTPUT);
      reply = { id, ok: true, mp3, durationSec: encodedSeconds(log) };
    }
  } catch (error) {
    // A trap inside ffmpeg (e.g. "memory access out of bounds"): this
    // instance is now unusable; the pool replaces the worker.
    reply = {
      id,
      ok: false,
      kind: "trapped",
      message: `${error instanceof Error ? error.message : error}; ` +
        `last log line: ${lastProblem(log)}`,
    };
  } finally {
    ffmpeg.reset();
    removeFile(ffmpeg, INPUT);
    removeFile(ffmpeg, OUTPUT);
  }
  scope.postMessage(reply, reply.ok ? [reply.mp3.buffer] : []);
}

scope.onmessage = function onPoolMessage(event) {
  const message = event.data;
  if (message.type === "init") {
    core = startCore(message.module);
  } else {
    runJob(message);
  }
};
